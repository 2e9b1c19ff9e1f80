//! All swarms of the tracker, sharded by info-hash so two worker threads rarely contend.
//! Pure logic: time comes in as Unix seconds; locks are the only shared state.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use protocol::tracker::{Event, ScrapeStats};
use protocol::InfoHash;

use crate::shard::{hash_of, Shard};
use crate::swarm::{canonical, timeout_ticks, Counts, Tick, TICK_SECS};

const SHARDS: usize = 64;
const SNAPSHOT_MAGIC: &[u8; 8] = b"BTDSTAT1";

/// Why a `--dfile` snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a bttrack peer snapshot")]
    Magic,
    #[error("snapshot truncated at byte {0}")]
    Truncated(usize),
    #[error("bad address family {0} at byte {1}")]
    Family(u8, usize),
}

/// One announce, as the HTTP and UDP front ends both see it.
#[derive(Debug, Clone, Copy)]
pub struct Announce {
    pub info_hash: InfoHash,
    pub addr: SocketAddr,
    pub event: Event,
    pub left: u64,
    pub numwant: usize,
    /// Random, for where the peer list starts.
    pub start: usize,
    /// The torrent's publisher, always listed first while it is live.
    pub pinned: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub torrents: usize,
    pub peers: usize,
    pub seeders: u64,
    pub leechers: u64,
}

pub struct SwarmStore {
    shards: Box<[Mutex<Shard>]>,
    timeout: u16,
    seed: u64,
    /// Swarms held (kept by announce, recounted by sweep and restore).
    swarms: AtomicUsize,
    /// Most peers one IP address (IPv6: one /64) may hold in a swarm of an unpublished torrent;
    /// loopback is not capped (the operator's own host, and the benchmarks).
    max_peers_per_ip: usize,
    /// At this many swarms, no new swarm of a torrent nobody published (`--open`) is started;
    /// published torrents always get theirs.
    max_unpublished_swarms: usize,
}

/// The failure reason for a new peer past [`SwarmStore::with_max_peers_per_ip`].
pub const TOO_MANY_FROM_IP: &str = "too many peers from your address in this swarm";

/// The failure reason for a new swarm past [`SwarmStore::with_max_swarms`].
pub const TRACKER_FULL: &str = "this tracker tracks too many torrents to take a new one";

impl SwarmStore {
    /// `seed` keys the peer tables' hash (random per process against hash flooding).
    pub fn new(peer_timeout_secs: u64, seed: u64) -> SwarmStore {
        SwarmStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            timeout: timeout_ticks(peer_timeout_secs),
            seed,
            swarms: AtomicUsize::new(0),
            max_unpublished_swarms: usize::MAX,
            max_peers_per_ip: usize::MAX,
        }
    }

    /// Caps the peers one address holds in a swarm of an unpublished torrent (0: no cap).
    pub fn with_max_peers_per_ip(mut self, max: usize) -> SwarmStore {
        self.max_peers_per_ip = if max == 0 { usize::MAX } else { max };
        self
    }

    /// Caps the swarms held, for torrents nobody published (an open tracker's memory).
    pub fn with_max_swarms(mut self, max: usize) -> SwarmStore {
        self.max_unpublished_swarms = max;
        self
    }

    /// Swarms held now.
    pub fn swarm_count(&self) -> usize {
        self.swarms.load(Ordering::Relaxed)
    }

    fn recount(&self) {
        let n = (0..SHARDS).map(|i| self.shard(i).len()).sum();
        self.swarms.store(n, Ordering::Relaxed);
    }

    /// The keyed hash of `h` and the shard it lives in (bits the shard's own index does not
    /// use: it takes the low bits for a slot and the top seven for a tag).
    fn locate(&self, h: &InfoHash) -> (u64, usize) {
        let hash = hash_of(h, self.seed);
        (hash, (hash >> 40) as usize % SHARDS)
    }

    fn shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard cannot leave a swarm half-updated in a way that matters
        // more than losing the tracker, so poisoning is ignored.
        self.shards[i % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Records the announce and appends the peers to send to `out`; returns the swarm's counts,
    /// or [`TRACKER_FULL`] for a new swarm of an unpublished torrent past the cap.
    pub fn announce(
        &self,
        a: &Announce,
        now_secs: u64,
        out: &mut Vec<SocketAddr>,
    ) -> Result<Counts, &'static str> {
        let now = Tick::from_unix_secs(now_secs);
        let (hash, shard_at) = self.locate(&a.info_hash);
        let mut shard = self.shard(shard_at);
        if a.event == Event::Stopped {
            let Some(swarm) = shard.get_mut(&a.info_hash, hash) else {
                return Ok(Counts::default());
            };
            swarm.update(a.addr, a.left == 0, a.event, now, self.seed);
            let counts = swarm.counts();
            if swarm.is_empty() {
                shard.remove(&a.info_hash, hash, self.seed);
                let _ = self
                    .swarms
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(n.saturating_sub(1))
                    });
            }
            return Ok(counts);
        }
        let at = match shard.position(&a.info_hash, hash) {
            Some(at) => at,
            // Published torrents (pinned to their publisher) always get their swarm.
            None if a.pinned.is_none()
                && self.swarms.load(Ordering::Relaxed) >= self.max_unpublished_swarms =>
            {
                return Err(TRACKER_FULL);
            }
            None => {
                self.swarms.fetch_add(1, Ordering::Relaxed);
                shard.insert(a.info_hash, hash, self.seed)
            }
        };
        let swarm = shard.at_mut(at);
        // One host filling an open swarm with fake ports: a new peer past the cap is refused.
        // The scan runs only for a new peer of an unpublished swarm from a remote address.
        if a.pinned.is_none()
            && self.max_peers_per_ip != usize::MAX
            && !canonical(a.addr).ip().is_loopback()
            && !swarm.is_live(a.addr, now, u16::MAX)
            && swarm.count_from(a.addr.ip()) >= self.max_peers_per_ip
        {
            return Err(TOO_MANY_FROM_IP);
        }
        let seeder = a.left == 0;
        swarm.update(a.addr, seeder, a.event, now, self.seed);
        swarm.select(
            a.addr,
            seeder,
            a.pinned,
            a.numwant,
            a.start,
            now,
            self.timeout,
            out,
        );
        Ok(swarm.counts())
    }

    pub fn scrape(&self, h: &InfoHash) -> ScrapeStats {
        let (hash, at) = self.locate(h);
        self.shard(at)
            .get(h, hash)
            .map(|s| s.scrape())
            .unwrap_or_default()
    }

    /// The counts of a swarm, and whether `peer` (a publisher) announced within the timeout.
    pub fn scrape_with_peer(
        &self,
        h: &InfoHash,
        peer: SocketAddr,
        now_secs: u64,
    ) -> (ScrapeStats, bool) {
        let now = Tick::from_unix_secs(now_secs);
        let (hash, at) = self.locate(h);
        self.shard(at)
            .get(h, hash)
            .map(|s| (s.scrape(), s.is_live(peer, now, self.timeout)))
            .unwrap_or_default()
    }

    /// Drops expired peers everywhere and forgets empty swarms.
    pub fn sweep(&self, now_secs: u64) {
        let now = Tick::from_unix_secs(now_secs);
        for i in 0..SHARDS {
            self.shard(i).retain(self.seed, |s| {
                s.sweep(now, self.timeout);
                !s.is_empty()
            });
        }
        self.recount();
    }

    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for i in 0..SHARDS {
            let shard = self.shard(i);
            t.torrents += shard.len();
            for s in shard.iter() {
                t.peers += s.len();
                let c = s.counts();
                t.seeders += u64::from(c.seeders);
                t.leechers += u64::from(c.leechers);
            }
        }
        t
    }

    /// Bytes the store holds on the heap (the allocations it asked for, without the
    /// allocator's own overhead): what the memory tests bound per peer.
    pub fn heap_bytes(&self) -> usize {
        (0..SHARDS).map(|i| self.shard(i).heap_bytes()).sum()
    }

    /// A self-contained binary image of every live peer and its age (the `--dfile` format).
    pub fn snapshot(&self, now_secs: u64) -> Vec<u8> {
        let now = Tick::from_unix_secs(now_secs);
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        out.extend_from_slice(&now_secs.to_le_bytes());
        for i in 0..SHARDS {
            let shard = self.shard(i);
            for s in shard.iter() {
                out.extend_from_slice(s.hash().as_bytes());
                out.extend_from_slice(&s.counts().downloaded.to_le_bytes());
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                s.for_each_peer(now, |addr, seeder, age| {
                    match addr.ip() {
                        IpAddr::V4(ip) => {
                            out.push(4);
                            out.extend_from_slice(&ip.octets());
                        }
                        IpAddr::V6(ip) => {
                            out.push(6);
                            out.extend_from_slice(&ip.octets());
                        }
                    }
                    out.extend_from_slice(&addr.port().to_le_bytes());
                    out.push(u8::from(seeder));
                    out.extend_from_slice(&age.to_le_bytes());
                });
            }
        }
        out
    }

    /// Loads a snapshot taken at some earlier time; peers keep their age, so those that expired
    /// meanwhile are dropped. Returns the number of peers restored.
    pub fn restore(&self, bytes: &[u8], now_secs: u64) -> Result<usize, SnapshotError> {
        let mut r = Reader { b: bytes, at: 0 };
        if r.take(8)? != SNAPSHOT_MAGIC {
            return Err(SnapshotError::Magic);
        }
        let taken = u64::from_le_bytes(r.array()?);
        let elapsed = now_secs.saturating_sub(taken) / TICK_SECS;
        let now = Tick::from_unix_secs(now_secs);
        let mut restored = 0;
        while r.at < bytes.len() {
            let h = InfoHash(r.array()?);
            let downloaded = u32::from_le_bytes(r.array()?);
            let n = u32::from_le_bytes(r.array()?);
            // Read the swarm's peers before touching the store: a truncated snapshot leaves no
            // half-restored swarm behind.
            let mut peers = Vec::new();
            for _ in 0..n {
                let at = r.at;
                let ip = match r.take(1)?[0] {
                    4 => IpAddr::V4(Ipv4Addr::from(r.array::<4>()?)),
                    6 => IpAddr::V6(Ipv6Addr::from(r.array::<16>()?)),
                    f => return Err(SnapshotError::Family(f, at)),
                };
                let port = u16::from_le_bytes(r.array()?);
                let seeder = r.take(1)?[0] != 0;
                let age = u64::from(u16::from_le_bytes(r.array()?)) + elapsed;
                if age <= u64::from(self.timeout) {
                    peers.push((SocketAddr::new(ip, port), seeder, age as u16));
                }
            }
            if peers.is_empty() {
                continue;
            }
            let (hash, shard_at) = self.locate(&h);
            let mut shard = self.shard(shard_at);
            let at = match shard.position(&h, hash) {
                Some(at) => at,
                None => shard.insert(h, hash, self.seed),
            };
            let swarm = shard.at_mut(at);
            swarm.set_downloaded(downloaded);
            for (addr, seeder, age) in peers {
                swarm.update(addr, seeder, Event::None, now.minus(age), self.seed);
                restored += 1;
            }
        }
        self.recount();
        Ok(restored)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or(SnapshotError::Truncated(self.at))?;
        self.at += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let at = self.at;
        self.take(N)?
            .try_into()
            .map_err(|_| SnapshotError::Truncated(at))
    }
}

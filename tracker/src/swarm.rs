//! One torrent's peers, held compactly: the pure core of the tracker (time is an argument).
//!
//! An IPv4 peer is one `u64` in a `hashbrown::HashTable` (9 bytes a bucket with its control
//! byte): bits 0..48 are `ip << 16 | port` (the identity, so one IP can run many peers), bits
//! 48..63 the coarse time it last announced, bit 63 "seeder". No per-peer heap allocation, no
//! peer id kept (nothing needs it: replies are compact or dictionary lists without ids).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use hashbrown::HashTable;
use protocol::tracker::{Event, ScrapeStats};

/// Seconds per tick of the coarse clock stored in each peer.
pub const TICK_SECS: u64 = 4;
/// Ticks wrap at 2^15; ages are computed modulo that, so a peer must be swept well before.
const TICK_MASK: u16 = 0x7fff;
/// The longest peer timeout the 15-bit clock can represent safely (half the wrap, 36 h / 2).
pub const MAX_TIMEOUT_SECS: u64 = (TICK_MASK as u64 / 2) * TICK_SECS;
const ADDR_MASK: u64 = (1 << 48) - 1;
const SEEDER: u64 = 1 << 63;

/// A time on the tracker's coarse clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick(u16);

impl Tick {
    pub fn from_unix_secs(secs: u64) -> Tick {
        Tick(((secs / TICK_SECS) as u16) & TICK_MASK)
    }
    fn age(self, then: u16) -> u16 {
        self.0.wrapping_sub(then) & TICK_MASK
    }
    /// The tick `age_ticks` before this one.
    pub fn minus(self, age_ticks: u16) -> Tick {
        Tick(self.0.wrapping_sub(age_ticks) & TICK_MASK)
    }
}

/// A peer timeout in ticks (rounded up, at most [`MAX_TIMEOUT_SECS`]).
pub fn timeout_ticks(secs: u64) -> u16 {
    secs.min(MAX_TIMEOUT_SECS).div_ceil(TICK_SECS) as u16
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V6Peer {
    ip: [u8; 16],
    port: u16,
    /// Same layout as bits 48..64 of a v4 entry.
    meta: u16,
}

fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

fn hash4(key: u64, seed: u64) -> u64 {
    fold(key ^ seed, 0x9E37_79B9_7F4A_7C15)
}

fn hash6(ip: &[u8; 16], port: u16, seed: u64) -> u64 {
    let (a, b) = ip.split_at(8);
    let a = u64::from_le_bytes(a.try_into().unwrap_or_default());
    let b = u64::from_le_bytes(b.try_into().unwrap_or_default());
    fold(
        fold(a ^ seed, b ^ 0x9E37_79B9_7F4A_7C15) ^ u64::from(port),
        0xA076_1D64_78BD_642F,
    )
}

fn v4_key(a: &SocketAddrV4) -> u64 {
    u64::from(u32::from(*a.ip())) << 16 | u64::from(a.port())
}

fn v4_addr(entry: u64) -> SocketAddr {
    let key = entry & ADDR_MASK;
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::from((key >> 16) as u32),
        key as u16,
    ))
}

fn meta(tick: Tick, seeder: bool) -> u16 {
    tick.0 | if seeder { 0x8000 } else { 0 }
}

/// A v4-mapped IPv6 address is the IPv4 peer it stands for.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, a.port())),
            None => addr,
        },
        v4 => v4,
    }
}

/// What an announce changed and what it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub seeders: u32,
    pub leechers: u32,
    pub downloaded: u32,
}

/// The peers of one torrent.
#[derive(Debug, Clone)]
pub struct Swarm {
    v4: HashTable<u64>,
    v6: HashTable<V6Peer>,
    seed: u64,
    counts: Counts,
    last_sweep: Tick,
}

impl Swarm {
    pub fn new(seed: u64, now: Tick) -> Swarm {
        Swarm {
            v4: HashTable::new(),
            v6: HashTable::new(),
            seed,
            counts: Counts::default(),
            last_sweep: now,
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    pub fn scrape(&self) -> ScrapeStats {
        ScrapeStats {
            complete: self.counts.seeders,
            downloaded: self.counts.downloaded,
            incomplete: self.counts.leechers,
        }
    }

    fn count(&mut self, seeder: bool, delta: i32) {
        let c = if seeder {
            &mut self.counts.seeders
        } else {
            &mut self.counts.leechers
        };
        *c = c.saturating_add_signed(delta);
    }

    /// Records (or removes, on `Stopped`) the peer at `addr`. Returns whether it was already there.
    pub fn update(&mut self, addr: SocketAddr, seeder: bool, event: Event, now: Tick) -> bool {
        if event == Event::Completed {
            self.counts.downloaded = self.counts.downloaded.saturating_add(1);
        }
        let stopped = event == Event::Stopped;
        let new_meta = meta(now, seeder);
        let (was, old_seeder) = match canonical(addr) {
            SocketAddr::V4(a) => {
                let key = v4_key(&a);
                let h = hash4(key, self.seed);
                match self.v4.find_entry(h, |e| e & ADDR_MASK == key) {
                    Ok(entry) if stopped => {
                        let (old, _) = entry.remove();
                        (true, old & SEEDER != 0)
                    }
                    Ok(mut entry) => {
                        let e = entry.get_mut();
                        let old = *e & SEEDER != 0;
                        *e = key | u64::from(new_meta) << 48;
                        (true, old)
                    }
                    Err(_) if stopped => (false, false),
                    Err(_) => {
                        let seed = self.seed;
                        self.v4
                            .insert_unique(h, key | u64::from(new_meta) << 48, |e| {
                                hash4(e & ADDR_MASK, seed)
                            });
                        (false, false)
                    }
                }
            }
            SocketAddr::V6(a) => {
                let (ip, port) = (a.ip().octets(), a.port());
                let h = hash6(&ip, port, self.seed);
                match self.v6.find_entry(h, |e| e.ip == ip && e.port == port) {
                    Ok(entry) if stopped => {
                        let (old, _) = entry.remove();
                        (true, old.meta & 0x8000 != 0)
                    }
                    Ok(mut entry) => {
                        let e = entry.get_mut();
                        let old = e.meta & 0x8000 != 0;
                        e.meta = new_meta;
                        (true, old)
                    }
                    Err(_) if stopped => (false, false),
                    Err(_) => {
                        let seed = self.seed;
                        let p = V6Peer {
                            ip,
                            port,
                            meta: new_meta,
                        };
                        self.v6.insert_unique(h, p, |e| hash6(&e.ip, e.port, seed));
                        (false, false)
                    }
                }
            }
        };
        if was {
            self.count(old_seeder, -1);
        }
        if !stopped {
            self.count(seeder, 1);
        }
        was
    }

    /// Peers held from `ip` (an IPv6 address by its /64): a scan, made only for a new peer of
    /// an unpublished swarm on an open tracker (see `SwarmStore::with_max_peers_per_ip`).
    pub fn count_from(&self, ip: IpAddr) -> usize {
        match canonical(SocketAddr::new(ip, 0)).ip() {
            IpAddr::V4(v4) => {
                let want = u64::from(u32::from(v4));
                self.v4
                    .iter()
                    .filter(|&&e| (e & ADDR_MASK) >> 16 == want)
                    .count()
            }
            IpAddr::V6(v6) => {
                let net = &v6.octets()[..8];
                self.v6.iter().filter(|e| &e.ip[..8] == net).count()
            }
        }
    }

    /// Whether `addr` is held and announced within `timeout` ticks.
    pub fn is_live(&self, addr: SocketAddr, now: Tick, timeout: u16) -> bool {
        match canonical(addr) {
            SocketAddr::V4(a) => {
                let key = v4_key(&a);
                self.v4
                    .find(hash4(key, self.seed), |e| e & ADDR_MASK == key)
                    .is_some_and(|e| now.age(((e >> 48) as u16) & TICK_MASK) <= timeout)
            }
            SocketAddr::V6(a) => {
                let (ip, port) = (a.ip().octets(), a.port());
                self.v6
                    .find(hash6(&ip, port, self.seed), |e| {
                        e.ip == ip && e.port == port
                    })
                    .is_some_and(|e| now.age(e.meta & TICK_MASK) <= timeout)
            }
        }
    }

    /// Appends up to `want` live peers other than `requester` to `out`, IPv4 first. `first` (the
    /// publisher) comes first when live; a seeder is sent only leechers. `start` (random, from the
    /// caller) picks the bucket of the table to begin at.
    #[allow(clippy::too_many_arguments)]
    pub fn select(
        &self,
        requester: SocketAddr,
        requester_is_seeder: bool,
        first: Option<SocketAddr>,
        want: usize,
        start: usize,
        now: Tick,
        timeout: u16,
        out: &mut Vec<SocketAddr>,
    ) {
        let requester = canonical(requester);
        let first = first.map(canonical).filter(|&f| f != requester);
        let target = out.len() + want;
        if let Some(f) = first {
            if want > 0 && self.is_live(f, now, timeout) {
                out.push(f);
            }
        }
        let live =
            |m: u16| now.age(m & TICK_MASK) <= timeout && !(requester_is_seeder && m & 0x8000 != 0);
        // Start at a random bucket and wrap around: every peer is about as likely as any other to be
        // handed out, however big the swarm, and a reply costs its own length in buckets rather
        // than a walk over the table's first entries.
        let buckets = self.v4.num_buckets();
        let from = start % buckets.max(1);
        let v4 = (from..buckets)
            .chain(0..from)
            .filter_map(|i| self.v4.get_bucket(i));
        for &e in v4 {
            if out.len() >= target {
                return;
            }
            let a = v4_addr(e);
            if live((e >> 48) as u16) && a != requester && Some(a) != first {
                out.push(a);
            }
        }
        for e in self.v6.iter() {
            if out.len() >= target {
                return;
            }
            let a = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(e.ip), e.port, 0, 0));
            if live(e.meta) && a != requester && Some(a) != first {
                out.push(a);
            }
        }
    }

    /// Drops peers silent for more than `timeout` ticks. Cheap to call often: it does nothing
    /// until 8 ticks have passed since the last sweep, unless `force`.
    pub fn sweep(&mut self, now: Tick, timeout: u16, force: bool) {
        if !force && now.age(self.last_sweep.0) < 8 {
            return;
        }
        self.last_sweep = now;
        let mut gone = Counts::default();
        self.v4.retain(|e| {
            let m = (*e >> 48) as u16;
            let keep = now.age(m & TICK_MASK) <= timeout;
            if !keep {
                if m & 0x8000 != 0 {
                    gone.seeders += 1
                } else {
                    gone.leechers += 1
                }
            }
            keep
        });
        self.v6.retain(|e| {
            let keep = now.age(e.meta & TICK_MASK) <= timeout;
            if !keep {
                if e.meta & 0x8000 != 0 {
                    gone.seeders += 1
                } else {
                    gone.leechers += 1
                }
            }
            keep
        });
        self.counts.seeders = self.counts.seeders.saturating_sub(gone.seeders);
        self.counts.leechers = self.counts.leechers.saturating_sub(gone.leechers);
        if self.v4.capacity() > 64 && self.v4.len() * 4 < self.v4.capacity() {
            let seed = self.seed;
            self.v4.shrink_to_fit(|e| hash4(e & ADDR_MASK, seed));
        }
    }

    /// Every peer as (address, seeder, age in ticks), for snapshots.
    pub fn peers(&self, now: Tick) -> impl Iterator<Item = (SocketAddr, bool, u16)> + '_ {
        let v4 = self.v4.iter().map(move |&e| {
            let m = (e >> 48) as u16;
            (v4_addr(e), m & 0x8000 != 0, now.age(m & TICK_MASK))
        });
        let v6 = self.v6.iter().map(move |e| {
            let a = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(e.ip), e.port, 0, 0));
            (a, e.meta & 0x8000 != 0, now.age(e.meta & TICK_MASK))
        });
        v4.chain(v6)
    }

    /// Sets the completed-downloads count (restoring a snapshot).
    pub fn set_downloaded(&mut self, n: u32) {
        self.counts.downloaded = n;
    }
}

#[cfg(test)]
#[path = "swarm_tests.rs"]
mod tests;

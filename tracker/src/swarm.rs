//! One torrent's peers and counts: the pure core of the tracker (time is an argument).
//!
//! The peers themselves are compact entries in flat arrays (`peer_list`): 8 bytes an IPv4
//! peer, 20 an IPv6 one, with the coarse time it last announced and whether it seeds. No
//! per-peer heap allocation, no peer id kept (nothing needs it: replies are compact or
//! dictionary lists without ids).

use std::net::{IpAddr, SocketAddr, SocketAddrV4};

use protocol::tracker::{Event, ScrapeStats};
use protocol::InfoHash;

use crate::peer_list::{Key, Meta, Peers};

/// Seconds per tick of the coarse clock stored in each peer.
pub const TICK_SECS: u64 = 4;
/// Ticks wrap at 2^15; ages are computed modulo that, so a peer must be swept well before.
const TICK_MASK: u16 = 0x7fff;
/// The longest peer timeout the 15-bit clock can represent safely (half the wrap, 36 h / 2).
pub const MAX_TIMEOUT_SECS: u64 = (TICK_MASK as u64 / 2) * TICK_SECS;

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

/// One torrent: its info-hash, counts and peers, in 48 bytes plus its peers' arrays (a swarm of
/// ten IPv4 peers is one more allocation of 80 bytes).
#[derive(Debug, Clone)]
pub struct Swarm {
    hash: InfoHash,
    downloaded: u32,
    seeders: u32,
    leechers: u32,
    peers: Peers,
}

impl Swarm {
    pub fn new(hash: InfoHash) -> Swarm {
        Swarm {
            hash,
            downloaded: 0,
            seeders: 0,
            leechers: 0,
            peers: Peers::default(),
        }
    }

    pub fn hash(&self) -> &InfoHash {
        &self.hash
    }

    pub fn len(&self) -> usize {
        self.seeders as usize + self.leechers as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn counts(&self) -> Counts {
        Counts {
            seeders: self.seeders,
            leechers: self.leechers,
            downloaded: self.downloaded,
        }
    }

    pub fn scrape(&self) -> ScrapeStats {
        ScrapeStats {
            complete: self.seeders,
            downloaded: self.downloaded,
            incomplete: self.leechers,
        }
    }

    fn count(&mut self, meta: Meta) -> &mut u32 {
        if meta.is_seeder() {
            &mut self.seeders
        } else {
            &mut self.leechers
        }
    }

    /// Records (or removes, on `Stopped`) the peer at `addr`. Returns whether it was already
    /// there. `seed` keys where a big swarm's peers go (random per process).
    pub fn update(
        &mut self,
        addr: SocketAddr,
        seeder: bool,
        event: Event,
        now: Tick,
        seed: u64,
    ) -> bool {
        if event == Event::Completed {
            self.downloaded = self.downloaded.saturating_add(1);
        }
        let key = Key::of(addr);
        let len = self.len();
        if event == Event::Stopped {
            let Some(old) = self.peers.remove(key, len) else {
                return false;
            };
            *self.count(old) -= 1;
            return true;
        }
        let meta = Meta(now.0 | if seeder { Meta::SEEDER } else { 0 });
        let old = self
            .peers
            .upsert(key, meta, len, seed ^ hash_seed(&self.hash));
        if let Some(old) = old {
            *self.count(old) -= 1;
        }
        *self.count(meta) += 1;
        old.is_some()
    }

    /// Peers held from `ip` (an IPv6 address by its /64): a scan, made only for a new peer of
    /// an unpublished swarm on an open tracker (see `SwarmStore::with_max_peers_per_ip`).
    pub fn count_from(&self, ip: IpAddr) -> usize {
        let mut n = 0;
        let ip = canonical(SocketAddr::new(ip, 0)).ip();
        self.peers.visit(self.len(), 0, |a, _| {
            n += usize::from(match (a.ip(), ip) {
                (IpAddr::V6(a), IpAddr::V6(b)) => a.octets()[..8] == b.octets()[..8],
                (a, b) => a == b,
            });
            true
        });
        n
    }

    /// Whether `addr` is held and announced within `timeout` ticks.
    pub fn is_live(&self, addr: SocketAddr, now: Tick, timeout: u16) -> bool {
        self.peers
            .get(Key::of(addr), self.len())
            .is_some_and(|m| now.age(m.tick()) <= timeout)
    }

    /// Appends up to `want` live peers other than `requester` to `out`, IPv4 first. `first` (the
    /// publisher) comes first when live; a seeder is sent only leechers. `start` (random, from the
    /// caller) picks the peer to begin at.
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
        if want == 0 {
            return;
        }
        if let Some(f) = first {
            if self.is_live(f, now, timeout) {
                out.push(f);
            }
        }
        // Start at a random peer and wrap around: every peer is about as likely as any other to
        // be handed out, however big the swarm, and a reply costs about its own length.
        self.peers.visit(self.len(), start, |a, m| {
            if out.len() >= target {
                return false;
            }
            let live = now.age(m.tick()) <= timeout && !(requester_is_seeder && m.is_seeder());
            if live && a != requester && Some(a) != first {
                out.push(a);
            }
            true
        });
    }

    /// Drops peers silent for more than `timeout` ticks.
    pub fn sweep(&mut self, now: Tick, timeout: u16) {
        let (mut seeders, mut leechers) = (0, 0);
        self.peers.retain(self.len(), |m| {
            let keep = now.age(m.tick()) <= timeout;
            if !keep {
                if m.is_seeder() {
                    seeders += 1;
                } else {
                    leechers += 1;
                }
            }
            keep
        });
        self.seeders -= seeders;
        self.leechers -= leechers;
    }

    /// Every peer as (address, seeder, age in ticks), for snapshots.
    pub fn for_each_peer(&self, now: Tick, mut f: impl FnMut(SocketAddr, bool, u16)) {
        self.peers.visit(self.len(), 0, |a, m| {
            f(a, m.is_seeder(), now.age(m.tick()));
            true
        });
    }

    /// Sets the completed-downloads count (restoring a snapshot).
    pub fn set_downloaded(&mut self, n: u32) {
        self.downloaded = n;
    }

    /// Heap bytes this swarm's peers hold beyond the swarm itself.
    pub fn heap_bytes(&self) -> usize {
        self.peers.heap_bytes()
    }
}

/// A per-swarm part of the bucket key, so two swarms do not share a bucket layout.
fn hash_seed(h: &InfoHash) -> u64 {
    u64::from_le_bytes(h.0[..8].try_into().unwrap_or_default())
}

#[cfg(test)]
#[path = "swarm_tests.rs"]
mod tests;

//! Whom to dial: the candidate addresses (from trackers, the DHT, PEX, LSD, the user), when
//! each may be tried again, every connection of every stage, and the bans. One pool serves a
//! torrent from its magnet link's first peer to its last upload: the metadata phase fills it
//! and hands it to the [`super::TorrentCore`] that follows.
//!
//! The caps count every connection to or from a host, handshaking ones included, so a peer
//! cannot get around them, or a ban, with new ports or peer ids.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::outputs::PeerKey;
use crate::peer_bounds::{is_own_machine, MAX_BANS};
use crate::{BanList, IpKey};

/// Candidates remembered at most; more are ignored until some are tried.
pub const MAX_CANDIDATES: usize = 2000;
/// A dial attempt is not repeated before this (it has its chance to connect and handshake).
const ATTEMPT_GAP: Duration = Duration::from_secs(30);

/// An address to dial under `key`: report the outcome with `handshook` (or the core's
/// `handle_connected`) or `ended` (`handle_closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dial {
    pub key: PeerKey,
    pub addr: SocketAddr,
}

/// Where we stand with an address we may dial.
struct Candidate {
    next_attempt: Instant,
    failures: u32,
}

pub struct DialPool {
    candidates: HashMap<SocketAddr, Candidate>,
    /// Addresses never to dial (ourselves, this machine's programs that misbehaved, peers
    /// that sent bad metadata).
    banned_addrs: HashSet<SocketAddr>,
    /// Hosts banned for misbehaviour, whatever port or peer id they come back with.
    bans: BanList,
    /// Outgoing connections not yet through the handshake.
    connecting: HashMap<PeerKey, SocketAddr>,
    /// Accepted connections not yet through the handshake.
    handshaking: HashMap<PeerKey, SocketAddr>,
    /// Connections through their handshake.
    connected: HashMap<PeerKey, SocketAddr>,
    next_key: PeerKey,
    dials: VecDeque<Dial>,
    max_peers: usize,
    max_per_host: usize,
}

impl DialPool {
    /// A pool for at most `max_peers` connections, `max_per_host` of them to or from one host.
    pub fn new(max_peers: usize, max_per_host: usize) -> DialPool {
        DialPool {
            candidates: HashMap::new(),
            banned_addrs: HashSet::new(),
            bans: BanList::default(),
            connecting: HashMap::new(),
            handshaking: HashMap::new(),
            connected: HashMap::new(),
            next_key: 1,
            dials: VecDeque::new(),
            max_peers,
            max_per_host,
        }
    }

    /// Addresses we may dial (the caller has applied its LAN rule). Known ones keep their
    /// back-off; past [`MAX_CANDIDATES`] new ones are ignored.
    pub fn add(&mut self, addrs: impl IntoIterator<Item = SocketAddr>, now: Instant) {
        for addr in addrs {
            if self.candidates.len() >= MAX_CANDIDATES && !self.candidates.contains_key(&addr) {
                continue;
            }
            self.candidates.entry(addr).or_insert(Candidate {
                next_attempt: now,
                failures: 0,
            });
        }
    }

    /// How many more candidates may be added.
    pub fn room(&self) -> usize {
        MAX_CANDIDATES.saturating_sub(self.candidates.len())
    }

    pub fn knows(&self, addr: &SocketAddr) -> bool {
        self.candidates.contains_key(addr)
    }

    pub fn is_banned(&self, addr: SocketAddr) -> bool {
        self.bans.is_banned(addr.ip()) || self.banned_addrs.contains(&addr)
    }

    /// Never dial `addr` again (it is us, or it sent bad metadata).
    pub fn forbid(&mut self, addr: SocketAddr) {
        if self.banned_addrs.len() >= MAX_BANS {
            self.banned_addrs.clear();
        }
        self.banned_addrs.insert(addr);
    }

    /// Bans `addr`'s host (an IPv4 address or an IPv6 /64); on this machine's own address,
    /// where many programs are many peers, only `addr`.
    pub fn ban(&mut self, addr: SocketAddr) {
        if is_own_machine(addr.ip()) {
            self.forbid(addr);
        } else {
            self.bans.ban(addr.ip());
        }
    }

    /// Connections of any stage.
    pub fn connections(&self) -> usize {
        self.connecting.len() + self.handshaking.len() + self.connected.len()
    }

    fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        (self.connecting.values())
            .chain(self.handshaking.values())
            .chain(self.connected.values())
            .copied()
    }

    /// Whether a new connection to or from `ip` stays within the caps.
    pub fn room_for(&self, ip: IpAddr) -> bool {
        let host = IpKey::from(ip);
        self.connections() < self.max_peers
            && (is_own_machine(ip)
                || self.addrs().filter(|a| IpKey::from(a.ip()) == host).count() < self.max_per_host)
    }

    fn new_key(&mut self) -> PeerKey {
        let key = self.next_key;
        self.next_key += 1;
        key
    }

    /// Queues dials to the candidates that are due, within the caps.
    pub fn connect_due(&mut self, now: Instant) {
        let busy: HashSet<SocketAddr> = (self.connecting.values())
            .chain(self.connected.values())
            .copied()
            .collect();
        let mut due: Vec<SocketAddr> = (self.candidates.iter())
            .filter(|(a, c)| c.next_attempt <= now && !busy.contains(a) && !self.is_banned(**a))
            .map(|(a, _)| *a)
            .collect();
        due.sort();
        for addr in due {
            if self.connections() >= self.max_peers {
                break;
            }
            if !self.room_for(addr.ip()) {
                continue;
            }
            let key = self.new_key();
            self.connecting.insert(key, addr);
            if let Some(c) = self.candidates.get_mut(&addr) {
                c.next_attempt = now + ATTEMPT_GAP;
            }
            self.dials.push_back(Dial { key, addr });
        }
    }

    /// The next address to dial.
    pub fn poll_dial(&mut self) -> Option<Dial> {
        self.dials.pop_front()
    }

    /// When the next candidate comes due.
    pub fn next_due(&self) -> Option<Instant> {
        self.candidates.values().map(|c| c.next_attempt).min()
    }

    /// An incoming connection from `addr`: its key if it may go on to the handshake.
    pub fn admit(&mut self, addr: SocketAddr) -> Option<PeerKey> {
        if self.bans.is_banned(addr.ip()) || !self.room_for(addr.ip()) {
            return None;
        }
        let key = self.new_key();
        self.handshaking.insert(key, addr);
        Some(key)
    }

    /// A connection got through its handshake: returns the address to know it by (the one we
    /// dialed, for an outgoing one) and whether we dialed it.
    pub fn handshook(&mut self, key: PeerKey, addr: SocketAddr) -> (SocketAddr, bool) {
        self.handshaking.remove(&key);
        let dialed = self.connecting.remove(&key);
        let addr = dialed.unwrap_or(addr);
        self.connected.insert(key, addr);
        if let Some(c) = self.candidates.get_mut(&addr) {
            c.failures = 0;
        }
        (addr, dialed.is_some())
    }

    /// Whether `key` is a connection through its handshake.
    pub fn is_connected(&self, key: PeerKey) -> bool {
        self.connected.contains_key(&key)
    }

    /// A connection ended. One that never got through its handshake backs its address off
    /// exponentially; a connected one may be redialed in a while (two seeds, who have nothing
    /// to say to each other, not for an hour). Returns whether `key` was connected.
    pub fn ended(&mut self, key: PeerKey, both_seeds: bool, now: Instant) -> bool {
        self.handshaking.remove(&key);
        if let Some(addr) = self.connecting.remove(&key) {
            if let Some(c) = self.candidates.get_mut(&addr) {
                c.failures += 1;
                c.next_attempt = now + Duration::from_secs(2u64.pow(c.failures.min(8)));
            }
            return false;
        }
        let Some(addr) = self.connected.remove(&key) else {
            return false;
        };
        if let Some(c) = self.candidates.get_mut(&addr) {
            c.next_attempt = now + Duration::from_secs(if both_seeds { 3600 } else { 5 });
        }
        true
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;

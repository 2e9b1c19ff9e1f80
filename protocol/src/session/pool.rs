//! Whom to dial: the candidate addresses (from trackers, the DHT, PEX, LSD, the user), when
//! each may be tried again, the connections under way, and the bans. The per-host cap counts
//! every connection to or from a host, handshaking ones included, so a peer cannot get around
//! it, or a ban, with new ports or peer ids.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::core::TorrentCore;
use super::PeerKey;
use crate::peer_bounds::{is_own_machine, MAX_BANS};
use crate::{BanList, IpKey};

/// Candidates remembered at most; more are ignored until some are tried.
pub const MAX_CANDIDATES: usize = 2000;

/// An address to dial under `key`: report the outcome with `handle_connected` or
/// `handle_closed`.
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

pub(super) struct Pool {
    candidates: HashMap<SocketAddr, Candidate>,
    /// Addresses never to dial (ourselves, this machine's programs that misbehaved).
    pub(super) banned_addrs: HashSet<SocketAddr>,
    /// Hosts banned for misbehaviour, whatever port or peer id they come back with.
    pub(super) bans: BanList,
    /// Outgoing connections not yet through the handshake.
    pub(super) connecting: HashMap<PeerKey, SocketAddr>,
    /// Accepted connections not yet through the handshake.
    pub(super) handshaking: HashMap<PeerKey, SocketAddr>,
    next_key: PeerKey,
    pub(super) dials: std::collections::VecDeque<Dial>,
}

impl Default for Pool {
    fn default() -> Pool {
        Pool {
            candidates: HashMap::new(),
            banned_addrs: HashSet::new(),
            bans: BanList::default(),
            connecting: HashMap::new(),
            handshaking: HashMap::new(),
            next_key: 1,
            dials: Default::default(),
        }
    }
}

impl Pool {
    pub(super) fn is_banned(&self, addr: SocketAddr) -> bool {
        self.bans.is_banned(addr.ip()) || self.banned_addrs.contains(&addr)
    }

    fn new_key(&mut self) -> PeerKey {
        let key = self.next_key;
        self.next_key += 1;
        key
    }

    /// A handshake got through: the address is good.
    pub(super) fn connected(&mut self, addr: SocketAddr) {
        if let Some(c) = self.candidates.get_mut(&addr) {
            c.failures = 0;
        }
    }

    /// A connection that never got through its handshake ended: true if `key` was one. A
    /// failed dial backs off exponentially.
    pub(super) fn handshake_failed(&mut self, key: PeerKey, now: Instant) -> bool {
        if self.handshaking.remove(&key).is_some() {
            return true;
        }
        let Some(addr) = self.connecting.remove(&key) else {
            return false;
        };
        if let Some(c) = self.candidates.get_mut(&addr) {
            c.failures += 1;
            c.next_attempt = now + Duration::from_secs(2u64.pow(c.failures.min(8)));
        }
        true
    }

    /// A connected peer left. Two seeds have nothing to say to each other: not again soon.
    pub(super) fn disconnected(&mut self, addr: SocketAddr, both_seeds: bool, now: Instant) {
        if let Some(c) = self.candidates.get_mut(&addr) {
            c.next_attempt = now + Duration::from_secs(if both_seeds { 3600 } else { 5 });
        }
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        self.candidates.values().map(|c| c.next_attempt).min()
    }

    pub(super) fn candidate_count(&self) -> usize {
        self.candidates.len()
    }

    pub(super) fn knows(&self, addr: &SocketAddr) -> bool {
        self.candidates.contains_key(addr)
    }

    pub(super) fn ban(&mut self, addr: SocketAddr) {
        if is_own_machine(addr.ip()) {
            if self.banned_addrs.len() >= MAX_BANS {
                self.banned_addrs.clear();
            }
            self.banned_addrs.insert(addr);
        } else {
            self.bans.ban(addr.ip());
        }
    }
}

impl TorrentCore {
    /// Addresses we may dial (the caller has applied its LAN rule). Known ones keep their
    /// back-off; past [`MAX_CANDIDATES`] new ones are ignored.
    pub fn add_candidates(&mut self, addrs: impl IntoIterator<Item = SocketAddr>, now: Instant) {
        self.now = now;
        for addr in addrs {
            if self.pool.candidate_count() >= MAX_CANDIDATES && !self.pool.knows(&addr) {
                continue;
            }
            self.pool.candidates.entry(addr).or_insert(Candidate {
                next_attempt: now,
                failures: 0,
            });
        }
        self.connect_due(now);
    }

    /// How many more candidates may be added.
    pub fn candidate_room(&self) -> usize {
        MAX_CANDIDATES.saturating_sub(self.pool.candidate_count())
    }

    pub fn is_candidate(&self, addr: &SocketAddr) -> bool {
        self.pool.knows(addr)
    }

    /// The next address to dial.
    pub fn poll_connect(&mut self) -> Option<Dial> {
        self.pool.dials.pop_front()
    }

    /// An incoming connection from `addr`: its key if it may go on to the handshake, `None`
    /// if it must be dropped (inactive, banned, or past the caps).
    pub fn admit_incoming(&mut self, addr: SocketAddr) -> Option<PeerKey> {
        if !self.active || self.pool.bans.is_banned(addr.ip()) || !self.room_for(addr.ip()) {
            return None;
        }
        let key = self.pool.new_key();
        self.pool.handshaking.insert(key, addr);
        Some(key)
    }

    /// Connections of any stage.
    fn connection_count(&self) -> usize {
        self.peers.len() + self.pool.connecting.len() + self.pool.handshaking.len()
    }

    /// Connections to or from `ip`'s host, handshaking ones included.
    fn host_connections(&self, ip: IpAddr) -> usize {
        let host = IpKey::from(ip);
        (self.peers.values().map(|p| p.addr))
            .chain(self.pool.connecting.values().copied())
            .chain(self.pool.handshaking.values().copied())
            .filter(|a| IpKey::from(a.ip()) == host)
            .count()
    }

    /// Whether a new connection to or from `ip` stays within the torrent's caps.
    fn room_for(&self, ip: IpAddr) -> bool {
        self.connection_count() < self.config.max_peers
            && (is_own_machine(ip) || self.host_connections(ip) < self.config.max_peers_per_ip)
    }

    /// Queues dials to the candidates that are due, within the caps.
    pub(super) fn connect_due(&mut self, now: Instant) {
        if !self.active {
            return;
        }
        let busy: HashSet<SocketAddr> = (self.peers.values().map(|p| p.addr))
            .chain(self.pool.connecting.values().copied())
            .collect();
        let mut due: Vec<SocketAddr> = (self.pool.candidates.iter())
            .filter(|(a, c)| {
                c.next_attempt <= now && !busy.contains(a) && !self.pool.is_banned(**a)
            })
            .map(|(a, _)| *a)
            .collect();
        due.sort();
        for addr in due {
            if self.connection_count() >= self.config.max_peers {
                break;
            }
            if !self.room_for(addr.ip()) {
                continue;
            }
            let key = self.pool.new_key();
            self.pool.connecting.insert(key, addr);
            if let Some(c) = self.pool.candidates.get_mut(&addr) {
                // Not again before this attempt has had its chance.
                c.next_attempt = now + Duration::from_secs(30);
            }
            self.pool.dials.push_back(Dial { key, addr });
        }
    }

    /// Bans `addr`'s host (an IPv4 address or an IPv6 /64) and closes its connections. On this
    /// machine's own address many programs are many peers: only `addr`.
    pub fn ban_host(&mut self, addr: SocketAddr, why: &'static str) {
        self.events
            .push_back(super::CoreEvent::Banned { addr, why });
        self.pool.ban(addr);
        let exempt = is_own_machine(addr.ip());
        let host = IpKey::from(addr.ip());
        let keys: Vec<PeerKey> = (self.peers.iter())
            .filter(|(_, p)| {
                if exempt {
                    p.addr == addr
                } else {
                    IpKey::from(p.addr.ip()) == host
                }
            })
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.close_peer(key, super::PeerError::Banned(why));
        }
    }

    /// Bans the peer's host and closes its connections.
    pub fn ban(&mut self, key: PeerKey, why: &'static str) {
        if let Some(addr) = self.peers.get(&key).map(|p| p.addr) {
            self.ban_host(addr, why);
        }
        self.close_peer(key, super::PeerError::Banned(why));
    }

    /// Never dial `addr` (the metadata phase distrusted it, or it is us).
    pub fn forbid(&mut self, addr: SocketAddr) {
        self.pool.banned_addrs.insert(addr);
    }
}

impl TorrentCore {
    /// Connections still in their handshake when a magnet's metadata phase handed over, and
    /// the first key it had not used: keys stay unique across the two phases.
    pub fn adopt_handshakes(
        &mut self,
        connecting: impl IntoIterator<Item = (PeerKey, SocketAddr)>,
        handshaking: impl IntoIterator<Item = (PeerKey, SocketAddr)>,
        next_key: PeerKey,
    ) {
        self.pool.connecting.extend(connecting);
        self.pool.handshaking.extend(handshaking);
        self.pool.next_key = self.pool.next_key.max(next_key);
    }
}

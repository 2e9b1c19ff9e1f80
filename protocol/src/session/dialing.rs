//! Whom to connect to, as the core sees it: the pool (`pool.rs`) acts only while the torrent
//! is active, and a ban closes the host's connections.

use std::net::SocketAddr;
use std::time::Instant;

use super::core::TorrentCore;
use super::error::PeerError;
use super::outputs::{CoreEvent, PeerKey};
use super::pool::{Dial, DialPool};
use crate::peer_bounds::is_own_machine;
use crate::IpKey;

impl TorrentCore {
    /// Addresses we may dial (the caller has applied its LAN rule).
    pub fn add_candidates(&mut self, addrs: impl IntoIterator<Item = SocketAddr>, now: Instant) {
        self.now = now;
        self.pool.add(addrs, now);
        self.connect_due(now);
    }

    /// The pool, to ask how many more candidates fit and which are known.
    pub fn pool(&self) -> &DialPool {
        &self.pool
    }

    /// Takes over the pool of a magnet link's metadata phase: its candidates, bans, and the
    /// connections it made (adopted with `adopt_peer`) or still has in their handshake.
    pub fn adopt_pool(&mut self, pool: DialPool) {
        self.pool = pool;
    }

    /// The next address to dial.
    pub fn poll_connect(&mut self) -> Option<Dial> {
        self.pool.poll_dial()
    }

    /// An incoming connection from `addr`: its key if it may go on to the handshake, `None`
    /// if it must be dropped (inactive, banned, or past the caps).
    pub fn admit_incoming(&mut self, addr: SocketAddr) -> Option<PeerKey> {
        if !self.active {
            return None;
        }
        self.pool.admit(addr)
    }

    pub(super) fn connect_due(&mut self, now: Instant) {
        if self.active {
            self.pool.connect_due(now);
        }
    }

    /// Bans `addr`'s host and closes its connections (on this machine's own address: only
    /// `addr`).
    pub fn ban_host(&mut self, addr: SocketAddr, why: &'static str) {
        self.events.push_back(CoreEvent::Banned { addr, why });
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
            self.close_peer(key, PeerError::Banned(why));
        }
    }

    /// Bans the peer's host and closes its connections.
    pub fn ban(&mut self, key: PeerKey, why: &'static str) {
        if let Some(addr) = self.peers.get(&key).map(|p| p.addr) {
            self.ban_host(addr, why);
        }
        self.close_peer(key, PeerError::Banned(why));
    }

    /// Never dial `addr` (the metadata phase distrusted it, or it is us).
    pub fn forbid(&mut self, addr: SocketAddr) {
        self.pool.forbid(addr);
    }
}

//! BEP 11 peer exchange: every minute each PEX-speaking peer hears which peers we connected to
//! and dropped since our last message to it (`PexDiff`, at most 50 of each, with flags), and
//! the peers others tell us of become candidates in the pool, within its room and the LAN rule.
//! Private torrents (BEP 27) neither send nor use PEX.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::core::TorrentCore;
use super::ext_state::extended_frame;
use super::outputs::{PeerKey, Transmit};
use crate::wire::{ExtensionError, PexFlags, PexMessage};

/// BEP 11: no more than one message a minute to a peer.
pub const PEX_INTERVAL: Duration = Duration::from_secs(60);
/// Messages from one peer closer together than this are ignored (BEP 11 allows one a minute;
/// some slack for timer jitter and for a first message sent right after the handshake).
pub const MIN_RECEIVE_GAP: Duration = Duration::from_secs(20);

/// Whether an address a peer passed on is one we may dial: unicast, a real port. Loopback and
/// private ranges stay allowed here (local swarms and tests are legitimate); the LAN rule is
/// applied on top.
pub fn dialable(addr: &SocketAddr) -> bool {
    if addr.port() == 0 {
        return false;
    }
    match addr.ip() {
        IpAddr::V4(ip) => !(ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast()),
        IpAddr::V6(ip) => !(ip.is_unspecified() || ip.is_multicast()),
    }
}

/// The dialable peers a `ut_pex` payload adds (its dropped list is only a hint, and ignored;
/// the decoder refuses lists longer than BEP 11 allows).
pub fn added_peers(payload: &[u8]) -> Result<Vec<SocketAddr>, ExtensionError> {
    let msg = PexMessage::decode(payload)?;
    Ok(msg
        .added
        .into_iter()
        .map(|(addr, _)| addr)
        .filter(dialable)
        .collect())
}

impl TorrentCore {
    /// The address others can reach a connected peer at: the one we dialed, or for a peer that
    /// dialed us its IP with the listen port from its handshake (unknown otherwise).
    fn pex_addr(&self, key: PeerKey) -> Option<(SocketAddr, PexFlags)> {
        let p = self.peers.get(&key)?;
        let addr = if p.outgoing {
            p.addr
        } else {
            SocketAddr::new(p.addr.ip(), p.ext.listen_port?)
        };
        let mut flags = 0;
        if p.has.is_full() {
            flags |= PexFlags::SEED;
        }
        if p.outgoing {
            flags |= PexFlags::REACHABLE;
        }
        Some((addr, PexFlags(flags)))
    }

    fn pex_on(&self) -> bool {
        self.extensions.pex && self.active
    }

    /// Sends each PEX peer whose minute is up what changed since our last message to it.
    pub(super) fn pex_tick(&mut self, now: Instant) {
        if !self.pex_on() {
            return;
        }
        let due: Vec<PeerKey> = (self.peers.iter())
            .filter(|(_, p)| p.ext.ut_pex.is_some() && p.ext.pex_due.is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        if due.is_empty() {
            return;
        }
        let swarm: Vec<(PeerKey, (SocketAddr, PexFlags))> = (self.keys().into_iter())
            .filter_map(|k| self.pex_addr(k).map(|a| (k, a)))
            .collect();
        for key in due {
            let Some(p) = self.peers.get_mut(&key) else {
                continue;
            };
            let Some(id) = p.ext.ut_pex else { continue };
            let addr = p.addr;
            let others: Vec<(SocketAddr, PexFlags)> = (swarm.iter())
                .filter(|(k, (a, _))| *k != key && *a != addr)
                .map(|(_, a)| *a)
                .collect();
            // The minute counts from a message actually sent: nothing to say, ask again soon.
            if let Some(msg) = p.ext.pex_sent.next_message(&others) {
                p.ext.pex_due = Some(now + PEX_INTERVAL);
                let mut payload = Vec::new();
                msg.encode(&mut payload);
                self.send(key, Transmit::Frame(extended_frame(id, &payload)));
            }
        }
    }

    /// When the next PEX message is due to some peer.
    pub(super) fn pex_deadline(&self) -> Option<Instant> {
        if !self.pex_on() {
            return None;
        }
        (self.peers.values())
            .filter(|p| p.ext.ut_pex.is_some())
            .filter_map(|p| p.ext.pex_due)
            .min()
    }

    /// A `ut_pex` message: its added peers become candidates. Returns false if unusable (too
    /// soon after the last one, or malformed).
    pub(super) fn on_pex(&mut self, key: PeerKey, payload: &[u8], now: Instant) -> bool {
        if !self.extensions.pex {
            return true; // we never offered PEX for it; ignore rather than punish
        }
        let Some(p) = self.peers.get_mut(&key) else {
            return true;
        };
        if (p.ext.pex_received).is_some_and(|t| now.saturating_duration_since(t) < MIN_RECEIVE_GAP)
        {
            return false;
        }
        p.ext.pex_received = Some(now);
        let Ok(added) = added_peers(payload) else {
            return false;
        };
        let fresh = self.pex_fresh(added);
        if !fresh.is_empty() {
            self.add_candidates(fresh, now);
        }
        true
    }

    /// Of the addresses PEX names, those the LAN rule allows and the pool does not know yet,
    /// as many as it has room for.
    pub(super) fn pex_fresh(&self, added: Vec<SocketAddr>) -> Vec<SocketAddr> {
        let room = self.pool.room();
        added
            .into_iter()
            .filter(|a| self.extensions.may_learn(a.ip()))
            .filter(|a| !self.pool.knows(a))
            .take(room)
            .collect()
    }
}

#[cfg(test)]
#[path = "pex_tests.rs"]
mod tests;

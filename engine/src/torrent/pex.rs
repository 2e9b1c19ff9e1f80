//! BEP 11 peer exchange: every minute each PEX-speaking peer hears which peers we connected to
//! and dropped since our last message, and the peers others tell us of become candidates.
//! Private torrents (BEP 27) neither send nor use PEX.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use protocol::wire::{ExtensionError, PexFlags, PexMessage};

use super::ext::extended_frame;
use super::Torrent;
use crate::peer::{Outgoing, PeerKey};

/// BEP 11: no more than one message a minute to a peer.
pub(super) const PEX_INTERVAL: Duration = Duration::from_secs(60);
/// Messages from one peer closer together than this are ignored (BEP 11 allows one a minute;
/// some slack for timer jitter and for a first message sent right after the handshake).
const MIN_RECEIVE_GAP: Duration = Duration::from_secs(20);

/// Whether an address a peer passed on is one we may dial: unicast, a real port. Loopback and
/// private ranges stay allowed (local swarms and tests are legitimate) unless the torrent came
/// from a public web page (the LAN rule, applied by the caller).
pub(crate) fn dialable(addr: &SocketAddr) -> bool {
    if addr.port() == 0 {
        return false;
    }
    match addr.ip() {
        IpAddr::V4(ip) => !(ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast()),
        IpAddr::V6(ip) => !(ip.is_unspecified() || ip.is_multicast()),
    }
}

/// The dialable peers a `ut_pex` payload adds (its dropped list is only a hint, and ignored).
pub(crate) fn added_peers(payload: &[u8]) -> Result<Vec<SocketAddr>, ExtensionError> {
    let msg = PexMessage::decode(payload)?;
    Ok(msg
        .added
        .into_iter()
        .map(|(addr, _)| addr)
        .filter(dialable)
        .collect())
}

impl Torrent {
    /// The address others can reach a connected peer at: the one we dialed, or for a peer that
    /// dialed us its IP with the listen port from its handshake (unknown otherwise).
    fn pex_addr(&self, key: PeerKey) -> Option<(SocketAddr, PexFlags)> {
        let p = self.core.peer(key)?;
        let addr = if p.outgoing {
            p.addr
        } else {
            SocketAddr::new(p.addr.ip(), self.conns.get(&key)?.ext.listen_port?)
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

    /// Sends each PEX peer whose minute is up what changed since our last message to it.
    pub(super) fn pex_tick(&mut self, now: Instant) {
        if self.metainfo.info.private {
            return;
        }
        let due: Vec<PeerKey> = self
            .conns
            .iter()
            .filter(|(_, p)| p.ext.ut_pex.is_some() && p.ext.pex_due.is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        if due.is_empty() {
            return;
        }
        let keys: Vec<PeerKey> = self.conns.keys().copied().collect();
        let swarm: Vec<(PeerKey, (SocketAddr, PexFlags))> = keys
            .into_iter()
            .filter_map(|k| self.pex_addr(k).map(|a| (k, a)))
            .collect();
        for key in due {
            let Some(addr) = self.core.peer(key).map(|p| p.addr) else {
                continue;
            };
            let Some(p) = self.conns.get_mut(&key) else {
                continue;
            };
            let Some(id) = p.ext.ut_pex else { continue };
            let others: Vec<(SocketAddr, PexFlags)> = swarm
                .iter()
                .filter(|(k, (a, _))| *k != key && *a != addr)
                .map(|(_, a)| *a)
                .collect();
            // The minute counts from a message actually sent: nothing to say, ask again soon.
            if let Some(msg) = p.ext.pex_sent.next_message(&others) {
                p.ext.pex_due = Some(now + PEX_INTERVAL);
                let mut payload = Vec::new();
                msg.encode(&mut payload);
                let _ = p.writer.send(Outgoing::Frame(extended_frame(id, &payload)));
            }
        }
    }

    /// A `ut_pex` message: its added peers become candidates. Returns false if unusable.
    pub(super) fn on_pex(&mut self, key: PeerKey, payload: &[u8]) -> bool {
        if self.metainfo.info.private {
            return true; // we never offered PEX for it; ignore rather than punish
        }
        let now = Instant::now();
        let Some(p) = self.conns.get_mut(&key) else {
            return true;
        };
        if p.ext
            .pex_received
            .is_some_and(|t| now.duration_since(t) < MIN_RECEIVE_GAP)
        {
            return false;
        }
        p.ext.pex_received = Some(now);
        let Ok(added) = added_peers(payload) else {
            return false;
        };
        let room = self.core.pool().room();
        let targets = self.shared.targets;
        let fresh: Vec<SocketAddr> = added
            .into_iter()
            // The LAN rule: a public page's torrent learns no LAN peers this way.
            .filter(|a| targets.allows(a.ip()))
            .filter(|a| !self.core.pool().knows(a))
            .take(room)
            .collect();
        if !fresh.is_empty() {
            tracing::debug!("peer {key}: PEX names {} new peers", fresh.len());
            self.add_candidates(fresh);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dialable_addresses_are_learned() {
        for bad in [
            "0.0.0.0:6881",
            "1.2.3.4:0",
            "255.255.255.255:1",
            "224.0.0.1:1",
            "[::]:1",
            "[ff02::1]:1",
        ] {
            assert!(!dialable(&bad.parse().unwrap()), "{bad}");
        }
        for good in [
            "127.0.0.1:6881",
            "10.0.0.2:80",
            "[::1]:6881",
            "[2001:db8::1]:1",
        ] {
            assert!(dialable(&good.parse().unwrap()), "{good}");
        }
        let msg = PexMessage {
            added: vec![
                ("127.0.0.1:7000".parse().unwrap(), PexFlags(0)),
                ("0.0.0.0:7000".parse().unwrap(), PexFlags(0)),
                ("[::1]:7001".parse().unwrap(), PexFlags(2)),
            ],
            dropped: vec!["127.0.0.1:1".parse().unwrap()],
        };
        let mut payload = Vec::new();
        msg.encode(&mut payload);
        assert_eq!(
            added_peers(&payload).unwrap(),
            vec![
                "127.0.0.1:7000".parse::<SocketAddr>().unwrap(),
                "[::1]:7001".parse().unwrap()
            ]
        );
        assert!(added_peers(b"d5:added5:abcdee").is_err());
        assert!(added_peers(b"not bencode").is_err());
    }
}

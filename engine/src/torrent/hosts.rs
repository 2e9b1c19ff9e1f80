//! Per-host accounting of a torrent's connections: the per-host cap and bans by host (an IPv4
//! address or an IPv6 /64, see `protocol::peer_bounds`), so a peer cannot get around either with
//! new ports or peer ids.

use std::net::SocketAddr;

use super::Torrent;
use crate::peer::PeerKey;

impl Torrent {
    /// Connections to or from `ip`'s host, handshaking ones included.
    fn host_connections(&self, ip: std::net::IpAddr) -> usize {
        let host = protocol::IpKey::from(ip);
        self.peers
            .values()
            .map(|p| p.addr)
            .chain(self.connecting.values().copied())
            .chain(self.handshaking.values().copied())
            .filter(|a| protocol::IpKey::from(a.ip()) == host)
            .count()
    }

    /// Whether a new connection to or from `ip` stays within the torrent's caps.
    pub(super) fn room_for(&self, ip: std::net::IpAddr) -> bool {
        let all = self.peers.len() + self.connecting.len() + self.handshaking.len();
        all < self.shared.max_peers
            && (protocol::peer_bounds::is_own_machine(ip)
                || self.host_connections(ip) < self.shared.max_peers_per_ip)
    }

    /// Bans the peer's host (every port, any peer id) and closes its connections.
    pub(super) fn ban(&mut self, key: PeerKey, why: &str) {
        if let Some(addr) = self.peers.get(&key).map(|p| p.addr) {
            self.ban_host(addr, why);
        }
        self.close_peer(key, why);
    }

    /// Bans `addr`'s host (an IPv4 address or an IPv6 /64) and closes its connections. On this
    /// machine's own address (see `protocol::peer_bounds::is_own_machine`) many programs are many peers: only `addr`.
    pub(super) fn ban_host(&mut self, addr: SocketAddr, why: &str) {
        tracing::info!("banning {addr} ({why})");
        let host = protocol::IpKey::from(addr.ip());
        let exempt = protocol::peer_bounds::is_own_machine(addr.ip());
        if exempt {
            if self.banned_addrs.len() >= protocol::peer_bounds::MAX_BANS {
                self.banned_addrs.clear();
            }
            self.banned_addrs.insert(addr);
        } else {
            self.bans.ban(addr.ip());
        }
        let keys: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                if exempt {
                    p.addr == addr
                } else {
                    protocol::IpKey::from(p.addr.ip()) == host
                }
            })
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.close_peer(key, why);
        }
    }
}

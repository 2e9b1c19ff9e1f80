//! The UDP tracker (BEP 15) on the HTTP port's number, sharing the swarm store.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::Event;
use tokio::sync::watch;

use crate::metrics::bump;
use crate::state::{now_secs, Tracker};
use crate::swarm::canonical;

/// Peers in one reply: 6-byte entries fit easily; 18-byte ones are held to what a 1500-byte
/// path carries (20 + 74 * 18 = 1352).
const MAX_PEERS_V4: usize = 200;
const MAX_PEERS_V6: usize = 74;

/// Serves on a thread of its own with a blocking socket until `stop` turns true: a datagram
/// costs one `recvfrom` and one `sendto`, with no readiness polling in between (under load a
/// reactor would add an `epoll_wait` and a failed `recvfrom` per burst).
pub fn serve_blocking(
    socket: std::net::UdpSocket,
    t: Arc<Tracker>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    socket.set_nonblocking(false)?;
    // How often a quiet socket checks for shutdown.
    socket.set_read_timeout(Some(std::time::Duration::from_millis(200)))?;
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::with_capacity(2048);
    while !*stop.borrow() {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            // Timeouts, and ICMP errors from earlier sends on some systems: keep going.
            Err(_) => continue,
        };
        out.clear();
        if handle(&t, buf.get(..n).unwrap_or(&[]), from, &mut out) {
            let _ = socket.send_to(&out, from);
        }
    }
    Ok(())
}

/// Fills `out` with the reply datagram; `false` means no reply (unreadable packet: answering
/// garbage from a spoofable source would make us a reflector).
pub fn handle(t: &Tracker, packet: &[u8], from: SocketAddr, out: &mut Vec<u8>) -> bool {
    let now = now_secs();
    let req = match Request::decode(packet) {
        Ok(r) => r,
        Err(e) => {
            bump(&t.metrics.udp_bad);
            tracing::debug!("udp from {from}: {e}");
            return false;
        }
    };
    let resp = match req {
        Request::Connect { transaction_id } => {
            bump(&t.metrics.udp_connect);
            Response::Connect {
                transaction_id,
                connection_id: t.connection_ids.issue(from, now),
            }
        }
        Request::Announce(a) if t.connection_ids.check(a.connection_id, from, now) => {
            announce(t, &a, from)
        }
        Request::Scrape {
            connection_id,
            transaction_id,
            info_hashes,
        } if t.connection_ids.check(connection_id, from, now) => {
            bump(&t.metrics.udp_scrape);
            Response::Scrape {
                transaction_id,
                stats: info_hashes.iter().map(|h| t.store.scrape(h)).collect(),
            }
        }
        Request::Announce(UdpAnnounce { transaction_id, .. })
        | Request::Scrape { transaction_id, .. } => {
            bump(&t.metrics.udp_bad);
            Response::Error {
                transaction_id,
                message: "unknown or expired connection id".into(),
            }
        }
    };
    resp.encode(out);
    true
}

fn announce(t: &Tracker, a: &UdpAnnounce, from: SocketAddr) -> Response {
    let from = canonical(from);
    // As over HTTP, a claimed address is believed only from this host.
    let ip = if !a.ip.is_unspecified() && from.ip().is_loopback() {
        IpAddr::V4(a.ip)
    } else {
        from.ip()
    };
    let v6 = ip.is_ipv6();
    let cap = if v6 { MAX_PEERS_V6 } else { MAX_PEERS_V4 };
    let numwant = usize::try_from(a.num_want).ok().filter(|&n| n > 0);
    let mut peers = Vec::new();
    let counts = match t.announce(
        a.info_hash,
        SocketAddr::new(ip, a.port),
        a.event,
        a.left,
        numwant.map(|n| n.min(cap)),
        &mut peers,
    ) {
        Ok(c) => c,
        Err(reason) => {
            bump(&t.metrics.udp_announce_failed);
            return Response::Error {
                transaction_id: a.transaction_id,
                message: reason.into(),
            };
        }
    };
    bump(&t.metrics.udp_announce_ok);
    // One reply carries one address width: the requester's family.
    peers.retain(|p| p.is_ipv6() == v6);
    peers.truncate(cap);
    let interval = if a.event == Event::Stopped {
        0
    } else {
        t.config.interval
    };
    Response::Announce {
        transaction_id: a.transaction_id,
        interval,
        leechers: counts.leechers,
        seeders: counts.seeders,
        peers,
    }
}

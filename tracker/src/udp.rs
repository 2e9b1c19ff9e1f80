//! The UDP tracker (BEP 15) on the HTTP port's number, sharing the swarm store: one datagram
//! in, its reply out (the socket loop is in `udp_batch`).

use std::net::{IpAddr, SocketAddr};

use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::Event;

use crate::metrics::bump;
use crate::state::Tracker;
use crate::swarm::canonical;

/// Peers in one reply: 6-byte entries fit easily; 18-byte ones are held to what a 1500-byte
/// path carries (20 + 74 * 18 = 1352).
const MAX_PEERS_V4: usize = 200;
const MAX_PEERS_V6: usize = 74;

/// Buffers reused from datagram to datagram, so an announce allocates nothing.
#[derive(Default)]
pub struct Scratch {
    peers: Vec<SocketAddr>,
}

/// Fills `out` with the reply datagram; `false` means no reply (unreadable packet: answering
/// garbage from a spoofable source would make us a reflector). `now`: Unix seconds, read once
/// per batch by the caller (a clock read per datagram showed in profiles).
pub fn handle(
    t: &Tracker,
    packet: &[u8],
    from: SocketAddr,
    now: u64,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> bool {
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
            let resp = announce(t, &a, from, now, std::mem::take(&mut scratch.peers));
            resp.encode(out);
            // The peer list goes back to the scratch space for the next announce.
            if let Response::Announce { mut peers, .. } = resp {
                peers.clear();
                scratch.peers = peers;
            }
            return true;
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
        // A bad or expired connection id gets silence, not an error: the source address is
        // unproven (the id is the proof), and a reply to a 16-byte scrape would be a 2.5x
        // reflector. A real client that outlived its id times out and connects again (BEP 15).
        Request::Announce(_) | Request::Scrape { .. } => {
            bump(&t.metrics.udp_bad);
            tracing::debug!("udp from {from}: unknown or expired connection id");
            return false;
        }
    };
    resp.encode(out);
    true
}

/// `peers` is an empty list to fill (its capacity reused).
fn announce(
    t: &Tracker,
    a: &UdpAnnounce,
    from: SocketAddr,
    now: u64,
    mut peers: Vec<SocketAddr>,
) -> Response {
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
    let counts = match t.announce_at(
        now,
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

//! A successful HTTP announce reply, bencoded straight from the peer addresses into a reused
//! buffer, byte for byte what `protocol::tracker::AnnounceResponse::encode` writes (a test
//! compares them). That encoder formats each number through `to_string`: five allocations per
//! reply, most of the allocator time a one-shot announce cost (tests/alloc_free.rs).

use std::io::Write as _;
use std::net::SocketAddr;

use protocol::tracker::PeerFormat;

use crate::swarm::Counts;

/// Appends the reply: counts, intervals and `peers` (compact: IPv4 in `peers`, IPv6 in
/// `peers6`; dictionary: both in `peers`, without peer ids, which the tracker does not keep).
pub fn encode_announce(
    out: &mut Vec<u8>,
    counts: Counts,
    interval: u32,
    min_interval: u32,
    peers: &[SocketAddr],
    format: PeerFormat,
) {
    // Writing into a Vec cannot fail; numbers are formatted without a temporary String.
    let _ = write!(
        out,
        "d8:completei{}e10:incompletei{}e8:intervali{interval}e12:min intervali{min_interval}e",
        counts.seeders, counts.leechers
    );
    match format {
        PeerFormat::Compact => {
            let v4 = peers.iter().filter(|p| p.is_ipv4()).count();
            let _ = write!(out, "5:peers{}:", v4 * 6);
            for p in peers {
                if let SocketAddr::V4(a) = p {
                    out.extend_from_slice(&a.ip().octets());
                    out.extend_from_slice(&a.port().to_be_bytes());
                }
            }
            let v6 = peers.len() - v4;
            if v6 > 0 {
                let _ = write!(out, "6:peers6{}:", v6 * 18);
                for p in peers {
                    if let SocketAddr::V6(a) = p {
                        out.extend_from_slice(&a.ip().octets());
                        out.extend_from_slice(&a.port().to_be_bytes());
                    }
                }
            }
        }
        PeerFormat::Dict { .. } => {
            out.extend_from_slice(b"5:peersl");
            for p in peers {
                // The address text on the stack first: its length comes before it.
                let mut ip = [0u8; 64];
                let mut w = &mut ip[..];
                let _ = write!(w, "{}", p.ip());
                let len = 64 - w.len();
                let _ = write!(out, "d2:ip{len}:");
                out.extend_from_slice(ip.get(..len).unwrap_or_default());
                let _ = write!(out, "4:porti{}ee", p.port());
            }
            out.push(b'e');
        }
    }
    out.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::tracker::{AnnounceResponse, ResponsePeer};

    #[test]
    fn same_bytes_as_the_protocol_encoder() {
        let lists: [&[&str]; 4] = [
            &[],
            &["127.0.0.1:7001", "10.0.0.2:65535"],
            &["[::1]:7001", "[2001:db8::ffff:1]:1"],
            &["1.2.3.4:5", "[::1]:6", "255.255.255.255:1", "[fe80::1]:80"],
        ];
        let formats = [
            PeerFormat::Compact,
            PeerFormat::Dict { with_peer_id: true },
            PeerFormat::Dict {
                with_peer_id: false,
            },
        ];
        for list in lists {
            let peers: Vec<SocketAddr> = list.iter().map(|a| a.parse().unwrap()).collect();
            for format in formats {
                let counts = Counts {
                    seeders: 3,
                    leechers: 4_000_000,
                    downloaded: 9,
                };
                let reference = AnnounceResponse {
                    interval: 1800,
                    min_interval: Some(300),
                    complete: counts.seeders,
                    incomplete: counts.leechers,
                    peers: peers
                        .iter()
                        .map(|&addr| ResponsePeer {
                            addr,
                            peer_id: None,
                        })
                        .collect(),
                    ..Default::default()
                }
                .to_bytes(format);
                let mut ours = b"prefix".to_vec();
                encode_announce(&mut ours, counts, 1800, 300, &peers, format);
                assert_eq!(
                    String::from_utf8_lossy(&ours[6..]),
                    String::from_utf8_lossy(&reference),
                    "{list:?} {format:?}"
                );
                assert_eq!(&ours[..6], b"prefix", "appends");
            }
        }
    }
}

//! BEP 15 UDP tracker packets: connect, announce (IPv4 and IPv6 replies), scrape, error.
//!
//! Decoding is bounded by the datagram itself: a request is at most one datagram, and no count
//! read from the packet is trusted for allocation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Event, ScrapeStats};
use crate::{InfoHash, PeerId};

/// The magic `connection_id` of a connect request.
pub const PROTOCOL_ID: u64 = 0x417_2710_1980;
/// Most info-hashes in one scrape request (what fits a 1500-byte reply).
pub const MAX_SCRAPE: usize = 74;

const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_SCRAPE: u32 = 2;
const ACTION_ERROR: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UdpError {
    #[error("packet of {0} bytes is too short")]
    TooShort(usize),
    #[error("wrong protocol id in connect request")]
    ProtocolId,
    #[error("unknown action {0}")]
    Action(u32),
    #[error("unknown event {0}")]
    Event(u32),
    #[error("scrape of {0} info-hashes (at most {MAX_SCRAPE})")]
    TooManyHashes(usize),
    #[error("length {0} is not a whole number of entries")]
    Ragged(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpAnnounce {
    pub connection_id: u64,
    pub transaction_id: u32,
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub downloaded: u64,
    pub left: u64,
    pub uploaded: u64,
    pub event: Event,
    /// 0 means "the sender's address".
    pub ip: Ipv4Addr,
    pub key: u32,
    /// -1 means "the tracker's default".
    pub num_want: i32,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Connect {
        transaction_id: u32,
    },
    Announce(UdpAnnounce),
    Scrape {
        connection_id: u64,
        transaction_id: u32,
        info_hashes: Vec<InfoHash>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Connect {
        transaction_id: u32,
        connection_id: u64,
    },
    /// Peers must all be of one family (the family of the socket the request came over).
    Announce {
        transaction_id: u32,
        interval: u32,
        leechers: u32,
        seeders: u32,
        peers: Vec<SocketAddr>,
    },
    Scrape {
        transaction_id: u32,
        stats: Vec<ScrapeStats>,
    },
    Error {
        transaction_id: u32,
        message: String,
    },
}

struct Reader<'a>(&'a [u8], usize);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], UdpError> {
        let end = self.1 + N;
        let bytes = self
            .0
            .get(self.1..end)
            .ok_or(UdpError::TooShort(self.0.len()))?;
        self.1 = end;
        <[u8; N]>::try_from(bytes).map_err(|_| UdpError::TooShort(self.0.len()))
    }
    fn u32(&mut self) -> Result<u32, UdpError> {
        self.take::<4>().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Result<u64, UdpError> {
        self.take::<8>().map(u64::from_be_bytes)
    }
    fn rest(&self) -> &[u8] {
        self.0.get(self.1..).unwrap_or(&[])
    }
}

fn event_code(e: Event) -> u32 {
    match e {
        Event::None | Event::Paused => 0,
        Event::Completed => 1,
        Event::Started => 2,
        Event::Stopped => 3,
    }
}

impl Request {
    pub fn decode(bytes: &[u8]) -> Result<Request, UdpError> {
        let mut r = Reader(bytes, 0);
        let connection_id = r.u64()?;
        let action = r.u32()?;
        let transaction_id = r.u32()?;
        match action {
            ACTION_CONNECT => {
                if connection_id != PROTOCOL_ID {
                    return Err(UdpError::ProtocolId);
                }
                Ok(Request::Connect { transaction_id })
            }
            ACTION_ANNOUNCE => {
                let info_hash = InfoHash(r.take()?);
                let peer_id = PeerId(r.take()?);
                let downloaded = r.u64()?;
                let left = r.u64()?;
                let uploaded = r.u64()?;
                let event = match r.u32()? {
                    0 => Event::None,
                    1 => Event::Completed,
                    2 => Event::Started,
                    3 => Event::Stopped,
                    n => return Err(UdpError::Event(n)),
                };
                let ip = Ipv4Addr::from(r.take::<4>()?);
                let key = r.u32()?;
                let num_want = i32::from_be_bytes(r.take()?);
                let port = u16::from_be_bytes(r.take()?);
                // BEP 41 options may follow; they are ignored.
                Ok(Request::Announce(UdpAnnounce {
                    connection_id,
                    transaction_id,
                    info_hash,
                    peer_id,
                    downloaded,
                    left,
                    uploaded,
                    event,
                    ip,
                    key,
                    num_want,
                    port,
                }))
            }
            ACTION_SCRAPE => {
                let rest = r.rest();
                if !rest.len().is_multiple_of(20) {
                    return Err(UdpError::Ragged(rest.len()));
                }
                let n = rest.len() / 20;
                if n > MAX_SCRAPE {
                    return Err(UdpError::TooManyHashes(n));
                }
                let info_hashes = rest
                    .chunks_exact(20)
                    .filter_map(|c| InfoHash::from_slice(c).ok())
                    .collect();
                Ok(Request::Scrape {
                    connection_id,
                    transaction_id,
                    info_hashes,
                })
            }
            n => Err(UdpError::Action(n)),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Request::Connect { transaction_id } => {
                out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
                out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
            }
            Request::Announce(a) => {
                out.extend_from_slice(&a.connection_id.to_be_bytes());
                out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&a.transaction_id.to_be_bytes());
                out.extend_from_slice(a.info_hash.as_bytes());
                out.extend_from_slice(a.peer_id.as_bytes());
                out.extend_from_slice(&a.downloaded.to_be_bytes());
                out.extend_from_slice(&a.left.to_be_bytes());
                out.extend_from_slice(&a.uploaded.to_be_bytes());
                out.extend_from_slice(&event_code(a.event).to_be_bytes());
                out.extend_from_slice(&a.ip.octets());
                out.extend_from_slice(&a.key.to_be_bytes());
                out.extend_from_slice(&a.num_want.to_be_bytes());
                out.extend_from_slice(&a.port.to_be_bytes());
            }
            Request::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                out.extend_from_slice(&connection_id.to_be_bytes());
                out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for h in info_hashes {
                    out.extend_from_slice(h.as_bytes());
                }
            }
        }
    }
}

impl Response {
    /// Appends the datagram. Announce peers of the other family than the first are skipped, so
    /// the reply is always decodable with one width.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Connect {
                transaction_id,
                connection_id,
            } => {
                out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(&connection_id.to_be_bytes());
            }
            Response::Announce {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            } => {
                out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(&interval.to_be_bytes());
                out.extend_from_slice(&leechers.to_be_bytes());
                out.extend_from_slice(&seeders.to_be_bytes());
                let v6 = peers.first().is_some_and(SocketAddr::is_ipv6);
                for p in peers {
                    match (p, v6) {
                        (SocketAddr::V4(a), false) => out.extend_from_slice(&a.ip().octets()),
                        (SocketAddr::V6(a), true) => out.extend_from_slice(&a.ip().octets()),
                        _ => continue,
                    }
                    out.extend_from_slice(&p.port().to_be_bytes());
                }
            }
            Response::Scrape {
                transaction_id,
                stats,
            } => {
                out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                for s in stats {
                    out.extend_from_slice(&s.complete.to_be_bytes());
                    out.extend_from_slice(&s.downloaded.to_be_bytes());
                    out.extend_from_slice(&s.incomplete.to_be_bytes());
                }
            }
            Response::Error {
                transaction_id,
                message,
            } => {
                out.extend_from_slice(&ACTION_ERROR.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(message.as_bytes());
            }
        }
    }

    /// Reads a tracker's datagram; `ipv6` says the width of announce peers (18 bytes instead of 6).
    pub fn decode(bytes: &[u8], ipv6: bool) -> Result<Response, UdpError> {
        let mut r = Reader(bytes, 0);
        let action = r.u32()?;
        let transaction_id = r.u32()?;
        match action {
            ACTION_CONNECT => Ok(Response::Connect {
                transaction_id,
                connection_id: r.u64()?,
            }),
            ACTION_ANNOUNCE => {
                let interval = r.u32()?;
                let leechers = r.u32()?;
                let seeders = r.u32()?;
                let rest = r.rest();
                let width = if ipv6 { 18 } else { 6 };
                if !rest.len().is_multiple_of(width) {
                    return Err(UdpError::Ragged(rest.len()));
                }
                let mut peers = Vec::with_capacity(rest.len() / width);
                for c in rest.chunks_exact(width) {
                    let mut pr = Reader(c, 0);
                    let ip = if ipv6 {
                        IpAddr::V6(Ipv6Addr::from(pr.take::<16>()?))
                    } else {
                        IpAddr::V4(Ipv4Addr::from(pr.take::<4>()?))
                    };
                    peers.push(SocketAddr::new(ip, u16::from_be_bytes(pr.take()?)));
                }
                Ok(Response::Announce {
                    transaction_id,
                    interval,
                    leechers,
                    seeders,
                    peers,
                })
            }
            ACTION_SCRAPE => {
                let rest = r.rest();
                if !rest.len().is_multiple_of(12) {
                    return Err(UdpError::Ragged(rest.len()));
                }
                let mut stats = Vec::with_capacity(rest.len() / 12);
                for c in rest.chunks_exact(12) {
                    let mut sr = Reader(c, 0);
                    stats.push(ScrapeStats {
                        complete: sr.u32()?,
                        downloaded: sr.u32()?,
                        incomplete: sr.u32()?,
                    });
                }
                Ok(Response::Scrape {
                    transaction_id,
                    stats,
                })
            }
            ACTION_ERROR => Ok(Response::Error {
                transaction_id,
                message: String::from_utf8_lossy(r.rest()).into_owned(),
            }),
            n => Err(UdpError::Action(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip_request(req: Request) {
        let mut out = Vec::new();
        req.encode(&mut out);
        assert_eq!(Request::decode(&out), Ok(req));
    }

    #[test]
    fn connect_request_bytes() {
        let mut out = Vec::new();
        Request::Connect { transaction_id: 7 }.encode(&mut out);
        assert_eq!(
            out,
            [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0, 0, 0, 7]
        );
        round_trip_request(Request::Connect { transaction_id: 7 });
        out[0] = 1;
        assert_eq!(Request::decode(&out), Err(UdpError::ProtocolId));
        assert!(Request::decode(&out[..10]).is_err());
    }

    proptest! {
        #[test]
        fn announce_round_trips(ih in any::<[u8; 20]>(), pid in any::<[u8; 20]>(), c in any::<u64>(),
            t in any::<u32>(), d in any::<u64>(), l in any::<u64>(), u in any::<u64>(), ev in 0usize..4,
            ip in any::<u32>(), key in any::<u32>(), nw in any::<i32>(), port in any::<u16>()) {
            round_trip_request(Request::Announce(UdpAnnounce {
                connection_id: c, transaction_id: t, info_hash: InfoHash(ih), peer_id: PeerId(pid),
                downloaded: d, left: l, uploaded: u,
                event: [Event::None, Event::Completed, Event::Started, Event::Stopped][ev],
                ip: Ipv4Addr::from(ip), key, num_want: nw, port,
            }));
        }

        #[test]
        fn scrape_round_trips(c in any::<u64>(), t in any::<u32>(), hs in proptest::collection::vec(any::<[u8; 20]>(), 0..=MAX_SCRAPE)) {
            round_trip_request(Request::Scrape { connection_id: c, transaction_id: t, info_hashes: hs.into_iter().map(InfoHash).collect() });
        }

        #[test]
        fn responses_round_trip(t in any::<u32>(), i in any::<u32>(), l in any::<u32>(), s in any::<u32>(),
            v6 in any::<bool>(), ips in proptest::collection::vec((any::<[u8; 16]>(), any::<u16>()), 0..30),
            stats in proptest::collection::vec(any::<(u32, u32, u32)>(), 0..30), msg in "\\PC{0,40}", cid in any::<u64>()) {
            let peers: Vec<SocketAddr> = ips.iter().map(|(ip, port)| if v6 {
                SocketAddr::new(IpAddr::V6(Ipv6Addr::from(*ip)), *port)
            } else {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])), *port)
            }).collect();
            let stats: Vec<ScrapeStats> = stats.into_iter().map(|(c, d, i)| ScrapeStats { complete: c, downloaded: d, incomplete: i }).collect();
            for resp in [
                Response::Connect { transaction_id: t, connection_id: cid },
                Response::Announce { transaction_id: t, interval: i, leechers: l, seeders: s, peers },
                Response::Scrape { transaction_id: t, stats },
                Response::Error { transaction_id: t, message: msg },
            ] {
                let mut out = Vec::new();
                resp.encode(&mut out);
                prop_assert_eq!(Response::decode(&out, v6), Ok(resp));
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1600), v6 in any::<bool>()) {
            let _ = Request::decode(&bytes);
            let _ = Response::decode(&bytes, v6);
        }
    }
}

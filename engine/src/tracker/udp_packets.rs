//! BEP 15 UDP tracker packets, client side, on top of `protocol::tracker::udp` (the shared
//! packet codec the tracker also speaks): requests are built from our parameters, and replies are
//! matched to the transaction they answer.

use std::time::Duration;

use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::Event as WireEvent;
use protocol::InfoHash;

use super::http_wire::MAX_PEERS;
use super::{AnnounceOutcome, AnnounceParams, Event, ScrapeCounts};

/// Largest datagram we read: an announce reply with ~2700 IPv4 peers; real ones are far smaller.
pub(crate) const MAX_DATAGRAM: usize = 16 * 1024;

fn encode(request: &Request) -> Vec<u8> {
    let mut out = Vec::with_capacity(98);
    request.encode(&mut out);
    out
}

pub(crate) fn connect_request(transaction: u32) -> Vec<u8> {
    encode(&Request::Connect {
        transaction_id: transaction,
    })
}

pub(crate) fn announce_request(connection: u64, transaction: u32, p: &AnnounceParams) -> Vec<u8> {
    encode(&Request::Announce(UdpAnnounce {
        connection_id: connection,
        transaction_id: transaction,
        info_hash: p.info_hash,
        peer_id: p.peer_id,
        downloaded: p.downloaded,
        left: p.left,
        uploaded: p.uploaded,
        event: match p.event {
            None => WireEvent::None,
            Some(Event::Completed) => WireEvent::Completed,
            Some(Event::Started) => WireEvent::Started,
            Some(Event::Stopped) => WireEvent::Stopped,
        },
        ip: std::net::Ipv4Addr::UNSPECIFIED, // the packet's source address
        key: p.key,
        num_want: p
            .numwant
            .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
        port: p.port,
    }))
}

pub(crate) fn scrape_request(connection: u64, transaction: u32, info_hash: &InfoHash) -> Vec<u8> {
    encode(&Request::Scrape {
        connection_id: connection,
        transaction_id: transaction,
        info_hashes: vec![*info_hash],
    })
}

/// What a datagram means for the request we are waiting on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer<T> {
    /// Not for this transaction (stale or stray): keep waiting.
    Unrelated,
    /// The tracker's error message for this transaction.
    Failure(String),
    /// A reply that claims to be ours but cannot be read.
    Malformed(String),
    Ok(T),
}

/// Decodes `datagram` if it answers `transaction`; `pick` takes the reply kind we asked for.
fn answer<T>(
    datagram: &[u8],
    transaction: u32,
    ipv6: bool,
    pick: impl FnOnce(Response) -> Option<T>,
) -> Answer<T> {
    let Some(tid) = datagram.get(4..8) else {
        return Answer::Unrelated;
    };
    if tid != transaction.to_be_bytes() {
        return Answer::Unrelated;
    }
    match Response::decode(datagram, ipv6) {
        Ok(Response::Error { message, .. }) => Answer::Failure(message),
        Ok(response) => {
            let kind = format!("{response:?}");
            match pick(response) {
                Some(answer) => Answer::Ok(answer),
                None => Answer::Malformed(format!("unexpected reply {kind:.60}")),
            }
        }
        Err(e) => Answer::Malformed(e.to_string()),
    }
}

pub(crate) fn connect_reply(datagram: &[u8], transaction: u32) -> Answer<u64> {
    answer(datagram, transaction, false, |r| match r {
        Response::Connect { connection_id, .. } => Some(connection_id),
        _ => None,
    })
}

/// `ipv6` says which compact size the peers use: the family of the socket the reply came on.
pub(crate) fn announce_reply(
    datagram: &[u8],
    transaction: u32,
    ipv6: bool,
    tracker: &str,
) -> Answer<AnnounceOutcome> {
    answer(datagram, transaction, ipv6, |r| match r {
        Response::Announce {
            interval,
            leechers,
            seeders,
            mut peers,
            ..
        } => {
            peers.truncate(MAX_PEERS);
            Some(AnnounceOutcome {
                peers,
                interval: Duration::from_secs(u64::from(interval)),
                min_interval: None,
                seeders: Some(seeders),
                leechers: Some(leechers),
                warning: None,
                tracker: tracker.to_owned(),
            })
        }
        _ => None,
    })
}

pub(crate) fn scrape_reply(datagram: &[u8], transaction: u32) -> Answer<ScrapeCounts> {
    answer(datagram, transaction, false, |r| match r {
        Response::Scrape { stats, .. } => stats.first().map(|s| ScrapeCounts {
            seeders: s.complete,
            completed: s.downloaded,
            leechers: s.incomplete,
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::PeerId;
    use std::net::SocketAddr;

    #[test]
    fn requests_have_the_bep15_layout() {
        let c = connect_request(0x01020304);
        assert_eq!(&c[..8], &[0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80]);
        assert_eq!(&c[8..], &[0, 0, 0, 0, 1, 2, 3, 4]);
        let mut p = AnnounceParams::new(InfoHash([1; 20]), PeerId([2; 20]), 6881, 7);
        p.event = Some(Event::Started);
        let a = announce_request(9, 5, &p);
        assert_eq!(a.len(), 98);
        assert_eq!(&a[80..84], &2u32.to_be_bytes());
        assert_eq!(&a[92..96], &(-1i32).to_be_bytes());
        assert_eq!(&a[96..], &6881u16.to_be_bytes());
        assert_eq!(scrape_request(9, 5, &InfoHash([1; 20])).len(), 36);
    }

    #[test]
    fn replies_are_matched_to_their_transaction() {
        let mut reply = vec![0, 0, 0, 1, 0, 0, 0, 5];
        reply.extend_from_slice(&1800u32.to_be_bytes());
        reply.extend_from_slice(&2u32.to_be_bytes());
        reply.extend_from_slice(&3u32.to_be_bytes());
        reply.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
        let Answer::Ok(o) = announce_reply(&reply, 5, false, "t") else {
            panic!()
        };
        assert_eq!(
            o.peers,
            vec!["127.0.0.1:6881".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!((o.leechers, o.seeders), (Some(2), Some(3)));
        assert_eq!(announce_reply(&reply, 6, false, "t"), Answer::Unrelated);
        assert!(matches!(
            announce_reply(&reply[..10], 5, false, "t"),
            Answer::Malformed(_)
        ));
        reply.push(0);
        assert!(matches!(
            announce_reply(&reply, 5, false, "t"),
            Answer::Malformed(_)
        ));

        let err = [&[0, 0, 0, 3, 0, 0, 0, 5][..], b"go away"].concat();
        assert_eq!(connect_reply(&err, 5), Answer::Failure("go away".into()));
        assert_eq!(connect_reply(&[1, 2, 3], 5), Answer::Unrelated);
        let ok = [&[0, 0, 0, 0, 0, 0, 0, 5][..], &42u64.to_be_bytes()].concat();
        assert_eq!(connect_reply(&ok, 5), Answer::Ok(42));
    }
}

//! BEP 15 UDP tracker packets, client side: requests are built, replies are checked against the
//! transaction they answer.
//!
//! Kept private and small: `protocol::tracker` (the tracker engineer's) is the shared home of
//! these packets; once it has them this file should become calls into it.

use std::net::SocketAddr;
use std::time::Duration;

use protocol::InfoHash;

use super::http_wire::compact_peers;
use super::{AnnounceOutcome, AnnounceParams, Event, ScrapeCounts};

/// The magic connection id of a connect request.
pub(crate) const PROTOCOL_ID: u64 = 0x0417_2710_1980;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const SCRAPE: u32 = 2;
const ERROR: u32 = 3;

/// Largest datagram we read: an announce reply with ~2700 IPv4 peers; real ones are far smaller.
pub(crate) const MAX_DATAGRAM: usize = 16 * 1024;

pub(crate) fn connect_request(transaction: u32) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    out[8..12].copy_from_slice(&CONNECT.to_be_bytes());
    out[12..].copy_from_slice(&transaction.to_be_bytes());
    out
}

pub(crate) fn announce_request(connection: u64, transaction: u32, p: &AnnounceParams) -> Vec<u8> {
    let mut out = Vec::with_capacity(98);
    out.extend_from_slice(&connection.to_be_bytes());
    out.extend_from_slice(&ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&transaction.to_be_bytes());
    out.extend_from_slice(p.info_hash.as_bytes());
    out.extend_from_slice(p.peer_id.as_bytes());
    out.extend_from_slice(&p.downloaded.to_be_bytes());
    out.extend_from_slice(&p.left.to_be_bytes());
    out.extend_from_slice(&p.uploaded.to_be_bytes());
    let event: u32 = match p.event {
        None => 0,
        Some(Event::Completed) => 1,
        Some(Event::Started) => 2,
        Some(Event::Stopped) => 3,
    };
    out.extend_from_slice(&event.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes()); // ip: 0 = the packet's source address
    out.extend_from_slice(&p.key.to_be_bytes());
    let numwant = p
        .numwant
        .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
    out.extend_from_slice(&numwant.to_be_bytes());
    out.extend_from_slice(&p.port.to_be_bytes());
    out
}

pub(crate) fn scrape_request(connection: u64, transaction: u32, info_hash: &InfoHash) -> Vec<u8> {
    let mut out = Vec::with_capacity(36);
    out.extend_from_slice(&connection.to_be_bytes());
    out.extend_from_slice(&SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction.to_be_bytes());
    out.extend_from_slice(info_hash.as_bytes());
    out
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

/// Splits the 8-byte reply header and checks action and transaction; error replies are decoded.
fn header(datagram: &[u8], action: u32, transaction: u32) -> Result<&[u8], Answer<()>> {
    let Some((head, body)) = datagram.split_first_chunk::<8>() else {
        return Err(Answer::Unrelated);
    };
    let got_action = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let got_transaction = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    if got_transaction != transaction {
        return Err(Answer::Unrelated);
    }
    if got_action == ERROR {
        return Err(Answer::Failure(String::from_utf8_lossy(body).into_owned()));
    }
    if got_action != action {
        return Err(Answer::Malformed(format!(
            "action {got_action} in reply to action {action}"
        )));
    }
    Ok(body)
}

fn retag<T>(a: Answer<()>) -> Answer<T> {
    match a {
        Answer::Unrelated | Answer::Ok(()) => Answer::Unrelated,
        Answer::Failure(f) => Answer::Failure(f),
        Answer::Malformed(m) => Answer::Malformed(m),
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

pub(crate) fn connect_reply(datagram: &[u8], transaction: u32) -> Answer<u64> {
    match header(datagram, CONNECT, transaction) {
        Err(a) => retag(a),
        Ok(body) => match body.first_chunk::<8>() {
            Some(id) => Answer::Ok(u64::from_be_bytes(*id)),
            None => Answer::Malformed("short connect reply".into()),
        },
    }
}

/// `ipv6` says which compact size the peers use: the family of the socket the reply came on.
pub(crate) fn announce_reply(
    datagram: &[u8],
    transaction: u32,
    ipv6: bool,
    tracker: &str,
) -> Answer<AnnounceOutcome> {
    let body = match header(datagram, ANNOUNCE, transaction) {
        Err(a) => return retag(a),
        Ok(body) => body,
    };
    let (Some(interval), Some(leechers), Some(seeders)) =
        (be_u32(body, 0), be_u32(body, 4), be_u32(body, 8))
    else {
        return Answer::Malformed("short announce reply".into());
    };
    let mut peers: Vec<SocketAddr> = Vec::new();
    let compact = body.get(12..).unwrap_or(&[]);
    if let Err(e) = compact_peers(compact, if ipv6 { 18 } else { 6 }, &mut peers) {
        return Answer::Malformed(e);
    }
    Answer::Ok(AnnounceOutcome {
        peers,
        interval: Duration::from_secs(u64::from(interval)),
        min_interval: None,
        seeders: Some(seeders),
        leechers: Some(leechers),
        warning: None,
        tracker: tracker.to_owned(),
    })
}

pub(crate) fn scrape_reply(datagram: &[u8], transaction: u32) -> Answer<ScrapeCounts> {
    let body = match header(datagram, SCRAPE, transaction) {
        Err(a) => return retag(a),
        Ok(body) => body,
    };
    match (be_u32(body, 0), be_u32(body, 4), be_u32(body, 8)) {
        (Some(seeders), Some(completed), Some(leechers)) => Answer::Ok(ScrapeCounts {
            seeders,
            completed,
            leechers,
        }),
        _ => Answer::Malformed("short scrape reply".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::PeerId;

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

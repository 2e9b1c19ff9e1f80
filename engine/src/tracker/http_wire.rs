//! The HTTP tracker's bytes, on top of `protocol::tracker` (the shared wire types the tracker
//! itself parses): the announce URL, the BEP 48 scrape URL, and replies turned into outcomes.

use std::net::SocketAddr;
use std::time::Duration;

use protocol::tracker::{
    self as wire, AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse,
};
use protocol::InfoHash;

use super::{AnnounceOutcome, AnnounceParams, Event, ScrapeCounts};

/// Most peers taken from one reply (a tracker honouring `numwant` sends 50 to 200).
pub(crate) const MAX_PEERS: usize = 2000;

/// The announce request our parameters make (compact, without peer ids).
pub(crate) fn announce_request(p: &AnnounceParams, tracker_id: Option<&str>) -> AnnounceRequest {
    let mut req = AnnounceRequest::new(p.info_hash, p.peer_id, p.port);
    req.uploaded = p.uploaded;
    req.downloaded = p.downloaded;
    req.left = p.left;
    req.compact = true;
    req.no_peer_id = true;
    req.event = match p.event {
        None => wire::Event::None,
        Some(Event::Started) => wire::Event::Started,
        Some(Event::Completed) => wire::Event::Completed,
        Some(Event::Stopped) => wire::Event::Stopped,
    };
    req.numwant = p.numwant;
    req.key = Some(format!("{:08x}", p.key));
    req.trackerid = tracker_id.map(str::to_owned);
    req.ip = p.ip.clone();
    req.ipv6 = crate::reach::announce_ipv6(p.port);
    req
}

/// `announce_url` with the BEP 3 query appended (after `&` if the URL already has a query).
pub(crate) fn announce_url(
    announce_url: &str,
    p: &AnnounceParams,
    tracker_id: Option<&str>,
) -> String {
    let query = announce_request(p, tracker_id).to_query();
    join_query(announce_url, &query)
}

fn join_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// The BEP 48 scrape URL: the last path segment `announce...` becomes `scrape...`; trackers
/// whose announce URL does not end that way have no scrape.
pub(crate) fn scrape_url(announce_url: &str, info_hash: &InfoHash) -> Option<String> {
    let (base, query) = match announce_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (announce_url, None),
    };
    let slash = base.rfind('/')?;
    let last = base.get(slash + 1..)?;
    let rest = last.strip_prefix("announce")?;
    let mut url = format!("{}scrape{rest}", base.get(..=slash)?);
    if let Some(q) = query {
        url = join_query(&url, q);
    }
    let ours = ScrapeRequest {
        info_hashes: vec![*info_hash],
    };
    Some(join_query(&url, &ours.to_query()))
}

/// A decoded reply, or the tracker's `failure reason`.
pub(crate) enum Reply<T> {
    Ok(T),
    Failure(String),
}

/// Decodes an announce reply; the `String` is a `tracker id` to send back next time.
pub(crate) fn decode_announce(
    body: &[u8],
    tracker: &str,
) -> Result<Reply<(AnnounceOutcome, Option<String>)>, String> {
    let reply = AnnounceResponse::decode(body).map_err(|e| e.to_string())?;
    if let Some(reason) = reply.failure_reason {
        return Ok(Reply::Failure(reason));
    }
    let peers: Vec<SocketAddr> = reply.peers.iter().take(MAX_PEERS).map(|p| p.addr).collect();
    let outcome = AnnounceOutcome {
        peers,
        interval: Duration::from_secs(u64::from(reply.interval)),
        min_interval: reply
            .min_interval
            .map(|s| Duration::from_secs(u64::from(s))),
        seeders: Some(reply.complete),
        leechers: Some(reply.incomplete),
        warning: reply.warning_message,
        tracker: tracker.to_owned(),
    };
    Ok(Reply::Ok((outcome, reply.tracker_id)))
}

/// Decodes a scrape reply and picks `info_hash`'s counts from its `files` dictionary.
pub(crate) fn decode_scrape(
    body: &[u8],
    info_hash: &InfoHash,
) -> Result<Reply<ScrapeCounts>, String> {
    let reply = ScrapeResponse::decode(body).map_err(|e| e.to_string())?;
    if let Some(reason) = reply.failure_reason {
        return Ok(Reply::Failure(reason));
    }
    // Trackers leave out torrents they have never seen: an empty swarm.
    let stats = reply.files.get(info_hash).copied().unwrap_or_default();
    Ok(Reply::Ok(ScrapeCounts {
        seeders: stats.complete,
        completed: stats.downloaded,
        leechers: stats.incomplete,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::PeerId;

    fn params() -> AnnounceParams {
        let mut p = AnnounceParams::new(
            InfoHash([0xab; 20]),
            PeerId(*b"-SL0100-a b~c.d_e-f/"),
            6881,
            0xdead,
        );
        p.left = 100;
        p.event = Some(Event::Started);
        p.numwant = Some(30);
        p
    }

    #[test]
    fn the_tracker_side_parser_reads_back_our_query() {
        let url = announce_url("http://t.example/announce", &params(), Some("x y"));
        let query = url.strip_prefix("http://t.example/announce?").unwrap();
        let parsed = AnnounceRequest::parse_query(query.as_bytes()).unwrap();
        assert_eq!(parsed, announce_request(&params(), Some("x y")));
        assert_eq!(parsed.info_hash, InfoHash([0xab; 20]));
        assert_eq!(parsed.peer_id.0, *b"-SL0100-a b~c.d_e-f/");
        assert_eq!((parsed.left, parsed.numwant), (100, Some(30)));
        assert_eq!(parsed.event, wire::Event::Started);
        assert_eq!(parsed.key.as_deref(), Some("0000dead"));
        assert!(parsed.compact && parsed.no_peer_id);
        let with_query = announce_url("http://t/announce?passkey=1", &params(), None);
        assert!(with_query.starts_with("http://t/announce?passkey=1&info_hash="));
    }

    #[test]
    fn scrape_urls_follow_bep48() {
        let ih = InfoHash([1; 20]);
        let enc = ScrapeRequest {
            info_hashes: vec![ih],
        }
        .to_query();
        assert_eq!(
            scrape_url("http://t/announce", &ih),
            Some(format!("http://t/scrape?{enc}"))
        );
        assert_eq!(
            scrape_url("http://t/x/announce.php?k=v", &ih),
            Some(format!("http://t/x/scrape.php?k=v&{enc}"))
        );
        assert_eq!(scrape_url("http://t/a", &ih), None);
        assert_eq!(scrape_url("http://t/announce/x", &ih), None);
    }

    #[test]
    fn replies_decode_every_peer_form() {
        let body = b"d8:completei3e10:incompletei1e8:intervali1800e12:min intervali60e5:peers12:\x7f\0\0\x01\x1a\xe1\x0a\0\0\x01\0\x506:peers618:\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\0\x1615:warning message4:slowe";
        let Ok(Reply::Ok((o, id))) = decode_announce(body, "t") else {
            panic!()
        };
        assert_eq!(o.interval, Duration::from_secs(1800));
        assert_eq!(o.min_interval, Some(Duration::from_secs(60)));
        assert_eq!((o.seeders, o.leechers), (Some(3), Some(1)));
        assert_eq!(o.warning.as_deref(), Some("slow"));
        assert_eq!(id, None);
        let want: Vec<SocketAddr> = ["127.0.0.1:6881", "10.0.0.1:80", "[::1]:22"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(o.peers, want);

        let dicts = b"d8:intervali60e5:peersld2:ip9:127.0.0.14:porti5ee d2:ip4:host4:porti1eeee";
        let dicts: Vec<u8> = dicts.iter().copied().filter(|&b| b != b' ').collect();
        let Ok(Reply::Ok((o, _))) = decode_announce(&dicts, "t") else {
            panic!()
        };
        assert_eq!(o.peers, vec!["127.0.0.1:5".parse::<SocketAddr>().unwrap()]);
    }

    #[test]
    fn failures_and_garbage_are_told_apart() {
        let Ok(Reply::Failure(r)) = decode_announce(b"d14:failure reason6:bannede", "t") else {
            panic!()
        };
        assert_eq!(r, "banned");
        for bad in [
            &b"<html>"[..],
            b"d5:peers5:abcdee",
            b"le",
            b"d5:peersi1ee",
            b"d8:intervali-5ee",
        ] {
            assert!(decode_announce(bad, "t").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scrape_replies_pick_our_hash() {
        let ih = InfoHash([b'a'; 20]);
        let body = format!(
            "d5:filesd20:{}d8:completei2e10:downloadedi5e10:incompletei7eeee",
            "a".repeat(20)
        );
        let Ok(Reply::Ok(c)) = decode_scrape(body.as_bytes(), &ih) else {
            panic!()
        };
        assert_eq!(
            c,
            ScrapeCounts {
                seeders: 2,
                completed: 5,
                leechers: 7
            }
        );
        let Ok(Reply::Ok(c)) = decode_scrape(b"d5:filesdee", &ih) else {
            panic!()
        };
        assert_eq!(c, ScrapeCounts::default());
        assert!(decode_scrape(b"le", &ih).is_err());
        assert!(decode_scrape(b"<html>", &ih).is_err());
    }
}

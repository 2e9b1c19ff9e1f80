//! The HTTP tracker's bytes: the announce query string and the bencoded replies.
//!
//! Kept small and private: `protocol::tracker` (owned by the tracker engineer) is the shared home
//! of these wire types; once it offers announce/scrape encoding and decoding this file should
//! shrink to calls into it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use protocol::bencode::{self, Limits, Value};
use protocol::InfoHash;

use super::{AnnounceOutcome, AnnounceParams, Event, ScrapeCounts};

/// RFC 3986 unreserved characters stay as they are; every other byte is `%XX`.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Replies are small and flat; a hostile tracker cannot make the tree big or deep.
const REPLY_LIMITS: Limits = Limits {
    max_depth: 6,
    max_items: 100_000,
    allow_unsorted_keys: true,
};

/// Most peers taken from one reply (a tracker honouring `numwant` sends 50 to 200).
pub(crate) const MAX_PEERS: usize = 2000;

/// `announce_url` with the BEP 3 query appended (after `&` if the URL already has a query).
pub(crate) fn announce_url(
    announce_url: &str,
    p: &AnnounceParams,
    tracker_id: Option<&str>,
) -> String {
    let mut q = String::with_capacity(announce_url.len() + 256);
    q.push_str(announce_url);
    q.push(if announce_url.contains('?') { '&' } else { '?' });
    q.push_str("info_hash=");
    q.extend(percent_encode(p.info_hash.as_bytes(), QUERY));
    q.push_str("&peer_id=");
    q.extend(percent_encode(p.peer_id.as_bytes(), QUERY));
    q.push_str(&format!(
        "&port={}&uploaded={}&downloaded={}&left={}&compact=1&no_peer_id=1&key={:08x}",
        p.port, p.uploaded, p.downloaded, p.left, p.key
    ));
    if let Some(event) = p.event {
        q.push_str("&event=");
        q.push_str(match event {
            Event::Started => "started",
            Event::Completed => "completed",
            Event::Stopped => "stopped",
        });
    }
    if let Some(n) = p.numwant {
        q.push_str(&format!("&numwant={n}"));
    }
    if let Some(ip) = &p.ip {
        q.push_str("&ip=");
        q.extend(percent_encode(ip.as_bytes(), QUERY));
    }
    if let Some(id) = tracker_id {
        q.push_str("&trackerid=");
        q.extend(percent_encode(id.as_bytes(), QUERY));
    }
    q
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
    let mut url = format!("{}scrape{rest}", &base[..=slash]);
    url.push('?');
    if let Some(q) = query {
        url.push_str(q);
        url.push('&');
    }
    url.push_str("info_hash=");
    url.extend(percent_encode(info_hash.as_bytes(), QUERY));
    Some(url)
}

/// A decoded announce reply, or the tracker's `failure reason`.
pub(crate) enum Reply<T> {
    Ok(T),
    Failure(String),
}

/// Decodes an announce reply; the `String` is a `tracker id` to send back next time.
pub(crate) fn decode_announce(
    body: &[u8],
    tracker: &str,
) -> Result<Reply<(AnnounceOutcome, Option<String>)>, String> {
    let dict = bencode::decode_with(body, REPLY_LIMITS).map_err(|e| e.to_string())?;
    if dict.as_dict().is_none() {
        return Err(format!("expected a dictionary, got a {}", dict.kind()));
    }
    if let Some(reason) = dict.get("failure reason") {
        return Ok(Reply::Failure(text(reason)));
    }
    let count = |key: &str| {
        dict.get(key)
            .and_then(Value::as_int)
            .and_then(|n| u32::try_from(n).ok())
    };
    let seconds = |key: &str| count(key).map(|s| Duration::from_secs(u64::from(s)));
    let interval = seconds("interval").ok_or("missing or invalid `interval`")?;
    let mut peers = Vec::new();
    match dict.get("peers") {
        Some(Value::Bytes(compact)) => compact_peers(compact, 6, &mut peers)?,
        Some(Value::List(list)) => dict_peers(list, &mut peers)?,
        Some(other) => return Err(format!("`peers` is a {}", other.kind())),
        None => {}
    }
    if let Some(v6) = dict.get("peers6") {
        let compact = v6.as_bytes().ok_or("`peers6` is not a byte string")?;
        compact_peers(compact, 18, &mut peers)?;
    }
    let outcome = AnnounceOutcome {
        peers,
        interval,
        min_interval: seconds("min interval"),
        seeders: count("complete"),
        leechers: count("incomplete"),
        warning: dict.get("warning message").map(text),
        tracker: tracker.to_owned(),
    };
    let tracker_id = dict.get("tracker id").map(text);
    Ok(Reply::Ok((outcome, tracker_id)))
}

/// Decodes a scrape reply and picks `info_hash`'s counts from its `files` dictionary.
pub(crate) fn decode_scrape(
    body: &[u8],
    info_hash: &InfoHash,
) -> Result<Reply<ScrapeCounts>, String> {
    let dict = bencode::decode_with(body, REPLY_LIMITS).map_err(|e| e.to_string())?;
    if let Some(reason) = dict.get("failure reason") {
        return Ok(Reply::Failure(text(reason)));
    }
    let files = dict
        .get("files")
        .and_then(Value::as_dict)
        .ok_or("missing `files` dictionary")?;
    let Some(entry) = files.get(&info_hash.as_bytes()[..]) else {
        // Trackers leave out torrents they have never seen: an empty swarm.
        return Ok(Reply::Ok(ScrapeCounts::default()));
    };
    let count = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_int)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    Ok(Reply::Ok(ScrapeCounts {
        seeders: count("complete"),
        completed: count("downloaded"),
        leechers: count("incomplete"),
    }))
}

fn text(v: &Value<'_>) -> String {
    String::from_utf8_lossy(v.as_bytes().unwrap_or(b"(not a string)")).into_owned()
}

/// Appends compact peers (`size` = 6 for IPv4 + port, 18 for IPv6 + port).
pub(crate) fn compact_peers(
    bytes: &[u8],
    size: usize,
    out: &mut Vec<SocketAddr>,
) -> Result<(), String> {
    if !bytes.len().is_multiple_of(size) {
        return Err(format!(
            "compact peer list of {} bytes is not a multiple of {size}",
            bytes.len()
        ));
    }
    for chunk in bytes.chunks_exact(size).take(MAX_PEERS) {
        let (ip, port) = chunk.split_at(size - 2);
        let ip = match <[u8; 4]>::try_from(ip) {
            Ok(v4) => IpAddr::V4(Ipv4Addr::from(v4)),
            Err(_) => match <[u8; 16]>::try_from(ip) {
                Ok(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
                Err(_) => return Err("bad compact peer size".into()),
            },
        };
        let port = u16::from_be_bytes([port[0], port[1]]);
        out.push(SocketAddr::new(ip, port));
    }
    Ok(())
}

/// Appends peers from the original dictionary form (`ip` as text, `port` as integer); entries
/// with a hostname or a bad port are skipped rather than failing the whole reply.
fn dict_peers(list: &[Value<'_>], out: &mut Vec<SocketAddr>) -> Result<(), String> {
    for peer in list.iter().take(MAX_PEERS) {
        if peer.as_dict().is_none() {
            return Err("`peers` list holds a non-dictionary".into());
        }
        let ip = peer
            .get("ip")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<IpAddr>().ok());
        let port = peer
            .get("port")
            .and_then(Value::as_int)
            .and_then(|p| u16::try_from(p).ok());
        if let (Some(ip), Some(port)) = (ip, port) {
            out.push(SocketAddr::new(ip, port));
        }
    }
    Ok(())
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
    fn the_query_carries_binary_ids_percent_encoded() {
        let url = announce_url("http://t.example/announce", &params(), Some("x y"));
        assert!(
            url.starts_with("http://t.example/announce?info_hash=%AB%AB"),
            "{url}"
        );
        assert!(url.contains("&peer_id=-SL0100-a%20b~c.d_e-f%2F&"), "{url}");
        assert!(url.contains("&port=6881&uploaded=0&downloaded=0&left=100&compact=1"));
        assert!(url.contains("&key=0000dead&event=started&numwant=30&trackerid=x%20y"));
        let with_query = announce_url("http://t/announce?passkey=1", &params(), None);
        assert!(with_query.starts_with("http://t/announce?passkey=1&info_hash="));
    }

    #[test]
    fn scrape_urls_follow_bep48() {
        let ih = InfoHash([1; 20]);
        let enc = "%01".repeat(20);
        assert_eq!(
            scrape_url("http://t/announce", &ih),
            Some(format!("http://t/scrape?info_hash={enc}"))
        );
        assert_eq!(
            scrape_url("http://t/x/announce.php?k=v", &ih),
            Some(format!("http://t/x/scrape.php?k=v&info_hash={enc}"))
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
        assert!(decode_scrape(b"de", &ih).is_err());
    }
}

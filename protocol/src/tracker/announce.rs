//! The announce request: built into a query string by clients, parsed strictly by the tracker.

use std::fmt::Write as _;

use super::query::{
    decode_bytes, decode_fixed, decode_text, decode_u64, invalid, pairs, percent_encode_bytes,
};
use super::{QueryError, MAX_QUERY_LEN};
use crate::{InfoHash, PeerId};

/// Largest `numwant` accepted; anything above is a broken or hostile client (real ones ask <= 200).
pub const MAX_NUMWANT: u32 = 10_000;
/// Longest `key`, `trackerid` or `ip` value accepted (decoded bytes).
const MAX_TEXT: usize = 255;

/// The `event` of an announce. `Paused` is BEP 21's "still here but not downloading".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Event {
    #[default]
    None,
    Started,
    Completed,
    Stopped,
    Paused,
}

impl Event {
    /// The query-string word; `None` is the empty string (and is left out of queries).
    pub fn as_str(self) -> &'static str {
        match self {
            Event::None => "",
            Event::Started => "started",
            Event::Completed => "completed",
            Event::Stopped => "stopped",
            Event::Paused => "paused",
        }
    }

    pub fn from_query_value(raw: &[u8]) -> Result<Event, QueryError> {
        Ok(match raw {
            b"" | b"empty" => Event::None,
            b"started" => Event::Started,
            b"completed" => Event::Completed,
            b"stopped" => Event::Stopped,
            b"paused" => Event::Paused,
            _ => return Err(invalid("event", "unknown event")),
        })
    }
}

/// Every BEP 3 announce field plus the common extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    /// BEP 23; the default when the client does not say (every modern client wants it).
    pub compact: bool,
    pub no_peer_id: bool,
    pub event: Event,
    pub numwant: Option<u32>,
    /// Opaque to trackers: most clients send 8 hex digits; aria2 sends raw bytes, which are
    /// kept with invalid UTF-8 replaced (U+FFFD), since nothing compares keys byte for byte here.
    pub key: Option<String>,
    pub trackerid: Option<String>,
    /// The address the peer claims (an IP literal or a DNS name); trackers may ignore it.
    pub ip: Option<String>,
    /// BEP 7: the peer's IPv6 address, so a tracker reached over IPv4 can hand it out to IPv6
    /// peers too (a client reached over IPv6 may send `ipv4=` likewise; trackers may ignore both).
    pub ipv6: Option<String>,
}

impl AnnounceRequest {
    /// A request with the given identity and zeroed counters (compact on, no event).
    pub fn new(info_hash: InfoHash, peer_id: PeerId, port: u16) -> Self {
        AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            compact: true,
            no_peer_id: false,
            event: Event::None,
            numwant: None,
            key: None,
            trackerid: None,
            ip: None,
            ipv6: None,
        }
    }

    /// The query string (without `?`), binary ids percent-encoded.
    pub fn to_query(&self) -> String {
        let mut q = String::with_capacity(200);
        q.push_str("info_hash=");
        percent_encode_bytes(self.info_hash.as_bytes(), &mut q);
        q.push_str("&peer_id=");
        percent_encode_bytes(self.peer_id.as_bytes(), &mut q);
        let _ = write!(
            q,
            "&port={}&uploaded={}&downloaded={}&left={}&compact={}",
            self.port,
            self.uploaded,
            self.downloaded,
            self.left,
            u8::from(self.compact)
        );
        if self.no_peer_id {
            q.push_str("&no_peer_id=1");
        }
        if self.event != Event::None {
            q.push_str("&event=");
            q.push_str(self.event.as_str());
        }
        if let Some(n) = self.numwant {
            let _ = write!(q, "&numwant={n}");
        }
        if let Some(key) = &self.key {
            q.push_str("&key=");
            percent_encode_bytes(key.as_bytes(), &mut q);
        }
        for (name, value) in [
            ("trackerid", &self.trackerid),
            ("ip", &self.ip),
            ("ipv6", &self.ipv6),
        ] {
            if let Some(v) = value {
                let _ = write!(q, "&{name}=");
                percent_encode_bytes(v.as_bytes(), &mut q);
            }
        }
        q
    }

    /// Parses the query string of `GET /announce?...` (without the `?`). Unknown keys are ignored
    /// (clients send many: `supportcrypto`, `corrupt`, ...); known keys must appear once.
    pub fn parse_query(query: &[u8]) -> Result<AnnounceRequest, QueryError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(QueryError::TooLong(query.len()));
        }
        let mut seen: u16 = 0;
        let mut mark = |bit: u16, field: &'static str| {
            if seen & bit != 0 {
                return Err(QueryError::Duplicate(field));
            }
            seen |= bit;
            Ok(())
        };
        let mut info_hash = None;
        let mut peer_id = None;
        let mut port = None;
        let mut uploaded = 0;
        let mut downloaded = 0;
        let mut left = 0;
        let mut compact = true;
        let mut no_peer_id = false;
        let mut event = Event::None;
        let mut numwant = None;
        let mut key = None;
        let mut trackerid = None;
        let mut ip = None;
        let mut ipv6 = None;
        for (k, v) in pairs(query) {
            match k {
                b"info_hash" => {
                    mark(1, "info_hash")?;
                    info_hash = Some(InfoHash(decode_fixed::<20>(v, "info_hash")?));
                }
                b"peer_id" => {
                    mark(1 << 1, "peer_id")?;
                    peer_id = Some(PeerId(decode_fixed::<20>(v, "peer_id")?));
                }
                b"port" => {
                    mark(1 << 2, "port")?;
                    let p = decode_u64(v, "port")?;
                    if p == 0 || p > 65535 {
                        return Err(invalid("port", "must be 1..=65535"));
                    }
                    port = Some(p as u16);
                }
                b"uploaded" => {
                    mark(1 << 3, "uploaded")?;
                    uploaded = decode_u64(v, "uploaded")?;
                }
                b"downloaded" => {
                    mark(1 << 4, "downloaded")?;
                    downloaded = decode_u64(v, "downloaded")?;
                }
                b"left" => {
                    mark(1 << 5, "left")?;
                    left = decode_u64(v, "left")?;
                }
                b"compact" => {
                    mark(1 << 6, "compact")?;
                    compact = decode_flag(v, "compact")?;
                }
                b"no_peer_id" => {
                    mark(1 << 7, "no_peer_id")?;
                    no_peer_id = decode_flag(v, "no_peer_id")?;
                }
                b"event" => {
                    mark(1 << 8, "event")?;
                    event = Event::from_query_value(v)?;
                }
                b"numwant" => {
                    mark(1 << 9, "numwant")?;
                    let n = decode_u64(v, "numwant")?;
                    if n > u64::from(MAX_NUMWANT) {
                        return Err(invalid("numwant", "too large"));
                    }
                    numwant = Some(n as u32);
                }
                b"key" => {
                    mark(1 << 10, "key")?;
                    key = Some(
                        String::from_utf8_lossy(&decode_bytes(v, "key", MAX_TEXT)?).into_owned(),
                    );
                }
                b"trackerid" => {
                    mark(1 << 11, "trackerid")?;
                    trackerid = Some(decode_text(v, "trackerid", MAX_TEXT)?);
                }
                b"ip" => {
                    mark(1 << 12, "ip")?;
                    ip = Some(decode_text(v, "ip", MAX_TEXT)?);
                }
                b"ipv6" => {
                    mark(1 << 13, "ipv6")?;
                    ipv6 = Some(decode_text(v, "ipv6", MAX_TEXT)?);
                }
                _ => {}
            }
        }
        Ok(AnnounceRequest {
            info_hash: info_hash.ok_or(QueryError::Missing("info_hash"))?,
            peer_id: peer_id.ok_or(QueryError::Missing("peer_id"))?,
            port: port.ok_or(QueryError::Missing("port"))?,
            uploaded,
            downloaded,
            left,
            compact,
            no_peer_id,
            event,
            numwant,
            key,
            trackerid,
            ip,
            ipv6,
        })
    }
}

fn decode_flag(raw: &[u8], field: &'static str) -> Result<bool, QueryError> {
    match raw {
        b"0" => Ok(false),
        b"1" => Ok(true),
        _ => Err(invalid(field, "expected 0 or 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> AnnounceRequest {
        let mut r =
            AnnounceRequest::new(InfoHash([0xab; 20]), PeerId(*b"-SL0100-abcdefghijkl"), 6881);
        r.left = 1000;
        r
    }

    fn err(q: &str) -> QueryError {
        AnnounceRequest::parse_query(q.as_bytes()).unwrap_err()
    }

    const IH: &str = "info_hash=%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB%AB";
    const PID: &str = "peer_id=-SL0100-abcdefghijkl";

    #[test]
    fn parses_a_libtorrent_style_query() {
        let q = format!("{IH}&{PID}&port=6881&uploaded=0&downloaded=0&left=1000&corrupt=0&key=1A2B3C4D&event=started&numwant=200&compact=1&no_peer_id=1&supportcrypto=1&redundant=0");
        let r = AnnounceRequest::parse_query(q.as_bytes()).unwrap();
        assert_eq!(r.info_hash, InfoHash([0xab; 20]));
        assert_eq!(r.port, 6881);
        assert_eq!(r.left, 1000);
        assert_eq!(r.event, Event::Started);
        assert_eq!(r.numwant, Some(200));
        assert_eq!(r.key.as_deref(), Some("1A2B3C4D"));
        assert!(r.compact && r.no_peer_id);
    }

    #[test]
    fn parses_aria2s_binary_key() {
        let q = "info_hash=%C3..L%21%5B%FB%CC%BF%E8%AC9%1Ag%91%83a%E7%C9X&peer_id=A2-1-36-0-%87%5B%16q%B5%8E%A2%DC%8A-&uploaded=0&downloaded=0&left=300000&compact=1&key=%16q%B5%8E%A2%DC%8A-&numwant=50&no_peer_id=1&port=6973&event=started&supportcrypto=1";
        let r = AnnounceRequest::parse_query(q.as_bytes()).unwrap();
        let key = r.key.unwrap();
        assert!(
            key.starts_with("\u{16}q\u{fffd}") && key.ends_with('-'),
            "{key:?}"
        );
        assert_eq!(r.port, 6973);
        assert_eq!(r.peer_id.0[..10], *b"A2-1-36-0-");
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(
            err(&format!("{PID}&port=1")),
            QueryError::Missing("info_hash")
        );
        assert_eq!(err(&format!("{IH}&port=1")), QueryError::Missing("peer_id"));
        assert_eq!(err(&format!("{IH}&{PID}")), QueryError::Missing("port"));
        assert_eq!(
            err(&format!("info_hash=abc&{PID}&port=1")),
            invalid("info_hash", "expected 20 bytes")
        );
        assert_eq!(
            err(&format!("{IH}&peer_id=%zz&port=1")),
            invalid("peer_id", "bad percent-encoding")
        );
        assert_eq!(
            err(&format!("{IH}&peer_id=%A&port=1")),
            invalid("peer_id", "bad percent-encoding")
        );
        assert_eq!(
            err(&format!("{IH}&{PID}&port=0")),
            invalid("port", "must be 1..=65535")
        );
        assert_eq!(
            err(&format!("{IH}&{PID}&port=65536")),
            invalid("port", "must be 1..=65535")
        );
        assert_eq!(
            err(&format!("{IH}&{PID}&port=1&numwant=-5")),
            invalid("numwant", "negative")
        );
        assert_eq!(
            err(&format!(
                "{IH}&{PID}&port=1&numwant=99999999999999999999999"
            )),
            invalid("numwant", "not a number")
        );
        assert_eq!(
            err(&format!("{IH}&{PID}&port=1&numwant=20000")),
            invalid("numwant", "too large")
        );
        assert_eq!(
            err(&format!("{IH}&{PID}&port=1&event=bogus")),
            invalid("event", "unknown event")
        );
        assert_eq!(
            err(&format!("{IH}&{PID}&port=1&port=2")),
            QueryError::Duplicate("port")
        );
        assert_eq!(
            err(&format!("{IH}&{IH}&{PID}&port=1")),
            QueryError::Duplicate("info_hash")
        );
        assert_eq!(err(&"a".repeat(70_000)), QueryError::TooLong(70_000));
    }

    proptest! {
        #[test]
        fn query_round_trips(
            ih in any::<[u8; 20]>(), pid in any::<[u8; 20]>(), port in 1u16.., up in any::<u64>(),
            down in any::<u64>(), left in any::<u64>(), compact in any::<bool>(), npi in any::<bool>(),
            ev in 0usize..5, numwant in proptest::option::of(0u32..=MAX_NUMWANT),
            key in proptest::option::of("\\PC{0,20}"), tid in proptest::option::of("\\PC{0,10}"),
            ip in proptest::option::of("[0-9a-f:.]{1,39}"),
        ) {
            let r = AnnounceRequest {
                info_hash: InfoHash(ih), peer_id: PeerId(pid), port, uploaded: up, downloaded: down,
                left, compact, no_peer_id: npi,
                event: [Event::None, Event::Started, Event::Completed, Event::Stopped, Event::Paused][ev],
                numwant, key, trackerid: tid, ip: ip.clone(), ipv6: ip,
            };
            prop_assert_eq!(AnnounceRequest::parse_query(r.to_query().as_bytes()), Ok(r));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = AnnounceRequest::parse_query(&bytes);
        }

        #[test]
        fn mutated_queries_never_panic(cut in 0usize..400, byte in any::<u8>()) {
            let mut q = sample().to_query().into_bytes();
            let at = cut.min(q.len().saturating_sub(1));
            q[at] = byte;
            let _ = AnnounceRequest::parse_query(&q);
        }
    }
}

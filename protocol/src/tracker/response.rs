//! The announce reply: written by the tracker in bencode, read back by clients.
//!
//! Peers travel compact (BEP 23 `peers`, 6 bytes each; BEP 7 `peers6`, 18 bytes each) or as the
//! original list of dictionaries (`ip`, `port`, optional `peer id`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::bencode::{self, Limits, Value};
use crate::PeerId;

/// One peer in a reply. `peer_id` is only carried by dictionary lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponsePeer {
    pub addr: SocketAddr,
    pub peer_id: Option<PeerId>,
}

/// How the peer list is written, from the request's `compact` and `no_peer_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerFormat {
    Compact,
    Dict { with_peer_id: bool },
}

/// A tracker's answer to an announce. When `failure_reason` is set the other fields are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceResponse {
    pub failure_reason: Option<String>,
    pub warning_message: Option<String>,
    pub interval: u32,
    pub min_interval: Option<u32>,
    pub tracker_id: Option<String>,
    /// Seeders.
    pub complete: u32,
    /// Leechers.
    pub incomplete: u32,
    pub peers: Vec<ResponsePeer>,
}

/// Why bytes from a tracker are not an announce or scrape reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseDecodeError {
    #[error(transparent)]
    Bencode(#[from] bencode::DecodeError),
    #[error("reply is not a dictionary")]
    NotADict,
    #[error("invalid {0} in reply")]
    Invalid(&'static str),
}

/// Replies are small and flat; a hostile tracker cannot make the tree big or deep.
pub(crate) const REPLY_LIMITS: Limits = Limits {
    max_depth: 6,
    max_items: 200_000,
    allow_unsorted_keys: true,
};

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

pub(crate) fn put_int(out: &mut Vec<u8>, v: i64) {
    out.push(b'i');
    out.extend_from_slice(v.to_string().as_bytes());
    out.push(b'e');
}

/// A bencoded `{"failure reason": reason}`.
pub(crate) fn failure_bytes(reason: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"d14:failure reason");
    put_bytes(out, reason.as_bytes());
    out.push(b'e');
}

impl AnnounceResponse {
    /// A reply carrying only `failure reason`.
    pub fn failure(reason: impl Into<String>) -> Self {
        AnnounceResponse {
            failure_reason: Some(reason.into()),
            ..Default::default()
        }
    }

    /// Appends the bencoded reply to `out` (keys in BEP 3 sorted order). Compact mode puts IPv4
    /// peers in `peers` and IPv6 peers in `peers6`; dictionary mode lists both in `peers`.
    pub fn encode(&self, format: PeerFormat, out: &mut Vec<u8>) {
        if let Some(reason) = &self.failure_reason {
            failure_bytes(reason, out);
            return;
        }
        out.push(b'd');
        out.extend_from_slice(b"8:complete");
        put_int(out, i64::from(self.complete));
        out.extend_from_slice(b"10:incomplete");
        put_int(out, i64::from(self.incomplete));
        out.extend_from_slice(b"8:interval");
        put_int(out, i64::from(self.interval));
        if let Some(m) = self.min_interval {
            out.extend_from_slice(b"12:min interval");
            put_int(out, i64::from(m));
        }
        match format {
            PeerFormat::Compact => {
                let v4 = self.peers.iter().filter(|p| p.addr.is_ipv4()).count();
                out.extend_from_slice(b"5:peers");
                out.extend_from_slice((v4 * 6).to_string().as_bytes());
                out.push(b':');
                for p in &self.peers {
                    if let SocketAddr::V4(a) = p.addr {
                        out.extend_from_slice(&a.ip().octets());
                        out.extend_from_slice(&a.port().to_be_bytes());
                    }
                }
                let v6 = self.peers.len() - v4;
                if v6 > 0 {
                    out.extend_from_slice(b"6:peers6");
                    out.extend_from_slice((v6 * 18).to_string().as_bytes());
                    out.push(b':');
                    for p in &self.peers {
                        if let SocketAddr::V6(a) = p.addr {
                            out.extend_from_slice(&a.ip().octets());
                            out.extend_from_slice(&a.port().to_be_bytes());
                        }
                    }
                }
            }
            PeerFormat::Dict { with_peer_id } => {
                out.extend_from_slice(b"5:peersl");
                for p in &self.peers {
                    out.extend_from_slice(b"d2:ip");
                    put_bytes(out, p.addr.ip().to_string().as_bytes());
                    if let (true, Some(id)) = (with_peer_id, p.peer_id) {
                        out.extend_from_slice(b"7:peer id");
                        put_bytes(out, id.as_bytes());
                    }
                    out.extend_from_slice(b"4:port");
                    put_int(out, i64::from(p.addr.port()));
                    out.push(b'e');
                }
                out.push(b'e');
            }
        }
        if let Some(id) = &self.tracker_id {
            out.extend_from_slice(b"10:tracker id");
            put_bytes(out, id.as_bytes());
        }
        if let Some(w) = &self.warning_message {
            out.extend_from_slice(b"15:warning message");
            put_bytes(out, w.as_bytes());
        }
        out.push(b'e');
    }

    pub fn to_bytes(&self, format: PeerFormat) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.peers.len() * 18);
        self.encode(format, &mut out);
        out
    }

    /// Reads a tracker's reply. A `failure reason` reply decodes successfully with
    /// `failure_reason` set. Peers in either form are accepted; dictionary entries whose `ip` is a
    /// DNS name are skipped (resolving is the caller's business, and rare in practice).
    pub fn decode(bytes: &[u8]) -> Result<AnnounceResponse, ResponseDecodeError> {
        let root = bencode::decode_with(bytes, REPLY_LIMITS)?;
        if root.as_dict().is_none() {
            return Err(ResponseDecodeError::NotADict);
        }
        let text = |key: &'static str| -> Result<Option<String>, ResponseDecodeError> {
            match root.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_bytes()
                    .map(|b| Some(String::from_utf8_lossy(b).into_owned()))
                    .ok_or(ResponseDecodeError::Invalid(key)),
            }
        };
        let count = |key: &'static str| -> Result<Option<u32>, ResponseDecodeError> {
            match root.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_int()
                    .and_then(|i| u32::try_from(i).ok())
                    .map(Some)
                    .ok_or(ResponseDecodeError::Invalid(key)),
            }
        };
        let failure_reason = text("failure reason")?;
        if failure_reason.is_some() {
            return Ok(AnnounceResponse {
                failure_reason,
                ..Default::default()
            });
        }
        let mut peers = Vec::new();
        match root.get("peers") {
            None => {}
            Some(Value::Bytes(b)) => {
                compact_peers(b, 6, &mut peers).ok_or(ResponseDecodeError::Invalid("peers"))?
            }
            Some(Value::List(list)) => {
                for entry in list {
                    if let Some(p) = dict_peer(entry) {
                        peers.push(p);
                    }
                }
            }
            Some(_) => return Err(ResponseDecodeError::Invalid("peers")),
        }
        match root.get("peers6") {
            None => {}
            Some(Value::Bytes(b)) => {
                compact_peers(b, 18, &mut peers).ok_or(ResponseDecodeError::Invalid("peers6"))?
            }
            Some(_) => return Err(ResponseDecodeError::Invalid("peers6")),
        }
        Ok(AnnounceResponse {
            failure_reason: None,
            warning_message: text("warning message")?,
            interval: count("interval")?.ok_or(ResponseDecodeError::Invalid("interval"))?,
            min_interval: count("min interval")?,
            tracker_id: text("tracker id")?,
            complete: count("complete")?.unwrap_or(0),
            incomplete: count("incomplete")?.unwrap_or(0),
            peers,
        })
    }
}

/// Appends `bytes` read as compact peers of `width` (6 or 18) bytes; `None` if the length is not a multiple.
fn compact_peers(bytes: &[u8], width: usize, out: &mut Vec<ResponsePeer>) -> Option<()> {
    if !bytes.len().is_multiple_of(width) {
        return None;
    }
    for chunk in bytes.chunks_exact(width) {
        let (ip, port) = chunk.split_at(width - 2);
        let ip = match width {
            6 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ip).ok()?)),
            _ => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip).ok()?)),
        };
        let port = u16::from_be_bytes(<[u8; 2]>::try_from(port).ok()?);
        out.push(ResponsePeer {
            addr: SocketAddr::new(ip, port),
            peer_id: None,
        });
    }
    Some(())
}

fn dict_peer(entry: &Value<'_>) -> Option<ResponsePeer> {
    let ip: IpAddr = entry.get("ip")?.as_str()?.parse().ok()?;
    let port = u16::try_from(entry.get("port")?.as_int()?).ok()?;
    let peer_id = entry
        .get("peer id")
        .and_then(Value::as_bytes)
        .and_then(|b| PeerId::from_slice(b).ok());
    Some(ResponsePeer {
        addr: SocketAddr::new(ip, port),
        peer_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peer() -> impl Strategy<Value = ResponsePeer> {
        (
            any::<bool>(),
            any::<[u8; 16]>(),
            any::<u16>(),
            any::<Option<[u8; 20]>>(),
        )
            .prop_map(|(v6, ip, port, id)| {
                let ip = if v6 {
                    IpAddr::V6(Ipv6Addr::from(ip))
                } else {
                    IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]))
                };
                ResponsePeer {
                    addr: SocketAddr::new(ip, port),
                    peer_id: id.map(PeerId),
                }
            })
    }

    #[test]
    fn compact_reply_bytes_are_exact() {
        let r = AnnounceResponse {
            interval: 1800,
            complete: 1,
            incomplete: 2,
            peers: vec![ResponsePeer {
                addr: "10.0.0.1:6881".parse().unwrap(),
                peer_id: None,
            }],
            ..Default::default()
        };
        assert_eq!(
            r.to_bytes(PeerFormat::Compact),
            b"d8:completei1e10:incompletei2e8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1e"
        );
        assert_eq!(
            AnnounceResponse::failure("nope").to_bytes(PeerFormat::Compact),
            b"d14:failure reason4:nopee"
        );
    }

    #[test]
    fn bad_replies_are_errors() {
        assert!(AnnounceResponse::decode(b"le").is_err());
        assert!(AnnounceResponse::decode(b"d8:intervali1e5:peers5:abcdee").is_err());
        assert!(AnnounceResponse::decode(b"d8:intervali-1ee").is_err());
        assert!(AnnounceResponse::decode(b"d5:peersi3ee").is_err());
    }

    proptest! {
        #[test]
        fn round_trips_in_every_format(
            peers in proptest::collection::vec(peer(), 0..20), interval in any::<u32>(),
            min in any::<Option<u32>>(), complete in any::<u32>(), incomplete in any::<u32>(),
            warn in proptest::option::of("\\PC{0,20}"), tid in proptest::option::of("[a-z0-9]{0,8}"),
            with_peer_id in any::<bool>(),
        ) {
            let r = AnnounceResponse {
                failure_reason: None, warning_message: warn, interval, min_interval: min,
                tracker_id: tid, complete, incomplete, peers,
            };
            // Compact: v4 first then v6, no ids.
            let mut want = r.clone();
            want.peers = r.peers.iter().filter(|p| p.addr.is_ipv4())
                .chain(r.peers.iter().filter(|p| p.addr.is_ipv6()))
                .map(|p| ResponsePeer { addr: p.addr, peer_id: None }).collect();
            prop_assert_eq!(AnnounceResponse::decode(&r.to_bytes(PeerFormat::Compact)).unwrap(), want);
            // Dictionary: order kept, ids only when asked for.
            let mut want = r.clone();
            if !with_peer_id {
                for p in &mut want.peers { p.peer_id = None; }
            }
            let bytes = r.to_bytes(PeerFormat::Dict { with_peer_id });
            prop_assert_eq!(AnnounceResponse::decode(&bytes).unwrap(), want);
            // The encoder writes canonical bencode (sorted keys).
            let canonical = bencode::decode(&bytes).unwrap().to_bytes();
            prop_assert_eq!(canonical, bytes);
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = AnnounceResponse::decode(&bytes);
        }
    }
}

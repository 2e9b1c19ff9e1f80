//! BEP 11 `ut_pex`: peers a neighbour has connected to or dropped since its last message, as
//! compact addresses (6 bytes IPv4, 18 bytes IPv6) with one flags byte per added peer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::benc::{self, Value};
use super::ExtensionError;

/// Most peers accepted in one list. BEP 11 asks senders for at most 50 added and 50 dropped per
/// message; a few times that leaves room for lax clients while bounding what a liar can inject.
pub const MAX_PEX_PEERS: usize = 200;

/// Flags byte of an added peer (`added.f` / `added6.f`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PexFlags(pub u8);

impl PexFlags {
    pub const PREFERS_ENCRYPTION: u8 = 0x01;
    pub const SEED: u8 = 0x02;
    pub const UTP: u8 = 0x04;
    pub const HOLEPUNCH: u8 = 0x08;
    pub const REACHABLE: u8 = 0x10;

    pub fn is_seed(self) -> bool {
        self.0 & Self::SEED != 0
    }
    pub fn prefers_encryption(self) -> bool {
        self.0 & Self::PREFERS_ENCRYPTION != 0
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PexMessage {
    /// IPv4 and IPv6 peers together; each family is encoded in its own key.
    pub added: Vec<(SocketAddr, PexFlags)>,
    pub dropped: Vec<SocketAddr>,
}

impl PexMessage {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (mut added4, mut flags4, mut added6, mut flags6) = (vec![], vec![], vec![], vec![]);
        for (addr, flags) in &self.added {
            match addr {
                SocketAddr::V4(_) => {
                    put_compact(&mut added4, addr);
                    flags4.push(flags.0);
                }
                SocketAddr::V6(_) => {
                    put_compact(&mut added6, addr);
                    flags6.push(flags.0);
                }
            }
        }
        let (mut dropped4, mut dropped6) = (vec![], vec![]);
        for addr in &self.dropped {
            match addr {
                SocketAddr::V4(_) => put_compact(&mut dropped4, addr),
                SocketAddr::V6(_) => put_compact(&mut dropped6, addr),
            }
        }
        benc::dict(vec![
            (b"added", benc::bytes(&added4)),
            (b"added.f", benc::bytes(&flags4)),
            (b"added6", benc::bytes(&added6)),
            (b"added6.f", benc::bytes(&flags6)),
            (b"dropped", benc::bytes(&dropped4)),
            (b"dropped6", benc::bytes(&dropped6)),
        ])
        .encode(out);
    }

    /// Decodes a payload. Missing keys are empty lists; a compact list whose length is not a
    /// multiple of the address size, or longer than [`MAX_PEX_PEERS`], is an error. A flags list
    /// shorter than its peers gives the rest no flags (some clients omit it).
    pub fn decode(payload: &[u8]) -> Result<PexMessage, ExtensionError> {
        let dict = benc::decode_exact(payload)?;
        if !matches!(dict, Value::Dict(_)) {
            return Err(ExtensionError::NotADict);
        }
        let field = |key: &'static str| -> Result<&[u8], ExtensionError> {
            match dict.get(key) {
                None => Ok(&[]),
                Some(v) => v.as_bytes().ok_or(ExtensionError::BadField(key)),
            }
        };
        let mut msg = PexMessage::default();
        for (peers, flags, family) in [
            ("added", "added.f", Family::V4),
            ("added6", "added6.f", Family::V6),
        ] {
            let addrs = parse_compact(field(peers)?, family, peers)?;
            let flags = field(flags)?;
            msg.added.extend(
                addrs
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| (a, PexFlags(flags.get(i).copied().unwrap_or(0)))),
            );
        }
        msg.dropped = parse_compact(field("dropped")?, Family::V4, "dropped")?;
        msg.dropped
            .extend(parse_compact(field("dropped6")?, Family::V6, "dropped6")?);
        Ok(msg)
    }
}

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

fn put_compact(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

fn parse_compact(
    bytes: &[u8],
    family: Family,
    key: &'static str,
) -> Result<Vec<SocketAddr>, ExtensionError> {
    let size = match family {
        Family::V4 => 6,
        Family::V6 => 18,
    };
    if !bytes.len().is_multiple_of(size) {
        return Err(ExtensionError::BadField(key));
    }
    let count = bytes.len() / size;
    if count > MAX_PEX_PEERS {
        return Err(ExtensionError::TooManyPeers { field: key, count });
    }
    Ok(bytes
        .chunks_exact(size)
        .map(|c| {
            let (ip, port) = c.split_at(size - 2);
            let port = u16::from_be_bytes([port[0], port[1]]);
            let ip = match family {
                Family::V4 => <[u8; 4]>::try_from(ip).map(|o| IpAddr::V4(Ipv4Addr::from(o))),
                Family::V6 => <[u8; 16]>::try_from(ip).map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            };
            // chunks_exact guarantees the sizes; the fallback keeps this panic-free anyway.
            SocketAddr::new(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port)
        })
        .collect())
}

/// Most peers a message we send names as added, and as dropped (BEP 11's limit).
pub const PEX_SEND_LIMIT: usize = 50;

/// What one connection has told its peer so far, to send only differences (BEP 11: each message
/// lists peers added and dropped since the previous one, at most 50 of each, about once a minute;
/// the pacing is the caller's).
#[derive(Debug, Clone, Default)]
pub struct PexDiff {
    advertised: std::collections::HashSet<SocketAddr>,
}

impl PexDiff {
    /// The message to send for the swarm we are now connected to (minus the recipient, which
    /// the caller leaves out), or `None` if nothing changed. Peers beyond the limits are left
    /// for the next message.
    pub fn next_message(&mut self, connected: &[(SocketAddr, PexFlags)]) -> Option<PexMessage> {
        let now: std::collections::HashSet<SocketAddr> =
            connected.iter().map(|(addr, _)| *addr).collect();
        let added: Vec<(SocketAddr, PexFlags)> = connected
            .iter()
            .filter(|(addr, _)| !self.advertised.contains(addr))
            .take(PEX_SEND_LIMIT)
            .copied()
            .collect();
        let mut dropped: Vec<SocketAddr> = self
            .advertised
            .iter()
            .filter(|addr| !now.contains(addr))
            .take(PEX_SEND_LIMIT)
            .copied()
            .collect();
        dropped.sort();
        if added.is_empty() && dropped.is_empty() {
            return None;
        }
        self.advertised.extend(added.iter().map(|(addr, _)| *addr));
        for addr in &dropped {
            self.advertised.remove(addr);
        }
        Some(PexMessage { added, dropped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_mixed_families_and_missing_flags() {
        let payload = b"d5:added12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x507:added.f1:\x026:added618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x167:dropped6:\x7f\x00\x00\x01\x00\x01e";
        let m = PexMessage::decode(payload).unwrap();
        assert_eq!(
            m.added,
            vec![
                ("127.0.0.1:6881".parse().unwrap(), PexFlags(2)),
                ("10.0.0.2:80".parse().unwrap(), PexFlags(0)),
                ("[::1]:22".parse().unwrap(), PexFlags(0)),
            ]
        );
        assert!(m.added[0].1.is_seed());
        assert_eq!(m.dropped, vec!["127.0.0.1:1".parse().unwrap()]);
    }

    #[test]
    fn bad_lists_are_errors() {
        assert_eq!(
            PexMessage::decode(b"d5:added5:abcdee"),
            Err(ExtensionError::BadField("added"))
        );
        assert_eq!(
            PexMessage::decode(b"d7:droppedi3ee"),
            Err(ExtensionError::BadField("dropped"))
        );
        let flood = format!("d5:added{}:{}e", 6 * 201, "a".repeat(6 * 201));
        assert_eq!(
            PexMessage::decode(flood.as_bytes()),
            Err(ExtensionError::TooManyPeers {
                field: "added",
                count: 201
            })
        );
        assert_eq!(PexMessage::decode(b"de"), Ok(PexMessage::default()));
    }

    #[test]
    fn diffs_name_each_change_once_and_respect_the_limit() {
        let peer = |i: u16| {
            (
                SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 6881)),
                PexFlags(0),
            )
        };
        let mut diff = PexDiff::default();
        let swarm: Vec<_> = (0..70).map(peer).collect();
        let first = diff.next_message(&swarm).unwrap();
        assert_eq!(first.added.len(), PEX_SEND_LIMIT);
        assert!(first.dropped.is_empty());
        let second = diff.next_message(&swarm).unwrap();
        assert_eq!(second.added.len(), 20);
        assert_eq!(diff.next_message(&swarm), None);
        let smaller: Vec<_> = swarm[5..].to_vec();
        let third = diff.next_message(&smaller).unwrap();
        assert!(third.added.is_empty());
        assert_eq!(third.dropped, (0..5).map(|i| peer(i).0).collect::<Vec<_>>());
        // What we send decodes to what we meant.
        let mut out = Vec::new();
        third.encode(&mut out);
        assert_eq!(PexMessage::decode(&out), Ok(third));
    }

    fn addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
            (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
        ]
    }

    proptest! {
        #[test]
        fn round_trips(added in proptest::collection::vec((addr(), any::<u8>()), 0..50),
                       dropped in proptest::collection::vec(addr(), 0..50)) {
            let msg = PexMessage {
                added: added.into_iter().map(|(a, f)| (a, PexFlags(f))).collect(),
                dropped,
            };
            let mut out = Vec::new();
            msg.encode(&mut out);
            let back = PexMessage::decode(&out).unwrap();
            // The codec groups by family (v4 first), so compare family by family.
            let v4 = |v: &Vec<(SocketAddr, PexFlags)>| v.iter().filter(|a| a.0.is_ipv4()).cloned().collect::<Vec<_>>();
            let v6 = |v: &Vec<(SocketAddr, PexFlags)>| v.iter().filter(|a| a.0.is_ipv6()).cloned().collect::<Vec<_>>();
            prop_assert_eq!(v4(&back.added), v4(&msg.added));
            prop_assert_eq!(v6(&back.added), v6(&msg.added));
            prop_assert_eq!(back.dropped.len(), msg.dropped.len());
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = PexMessage::decode(&bytes);
        }
    }
}

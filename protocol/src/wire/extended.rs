//! The BEP 10 extended handshake: the dictionary sent as extended message 0 that maps extension
//! names to the message ids the sender wants to receive them under.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::benc::{self, Value};
use super::ExtensionError;

/// Extended message id of the handshake itself.
pub const HANDSHAKE_ID: u8 = 0;
/// BEP 9 metadata exchange.
pub const UT_METADATA: &str = "ut_metadata";
/// BEP 11 peer exchange.
pub const UT_PEX: &str = "ut_pex";

/// The fields of an extended handshake that Swarmlink uses. Optional fields a peer sends with the
/// wrong type are treated as absent, as mainstream clients do; only a payload that is not a
/// bencoded dictionary is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtendedHandshake {
    /// Extension name -> the id the *sender* wants that extension's messages to carry. An id of 0
    /// means the sender disables the extension; ids outside 0..=255 are dropped on decode.
    pub m: BTreeMap<String, u8>,
    /// Client name and version, e.g. "Swarmlink 0.1.0" (lossily decoded if not UTF-8).
    pub v: Option<String>,
    /// The sender's listen port.
    pub p: Option<u16>,
    /// How many outstanding requests the sender queues.
    pub reqq: Option<u32>,
    /// Our address as the sender sees it.
    pub yourip: Option<IpAddr>,
    /// Size of the info dictionary in bytes (BEP 9); the caller must bound it before use.
    pub metadata_size: Option<u64>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// BEP 21: the sender is a partial seed / does not download.
    pub upload_only: bool,
}

impl ExtendedHandshake {
    /// The id the sender assigned to `extension`, if it speaks it (0 = disabled counts as not).
    pub fn id_of(&self, extension: &str) -> Option<u8> {
        self.m.get(extension).copied().filter(|&id| id != 0)
    }

    /// Appends the bencoded dictionary (the payload of `Message::Extended { id: 0, .. }`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let yourip = self.yourip.map(ip_bytes);
        let ipv4 = self.ipv4.map(|ip| ip.octets());
        let ipv6 = self.ipv6.map(|ip| ip.octets());
        let mut entries: Vec<(&[u8], Value<'_>)> = vec![(
            b"m",
            benc::dict(
                self.m
                    .iter()
                    .map(|(k, &id)| (k.as_bytes(), Value::Int(i64::from(id))))
                    .collect(),
            ),
        )];
        if let Some(v) = &self.v {
            entries.push((b"v", benc::bytes(v.as_bytes())));
        }
        if let Some(p) = self.p {
            entries.push((b"p", Value::Int(i64::from(p))));
        }
        if let Some(reqq) = self.reqq {
            entries.push((b"reqq", Value::Int(i64::from(reqq))));
        }
        if let Some(ip) = &yourip {
            entries.push((b"yourip", benc::bytes(ip)));
        }
        if let Some(size) = self.metadata_size {
            let size = i64::try_from(size).unwrap_or(i64::MAX);
            entries.push((b"metadata_size", Value::Int(size)));
        }
        if let Some(ip) = &ipv4 {
            entries.push((b"ipv4", benc::bytes(ip)));
        }
        if let Some(ip) = &ipv6 {
            entries.push((b"ipv6", benc::bytes(ip)));
        }
        if self.upload_only {
            entries.push((b"upload_only", Value::Int(1)));
        }
        benc::dict(entries).encode(out);
    }

    pub fn decode(payload: &[u8]) -> Result<ExtendedHandshake, ExtensionError> {
        let dict = benc::decode_exact(payload)?;
        if !matches!(dict, Value::Dict(_)) {
            return Err(ExtensionError::NotADict);
        }
        let mut m = BTreeMap::new();
        if let Some(Value::Dict(entries)) = dict.get("m") {
            for (name, id) in entries {
                let id = id.as_int().and_then(|i| u8::try_from(i).ok());
                if let (Ok(name), Some(id)) = (std::str::from_utf8(name), id) {
                    m.insert(name.to_owned(), id);
                }
            }
        }
        let int = |key: &str| dict.get(key).and_then(Value::as_int);
        let bytes = |key: &str| dict.get(key).and_then(Value::as_bytes);
        Ok(ExtendedHandshake {
            m,
            v: bytes("v").map(|v| String::from_utf8_lossy(v).into_owned()),
            p: int("p").and_then(|p| u16::try_from(p).ok()),
            reqq: int("reqq").and_then(|r| u32::try_from(r).ok()),
            yourip: bytes("yourip").and_then(ip_from_bytes),
            metadata_size: int("metadata_size").and_then(|s| u64::try_from(s).ok()),
            ipv4: bytes("ipv4")
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(Ipv4Addr::from),
            ipv6: bytes("ipv6")
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(Ipv6Addr::from),
            upload_only: int("upload_only").is_some_and(|u| u != 0),
        })
    }
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(b).ok().map(IpAddr::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_a_libtorrent_style_handshake() {
        // Shape of libtorrent 2.0's extended handshake (keys it sends that we ignore included).
        let payload = b"d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e4:reqqi500e11:upload_onlyi0e1:v18:libtorrent/2.0.8.06:yourip4:\x7f\x00\x00\x01e";
        let hs = ExtendedHandshake::decode(payload).unwrap();
        assert_eq!(hs.id_of(UT_METADATA), Some(2));
        assert_eq!(hs.id_of(UT_PEX), Some(1));
        assert_eq!(hs.metadata_size, Some(31235));
        assert_eq!(hs.p, Some(6881));
        assert_eq!(hs.reqq, Some(500));
        assert_eq!(hs.v.as_deref(), Some("libtorrent/2.0.8.0"));
        assert_eq!(hs.yourip, Some(IpAddr::from([127, 0, 0, 1])));
        assert!(!hs.upload_only);
    }

    #[test]
    fn wrong_types_are_ignored_but_non_dicts_refused() {
        let hs =
            ExtendedHandshake::decode(b"d1:md3:fooi300e3:bari0ee1:p3:abc6:yourip3:abce").unwrap();
        assert_eq!(hs.m.get("foo"), None);
        assert_eq!(hs.m.get("bar"), Some(&0));
        assert_eq!(hs.id_of("bar"), None);
        assert_eq!(hs.p, None);
        assert_eq!(hs.yourip, None);
        assert_eq!(
            ExtendedHandshake::decode(b"li1ee"),
            Err(ExtensionError::NotADict)
        );
        assert!(ExtendedHandshake::decode(b"d1:m").is_err());
    }

    proptest! {
        #[test]
        fn round_trips(
            names in proptest::collection::btree_map("[a-z_]{1,12}", any::<u8>(), 0..5),
            v in proptest::option::of("[ -~]{0,20}"),
            p in proptest::option::of(any::<u16>()),
            reqq in proptest::option::of(any::<u32>()),
            yourip in proptest::option::of(any::<[u8; 16]>()),
            metadata_size in proptest::option::of(0u64..(1 << 40)),
            ipv4 in proptest::option::of(any::<[u8; 4]>()),
            upload_only in any::<bool>(),
        ) {
            let hs = ExtendedHandshake {
                m: names, v, p, reqq,
                yourip: yourip.map(IpAddr::from),
                metadata_size,
                ipv4: ipv4.map(Ipv4Addr::from),
                ipv6: yourip.map(Ipv6Addr::from),
                upload_only,
            };
            let mut out = Vec::new();
            hs.encode(&mut out);
            prop_assert_eq!(ExtendedHandshake::decode(&out), Ok(hs));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ExtendedHandshake::decode(&bytes);
        }
    }
}

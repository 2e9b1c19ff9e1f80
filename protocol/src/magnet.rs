//! Magnet links (BEP 9): `magnet:?xt=urn:btih:<hash>&dn=<name>&tr=<tracker>&ws=<seed>&x.pe=<peer>`.
//!
//! The info-hash may be 40 hex digits or 32 base32 characters. Values are percent-decoded; `+`
//! means a space only in the display name (tracker URLs may legitimately contain `+`). Unknown
//! parameters are ignored, so links written by newer tools still open.
//!
//! ```
//! use protocol::Magnet;
//! let m = Magnet::parse("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=My+File&tr=http%3A%2F%2Ft%2Fannounce").unwrap();
//! assert_eq!(m.display_name.as_deref(), Some("My File"));
//! assert_eq!(m.trackers, ["http://t/announce"]);
//! assert_eq!(Magnet::parse(&m.to_uri()).unwrap(), m);
//! ```

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::{InfoHash, Metainfo, ParseIdError};

/// What a magnet link carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Magnet {
    pub info_hash: InfoHash,
    /// `dn`: a suggested name, shown until the metadata arrives (never used as a path unchecked).
    pub display_name: Option<String>,
    /// `tr` (and `tr.N`), in link order, duplicates removed.
    pub trackers: Vec<String>,
    /// `ws`: BEP 19 web seeds.
    pub web_seeds: Vec<String>,
    /// `x.pe`: peer addresses as `host:port` (`[v6]:port` for IPv6), as written in the link.
    pub peers: Vec<String>,
    /// `so`: BEP 53's selection of files to download, as indices (`so=0,2,4-6`); `None` when
    /// absent or unreadable (a bad list is ignored, not a reason to refuse the link).
    pub select_only: Option<Vec<u32>>,
}

/// Why a magnet link could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    #[error("not a magnet link (it must start with `magnet:?`)")]
    NotMagnet,
    #[error("no `xt=urn:btih:` info-hash in the link")]
    MissingInfoHash,
    #[error("only a v2 (`urn:btmh:`) hash is given; v2 torrents are not supported")]
    V2Only,
    #[error("bad info-hash {text:?}: {reason}")]
    BadInfoHash { text: String, reason: ParseIdError },
    #[error("two different info-hashes in one link ({0} and {1})")]
    ConflictingInfoHashes(InfoHash, InfoHash),
    #[error("parameter `{0}` is not UTF-8 after percent-decoding")]
    NotUtf8(String),
}

/// Characters kept as they are in values we write: RFC 3986 unreserved plus a few that are safe
/// inside a query value and keep URLs readable (`:` and `/`).
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'/');

impl Magnet {
    pub fn parse(uri: &str) -> Result<Magnet, MagnetError> {
        let uri = uri.trim();
        let query = uri
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("magnet:?"))
            .map(|_| &uri[8..])
            .ok_or(MagnetError::NotMagnet)?;
        let mut info_hash: Option<InfoHash> = None;
        let mut saw_v2 = false;
        let mut magnet = Magnet {
            info_hash: InfoHash::default(),
            display_name: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            peers: Vec::new(),
            select_only: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            // `tr.1`, `xt.2`: BEP 9 numbers repeated parameters this way.
            let key = key.split_once('.').map_or(key, |(base, n)| {
                if n.bytes().all(|b| b.is_ascii_digit()) {
                    base
                } else {
                    key
                }
            });
            match key {
                "xt" => {
                    let value = decode(key, raw, false)?;
                    if let Some(text) = strip_prefix_ignore_case(&value, "urn:btih:") {
                        let hash = InfoHash::from_text(text).map_err(|reason| {
                            MagnetError::BadInfoHash {
                                text: text.to_owned(),
                                reason,
                            }
                        })?;
                        match info_hash {
                            Some(first) if first != hash => {
                                return Err(MagnetError::ConflictingInfoHashes(first, hash))
                            }
                            _ => info_hash = Some(hash),
                        }
                    } else if strip_prefix_ignore_case(&value, "urn:btmh:").is_some() {
                        saw_v2 = true;
                    }
                }
                "dn" => magnet.display_name = Some(decode(key, raw, true)?),
                "tr" => push_unique(&mut magnet.trackers, decode(key, raw, false)?),
                "ws" => push_unique(&mut magnet.web_seeds, decode(key, raw, false)?),
                "x.pe" => push_unique(&mut magnet.peers, decode(key, raw, false)?),
                "so" => {
                    magnet.select_only =
                        crate::file_selection::parse_indices(&decode(key, raw, false)?).ok();
                }
                _ => {}
            }
        }
        magnet.info_hash = match (info_hash, saw_v2) {
            (Some(hash), _) => hash,
            (None, true) => return Err(MagnetError::V2Only),
            (None, false) => return Err(MagnetError::MissingInfoHash),
        };
        Ok(magnet)
    }

    /// The link, with the info-hash in lowercase hex and every value percent-encoded.
    pub fn to_uri(&self) -> String {
        let mut uri = format!("magnet:?xt=urn:btih:{}", self.info_hash.to_hex());
        let mut put = |key: &str, value: &str| {
            uri.push('&');
            uri.push_str(key);
            uri.push('=');
            uri.extend(utf8_percent_encode(value, VALUE));
        };
        if let Some(name) = &self.display_name {
            put("dn", name);
        }
        self.trackers.iter().for_each(|t| put("tr", t));
        self.web_seeds.iter().for_each(|w| put("ws", w));
        self.peers.iter().for_each(|p| put("x.pe", p));
        if let Some(only) = &self.select_only {
            put("so", &crate::file_selection::format_indices(only));
        }
        uri
    }

    /// The magnet link for a torrent: its hash, name, every tracker and web seed.
    pub fn from_metainfo(metainfo: &Metainfo) -> Magnet {
        let mut trackers = Vec::new();
        for url in metainfo.tiers().into_iter().flatten() {
            push_unique(&mut trackers, url);
        }
        Magnet {
            info_hash: metainfo.info_hash,
            display_name: Some(metainfo.info.name.clone()),
            trackers,
            web_seeds: metainfo.url_list.clone(),
            peers: Vec::new(),
            select_only: None,
        }
    }
}

impl std::str::FromStr for Magnet {
    type Err = MagnetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Magnet::parse(s)
    }
}

impl std::fmt::Display for Magnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_uri())
    }
}

/// The checks a fuzzer runs on arbitrary bytes (cargo-fuzz target `magnet`; the property tests
/// run it too): parsing never panics, and whatever parses survives a trip through `to_uri`.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(magnet) = Magnet::parse(text) {
        assert_eq!(Magnet::parse(&magnet.to_uri()).as_ref(), Ok(&magnet));
    }
}

fn decode(key: &str, raw: &str, plus_is_space: bool) -> Result<String, MagnetError> {
    let spaced;
    let raw = if plus_is_space {
        spaced = raw.replace('+', " ");
        &spaced
    } else {
        raw
    };
    percent_decode(raw.as_bytes())
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| MagnetError::NotUtf8(key.to_owned()))
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    value
        .get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &value[prefix.len()..])
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && !list.contains(&value) {
        list.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    #[test]
    fn parses_every_parameter() {
        let m = Magnet::parse(&format!(
            "magnet:?xt=urn:btih:{}&dn=Big%20Buck+Bunny&tr=udp%3A%2F%2Ftracker%3A1337&tr.1=http://t2/a%2Bb\
             &ws=https%3A%2F%2Fseed%2Ffile&x.pe=127.0.0.1:6881&x.pe=%5B%3A%3A1%5D:6882&xl=123&unknown=1",
            HEX.to_uppercase()
        ))
        .unwrap();
        assert_eq!(m.info_hash.to_hex(), HEX);
        assert_eq!(m.display_name.as_deref(), Some("Big Buck Bunny"));
        assert_eq!(m.trackers, ["udp://tracker:1337", "http://t2/a+b"]);
        assert_eq!(m.web_seeds, ["https://seed/file"]);
        assert_eq!(m.peers, ["127.0.0.1:6881", "[::1]:6882"]);
    }

    #[test]
    fn bep_53_select_only_is_read_and_written_and_a_bad_one_ignored() {
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=0,2,4-6")).unwrap();
        assert_eq!(m.select_only, Some(vec![0, 2, 4, 5, 6]));
        assert!(m.to_uri().ends_with("&so=0%2C2%2C4-6"), "{}", m.to_uri());
        assert_eq!(Magnet::parse(&m.to_uri()).unwrap(), m);
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&so=x-1")).unwrap();
        assert_eq!(m.select_only, None);
    }

    #[test]
    fn base32_and_hex_agree() {
        let b32 = data_encoding::BASE32.encode(&InfoHash::from_hex(HEX).unwrap().0);
        let m = Magnet::parse(&format!("MAGNET:?xt=URN:BTIH:{}", b32.to_lowercase())).unwrap();
        assert_eq!(m.info_hash.to_hex(), HEX);
        assert_eq!(m.display_name, None);
    }

    #[test]
    fn hybrid_links_use_the_v1_hash() {
        let m = Magnet::parse(&format!(
            "magnet:?xt=urn:btmh:1220{}&xt=urn:btih:{HEX}",
            "ab".repeat(32)
        ))
        .unwrap();
        assert_eq!(m.info_hash.to_hex(), HEX);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(Magnet::parse("http://x"), Err(MagnetError::NotMagnet));
        assert_eq!(Magnet::parse("magnet:"), Err(MagnetError::NotMagnet));
        assert_eq!(
            Magnet::parse("magnet:?dn=x"),
            Err(MagnetError::MissingInfoHash)
        );
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btmh:1220{}", "ab".repeat(32))),
            Err(MagnetError::V2Only)
        );
        assert!(matches!(
            Magnet::parse("magnet:?xt=urn:btih:1234"),
            Err(MagnetError::BadInfoHash { .. })
        ));
        assert!(matches!(
            Magnet::parse(&format!(
                "magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{}",
                "0".repeat(40)
            )),
            Err(MagnetError::ConflictingInfoHashes(..))
        ));
        assert_eq!(
            Magnet::parse(&format!("magnet:?xt=urn:btih:{HEX}&dn=%FF")),
            Err(MagnetError::NotUtf8("dn".into()))
        );
        // Multi-byte text right where the scheme is sliced must not panic.
        assert_eq!(Magnet::parse("magnét:?"), Err(MagnetError::NotMagnet));
    }

    #[test]
    fn from_metainfo_carries_trackers_and_seeds() {
        let built = crate::MetainfoBuilder::single_file("f", 1)
            .pieces(vec![[0; 20]])
            .announce_tiers(vec![vec!["http://a/".into()], vec!["http://b/".into()]])
            .url_list(vec!["http://s/".into()])
            .build()
            .unwrap();
        let m = Magnet::from_metainfo(&built.metainfo);
        assert_eq!(m.info_hash, built.info_hash);
        assert_eq!(m.trackers, ["http://a/", "http://b/"]);
        assert_eq!(m.web_seeds, ["http://s/"]);
        assert_eq!(m.display_name.as_deref(), Some("f"));
    }

    proptest! {
        #[test]
        fn round_trips(
            hash in any::<[u8; 20]>(),
            name in proptest::option::of("\\PC{0,16}"),
            trackers in proptest::collection::vec("\\PC{1,16}", 0..3),
            seeds in proptest::collection::vec("[a-z:/.+&=%]{1,16}", 0..3),
            peers in proptest::collection::vec("[0-9.:]{3,12}", 0..3),
        ) {
            let dedup = |v: Vec<String>| v.into_iter().fold(Vec::new(), |mut acc, s| {
                push_unique(&mut acc, s);
                acc
            });
            let m = Magnet {
                info_hash: InfoHash(hash),
                display_name: name,
                trackers: dedup(trackers),
                web_seeds: dedup(seeds),
                peers: dedup(peers),
                select_only: None,
            };
            prop_assert_eq!(Magnet::parse(&m.to_uri()).unwrap(), m);
        }

        #[test]
        fn any_text_never_panics(s in "\\PC{0,80}") {
            fuzz_one(s.as_bytes());
            fuzz_one(format!("magnet:?{s}").as_bytes());
            fuzz_one(format!("magnet:?xt=urn:btih:{}&{s}", "a".repeat(40)).as_bytes());
        }
    }
}

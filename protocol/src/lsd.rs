//! BEP 14 local service discovery: the `BT-SEARCH` datagram peers multicast on their LAN.
//!
//! ```text
//! BT-SEARCH * HTTP/1.1\r\n
//! Host: 239.192.152.143:6771\r\n
//! Port: 6881\r\n
//! Infohash: 0123456789abcdef0123456789abcdef01234567\r\n
//! cookie: 7f3a9c01\r\n
//! \r\n
//! \r\n
//! ```
//!
//! One announce may carry several `Infohash` headers. The `cookie` lets a client recognise (and
//! ignore) its own announces, which multicast loops back to it. Everything else is the sender's
//! word about itself: the peer's address is the datagram's source IP with the announced port.

use crate::InfoHash;

/// Multicast groups and port of BEP 14.
pub const LSD_GROUP_V4: ([u8; 4], u16) = ([239, 192, 152, 143], 6771);
/// `[ff15::efc0:988f]:6771`.
pub const LSD_GROUP_V6: ([u16; 8], u16) = ([0xff15, 0, 0, 0, 0, 0, 0xefc0, 0x988f], 6771);

/// Larger datagrams are not announces (BEP 14 keeps them within one MTU).
pub const MAX_ANNOUNCE_LEN: usize = 1400;
/// Info-hashes we put in one announce, and accept from one: more is a flood, not a LAN peer.
pub const MAX_INFO_HASHES: usize = 16;

/// A decoded announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsdAnnounce {
    pub port: u16,
    pub info_hashes: Vec<InfoHash>,
    pub cookie: Option<String>,
}

/// Why a datagram is not a usable announce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LsdError {
    #[error("datagram of {0} bytes is larger than an announce")]
    TooLong(usize),
    #[error("not UTF-8 text")]
    NotText,
    #[error("first line is not `BT-SEARCH * HTTP/1.1`")]
    NotBtSearch,
    #[error("header line without a colon")]
    BadHeader,
    #[error("missing or invalid Port header")]
    BadPort,
    #[error("invalid Infohash header")]
    BadInfoHash,
    #[error("no Infohash header")]
    NoInfoHash,
    #[error("more than {MAX_INFO_HASHES} info-hashes")]
    TooManyInfoHashes,
}

impl LsdAnnounce {
    /// Writes the announce; `host` is the group it is sent to, as `ip:port` (`[v6]:port`).
    pub fn encode(&self, host: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"BT-SEARCH * HTTP/1.1\r\n");
        out.extend_from_slice(format!("Host: {host}\r\nPort: {}\r\n", self.port).as_bytes());
        for ih in &self.info_hashes {
            out.extend_from_slice(format!("Infohash: {}\r\n", ih.to_hex()).as_bytes());
        }
        if let Some(cookie) = &self.cookie {
            out.extend_from_slice(format!("cookie: {cookie}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n\r\n");
    }

    /// Decodes one datagram. Header names are case-insensitive; unknown headers are ignored.
    pub fn decode(datagram: &[u8]) -> Result<LsdAnnounce, LsdError> {
        if datagram.len() > MAX_ANNOUNCE_LEN {
            return Err(LsdError::TooLong(datagram.len()));
        }
        let text = std::str::from_utf8(datagram).map_err(|_| LsdError::NotText)?;
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or("");
        if !first.eq_ignore_ascii_case("BT-SEARCH * HTTP/1.1") {
            return Err(LsdError::NotBtSearch);
        }
        let mut port = None;
        let mut info_hashes = Vec::new();
        let mut cookie = None;
        for line in lines {
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or(LsdError::BadHeader)?;
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "port" => {
                    let p: u16 = value.parse().map_err(|_| LsdError::BadPort)?;
                    if p == 0 {
                        return Err(LsdError::BadPort);
                    }
                    port = Some(p);
                }
                "infohash" => {
                    if info_hashes.len() == MAX_INFO_HASHES {
                        return Err(LsdError::TooManyInfoHashes);
                    }
                    let ih = InfoHash::from_hex(value).map_err(|_| LsdError::BadInfoHash)?;
                    if !info_hashes.contains(&ih) {
                        info_hashes.push(ih);
                    }
                }
                "cookie" => cookie = Some(value.to_owned()),
                _ => {}
            }
        }
        let port = port.ok_or(LsdError::BadPort)?;
        if info_hashes.is_empty() {
            return Err(LsdError::NoInfoHash);
        }
        Ok(LsdAnnounce {
            port,
            info_hashes,
            cookie,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ih(b: u8) -> InfoHash {
        InfoHash([b; 20])
    }

    #[test]
    fn decodes_what_libtorrent_sends() {
        let wire = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n\
Infohash: 0101010101010101010101010101010101010101\r\ncookie: abc\r\n\r\n\r\n";
        let a = LsdAnnounce::decode(wire).unwrap();
        assert_eq!(a.port, 6881);
        assert_eq!(a.info_hashes, vec![ih(1)]);
        assert_eq!(a.cookie.as_deref(), Some("abc"));
    }

    #[test]
    fn header_names_and_hex_are_case_insensitive() {
        let wire = b"bt-search * http/1.1\r\nPORT: 7\r\nINFOHASH: ABABABABABABABABABABABABABABABABABABABAB\r\n\r\n";
        let a = LsdAnnounce::decode(wire).unwrap();
        assert_eq!((a.port, a.info_hashes, a.cookie), (7, vec![ih(0xab)], None));
    }

    #[test]
    fn bad_announces_are_errors() {
        let cases: &[(&[u8], LsdError)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", LsdError::NotBtSearch),
            (b"BT-SEARCH * HTTP/1.1\r\nPort: 0\r\n\r\n", LsdError::BadPort),
            (b"BT-SEARCH * HTTP/1.1\r\nPort: 70000\r\n\r\n", LsdError::BadPort),
            (
                b"BT-SEARCH * HTTP/1.1\r\nInfohash: 0101010101010101010101010101010101010101\r\n\r\n",
                LsdError::BadPort,
            ),
            (b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n", LsdError::NoInfoHash),
            (b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: 12\r\n\r\n", LsdError::BadInfoHash),
            (b"BT-SEARCH * HTTP/1.1\r\nnonsense\r\n\r\n", LsdError::BadHeader),
            (b"\xff\xfe", LsdError::NotText),
        ];
        for (wire, want) in cases {
            assert_eq!(LsdAnnounce::decode(wire).unwrap_err(), *want, "{wire:?}");
        }
        assert_eq!(
            LsdAnnounce::decode(&[b'a'; MAX_ANNOUNCE_LEN + 1]).unwrap_err(),
            LsdError::TooLong(MAX_ANNOUNCE_LEN + 1)
        );
        let mut many = b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n".to_vec();
        for i in 0..=MAX_INFO_HASHES as u8 {
            many.extend_from_slice(format!("Infohash: {}\r\n", ih(i).to_hex()).as_bytes());
        }
        assert_eq!(
            LsdAnnounce::decode(&many).unwrap_err(),
            LsdError::TooManyInfoHashes
        );
    }

    proptest! {
        #[test]
        fn round_trips(port in 1u16.., hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..MAX_INFO_HASHES),
                       cookie in proptest::option::of("[a-z0-9]{1,16}")) {
            let mut unique: Vec<InfoHash> = Vec::new();
            for h in hashes.into_iter().map(InfoHash) {
                if !unique.contains(&h) {
                    unique.push(h);
                }
            }
            let hashes = unique;
            let a = LsdAnnounce { port, info_hashes: hashes, cookie };
            let mut out = Vec::new();
            a.encode("239.192.152.143:6771", &mut out);
            prop_assert!(out.len() <= MAX_ANNOUNCE_LEN);
            prop_assert_eq!(LsdAnnounce::decode(&out).unwrap(), a);
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = LsdAnnounce::decode(&bytes);
        }
    }
}

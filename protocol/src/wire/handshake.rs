//! The 68-byte BitTorrent handshake and the reserved bits that announce optional extensions.

use super::WireError;
use crate::{InfoHash, PeerId};

/// The protocol string every BitTorrent handshake carries after its length byte (19).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// The 8 reserved handshake bytes: each set bit announces an extension the peer speaks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// What Swarmlink announces: the extension protocol (BEP 10) and the fast extension (BEP 6).
    pub const SWARMLINK: Reserved = Reserved([0, 0, 0, 0, 0, 0x10, 0, 0x04]);

    pub fn has(&self, ext: Extension) -> bool {
        let (byte, mask) = ext.position();
        self.0[byte] & mask != 0
    }

    pub fn set(&mut self, ext: Extension, on: bool) {
        let (byte, mask) = ext.position();
        if on {
            self.0[byte] |= mask;
        } else {
            self.0[byte] &= !mask;
        }
    }

    /// `self` with `ext` switched on, for building constants fluently.
    pub fn with(mut self, ext: Extension) -> Self {
        self.set(ext, true);
        self
    }
}

impl std::fmt::Debug for Reserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reserved({})", hex::encode(self.0))
    }
}

/// Optional protocol extensions that are negotiated through a reserved bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extension {
    /// BEP 10 extension protocol: bit 20 from the right, `reserved[5] & 0x10`.
    ExtensionProtocol,
    /// BEP 6 fast extension: `reserved[7] & 0x04`.
    Fast,
    /// BEP 5 DHT (the peer accepts `port` messages): `reserved[7] & 0x01`.
    Dht,
}

impl Extension {
    fn position(self) -> (usize, u8) {
        match self {
            Extension::ExtensionProtocol => (5, 0x10),
            Extension::Fast => (7, 0x04),
            Extension::Dht => (7, 0x01),
        }
    }
}

/// `<19>"BitTorrent protocol"<reserved:8><info_hash:20><peer_id:20>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handshake {
    pub reserved: Reserved,
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
}

impl Handshake {
    pub const LEN: usize = 68;
    /// Bytes up to and including the info-hash: enough for an accepting side to pick the torrent
    /// (and refuse unknown ones) before the peer id arrives.
    pub const PREFIX_LEN: usize = 48;

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(Self::LEN);
        out.push(PROTOCOL.len() as u8);
        out.extend_from_slice(PROTOCOL);
        out.extend_from_slice(&self.reserved.0);
        out.extend_from_slice(self.info_hash.as_bytes());
        out.extend_from_slice(self.peer_id.as_bytes());
    }

    /// Decodes a handshake from the start of `buf`; `Ok(None)` means more bytes are needed.
    ///
    /// The protocol string is checked on whatever prefix has arrived, so a peer that speaks
    /// something else (or encrypts) is refused at its first bytes rather than after 68.
    pub fn decode(buf: &[u8]) -> Result<Option<Handshake>, WireError> {
        let Some((reserved, info_hash)) = Self::decode_prefix(buf)? else {
            return Ok(None);
        };
        let Some(peer_id) = buf.get(Self::PREFIX_LEN..Self::LEN) else {
            return Ok(None);
        };
        let peer_id = PeerId::from_slice(peer_id).map_err(|_| WireError::Truncated)?;
        Ok(Some(Handshake {
            reserved,
            info_hash,
            peer_id,
        }))
    }

    /// Decodes the first 48 bytes (protocol, reserved bits, info-hash); `Ok(None)` = need more.
    pub fn decode_prefix(buf: &[u8]) -> Result<Option<(Reserved, InfoHash)>, WireError> {
        check_protocol_prefix(buf)?;
        let Some(prefix) = buf.get(..Self::PREFIX_LEN) else {
            return Ok(None);
        };
        let mut reserved = [0u8; 8];
        reserved.copy_from_slice(&prefix[20..28]);
        let info_hash = InfoHash::from_slice(&prefix[28..48]).map_err(|_| WireError::Truncated)?;
        Ok(Some((Reserved(reserved), info_hash)))
    }
}

/// Checks the length byte and the protocol string against however much of them `buf` holds.
fn check_protocol_prefix(buf: &[u8]) -> Result<(), WireError> {
    if let Some(&len) = buf.first() {
        if usize::from(len) != PROTOCOL.len() {
            return Err(WireError::BadProtocol);
        }
    }
    let seen = buf.get(1..).unwrap_or(&[]);
    let n = seen.len().min(PROTOCOL.len());
    if seen[..n] != PROTOCOL[..n] {
        return Err(WireError::BadProtocol);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Handshake {
        Handshake {
            reserved: Reserved::SWARMLINK.with(Extension::Dht),
            info_hash: InfoHash([7; 20]),
            peer_id: PeerId(*b"-SL0100-abcdefghijkl"),
        }
    }

    #[test]
    fn reserved_bits_sit_where_the_beps_put_them() {
        let r = Reserved::default().with(Extension::ExtensionProtocol);
        assert_eq!(r.0, [0, 0, 0, 0, 0, 0x10, 0, 0]);
        assert!(r.has(Extension::ExtensionProtocol));
        assert!(!r.has(Extension::Fast));
        let mut r = Reserved::SWARMLINK;
        assert!(r.has(Extension::Fast) && r.has(Extension::ExtensionProtocol));
        assert!(!r.has(Extension::Dht));
        r.set(Extension::Dht, true);
        assert_eq!(r.0[7], 0x05);
        r.set(Extension::Fast, false);
        assert_eq!(r.0[7], 0x01);
    }

    #[test]
    fn every_split_is_partial_until_whole() {
        let mut bytes = Vec::new();
        sample().encode(&mut bytes);
        assert_eq!(bytes.len(), Handshake::LEN);
        for cut in 0..Handshake::LEN {
            assert_eq!(Handshake::decode(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(Handshake::decode(&bytes), Ok(Some(sample())));
        let (reserved, ih) = Handshake::decode_prefix(&bytes[..48]).unwrap().unwrap();
        assert_eq!((reserved, ih), (sample().reserved, sample().info_hash));
    }

    #[test]
    fn a_foreign_protocol_is_refused_at_its_first_wrong_byte() {
        assert_eq!(Handshake::decode(b"\x13"), Ok(None));
        assert_eq!(Handshake::decode(b"\x12"), Err(WireError::BadProtocol));
        assert_eq!(Handshake::decode(b"\x13BitTorrent pro"), Ok(None));
        assert_eq!(
            Handshake::decode(b"\x13BitTorrent Pro"),
            Err(WireError::BadProtocol)
        );
        assert_eq!(
            Handshake::decode(b"GET / HTTP/1.1\r\n"),
            Err(WireError::BadProtocol)
        );
    }

    proptest! {
        #[test]
        fn round_trips(reserved in any::<[u8; 8]>(), ih in any::<[u8; 20]>(), id in any::<[u8; 20]>()) {
            let h = Handshake { reserved: Reserved(reserved), info_hash: InfoHash(ih), peer_id: PeerId(id) };
            let mut bytes = Vec::new();
            h.encode(&mut bytes);
            prop_assert_eq!(Handshake::decode(&bytes), Ok(Some(h)));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = Handshake::decode(&bytes);
        }
    }
}

//! Identifiers that travel on the wire as 20 raw bytes: the info-hash and the peer id.
//!
//! They are newtypes so that a peer id can never be passed where an info-hash belongs.

use std::fmt;

/// Why a textual identifier could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    #[error("expected 40 hex digits or 32 base32 characters, got {0} characters")]
    Length(usize),
    #[error("invalid hex digit in {0:?}")]
    Hex(String),
    #[error("invalid base32 character in {0:?}")]
    Base32(String),
    #[error("expected exactly 20 bytes, got {0}")]
    ByteLength(usize),
}

/// The SHA-1 of a torrent's raw `info` dictionary: the torrent's identity on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct InfoHash(pub [u8; 20]);

impl InfoHash {
    /// Hashes the exact bytes of an `info` dictionary.
    pub fn of_info_bytes(info: &[u8]) -> Self {
        use sha1::Digest;
        InfoHash(sha1::Sha1::digest(info).into())
    }

    /// Reads 40 hex digits (either case) or 32 base32 characters (the two forms magnet links use).
    pub fn from_text(s: &str) -> Result<Self, ParseIdError> {
        match s.len() {
            40 => Self::from_hex(s),
            32 => {
                let bytes = data_encoding::BASE32
                    .decode(s.to_ascii_uppercase().as_bytes())
                    .map_err(|_| ParseIdError::Base32(s.to_owned()))?;
                Self::from_slice(&bytes)
            }
            n => Err(ParseIdError::Length(n)),
        }
    }

    pub fn from_hex(s: &str) -> Result<Self, ParseIdError> {
        if s.len() != 40 {
            return Err(ParseIdError::Length(s.len()));
        }
        let mut out = [0u8; 20];
        hex::decode_to_slice(s, &mut out).map_err(|_| ParseIdError::Hex(s.to_owned()))?;
        Ok(InfoHash(out))
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, ParseIdError> {
        <[u8; 20]>::try_from(bytes)
            .map(InfoHash)
            .map_err(|_| ParseIdError::ByteLength(bytes.len()))
    }

    /// 40 lowercase hex digits, the form every tool prints.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

/// A peer's self-chosen 20-byte id (BEP 20 style: `-SL0100-` followed by random bytes for ours).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PeerId(pub [u8; 20]);

impl PeerId {
    /// Client prefix in the Azureus style that trackers and peers display (`SL` = Swarmlink).
    pub const PREFIX: &'static [u8; 8] = b"-SL0100-";

    /// A fresh id: our prefix plus 12 random alphanumeric bytes (printable, so logs stay readable).
    pub fn generate<R: rand::Rng + ?Sized>(rng: &mut R) -> Self {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(Self::PREFIX);
        for b in &mut id[8..] {
            *b = ALPHABET[rng.random_range(0..ALPHABET.len())];
        }
        PeerId(id)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, ParseIdError> {
        <[u8; 20]>::try_from(bytes)
            .map(PeerId)
            .map_err(|_| ParseIdError::ByteLength(bytes.len()))
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", self)
    }
}

impl fmt::Display for PeerId {
    /// Printable bytes as text, the rest as `%XX`, the way trackers log peer ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hex_and_base32_name_the_same_hash() {
        let hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
        let from_hex = InfoHash::from_text(hex).unwrap();
        let b32 = data_encoding::BASE32.encode(&from_hex.0);
        assert_eq!(InfoHash::from_text(&b32.to_lowercase()).unwrap(), from_hex);
        assert_eq!(from_hex.to_string(), hex);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        assert_eq!(InfoHash::from_text("abc"), Err(ParseIdError::Length(3)));
        assert!(InfoHash::from_text(&"z".repeat(40)).is_err());
        assert_eq!(
            PeerId::from_slice(&[0; 19]),
            Err(ParseIdError::ByteLength(19))
        );
    }

    #[test]
    fn generated_peer_ids_carry_our_prefix() {
        let id = PeerId::generate(&mut rand::rng());
        assert!(id.0.starts_with(PeerId::PREFIX));
        assert!(id.0.iter().all(|b| b.is_ascii_graphic()));
    }

    proptest! {
        #[test]
        fn hex_round_trips(bytes in any::<[u8; 20]>()) {
            let h = InfoHash(bytes);
            prop_assert_eq!(InfoHash::from_text(&h.to_hex()).unwrap(), h);
        }

        #[test]
        fn any_text_never_panics(s in ".{0,64}") {
            let _ = InfoHash::from_text(&s);
        }
    }
}

//! The encryption policy: how an outgoing connection is opened, what to try after a refusal,
//! and which incoming connections to accept. Pure decisions; the engine only dials.

use std::fmt;
use std::str::FromStr;

use super::handshake::{CRYPTO_PLAINTEXT, CRYPTO_RC4};
use crate::wire::PROTOCOL;

/// The user's `--encryption` setting; in JSON settings `"prefer"`, `"require"` or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncryptionPolicy {
    /// Plaintext first; a peer that closes on our plaintext handshake is retried with MSE.
    /// Incoming connections may be either.
    #[default]
    Prefer,
    /// Only RC4-encrypted MSE connections, both ways.
    Require,
    /// Only plaintext, both ways.
    Off,
}

/// How to open (or reopen) an outgoing connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The BitTorrent handshake straight away.
    Plaintext,
    /// An MSE handshake offering these crypto methods (`CRYPTO_*` bits).
    Mse { provide: u32 },
}

/// What the first bytes of an incoming connection say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingKind {
    /// 19, "BitTorrent protocol": a plaintext handshake.
    Plaintext,
    /// Anything else: an MSE public key (or garbage the MSE handshake will reject).
    Mse,
}

impl EncryptionPolicy {
    /// The first way to dial an address. `known_mse`: an earlier connection to it only
    /// succeeded encrypted, so we do not knock in plaintext again.
    ///
    /// Why plaintext first under `Prefer` (the reverse of libtorrent's default): most peers
    /// accept plaintext, and a plaintext stream costs no DH exponentiation, no extra round trip
    /// and no RC4 over every byte; a peer that insists on encryption closes the connection at
    /// our first byte, so finding out costs one short TCP connection. The price is that a
    /// network that silently throttles (rather than resets) plaintext BitTorrent is not
    /// detected: users behind one choose `Require`.
    pub fn first_attempt(self, known_mse: bool) -> Attempt {
        match self {
            EncryptionPolicy::Prefer if known_mse => Attempt::Mse {
                provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT,
            },
            EncryptionPolicy::Prefer | EncryptionPolicy::Off => Attempt::Plaintext,
            EncryptionPolicy::Require => Attempt::Mse {
                provide: CRYPTO_RC4,
            },
        }
    }

    /// The next attempt after `failed` was refused: the TCP connection opened, and the peer
    /// closed it before completing its handshake. `None`: give up on this address for now.
    pub fn after_refusal(self, failed: Attempt) -> Option<Attempt> {
        match (self, failed) {
            // Offer both methods: a peer that only wants an obfuscated handshake may choose
            // plaintext for the stream, one that wants RC4 chooses RC4.
            (EncryptionPolicy::Prefer, Attempt::Plaintext) => Some(Attempt::Mse {
                provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT,
            }),
            (EncryptionPolicy::Prefer, Attempt::Mse { .. }) => Some(Attempt::Plaintext),
            (EncryptionPolicy::Require | EncryptionPolicy::Off, _) => None,
        }
    }

    /// Whether an incoming plaintext handshake is accepted.
    pub fn accepts_plaintext(self) -> bool {
        self != EncryptionPolicy::Require
    }

    /// The crypto methods an incoming MSE handshake may select; 0 refuses MSE.
    pub fn incoming_mse(self) -> u32 {
        match self {
            EncryptionPolicy::Prefer => CRYPTO_RC4 | CRYPTO_PLAINTEXT,
            EncryptionPolicy::Require => CRYPTO_RC4,
            EncryptionPolicy::Off => 0,
        }
    }
}

impl fmt::Display for EncryptionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncryptionPolicy::Prefer => "prefer",
            EncryptionPolicy::Require => "require",
            EncryptionPolicy::Off => "off",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("encryption must be prefer, require or off, not {0:?}")]
pub struct ParsePolicyError(pub String);

impl FromStr for EncryptionPolicy {
    type Err = ParsePolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "prefer" => Ok(EncryptionPolicy::Prefer),
            "require" => Ok(EncryptionPolicy::Require),
            "off" => Ok(EncryptionPolicy::Off),
            other => Err(ParsePolicyError(other.to_string())),
        }
    }
}

/// Tells a plaintext handshake from MSE by the first bytes of an incoming connection;
/// `None` while they still match the start of "\x13BitTorrent protocol".
pub fn classify(buf: &[u8]) -> Option<IncomingKind> {
    let mut expected = [0u8; 20];
    expected[0] = 19;
    expected[1..].copy_from_slice(PROTOCOL);
    let n = buf.len().min(expected.len());
    if buf[..n] != expected[..n] {
        Some(IncomingKind::Mse)
    } else if n == expected.len() {
        Some(IncomingKind::Plaintext)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_knocks_in_plaintext_then_retries_encrypted_once_each_way() {
        let p = EncryptionPolicy::Prefer;
        let first = p.first_attempt(false);
        assert_eq!(first, Attempt::Plaintext);
        let second = p.after_refusal(first).unwrap();
        assert_eq!(
            second,
            Attempt::Mse {
                provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT
            }
        );
        assert_eq!(p.first_attempt(true), second);
        assert_eq!(p.after_refusal(second), Some(Attempt::Plaintext));
        assert!(p.accepts_plaintext());
        assert_eq!(p.incoming_mse(), CRYPTO_RC4 | CRYPTO_PLAINTEXT);
    }

    #[test]
    fn require_is_rc4_only_and_off_is_plaintext_only() {
        let r = EncryptionPolicy::Require;
        for known in [false, true] {
            assert_eq!(
                r.first_attempt(known),
                Attempt::Mse {
                    provide: CRYPTO_RC4
                }
            );
        }
        assert_eq!(r.after_refusal(r.first_attempt(false)), None);
        assert!(!r.accepts_plaintext());
        assert_eq!(r.incoming_mse(), CRYPTO_RC4);

        let o = EncryptionPolicy::Off;
        assert_eq!(o.first_attempt(true), Attempt::Plaintext);
        assert_eq!(o.after_refusal(Attempt::Plaintext), None);
        assert!(o.accepts_plaintext());
        assert_eq!(o.incoming_mse(), 0);
    }

    #[test]
    fn names_round_trip() {
        for p in [
            EncryptionPolicy::Prefer,
            EncryptionPolicy::Require,
            EncryptionPolicy::Off,
        ] {
            assert_eq!(p.to_string().parse::<EncryptionPolicy>(), Ok(p));
        }
        assert!("on".parse::<EncryptionPolicy>().is_err());
        let json = serde_json::to_string(&EncryptionPolicy::Require).unwrap();
        assert_eq!(json, "\"require\"");
        assert_eq!(
            serde_json::from_str::<EncryptionPolicy>("\"off\"").unwrap(),
            EncryptionPolicy::Off
        );
        assert!(serde_json::from_str::<EncryptionPolicy>("\"on\"").is_err());
        assert_eq!(EncryptionPolicy::default(), EncryptionPolicy::Prefer);
    }

    #[test]
    fn the_first_bytes_tell_plaintext_from_mse() {
        let hs = b"\x13BitTorrent protocol\0\0\0\0";
        assert_eq!(classify(b""), None);
        assert_eq!(classify(&hs[..1]), None);
        assert_eq!(classify(&hs[..19]), None);
        assert_eq!(classify(&hs[..20]), Some(IncomingKind::Plaintext));
        assert_eq!(classify(hs), Some(IncomingKind::Plaintext));
        assert_eq!(classify(b"\x14"), Some(IncomingKind::Mse));
        assert_eq!(
            classify(b"\x13BitTorrent Protocol"),
            Some(IncomingKind::Mse)
        );
        assert_eq!(classify(&[0xff; 96]), Some(IncomingKind::Mse));
    }
}

//! BEP 9 `ut_metadata`: fetching a torrent's info dictionary from peers in 16 KiB pieces.
//!
//! A message is a bencoded dictionary (`msg_type`, `piece`, and for data `total_size`), and a
//! `data` message is followed by the raw piece bytes, outside the dictionary.

use super::benc::{self, Value};
use super::ExtensionError;

/// Every metadata piece but the last is exactly this long.
pub const METADATA_PIECE_LEN: usize = 16 * 1024;

/// Largest info dictionary accepted from a peer (BEP 9 leaves it open; libtorrent allows 30 MiB).
/// 8 MiB holds the hashes of 400 000 pieces or the names of ~100 000 files, more than real
/// torrents carry, and bounds what one lying `metadata_size` makes us allocate. Checked on
/// `metadata_size` from the extended handshake and on each `total_size`.
pub const MAX_METADATA_SIZE: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataMessage<'a> {
    Request {
        piece: u32,
    },
    /// One piece of the info dictionary; `data` borrows from the decoded payload.
    Data {
        piece: u32,
        total_size: u64,
        data: &'a [u8],
    },
    Reject {
        piece: u32,
    },
}

/// How many pieces an info dictionary of `total_size` bytes travels in, or an error if the size
/// is zero or above [`MAX_METADATA_SIZE`].
pub fn metadata_piece_count(total_size: u64) -> Result<u32, ExtensionError> {
    if total_size == 0 || total_size > MAX_METADATA_SIZE {
        return Err(ExtensionError::MetadataSize(total_size));
    }
    Ok(total_size.div_ceil(METADATA_PIECE_LEN as u64) as u32)
}

impl<'a> MetadataMessage<'a> {
    pub fn piece(&self) -> u32 {
        match *self {
            MetadataMessage::Request { piece }
            | MetadataMessage::Data { piece, .. }
            | MetadataMessage::Reject { piece } => piece,
        }
    }

    /// Appends the payload (dictionary, then the raw piece for `Data`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (kind, piece) = match *self {
            MetadataMessage::Request { piece } => (0, piece),
            MetadataMessage::Data { piece, .. } => (1, piece),
            MetadataMessage::Reject { piece } => (2, piece),
        };
        let mut entries: Vec<(&[u8], Value<'_>)> = vec![
            (b"msg_type", Value::Int(kind)),
            (b"piece", Value::Int(i64::from(piece))),
        ];
        if let MetadataMessage::Data { total_size, .. } = *self {
            let size = i64::try_from(total_size).unwrap_or(i64::MAX);
            entries.push((b"total_size", Value::Int(size)));
        }
        benc::dict(entries).encode(out);
        if let MetadataMessage::Data { data, .. } = *self {
            out.extend_from_slice(data);
        }
    }

    /// Decodes a payload. A `Data` piece longer than 16 KiB, a `total_size` above
    /// [`MAX_METADATA_SIZE`], an unknown `msg_type` or bytes trailing a non-data message are errors.
    pub fn decode(payload: &'a [u8]) -> Result<MetadataMessage<'a>, ExtensionError> {
        let (dict, used) = benc::decode_prefix(payload)?;
        if !matches!(dict, Value::Dict(_)) {
            return Err(ExtensionError::NotADict);
        }
        let int = |key: &'static str| {
            dict.get(key)
                .and_then(Value::as_int)
                .ok_or(ExtensionError::MissingField(key))
        };
        let kind = int("msg_type")?;
        let piece = u32::try_from(int("piece")?).map_err(|_| ExtensionError::BadField("piece"))?;
        let rest = payload.get(used..).unwrap_or(&[]);
        if kind != 1 && !rest.is_empty() {
            return Err(ExtensionError::TrailingBytes(rest.len()));
        }
        match kind {
            0 => Ok(MetadataMessage::Request { piece }),
            2 => Ok(MetadataMessage::Reject { piece }),
            1 => {
                let total_size = u64::try_from(int("total_size")?)
                    .map_err(|_| ExtensionError::BadField("total_size"))?;
                metadata_piece_count(total_size)?;
                if rest.len() > METADATA_PIECE_LEN {
                    return Err(ExtensionError::MetadataPieceTooLong(rest.len()));
                }
                Ok(MetadataMessage::Data {
                    piece,
                    total_size,
                    data: rest,
                })
            }
            other => Err(ExtensionError::UnknownMessageType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_the_bep9_examples() {
        assert_eq!(
            MetadataMessage::decode(b"d8:msg_typei0e5:piecei0ee"),
            Ok(MetadataMessage::Request { piece: 0 })
        );
        assert_eq!(
            MetadataMessage::decode(b"d8:msg_typei1e5:piecei0e10:total_sizei34256eexxxxxxxx"),
            Ok(MetadataMessage::Data {
                piece: 0,
                total_size: 34256,
                data: b"xxxxxxxx"
            })
        );
        assert_eq!(
            MetadataMessage::decode(b"d8:msg_typei2e5:piecei0ee"),
            Ok(MetadataMessage::Reject { piece: 0 })
        );
    }

    #[test]
    fn hostile_messages_are_errors() {
        let too_big = format!(
            "d8:msg_typei1e5:piecei0e10:total_sizei{}ee",
            MAX_METADATA_SIZE + 1
        );
        assert!(MetadataMessage::decode(too_big.as_bytes()).is_err());
        let mut long = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
        long.extend(std::iter::repeat_n(0u8, METADATA_PIECE_LEN + 1));
        assert_eq!(
            MetadataMessage::decode(&long),
            Err(ExtensionError::MetadataPieceTooLong(METADATA_PIECE_LEN + 1))
        );
        assert!(MetadataMessage::decode(b"d8:msg_typei7e5:piecei0ee").is_err());
        assert!(MetadataMessage::decode(b"d8:msg_typei0e5:piecei-1ee").is_err());
        assert!(MetadataMessage::decode(b"d8:msg_typei0ee").is_err());
        assert!(MetadataMessage::decode(b"d8:msg_typei0e5:piecei0eeJUNK").is_err());
        assert_eq!(metadata_piece_count(16384), Ok(1));
        assert_eq!(metadata_piece_count(16385), Ok(2));
        assert!(metadata_piece_count(0).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(kind in 0u8..3, piece in any::<u32>(), total in 1u64..=MAX_METADATA_SIZE,
                       data in proptest::collection::vec(any::<u8>(), 0..=METADATA_PIECE_LEN)) {
            let m = match kind {
                0 => MetadataMessage::Request { piece },
                1 => MetadataMessage::Data { piece, total_size: total, data: &data },
                _ => MetadataMessage::Reject { piece },
            };
            let mut out = Vec::new();
            m.encode(&mut out);
            prop_assert_eq!(MetadataMessage::decode(&out), Ok(m));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = MetadataMessage::decode(&bytes);
        }
    }
}

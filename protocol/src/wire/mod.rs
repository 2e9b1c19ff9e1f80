//! The peer wire protocol: the handshake, length-prefixed messages (BEP 3, BEP 6 fast extension,
//! BEP 10 extension envelope), and the payloads carried inside extended messages.
//!
//! Everything decodes from `&[u8]` and returns `Ok(None)` while a frame is incomplete, so the
//! engine's peer task can append socket reads to one buffer and call `decode` until it yields
//! nothing. Limits are checked before allocation; malformed input is a [`WireError`].
//!
//! ```
//! use protocol::wire::{self, BlockRef, Message};
//! let mut buf = Vec::new();
//! Message::Request(BlockRef { piece: 1, begin: 16384, length: 16384 }).encode(&mut buf);
//! Message::Unchoke.encode(&mut buf);
//! let (first, used) = wire::decode(&buf, wire::DEFAULT_MAX_FRAME).unwrap().unwrap();
//! assert_eq!(first, Message::Request(BlockRef { piece: 1, begin: 16384, length: 16384 }));
//! let (second, _) = wire::decode(&buf[used..], wire::DEFAULT_MAX_FRAME).unwrap().unwrap();
//! assert_eq!(second, Message::Unchoke);
//! assert_eq!(wire::decode(&buf[..3], wire::DEFAULT_MAX_FRAME), Ok(None));
//! ```

mod allowed_fast;
mod benc;
mod extended;
mod fuzz;
mod handshake;
mod message;
mod metadata_fetch;
pub mod mse;
mod ut_metadata;
mod ut_pex;

pub use allowed_fast::{allowed_fast_from, allowed_fast_prefix, allowed_fast_set};
pub use extended::{ExtendedHandshake, HANDSHAKE_ID, UT_METADATA, UT_PEX};
#[doc(hidden)]
pub use fuzz::fuzz_one;
pub use handshake::{Extension, Handshake, Reserved, PROTOCOL};
pub use message::{
    decode, decode_frame, encode_piece_header, id, BlockRef, Message, DEFAULT_MAX_FRAME,
    LENGTH_PREFIX,
};
pub use metadata_fetch::{metadata_reply, MetadataDownload, MetadataError};
pub use ut_metadata::{
    metadata_piece_count, MetadataMessage, MAX_METADATA_SIZE, METADATA_PIECE_LEN,
};
pub use ut_pex::{PexDiff, PexFlags, PexMessage, MAX_PEX_PEERS, PEX_SEND_LIMIT};

/// Why bytes from a peer are not a valid handshake or message. Each is fatal for that connection
/// (the stream can no longer be framed), never for the torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("not a BitTorrent handshake (wrong protocol string)")]
    BadProtocol,
    #[error("truncated input")]
    Truncated,
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: u64, max: usize },
    #[error("unknown message id {id} with a {len}-byte payload")]
    UnknownId { id: u8, len: usize },
    #[error("message id {id} has a {len}-byte payload, expected {expected}")]
    BadLength { id: u8, len: usize, expected: usize },
}

/// Why an extended-message payload (BEP 10 handshake, `ut_metadata`, `ut_pex`) is unusable. The
/// connection can go on: the frame was well delimited, only its content is bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("bad bencode: {0}")]
    Bencode(#[from] crate::bencode::DecodeError),
    #[error("payload is not a bencoded dictionary")]
    NotADict,
    #[error("missing field {0:?}")]
    MissingField(&'static str),
    #[error("field {0:?} has the wrong type or size")]
    BadField(&'static str),
    #[error("{0} unexpected bytes after the dictionary")]
    TrailingBytes(usize),
    #[error("unknown ut_metadata msg_type {0}")]
    UnknownMessageType(i64),
    #[error("metadata size {0} is zero or above the limit")]
    MetadataSize(u64),
    #[error("metadata piece of {0} bytes is longer than 16 KiB")]
    MetadataPieceTooLong(usize),
    #[error("{field} lists {count} peers, more than allowed")]
    TooManyPeers { field: &'static str, count: usize },
}

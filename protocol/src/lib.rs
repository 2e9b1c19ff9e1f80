//! The pure heart of Swarmlink: everything BitTorrent that can be decided without IO.
//!
//! Invariants this crate keeps, and that its users rely on:
//! - no tokio, no sockets, no files, no clock reads: time comes in as an argument;
//! - bytes from the network or from a file are decoded into error values, never panics;
//! - lengths and depths are bounded before anything is allocated from untrusted input.
//!
//! The tokio shells (`engine`, `tracker`) move bytes and time; the logic lives here.

pub mod bencode;
pub mod builder;
pub mod magnet;
pub mod metainfo;
pub mod path;
mod types;
pub mod wire;

pub use builder::{auto_piece_length, BuildError, BuiltTorrent, MetainfoBuilder};
pub use magnet::{Magnet, MagnetError};
pub use metainfo::{FileEntry, Info, Metainfo, MetainfoError};
pub use types::{InfoHash, ParseIdError, PeerId};

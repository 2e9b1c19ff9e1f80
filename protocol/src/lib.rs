//! The pure heart of Swarmlink: everything BitTorrent that can be decided without IO.
//!
//! Invariants this crate keeps, and that its users rely on:
//! - no tokio, no sockets, no files, no clock reads: time comes in as an argument;
//! - bytes from the network or from a file are decoded into error values, never panics;
//! - lengths and depths are bounded before anything is allocated from untrusted input.
//!
//! The tokio shells (`engine`, `tracker`) move bytes and time; the logic lives here.

pub mod bencode;
pub mod bitfield;
pub mod builder;
pub mod choker;
pub mod file_selection;
pub mod lan;
pub mod lengths;
pub mod lsd;
pub mod magnet;
pub mod metainfo;
pub mod path;
pub mod peer_bounds;
pub mod picker;
pub mod portmap;
pub mod seed_goal;
pub mod session;
pub mod stream_window;
pub mod text;
pub mod tracker;
mod types;
pub mod upload_order;
pub mod utp;
pub mod webseed;
pub mod wire;

pub use bitfield::{Bitfield, BitfieldError};
pub use builder::{auto_piece_length, BuildError, BuiltTorrent, MetainfoBuilder};
pub use choker::{Choker, ChokerPeer};
pub use lengths::{Lengths, LengthsError, PieceIndex, ValidBlock, BLOCK_LEN};
pub use magnet::{Magnet, MagnetError};
pub use metainfo::{FileEntry, Info, Metainfo, MetainfoError};
pub use peer_bounds::{BanList, BoundedMap, IpKey, Offender};
pub use picker::{BlockOutcome, Picker};
pub use seed_goal::{Goal, SeedGoals};
pub use types::{InfoHash, ParseIdError, PeerId};
pub use upload_order::{choose_upload, Spread, UploadChoice};

//! btpublish: the always-up peer beside the source file. It hashes the file with every core,
//! writes the `.torrent` beside it (re-using it while the file is unchanged), registers it at the
//! tracker's `/publish/`, and seeds it through the engine.
//!
//! Invariants: a `.torrent` is only written from hashes of the bytes on disk at that moment; a
//! cached `.torrent` is only re-used while every source file's size and modification time match
//! what they were when it was hashed.

pub mod cache;
pub mod cli;
mod display;
pub mod hash;
pub mod make;
mod mapped;
mod progress;
pub mod register;
pub mod run_make;
pub mod run_publish;
mod sha1_pair;
pub mod source;
mod trust;
pub mod units;

pub use hash::{hash_pieces, HashError, HashOptions, Segment};
pub use make::{make, Hashing, Made, MakeError, MakeOptions};
pub use source::{FileStamp, Source, SourceError};

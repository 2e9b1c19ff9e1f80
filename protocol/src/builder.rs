//! Creating `.torrent` files: the piece-length choice mainstream tools make, and a builder that
//! turns a file list plus piece hashes into canonical metainfo bytes and their info-hash.
//!
//! Hashing the data is the caller's job (the publisher does it in parallel, off this pure crate);
//! [`MetainfoBuilder::layout`] tells it where every file sits so it can hash across file
//! boundaries. Every built torrent is parsed back with [`Metainfo::from_bytes`] before it is
//! returned, so the builder can never emit a torrent our own parser (or a peer) would refuse.
//!
//! ```
//! use protocol::builder::{auto_piece_length, MetainfoBuilder};
//! let length = 40_000;
//! let piece_length = auto_piece_length(length);
//! assert_eq!(piece_length, 16 * 1024);
//! let pieces = vec![[0u8; 20]; length.div_ceil(piece_length) as usize];
//! let built = MetainfoBuilder::single_file("notes.txt", length)
//!     .pieces(pieces)
//!     .announce_tiers(vec![vec!["http://127.0.0.1:8080/announce".into()]])
//!     .build()
//!     .unwrap();
//! let parsed = protocol::Metainfo::from_bytes(&built.bytes).unwrap();
//! assert_eq!(parsed.info_hash, built.info_hash);
//! ```

use crate::bencode::Value;
use crate::metainfo::{FileEntry, Metainfo, MetainfoError};
use crate::InfoHash;

/// Smallest piece length [`auto_piece_length`] picks (libtorrent's and Transmission's floor).
pub const MIN_AUTO_PIECE_LENGTH: u64 = 16 << 10;
/// Largest piece length [`auto_piece_length`] picks.
pub const MAX_AUTO_PIECE_LENGTH: u64 = 16 << 20;
/// [`auto_piece_length`] keeps the piece count at or under this (so between half of it and it,
/// unless a bound is hit): about 40 KiB of hashes, as libtorrent aims for.
pub const TARGET_MAX_PIECES: u64 = 2000;

/// The piece length mainstream tools would choose: the smallest power of two from 16 KiB to
/// 16 MiB that keeps the torrent at no more than 2000 pieces.
pub fn auto_piece_length(total: u64) -> u64 {
    total
        .div_ceil(TARGET_MAX_PIECES)
        .checked_next_power_of_two()
        .unwrap_or(MAX_AUTO_PIECE_LENGTH)
        .clamp(MIN_AUTO_PIECE_LENGTH, MAX_AUTO_PIECE_LENGTH)
}

/// Why a torrent could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("{what} is {value}, more than bencode integers hold")]
    TooLarge { what: &'static str, value: u64 },
    #[error("{expected} piece hashes are needed for this layout, {given} were given")]
    PieceCount { expected: u64, given: usize },
    #[error("the built torrent does not validate: {0}")]
    Invalid(#[from] MetainfoError),
}

/// The result of [`MetainfoBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltTorrent {
    /// The `.torrent` file, canonical bencode.
    pub bytes: Vec<u8>,
    pub info_hash: InfoHash,
    /// The same torrent parsed back.
    pub metainfo: Metainfo,
}

/// Assembles a torrent. Start with [`MetainfoBuilder::single_file`] or
/// [`MetainfoBuilder::multi_file`], chain the setters, then [`MetainfoBuilder::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetainfoBuilder {
    name: String,
    /// Paths inside the torrent directory with lengths (single-file: one entry, path `[name]`).
    files: Vec<(Vec<String>, u64)>,
    single_file: bool,
    piece_length: Option<u64>,
    pad_files: bool,
    pieces: Vec<[u8; 20]>,
    announce_tiers: Vec<Vec<String>>,
    url_list: Vec<String>,
    private: bool,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
}

impl MetainfoBuilder {
    pub fn single_file(name: impl Into<String>, length: u64) -> Self {
        let name = name.into();
        Self::new(name.clone(), vec![(vec![name], length)], true)
    }

    /// `files` are paths inside the torrent's directory `name`, in the order their data is laid out.
    pub fn multi_file(
        name: impl Into<String>,
        files: impl IntoIterator<Item = (Vec<String>, u64)>,
    ) -> Self {
        Self::new(name.into(), files.into_iter().collect(), false)
    }

    fn new(name: String, files: Vec<(Vec<String>, u64)>, single_file: bool) -> Self {
        MetainfoBuilder {
            name,
            files,
            single_file,
            piece_length: None,
            pad_files: false,
            pieces: Vec::new(),
            announce_tiers: Vec::new(),
            url_list: Vec::new(),
            private: false,
            comment: None,
            created_by: None,
            creation_date: None,
        }
    }

    /// Overrides [`auto_piece_length`].
    pub fn piece_length(mut self, piece_length: u64) -> Self {
        self.piece_length = Some(piece_length);
        self
    }

    /// BEP 47: insert pad files so every file (but the first) starts on a piece boundary, which
    /// lets peers and web seeds fetch files independently. Multi-file torrents only.
    pub fn pad_files(mut self, on: bool) -> Self {
        self.pad_files = on;
        self
    }

    /// SHA-1 of each piece of [`MetainfoBuilder::layout`]'s concatenated data, in order.
    pub fn pieces(mut self, pieces: Vec<[u8; 20]>) -> Self {
        self.pieces = pieces;
        self
    }

    /// BEP 12 tiers; the first URL also becomes `announce` for clients that predate tiers.
    pub fn announce_tiers(mut self, tiers: Vec<Vec<String>>) -> Self {
        self.announce_tiers = tiers;
        self
    }

    /// BEP 19 web seeds.
    pub fn url_list(mut self, urls: Vec<String>) -> Self {
        self.url_list = urls;
        self
    }

    /// BEP 27: peers only from the torrent's trackers (no DHT, no PEX).
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    pub fn created_by(mut self, created_by: impl Into<String>) -> Self {
        self.created_by = Some(created_by.into());
        self
    }

    /// Seconds since the Unix epoch (this crate reads no clock: the caller passes it).
    pub fn creation_date(mut self, seconds: i64) -> Self {
        self.creation_date = Some(seconds);
        self
    }

    /// The sum of the given file lengths (pad files not included); saturates on absurd input,
    /// which [`MetainfoBuilder::build`] then refuses.
    pub fn data_length(&self) -> u64 {
        self.files
            .iter()
            .fold(0u64, |sum, (_, len)| sum.saturating_add(*len))
    }

    /// The piece length that will be used: the override, or [`auto_piece_length`] of the data.
    pub fn effective_piece_length(&self) -> u64 {
        self.piece_length
            .unwrap_or_else(|| auto_piece_length(self.data_length()))
    }

    /// Every file as it will appear in the torrent, pad files included, with its offset in the
    /// concatenated data that the piece hashes must cover.
    pub fn layout(&self) -> Vec<FileEntry> {
        let piece_length = self.effective_piece_length().max(1);
        let mut entries = Vec::with_capacity(self.files.len());
        let mut offset: u64 = 0;
        for (i, (path, length)) in self.files.iter().enumerate() {
            let misaligned = offset % piece_length;
            if self.pad_files && !self.single_file && i > 0 && misaligned != 0 {
                let pad = piece_length - misaligned;
                entries.push(FileEntry {
                    path: vec![".pad".into(), pad.to_string()],
                    length: pad,
                    offset,
                    pad: true,
                    executable: false,
                    hidden: false,
                });
                offset = offset.saturating_add(pad);
            }
            entries.push(FileEntry {
                path: path.clone(),
                length: *length,
                offset,
                pad: false,
                executable: false,
                hidden: false,
            });
            offset = offset.saturating_add(*length);
        }
        entries
    }

    /// How many piece hashes [`MetainfoBuilder::pieces`] must supply.
    pub fn piece_count(&self) -> u64 {
        let total = self
            .layout()
            .last()
            .map_or(0, |f| f.offset.saturating_add(f.length));
        total.div_ceil(self.effective_piece_length().max(1))
    }

    /// The canonical `info` dictionary.
    fn info_value(&self) -> Result<Value<'static>, BuildError> {
        let int = |what: &'static str, value: u64| {
            i64::try_from(value)
                .map(Value::Int)
                .map_err(|_| BuildError::TooLarge { what, value })
        };
        let mut info = Value::dict();
        info.insert("name", Value::bytes(self.name.as_str()))
            .insert(
                "piece length",
                int("the piece length", self.effective_piece_length())?,
            )
            .insert("pieces", Value::bytes(self.pieces.concat()));
        if self.private {
            info.insert("private", Value::Int(1));
        }
        if self.single_file {
            let length = self.files.first().map_or(0, |(_, len)| *len);
            info.insert("length", int("the file length", length)?);
        } else {
            let mut files = Vec::with_capacity(self.files.len());
            for entry in self.layout() {
                let mut file = Value::dict();
                file.insert("length", int("a file length", entry.length)?)
                    .insert(
                        "path",
                        Value::List(
                            entry
                                .path
                                .iter()
                                .map(|c| Value::bytes(c.as_str()))
                                .collect(),
                        ),
                    );
                if entry.pad {
                    file.insert("attr", Value::bytes("p"));
                }
                files.push(file);
            }
            info.insert("files", Value::List(files));
        }
        Ok(info)
    }

    /// Encodes the torrent and parses it back; errors name what is inconsistent.
    pub fn build(&self) -> Result<BuiltTorrent, BuildError> {
        let expected = self.piece_count();
        if expected != self.pieces.len() as u64 {
            return Err(BuildError::PieceCount {
                expected,
                given: self.pieces.len(),
            });
        }
        let mut root = Value::dict();
        root.insert("info", self.info_value()?);
        let urls =
            |list: &[String]| Value::List(list.iter().map(|u| Value::bytes(u.as_str())).collect());
        let tiers: Vec<&Vec<String>> = self
            .announce_tiers
            .iter()
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(first) = tiers.first().and_then(|t| t.first()) {
            root.insert("announce", Value::bytes(first.as_str()));
        }
        if tiers.len() > 1 || tiers.first().is_some_and(|t| t.len() > 1) {
            root.insert(
                "announce-list",
                Value::List(tiers.iter().map(|t| urls(t)).collect()),
            );
        }
        if !self.url_list.is_empty() {
            root.insert("url-list", urls(&self.url_list));
        }
        if let Some(comment) = &self.comment {
            root.insert("comment", Value::bytes(comment.as_str()));
        }
        if let Some(created_by) = &self.created_by {
            root.insert("created by", Value::bytes(created_by.as_str()));
        }
        if let Some(date) = self.creation_date {
            root.insert("creation date", Value::Int(date));
        }
        let bytes = root.to_bytes();
        let metainfo = Metainfo::from_bytes(&bytes)?;
        Ok(BuiltTorrent {
            info_hash: metainfo.info_hash,
            bytes,
            metainfo,
        })
    }
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;

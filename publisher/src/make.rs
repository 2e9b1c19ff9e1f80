//! Making a `.torrent` from a [`Source`]: hash (or re-use the `.btinfo` cache), build canonical
//! metainfo with `protocol::MetainfoBuilder`, write it atomically. The job of mktorrent and of the
//! original `btmakemetafile`.

use std::path::{Path, PathBuf};

use protocol::{BuildError, BuiltTorrent, MetainfoBuilder};

use crate::cache;
use crate::hash::{hash_pieces, HashError, HashOptions, Segment};
use crate::source::{Source, SourceError};

/// Everything that shapes the torrent besides the data.
#[derive(Debug, Clone, Default)]
pub struct MakeOptions {
    pub announce: Option<String>,
    /// `None`: the size mainstream tools pick (`protocol::auto_piece_length`).
    pub piece_length: Option<u64>,
    pub private: bool,
    pub webseeds: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    /// Seconds since the Unix epoch, for a freshly hashed torrent (a cached one keeps its own).
    pub creation_date: Option<i64>,
    pub hash: HashOptions,
}

/// Why no torrent was made.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("{} changed while it was being hashed", .0.display())]
    Changed(PathBuf),
    #[error("cannot build the torrent: {0}")]
    Build(#[from] BuildError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How the piece hashes were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashing {
    /// Read and hashed every byte.
    Hashed,
    /// The cache vouched for the existing torrent's hashes.
    Cached,
}

/// A torrent written to disk.
#[derive(Debug, Clone)]
pub struct Made {
    pub torrent: BuiltTorrent,
    pub path: PathBuf,
    pub hashing: Hashing,
}

/// The builder for `source` with `options`, without piece hashes yet.
pub fn builder(source: &Source, options: &MakeOptions) -> MetainfoBuilder {
    let mut builder = if source.single_file {
        MetainfoBuilder::single_file(source.name.clone(), source.total_length())
    } else {
        MetainfoBuilder::multi_file(
            source.name.clone(),
            source
                .files
                .iter()
                .map(|f| (f.components.clone(), f.stamp.length)),
        )
    };
    if let Some(piece_length) = options.piece_length {
        builder = builder.piece_length(piece_length);
    }
    if let Some(announce) = &options.announce {
        builder = builder.announce_tiers(vec![vec![announce.clone()]]);
    }
    if let Some(comment) = &options.comment {
        builder = builder.comment(comment.clone());
    }
    if let Some(created_by) = &options.created_by {
        builder = builder.created_by(created_by.clone());
    }
    builder
        .private(options.private)
        .url_list(options.webseeds.clone())
}

/// The data runs the piece hashes cover, in order: the source's files and any pad files.
pub fn segments(source: &Source, builder: &MetainfoBuilder) -> Vec<Segment> {
    let mut files = source.files.iter();
    builder
        .layout()
        .into_iter()
        .map(|entry| {
            if entry.pad {
                return Segment::Zeros {
                    length: entry.length,
                };
            }
            match files.next() {
                Some(file) => Segment::File {
                    path: file.path.clone(),
                    length: file.stamp.length,
                },
                // The layout lists the builder's files, which are the source's: unreachable,
                // but zeros would only make a torrent that fails to verify, never a panic.
                None => Segment::Zeros {
                    length: entry.length,
                },
            }
        })
        .collect()
}

/// Writes the torrent for `source` to `out`, re-using `out`'s hashes when its `.btinfo` sidecar
/// says no file changed. `progress` gets hashed byte counts (of [`Source::total_length`] plus
/// pads). An unchanged torrent is not rewritten.
pub fn make(
    source: &Source,
    options: &MakeOptions,
    out: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Made, MakeError> {
    let builder = builder(source, options);
    let (pieces, creation_date, hashing, old_bytes) = match cache::load(out, source, &builder) {
        Some(cached) => (
            cached.pieces,
            cached.creation_date,
            Hashing::Cached,
            Some(cached.bytes),
        ),
        None => {
            let segments = segments(source, &builder);
            let pieces = hash_pieces(
                &segments,
                builder.effective_piece_length(),
                options.hash,
                progress,
            )?;
            // Hashes of a file rewritten mid-read describe no version of it.
            if source.current_stamps()? != source.stamps() {
                return Err(MakeError::Changed(source.root.clone()));
            }
            (pieces, options.creation_date, Hashing::Hashed, None)
        }
    };
    let mut builder = builder.pieces(pieces);
    if let Some(date) = creation_date {
        builder = builder.creation_date(date);
    }
    let torrent = builder.build()?;
    let write_error = |source| MakeError::Write {
        path: out.to_path_buf(),
        source,
    };
    if old_bytes.as_deref() != Some(torrent.bytes.as_slice()) {
        cache::write_atomically(out, &torrent.bytes).map_err(write_error)?;
    }
    cache::store(out, &torrent.info_hash, source).map_err(write_error)?;
    Ok(Made {
        torrent,
        path: out.to_path_buf(),
        hashing,
    })
}

#[cfg(test)]
#[path = "make_tests.rs"]
mod tests;

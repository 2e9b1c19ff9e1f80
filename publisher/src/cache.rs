//! The `.btinfo` cache of the original publisher: a small sidecar beside each `.torrent` that
//! records the size and modification time of every source file when it was hashed, so a restart
//! re-uses the piece hashes instead of reading the whole file again.
//!
//! The sidecar only vouches for the `.torrent` whose info-hash it names: if either file was
//! edited, replaced or is unreadable, the cache is simply not used.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use protocol::{Metainfo, MetainfoBuilder};
use serde::{Deserialize, Serialize};

use crate::source::{FileStamp, Source};

/// What the sidecar holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Sidecar {
    /// Hex info-hash of the `.torrent` this describes.
    info_hash: String,
    files: Vec<CachedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CachedFile {
    path: Vec<String>,
    #[serde(flatten)]
    stamp: FileStamp,
}

/// Piece hashes that are still valid for the source, and the torrent they came from.
#[derive(Debug, Clone)]
pub struct Cached {
    pub pieces: Vec<[u8; 20]>,
    /// The cached torrent's creation date, kept so unchanged options rebuild identical bytes.
    pub creation_date: Option<i64>,
    pub bytes: Vec<u8>,
}

/// `dir/.NAME.torrent.btinfo` for `dir/NAME.torrent`: hidden, beside the torrent.
pub fn sidecar_path(torrent: &Path) -> PathBuf {
    let name = torrent
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    torrent.with_file_name(format!(".{name}.btinfo"))
}

/// The cached piece hashes for `source` at `torrent`, if the sidecar vouches that every file is
/// unchanged and the torrent has the layout `builder` asks for (name, piece length, files).
pub fn load(torrent: &Path, source: &Source, builder: &MetainfoBuilder) -> Option<Cached> {
    let sidecar: Sidecar = serde_json::from_slice(&fs::read(sidecar_path(torrent)).ok()?).ok()?;
    let bytes = fs::read(torrent).ok()?;
    let metainfo = Metainfo::from_bytes(&bytes).ok()?;
    if sidecar.info_hash != metainfo.info_hash.to_hex() || sidecar.files != cached_files(source) {
        return None;
    }
    let info = &metainfo.info;
    let wanted: Vec<(Vec<String>, u64)> = builder
        .layout()
        .into_iter()
        .map(|f| (f.path, f.length))
        .collect();
    let have: Vec<(Vec<String>, u64)> = info
        .files
        .iter()
        .map(|f| (f.path.clone(), f.length))
        .collect();
    let same_layout = info.name == source.name
        && info.single_file == source.single_file
        && info.piece_length == builder.effective_piece_length()
        && have == wanted;
    if !same_layout {
        return None;
    }
    Some(Cached {
        pieces: info.pieces.clone(),
        creation_date: metainfo.creation_date,
        bytes,
    })
}

/// Records that `torrent` (with `info_hash`) was hashed from `source` as it is now.
pub fn store(torrent: &Path, info_hash: &protocol::InfoHash, source: &Source) -> io::Result<()> {
    let sidecar = Sidecar {
        info_hash: info_hash.to_hex(),
        files: cached_files(source),
    };
    let json = serde_json::to_vec_pretty(&sidecar).map_err(io::Error::other)?;
    write_atomically(&sidecar_path(torrent), &json)
}

fn cached_files(source: &Source) -> Vec<CachedFile> {
    source
        .files
        .iter()
        .map(|f| CachedFile {
            path: f.components.clone(),
            stamp: f.stamp,
        })
        .collect()
}

/// Writes `path` so that readers see the old or the new content, never half of it: a temporary
/// file beside it, flushed to disk, renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

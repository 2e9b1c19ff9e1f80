//! Handing our own piece hashes to the engine, so it seeds at once instead of reading every
//! byte again.
//!
//! Without resume data the engine checks a torrent's data before seeding it: the whole file
//! again, on one thread, right after we hashed it on every core (or, on a restart, right after
//! the `.btinfo` cache told us no re-hash was needed). So the publisher runs its session with a
//! private state directory and writes there the engine's resume record (`<info-hash>.resume`,
//! the format of `engine/src/resume.rs`): every piece verified, for the file sizes and
//! modification times the hashes were computed from. The engine trusts the record only while
//! every file still has exactly those stamps, so a file that changed after hashing is checked
//! (and its stale pieces not served) rather than trusted.

use std::path::{Path, PathBuf};

use protocol::Info;
use serde::Serialize;

use crate::source::Source;

/// The engine's resume record (`engine::resume::ResumeData`), as JSON.
#[derive(Serialize)]
struct ResumeRecord {
    /// The verified-pieces bitfield (high bit first), hex.
    pieces: String,
    piece_count: u32,
    /// Per file of the torrent, pads included: `[length, mtime in ns since the epoch]`, or null.
    files: Vec<Option<(u64, u128)>>,
}

/// A private directory for the session's state, removed when dropped.
pub struct StateDir(PathBuf);

impl StateDir {
    /// Creates `btpublish-PID-N` in the system's temporary directory, readable only by us.
    pub fn create() -> std::io::Result<StateDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut attempt = 0u32;
        loop {
            let path = base.join(format!("btpublish-{}-{attempt}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(StateDir(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the record that every piece of `info` is verified, for `source`'s files as they were
/// when hashed.
pub fn write_verified(
    state_dir: &Path,
    info_hash_hex: &str,
    info: &Info,
    source: &Source,
) -> std::io::Result<()> {
    let record = record(info, source);
    let json = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
    std::fs::write(state_dir.join(format!("{info_hash_hex}.resume")), json)
}

fn record(info: &Info, source: &Source) -> ResumeRecord {
    let piece_count = info.pieces.len() as u32;
    let mut bits = vec![0u8; (piece_count as usize).div_ceil(8)];
    for i in 0..piece_count as usize {
        bits[i / 8] |= 0x80 >> (i % 8);
    }
    let mut stamps = source.files.iter().map(|f| f.stamp);
    let files = info
        .files
        .iter()
        .map(|entry| {
            if entry.pad {
                // Pad files exist only in the hashes: the engine finds no such file.
                return None;
            }
            let stamp = stamps.next()?;
            // A modification time before the epoch is one the engine records as unknown.
            let mtime = u128::try_from(stamp.mtime_ns).ok()?;
            Some((stamp.length, mtime))
        })
        .collect();
    ResumeRecord {
        pieces: hex::encode(bits),
        piece_count,
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_is_set_and_files_carry_their_stamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, vec![1u8; 40_000]).unwrap();
        let source = Source::scan(&path).unwrap();
        let built = protocol::MetainfoBuilder::single_file("f.bin", 40_000)
            .piece_length(16384)
            .pieces(vec![[0; 20]; 3])
            .build()
            .unwrap();
        let record = record(&built.metainfo.info, &source);
        assert_eq!(record.piece_count, 3);
        assert_eq!(record.pieces, "e0");
        let stamp = source.files[0].stamp;
        assert_eq!(record.files, vec![Some((40_000, stamp.mtime_ns as u128))]);
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"files\":[[40000,"), "{json}");
    }
}

//! Handing our own piece hashes to the engine, so it seeds at once instead of reading every
//! byte again.
//!
//! Without resume data the engine checks a torrent's data before seeding it: the whole file
//! again, on one thread, right after we hashed it on every core (or, on a restart, right after
//! the `.btinfo` cache told us no re-hash was needed). So the publisher runs its session with a
//! private state directory and records there, through `engine::record_verified`, that every
//! piece is verified for the file sizes and modification times the hashes were computed from.
//! The engine trusts the record only while every file still has exactly those stamps, so a file
//! that changed after hashing is checked (and its stale pieces not served) rather than trusted.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use engine::HashedFile;
use protocol::{Bitfield, Metainfo};

use crate::source::Source;

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

/// Records that every piece of `metainfo` is verified, for `source`'s files as they were when
/// hashed; the source lies in `save_dir`. An error means the engine checks the data itself.
pub fn write_verified(
    state_dir: &Path,
    metainfo: &Metainfo,
    save_dir: &Path,
    source: &Source,
) -> std::io::Result<()> {
    let all = Bitfield::full(metainfo.info.pieces.len() as u32);
    engine::record_verified(state_dir, metainfo, save_dir, &all, &hashed_files(source))
}

fn hashed_files(source: &Source) -> Vec<HashedFile> {
    source
        .files
        .iter()
        .map(|f| HashedFile {
            length: f.stamp.length,
            // Times before the epoch are ones the engine cannot compare: such a file is checked.
            modified: UNIX_EPOCH
                + Duration::from_nanos(u64::try_from(f.stamp.mtime_ns).unwrap_or(0)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_carries_the_stamps_of_hashing_time_not_of_now() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, vec![1u8; 40_000]).unwrap();
        let source = Source::scan(&path).unwrap();
        let built = protocol::MetainfoBuilder::single_file("f.bin", 40_000)
            .piece_length(16384)
            .pieces(vec![[0; 20]; 3])
            .build()
            .unwrap()
            .metainfo;
        let state = StateDir::create().unwrap();
        write_verified(state.path(), &built, dir.path(), &source).unwrap();
        // The one record the state directory holds: named by the info-hash and a key of the
        // save directory (the engine's naming, not repeated here).
        let records: Vec<_> = std::fs::read_dir(state.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "resume"))
            .collect();
        assert_eq!(records.len(), 1, "{records:?}");
        let record = &records[0];
        assert!(record
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&built.info_hash.to_hex()));
        let trusted = std::fs::read_to_string(record).unwrap();
        // Edited after hashing: the record keeps the stamps of hashing time, so the engine will
        // not trust it (and will report the file as changed).
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, vec![2u8; 40_000]).unwrap();
        write_verified(state.path(), &built, dir.path(), &source).unwrap();
        assert_eq!(std::fs::read_to_string(record).unwrap(), trusted);
        assert_ne!(Source::scan(&path).unwrap().stamps(), source.stamps());
    }
}

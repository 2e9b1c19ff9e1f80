//! Resume data: which pieces were verified, and the size and modification time of every file at
//! that moment. If any file differs on the next start, nothing is trusted and the data is checked
//! again, so a crash (even kill -9) can cost a re-check but never a wrongly "verified" piece:
//! the record is written by the disk thread after the pieces' writes, and any later write
//! changes a file's mtime.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{Bitfield, Metainfo};
use serde::{Deserialize, Serialize};

use crate::storage::{FileStamp, Storage};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeData {
    /// The verified-pieces bitfield, hex.
    pub pieces: String,
    pub piece_count: u32,
    pub files: Vec<FileStamp>,
}

impl ResumeData {
    pub fn new(have: &Bitfield, files: Vec<FileStamp>) -> Self {
        ResumeData {
            pieces: hex::encode(have.as_bytes()),
            piece_count: have.len(),
            files,
        }
    }

    /// Reads a resume file; a missing or unreadable one is simply `None`.
    pub fn load(path: &Path) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The verified pieces, if the files on disk are exactly as recorded.
    pub fn trusted_pieces(&self, piece_count: u32, current: &[FileStamp]) -> Option<Bitfield> {
        if self.piece_count != piece_count || self.files != current {
            return None;
        }
        let bytes = hex::decode(&self.pieces).ok()?;
        Bitfield::from_wire(&bytes, piece_count).ok()
    }

    /// Writes atomically: a temporary file, fsync, rename.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            private_dir(dir)?;
        }
        let tmp = path.with_extension("resume.tmp");
        // 0600: the record names the user's files and where they are.
        #[allow(unused_mut)] // only Unix sets a mode
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// Size and modification time of one data file (pad files excluded) when its pieces were hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashedFile {
    pub length: u64,
    pub modified: SystemTime,
}

/// Records, in a session's `state_dir`, that `verified` pieces of `metainfo` are on disk under
/// `save_dir` as they were when hashed (`hashed`: one entry per data file, in torrent order). A
/// session started on that state directory then seeds those pieces without reading them first,
/// for as long as every file still has exactly those sizes and modification times (any other
/// state is checked as usual). Whoever hashed the data vouches for it: nothing is read here.
/// A file already changed since `hashed` is recorded all the same: the record is then never
/// trusted, and the session's check reports that file as changed
/// (`Session::recheck_changed_files`).
///
/// Errors: `hashed` or `verified` not matching the torrent (`InvalidInput`), or the write
/// failing.
pub fn record_verified(
    state_dir: &Path,
    metainfo: &Metainfo,
    save_dir: &Path,
    verified: &Bitfield,
    hashed: &[HashedFile],
) -> std::io::Result<()> {
    let info = &metainfo.info;
    let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    if verified.len() as usize != info.pieces.len() {
        return Err(invalid(format!(
            "{} pieces given for a torrent of {}",
            verified.len(),
            info.pieces.len()
        )));
    }
    let data_files = info.files.iter().filter(|f| !f.pad).count();
    if hashed.len() != data_files {
        return Err(invalid(format!(
            "{} files given for a torrent of {data_files}",
            hashed.len()
        )));
    }
    // Laid out only to refuse names that could not be a torrent's files under `save_dir`.
    Storage::new(save_dir, info)?;
    let mut hashed = hashed.iter();
    let mut files = Vec::with_capacity(info.files.len());
    for entry in &info.files {
        if entry.pad {
            // Pad files exist only in the hashes: no file on disk, no stamp.
            files.push(None);
            continue;
        }
        let Some(h) = hashed.next() else {
            return Err(invalid("too few files given".into()));
        };
        let mtime = h
            .modified
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_nanos());
        // A time before the epoch is one the engine records as unknown (`None`).
        files.push(mtime.map(|m| (h.length, m)));
    }
    ResumeData::new(verified, files).save(&resume_path(state_dir, metainfo))
}

/// Where a session keeps a torrent's resume data.
pub(crate) fn resume_path(state_dir: &Path, metainfo: &Metainfo) -> PathBuf {
    state_dir.join(format!("{}.resume", metainfo.info_hash.to_hex()))
}

/// Creates a state directory (and missing parents) as 0700: resume records say which files the
/// user downloads and where. An existing directory keeps the mode its owner gave it.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_torrent_is_trusted_until_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, vec![7u8; 40_000]).unwrap();
        let built = protocol::MetainfoBuilder::single_file("f.bin", 40_000)
            .piece_length(16384)
            .pieces(vec![[0; 20]; 3])
            .build()
            .unwrap()
            .metainfo;
        let meta = std::fs::metadata(&path).unwrap();
        let hashed = [HashedFile {
            length: 40_000,
            modified: meta.modified().unwrap(),
        }];
        let state = dir.path().join("state");
        let all = Bitfield::full(3);
        record_verified(&state, &built, dir.path(), &all, &hashed).unwrap();
        let storage = Storage::new(dir.path(), &built.info).unwrap();
        let record = ResumeData::load(&resume_path(&state, &built)).unwrap();
        assert_eq!(
            record.trusted_pieces(3, &storage.stamps()),
            Some(all.clone())
        );

        // Wrong shapes are refused.
        let err = record_verified(&state, &built, dir.path(), &Bitfield::full(2), &hashed);
        assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        let err = record_verified(&state, &built, dir.path(), &all, &[]);
        assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        // A file changed since hashing: the record is not trusted (the session checks it).
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, vec![8u8; 40_000]).unwrap();
        record_verified(&state, &built, dir.path(), &all, &hashed).unwrap();
        let record = ResumeData::load(&resume_path(&state, &built)).unwrap();
        assert_eq!(record.trusted_pieces(3, &storage.stamps()), None);
    }

    #[test]
    fn trusted_only_when_files_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/x.resume");
        let mut have = Bitfield::new(10);
        have.set(3);
        let stamps = vec![Some((100, 5)), None];
        ResumeData::new(&have, stamps.clone()).save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600, "resume file");
            assert_eq!(mode(path.parent().unwrap()), 0o700, "state directory");
        }
        let back = ResumeData::load(&path).unwrap();
        assert_eq!(back.trusted_pieces(10, &stamps), Some(have));
        assert_eq!(back.trusted_pieces(10, &[Some((100, 6)), None]), None);
        assert_eq!(back.trusted_pieces(11, &stamps), None);
        std::fs::write(&path, b"garbage").unwrap();
        assert!(ResumeData::load(&path).is_none());
    }
}

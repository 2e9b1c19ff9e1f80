//! Resume data: which pieces were verified, and the size and modification time of every file at
//! that moment. If any file differs on the next start, nothing is trusted and the data is checked
//! again, so a crash (even kill -9) can cost a re-check but never a wrongly "verified" piece:
//! the record is written by the disk thread after the pieces' writes, and any later write
//! changes a file's mtime.

use std::io::Write;
use std::path::Path;

use protocol::Bitfield;
use serde::{Deserialize, Serialize};

use crate::storage::FileStamp;

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
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("resume.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(self).map_err(std::io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_only_when_files_match() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.resume");
        let mut have = Bitfield::new(10);
        have.set(3);
        let stamps = vec![Some((100, 5)), None];
        ResumeData::new(&have, stamps.clone()).save(&path).unwrap();
        let back = ResumeData::load(&path).unwrap();
        assert_eq!(back.trusted_pieces(10, &stamps), Some(have));
        assert_eq!(back.trusted_pieces(10, &[Some((100, 6)), None]), None);
        assert_eq!(back.trusted_pieces(11, &stamps), None);
        std::fs::write(&path, b"garbage").unwrap();
        assert!(ResumeData::load(&path).is_none());
    }
}

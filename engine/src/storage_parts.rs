//! The part file: where the bytes of files the user did not select go when they share a piece
//! with a selected file (as libtorrent's `.parts` file). A piece is hashed whole, so those bytes
//! must be written somewhere, but never in the save folder: the user did not ask for that file.
//!
//! Layout: a header of `8 + 4 * capacity` bytes (magic, then one `u32` per slot: the piece it
//! holds plus one, 0 for a free slot), then the slots, each one piece long. Only pieces that hold
//! bytes of two or more files can ever need a slot (`capacity` of them), and slots are handed
//! out in order of first use, so the file grows with what is written, not with the torrent.
//! The file is created on the first write: a selection that splits no piece creates nothing.

#[cfg(windows)]
use super::windows_file_ext::FileExt;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"SWPARTS1";

#[derive(Debug)]
pub struct PartFile {
    path: PathBuf,
    piece_len: u64,
    capacity: u32,
    /// Piece index -> slot.
    slots: HashMap<u32, u32>,
    file: Option<File>,
}

impl PartFile {
    /// Opens the part file at `path` if it exists (reading its slot table), else prepares one
    /// that is created on the first write. `capacity`: how many pieces may need a slot.
    pub fn open(path: &Path, piece_len: u64, capacity: u32) -> io::Result<PartFile> {
        let mut part = PartFile {
            path: path.to_path_buf(),
            piece_len: piece_len.max(1),
            capacity,
            slots: HashMap::new(),
            file: None,
        };
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(part),
            Err(e) => return Err(e),
        };
        let mut header = vec![0u8; part.header_len() as usize];
        let valid = file.read_exact_at(&mut header, 0).is_ok() && &header[..8] == MAGIC;
        if !valid {
            // Not ours, or from another layout: start over (the pieces are fetched again).
            file.set_len(0)?;
            part.file = Some(file);
            part.write_header()?;
            return Ok(part);
        }
        for (slot, entry) in header[8..].chunks_exact(4).enumerate() {
            let v = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            if v != 0 {
                part.slots.insert(v - 1, slot as u32);
            }
        }
        part.file = Some(file);
        Ok(part)
    }

    fn header_len(&self) -> u64 {
        8 + 4 * u64::from(self.capacity)
    }

    fn write_header(&mut self) -> io::Result<()> {
        let mut header = vec![0u8; self.header_len() as usize];
        header[..8].copy_from_slice(MAGIC);
        for (&piece, &slot) in &self.slots {
            let at = 8 + 4 * slot as usize;
            header[at..at + 4].copy_from_slice(&(piece + 1).to_le_bytes());
        }
        self.handle()?.write_all_at(&header, 0)
    }

    fn handle(&mut self) -> io::Result<&File> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                let mut builder = std::fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder.create(dir)?;
            }
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            self.file = Some(options.open(&self.path)?);
        }
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("part file not open"))
    }

    fn slot_offset(&self, slot: u32) -> u64 {
        self.header_len() + u64::from(slot) * self.piece_len
    }

    /// Splits `[offset, offset + len)` (torrent offsets) at piece boundaries.
    fn pieces(&self, offset: u64, len: usize) -> Vec<(u32, u64, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        let mut done = 0usize;
        while done < len {
            let at = offset + done as u64;
            let piece = (at / self.piece_len) as u32;
            let within = at % self.piece_len;
            let n = ((self.piece_len - within) as usize).min(len - done);
            out.push((piece, within, done..done + n));
            done += n;
        }
        out
    }

    /// Writes `data` for torrent offset `offset`, taking a slot for each piece that has none.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        for (piece, within, range) in self.pieces(offset, data.len()) {
            let slot = match self.slots.get(&piece) {
                Some(&slot) => slot,
                None => {
                    let slot = self.slots.len() as u32;
                    if slot >= self.capacity {
                        return Err(io::Error::other(format!(
                            "part file {} is full ({} pieces)",
                            self.path.display(),
                            self.capacity
                        )));
                    }
                    self.slots.insert(piece, slot);
                    self.write_header()?;
                    slot
                }
            };
            let at = self.slot_offset(slot) + within;
            self.handle()?.write_all_at(&data[range], at)?;
        }
        Ok(())
    }

    /// Fills `buf` from torrent offset `offset`; a piece without a slot is `NotFound`.
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        for (piece, within, range) in self.pieces(offset, buf.len()) {
            let Some(&slot) = self.slots.get(&piece) else {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("piece {piece} is not in the part file"),
                ));
            };
            let at = self.slot_offset(slot) + within;
            self.handle()?.read_exact_at(&mut buf[range], at)?;
        }
        Ok(())
    }

    /// Whether every piece `[offset, offset + len)` touches has a slot.
    pub fn holds(&self, offset: u64, len: usize) -> bool {
        self.pieces(offset, len)
            .iter()
            .all(|(piece, _, _)| self.slots.contains_key(piece))
    }

    /// Deletes the part file (the torrent is removed with its data).
    pub fn delete(&mut self) {
        self.file = None;
        self.slots.clear();
        let _ = std::fs::remove_file(&self.path);
    }

    pub fn piece_len(&self) -> u64 {
        self.piece_len
    }

    /// Closes the handle; the next access opens it again.
    pub fn close(&mut self) {
        self.file = None;
    }

    /// Renames the part file to `to` (the torrent moved to another save directory, which
    /// keys it); one that does not exist yet is made there later.
    pub fn relocate(&mut self, to: &Path) -> io::Result<()> {
        self.file = None;
        match std::fs::rename(&self.path, to) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.path = to.to_path_buf();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_across_pieces_come_back_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parts");
        let mut part = PartFile::open(&path, 16, 4).unwrap();
        assert!(!path.exists(), "nothing is created before the first write");
        // 10 bytes from offset 60: the end of piece 3 and the start of piece 4.
        let data: Vec<u8> = (0..10).collect();
        part.write(60, &data).unwrap();
        assert!(part.holds(60, 10));
        assert!(!part.holds(80, 1), "piece 5 has no slot");
        let mut back = [0u8; 10];
        part.read(60, &mut back).unwrap();
        assert_eq!(back.to_vec(), data);
        let e = part.read(80, &mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        drop(part);
        let mut again = PartFile::open(&path, 16, 4).unwrap();
        let mut back = [0u8; 10];
        again.read(60, &mut back).unwrap();
        assert_eq!(back.to_vec(), data);
        // Two slots taken: the header (8 + 4 slots of 4), the first slot, and the second as far
        // as written (6 bytes of piece 4); not the whole torrent.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 24 + 16 + 6);
    }

    #[test]
    fn the_state_directory_is_made_on_the_first_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/sub/x.parts");
        let mut part = PartFile::open(&path, 16, 1).unwrap();
        part.write(5, &[1, 2]).unwrap();
        assert!(path.exists());
    }

    #[test]
    fn a_full_part_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut part = PartFile::open(&dir.path().join("p"), 16, 1).unwrap();
        part.write(0, &[1]).unwrap();
        assert!(part.write(16, &[1]).is_err());
        part.delete();
        assert!(!dir.path().join("p").exists());
    }

    #[test]
    fn a_foreign_file_is_started_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        std::fs::write(&path, b"not a part file at all, really").unwrap();
        let mut part = PartFile::open(&path, 16, 2).unwrap();
        assert!(!part.holds(0, 1));
        part.write(3, &[9]).unwrap();
        let mut b = [0u8];
        part.read(3, &mut b).unwrap();
        assert_eq!(b, [9]);
    }
}

/// The part file as the storage uses it: unselected files across piece and file boundaries.
#[cfg(test)]
mod storage_tests {
    use super::super::Storage;
    use protocol::Info;

    /// Files a (10 bytes), b (20), c (10) in pieces of 16: piece 0 holds a and the start of b,
    /// piece 1 the rest of b and the start of c, piece 2 the rest of c.
    fn info() -> Info {
        super::super::test_info::test_info(
            "t",
            false,
            &[("a", 10, false), ("b", 20, false), ("c", 10, false)],
        )
    }

    #[test]
    fn unselected_files_are_never_created_and_their_shared_bytes_come_back() {
        let save = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let part = state.path().join("h.parts");
        let mut s = Storage::new(save.path(), &info()).unwrap();
        // A fresh save directory: the place is the torrent's own.
        s.set_claimed();
        // Only b: pieces 0 and 1 are fetched, both shared with an unselected file.
        s.use_part_file(&part, 16, &[true, false, true]).unwrap();
        let data: Vec<u8> = (0..32).collect();
        s.write(0, &data).unwrap();
        assert!(!save.path().join("t/a").exists(), "a was not selected");
        assert!(!save.path().join("t/c").exists(), "c was not selected");
        assert_eq!(
            std::fs::read(save.path().join("t/b")).unwrap(),
            &data[10..30]
        );
        assert!(
            !s.missing(0, 32),
            "both pieces are held: on disk and in the part file"
        );
        assert!(s.missing(32, 8), "piece 2 was never written");
        let mut back = vec![0; 32];
        s.read(0, &mut back).unwrap();
        assert_eq!(
            back, data,
            "a piece reads back whole across the three places"
        );

        // Selecting c later moves its two bytes of piece 1 into a real file of full length.
        s.select(&[true, false, false]).unwrap();
        let c = std::fs::read(save.path().join("t/c")).unwrap();
        assert_eq!(c.len(), 10);
        assert_eq!(&c[..2], &data[30..32]);
        assert!(!save.path().join("t/a").exists());
        s.read(0, &mut back).unwrap();
        assert_eq!(back, data);

        // Remove with data: the part file goes too.
        s.delete();
        assert!(!part.exists());
        assert!(!save.path().join("t").exists());
    }

    #[test]
    fn a_selection_that_splits_no_piece_creates_no_part_file() {
        let save = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let part = state.path().join("h.parts");
        let mut s = Storage::new(save.path(), &info()).unwrap();
        // A fresh save directory: the place is the torrent's own.
        s.set_claimed();
        s.use_part_file(&part, 16, &[false, false, false]).unwrap();
        s.write(0, &[7; 40]).unwrap();
        assert!(!part.exists());
        assert_eq!(std::fs::read(save.path().join("t/c")).unwrap(), vec![7; 10]);
    }

    #[test]
    fn a_skipped_file_already_on_disk_stays_there() {
        let save = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let mut s = Storage::new(save.path(), &info()).unwrap();
        // A fresh save directory: the place is the torrent's own.
        s.set_claimed();
        s.write(0, &[5; 40]).unwrap();
        s.use_part_file(&state.path().join("p"), 16, &[true, true, false])
            .unwrap();
        s.write(0, &[6; 16]).unwrap();
        assert_eq!(std::fs::read(save.path().join("t/a")).unwrap(), vec![6; 10]);
        assert!(!state.path().join("p").exists());
    }
}

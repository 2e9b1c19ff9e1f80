//! The torrent's files on disk: maps the torrent's byte range onto its files and does positional
//! reads and writes. Synchronous: only the disk thread calls it.
//!
//! Files are created on first write and extended with `set_len` (sparse where the file system
//! allows). Pad files (BEP 47) are never written: reads of them return zeros.
//!
//! Nothing below the save directory is reached through a symbolic link (`storage_fs.rs`), and at
//! most [`DEFAULT_MAX_OPEN_FILES`] handles are open per torrent (`storage_handles.rs`).
//!
//! Nothing is written or deleted until the torrent has *claimed* its place in the save directory
//! (`storage_claim.rs`): a file of the same name that this torrent did not create is never
//! taken over.

use std::fs::File;
use std::io;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;
#[cfg(windows)]
use windows_file_ext::FileExt;

use protocol::Info;

#[path = "storage_claim.rs"]
mod claim;
#[path = "storage_fs.rs"]
mod fs;
#[path = "storage_handles.rs"]
mod handles;
#[path = "storage_move.rs"]
mod moving;
#[path = "storage_parts.rs"]
mod parts;
#[cfg(test)]
#[path = "storage_test_info.rs"]
mod test_info;
#[cfg(windows)]
#[path = "storage_winext.rs"]
mod windows_file_ext;
pub use handles::DEFAULT_MAX_OPEN_FILES;
pub use moving::MOVE_CANCELLED;

#[derive(Debug)]
struct StoredFile {
    /// Components below the save directory: the torrent's name, then the file's path.
    rel: Vec<String>,
    /// The same as a path, for display, stamps and the mark of origin.
    path: PathBuf,
    offset: u64,
    length: u64,
    pad: bool,
    /// Not selected and not on disk: its bytes (of pieces shared with selected files) live in
    /// the part file.
    in_part: bool,
}

#[derive(Debug)]
pub struct Storage {
    save_dir: PathBuf,
    root: PathBuf,
    /// The name of the torrent's file or directory in `save_dir`: the torrent's own name, or
    /// `name (N)` when that was taken by something else.
    root_name: String,
    single_file: bool,
    files: Vec<StoredFile>,
    handles: handles::Handles,
    parts: Option<parts::PartFile>,
    /// Whether the place under `root_name` is this torrent's: only then are files written or
    /// deleted (see `storage_claim.rs`).
    claimed: bool,
}

/// Size and modification time (ns since the epoch) of one file, as resume data records it.
pub type FileStamp = Option<(u64, u128)>;

impl Storage {
    /// Lays the torrent out under `save_dir`: `save_dir/name` for a single file,
    /// `save_dir/name/<path...>` for a multi-file torrent. Components are re-checked here so that
    /// nothing, whatever its origin, can name a file outside `save_dir`.
    pub fn new(save_dir: &Path, info: &Info) -> io::Result<Self> {
        let safe = |c: &str| {
            protocol::path::validate_component(c).map_err(|reason| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unsafe path component {c:?}: {reason}"),
                )
            })
        };
        safe(&info.name)?;
        let root = fs::display_path(save_dir, std::slice::from_ref(&info.name));
        let mut files = Vec::with_capacity(info.files.len());
        for f in &info.files {
            let mut rel = vec![info.name.clone()];
            if !info.single_file {
                for c in &f.path {
                    safe(c)?;
                    rel.push(c.clone());
                }
            }
            files.push(StoredFile {
                path: fs::display_path(save_dir, &rel),
                rel,
                offset: f.offset,
                length: f.length,
                pad: f.pad,
                in_part: false,
            });
        }
        Ok(Storage {
            save_dir: save_dir.to_path_buf(),
            root,
            root_name: info.name.clone(),
            single_file: info.single_file,
            handles: handles::Handles::new(files.len(), DEFAULT_MAX_OPEN_FILES),
            files,
            parts: None,
            claimed: false,
        })
    }

    /// Keeps the bytes of `skipped` files that are not on disk in a part file at `path` (see
    /// `storage_parts.rs`), so that a file the user did not select is never created.
    pub fn use_part_file(
        &mut self,
        path: &Path,
        piece_len: u64,
        skipped: &[bool],
    ) -> io::Result<()> {
        let mut shared = std::collections::BTreeSet::new();
        let mut prev_last = None;
        for f in self.files.iter().filter(|f| !f.pad && f.length > 0) {
            let (first, last) = (f.offset / piece_len, (f.offset + f.length - 1) / piece_len);
            if prev_last == Some(first) {
                shared.insert(first);
            }
            prev_last = Some(last);
        }
        let capacity = u32::try_from(shared.len()).unwrap_or(u32::MAX);
        self.parts = Some(parts::PartFile::open(path, piece_len, capacity)?);
        self.select(skipped).map(drop)
    }

    /// Changes which files are skipped. A skipped file that is not on disk goes to the part file
    /// (one that exists stays where it is); a file selected again takes its bytes back from the
    /// part file and becomes a real file (returned). Without a part file, nothing changes.
    pub fn select(&mut self, skipped: &[bool]) -> io::Result<Vec<usize>> {
        let mut made = Vec::new();
        if self.parts.is_none() {
            return Ok(made);
        }
        for i in 0..self.files.len() {
            let skip = skipped.get(i).copied().unwrap_or(false);
            let f = &self.files[i];
            if f.pad || f.length == 0 {
                continue;
            }
            if skip && !f.in_part && std::fs::symlink_metadata(&f.path).is_err() {
                self.files[i].in_part = true;
            } else if !skip && f.in_part {
                self.unpark(i)?;
                made.push(i);
            }
        }
        Ok(made)
    }

    /// Copies what the part file holds of file `i` into the file itself, piece by piece.
    fn unpark(&mut self, i: usize) -> io::Result<()> {
        self.files[i].in_part = false;
        let (offset, end) = (
            self.files[i].offset,
            self.files[i].offset + self.files[i].length,
        );
        let Some(plen) = self.parts.as_ref().map(|p| p.piece_len()) else {
            return Ok(());
        };
        let mut at = offset;
        while at < end {
            let next = ((at / plen + 1) * plen).min(end);
            let n = (next - at) as usize;
            let mut buf = vec![0; n];
            let held = match self.parts.as_mut() {
                Some(p) if p.holds(at, n) => p.read(at, &mut buf).map(|()| true)?,
                _ => false,
            };
            if held {
                self.open(i, true)?.write_all_at(&buf, at - offset)?;
            }
            at = next;
        }
        Ok(())
    }

    /// Whether file `i` keeps its bytes in the part file.
    fn parked(&self, i: usize) -> bool {
        self.files[i].in_part && self.parts.is_some()
    }

    /// At most `max` files of this torrent are open at once (at least one).
    #[cfg_attr(not(test), allow(dead_code))] // the default fits every caller so far
    pub fn set_max_open_files(&mut self, max: usize) {
        self.handles.set_max(max);
    }

    /// The torrent's file (single-file) or directory (multi-file).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Calls `f(file index, offset in file, range in buf)` for each file `[offset, offset+len)` touches.
    fn spans(
        &self,
        offset: u64,
        len: usize,
        mut f: impl FnMut(usize, u64, std::ops::Range<usize>) -> io::Result<()>,
    ) -> io::Result<()> {
        let end = offset + len as u64;
        // Files are sorted by offset; find the first that ends after `offset`.
        let start = self
            .files
            .partition_point(|file| file.offset + file.length <= offset);
        for (i, file) in self.files.iter().enumerate().skip(start) {
            if file.offset >= end {
                break;
            }
            if file.length == 0 {
                continue;
            }
            let from = offset.max(file.offset);
            let to = end.min(file.offset + file.length);
            let buf_from = (from - offset) as usize;
            let buf_to = (to - offset) as usize;
            f(i, from - file.offset, buf_from..buf_to)?;
        }
        Ok(())
    }

    fn open(&mut self, i: usize, write: bool) -> io::Result<&File> {
        // Two lookups because the borrow checker cannot see that the early return ends the first.
        if self.handles.get(i, write).is_some() {
            return self
                .handles
                .get(i, write)
                .ok_or_else(|| io::Error::other("file handle vanished"));
        }
        let file = &self.files[i];
        let handle = fs::open_file(&self.save_dir, &file.rel, write)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.path.display())))?;
        if write && handle.metadata()?.len() < file.length {
            handle.set_len(file.length)?;
        }
        Ok(self.handles.insert(i, handle, write))
    }

    /// Writes `data` at torrent offset `offset`, skipping pad files. Refused until the torrent
    /// has claimed its place.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if !self.claimed {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{}: not created by this torrent: refusing to write to it",
                    self.root.display()
                ),
            ));
        }
        let mut jobs = Vec::new();
        self.spans(offset, data.len(), |i, at, range| {
            jobs.push((i, at, range));
            Ok(())
        })?;
        for (i, at, range) in jobs {
            if self.files[i].pad {
                continue;
            }
            if self.parked(i) {
                let offset = self.files[i].offset + at;
                if let Some(p) = self.parts.as_mut() {
                    p.write(offset, &data[range])?;
                }
                continue;
            }
            self.open(i, true)?.write_all_at(&data[range], at)?;
        }
        Ok(())
    }

    /// Fills `buf` from torrent offset `offset`; pad files read as zeros, a missing file is an error.
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut jobs = Vec::new();
        self.spans(offset, buf.len(), |i, at, range| {
            jobs.push((i, at, range));
            Ok(())
        })?;
        for (i, at, range) in jobs {
            if self.files[i].pad {
                buf[range].fill(0);
                continue;
            }
            if self.parked(i) {
                let offset = self.files[i].offset + at;
                if let Some(p) = self.parts.as_mut() {
                    p.read(offset, &mut buf[range])?;
                }
                continue;
            }
            self.open(i, false)?.read_exact_at(&mut buf[range], at)?;
        }
        Ok(())
    }

    /// Whether any byte of `[offset, offset+len)` lies in a (non-pad) file that does not exist
    /// or is too short: such a piece cannot be on disk, so checking skips hashing it.
    pub fn missing(&self, offset: u64, len: usize) -> bool {
        let mut missing = false;
        let _ = self.spans(offset, len, |i, at, range| {
            let f = &self.files[i];
            if self.parked(i) {
                let held = self
                    .parts
                    .as_ref()
                    .is_some_and(|p| p.holds(f.offset + at, range.len()));
                missing |= !held;
                return Ok(());
            }
            // A link where the file should be is not the file: it counts as missing.
            let short = std::fs::symlink_metadata(&f.path)
                .map_or(true, |m| !m.is_file() || m.len() < f.length);
            if !f.pad && short {
                missing = true;
            }
            Ok(())
        });
        missing
    }

    /// Size and mtime of every file, for resume data.
    pub fn stamps(&self) -> Vec<FileStamp> {
        (0..self.files.len()).map(|i| self.stamp(i)).collect()
    }

    /// Size and mtime of file `i` as its path names it now (a file replaced by a rename shows
    /// the new one); `None` for a missing file, a pad file or an index out of range.
    pub fn stamp(&self, i: usize) -> FileStamp {
        let f = self.files.get(i)?;
        let m = std::fs::symlink_metadata(&f.path).ok()?;
        if !m.is_file() {
            return None;
        }
        let mtime = m
            .modified()
            .ok()?
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_nanos();
        Some((m.len(), mtime))
    }

    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Where file `i` lives, its torrent byte range `(offset, length)`, and whether it holds
    /// data (pad and empty files hold none).
    pub fn file_span(&self, i: usize) -> Option<(&Path, u64, u64, bool)> {
        self.files
            .get(i)
            .map(|f| (f.path.as_path(), f.offset, f.length, !f.pad && f.length > 0))
    }

    /// The indexes of the data-holding files that `[offset, offset+len)` touches.
    pub fn files_touching(&self, offset: u64, len: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let _ = self.spans(offset, len, |i, _, _| {
            if !self.files[i].pad {
                out.push(i);
            }
            Ok(())
        });
        out
    }

    /// Closes every file. No fsync: once written, the kernel holds the data, which is what
    /// surviving a crash of this process needs (a kill -9 loses nothing); resume data is only
    /// trusted when sizes and mtimes still match. Forcing 512 MiB to the device at exit would
    /// cost a second for a guarantee no other client gives either.
    pub fn close(&mut self) -> io::Result<()> {
        self.handles.close_all();
        if let Some(p) = self.parts.as_mut() {
            p.close();
        }
        Ok(())
    }

    /// How many of the torrent's files are open now.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn open_files(&self) -> usize {
        self.handles.open_count()
    }

    /// Removes the torrent's files (and its directory if that leaves it empty). Nothing is
    /// reached through a link: a link planted in place of a file or directory is removed or left
    /// as a link, and what it points to is untouched. Files the torrent has not claimed (a
    /// same-named file it was still checking) are left alone.
    pub fn delete(&mut self) {
        self.handles.close_all();
        if let Some(p) = self.parts.as_mut() {
            p.delete();
        }
        if !self.claimed {
            return;
        }
        for f in &self.files {
            if !f.pad {
                let _ = fs::remove_file(&self.save_dir, &f.rel);
            }
        }
        let name = self.files.first().map(|f| &f.rel[..1]);
        if let Some(name) = name.filter(|_| !self.files.iter().all(|f| f.rel.len() == 1)) {
            let _ = fs::remove_empty_dirs(&self.save_dir, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Laid out and claimed, as a torrent's storage is once its place is its own.
    fn laid_out(dir: &Path, info: &Info) -> Storage {
        let mut s = Storage::new(dir, info).unwrap();
        s.set_claimed();
        s
    }

    fn info(files: &[(&str, u64, bool)]) -> Info {
        test_info::test_info("t", false, files)
    }

    #[test]
    fn writes_span_files_and_skip_pads() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = laid_out(
            dir.path(),
            &info(&[("a", 5, false), ("pad", 3, true), ("b", 10, false)]),
        );
        let data: Vec<u8> = (1..=18).collect();
        s.write(0, &data).unwrap();
        assert_eq!(std::fs::read(dir.path().join("t/a")).unwrap(), &data[..5]);
        assert_eq!(std::fs::read(dir.path().join("t/b")).unwrap(), &data[8..]);
        assert!(!dir.path().join("t/pad").exists());
        let mut back = vec![0xAA; 18];
        s.read(0, &mut back).unwrap();
        assert_eq!(&back[..5], &data[..5]);
        assert_eq!(&back[5..8], &[0, 0, 0]);
        assert_eq!(&back[8..], &data[8..]);
        s.delete();
        assert!(!dir.path().join("t").exists());
    }

    #[test]
    fn missing_files_are_reported_not_created_by_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = laid_out(dir.path(), &info(&[("a", 20, false)]));
        assert!(s.missing(0, 16));
        assert!(s.read(0, &mut [0; 4]).is_err());
        assert!(!dir.path().join("t/a").exists());
        s.write(16, &[1; 4]).unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("t/a")).unwrap().len(),
            20,
            "sparse, full length"
        );
        assert!(!s.missing(0, 16));
    }

    #[cfg(unix)]
    #[test]
    fn planted_links_are_never_written_through() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();

        // The file itself is a link to a file outside.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        symlink(&victim, dir.path().join("t/a")).unwrap();
        let mut s = laid_out(dir.path(), &info(&[("a", 8, false)]));
        let err = s.write(0, b"EVILEVIL").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(s.read(0, &mut [0; 8]).is_err());
        assert!(s.missing(0, 8), "a link is not the file");
        assert_eq!(s.stamp(0), None);

        // A directory component is a link to a directory outside.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        symlink(outside.path(), dir.path().join("t/sub")).unwrap();
        let mut s = laid_out(dir.path(), &info(&[("sub/victim", 8, false)]));
        assert!(s.write(0, b"EVILEVIL").is_err());
        // The torrent's own directory is a link.
        let dir = tempfile::tempdir().unwrap();
        symlink(outside.path(), dir.path().join("t")).unwrap();
        let mut s = laid_out(dir.path(), &info(&[("victim", 8, false)]));
        assert!(s.write(0, b"EVILEVIL").is_err());
        // Single-file torrent whose name is a link.
        let mut single = info(&[("x", 8, false)]);
        single.single_file = true;
        single.name = "victim".into();
        let dir = tempfile::tempdir().unwrap();
        let mut s = laid_out(dir.path(), &single);
        symlink(&victim, dir.path().join("victim")).unwrap();
        assert!(s.write(0, b"EVILEVIL").is_err());

        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_fifo_is_refused_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("t/a"))
            .status()
            .unwrap();
        assert!(status.success());
        let mut s = laid_out(dir.path(), &info(&[("a", 8, false)]));
        assert!(s.read(0, &mut [0; 8]).is_err());
        assert!(s.write(0, b"12345678").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn delete_never_follows_a_link_out() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("f"), b"keep").unwrap();
        std::fs::create_dir(outside.path().join("empty")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let i = info(&[("sub/f", 4, false), ("own/g", 4, false), ("h", 4, false)]);
        let mut s = laid_out(dir.path(), &i);
        s.write(0, b"1234abcdwxyz").unwrap();
        // After the download, `sub` is swapped for a link to a directory outside, and a link to
        // it is planted beside the torrent's files.
        std::fs::remove_dir_all(dir.path().join("t/sub")).unwrap();
        symlink(outside.path(), dir.path().join("t/sub")).unwrap();
        symlink(outside.path(), dir.path().join("t/own/link")).unwrap();
        s.delete();
        assert_eq!(std::fs::read(outside.path().join("f")).unwrap(), b"keep");
        assert!(outside.path().join("empty").is_dir());
        assert!(!dir.path().join("t/h").exists() && !dir.path().join("t/own/g").exists());
    }

    #[test]
    fn thousands_of_files_with_few_handles() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..3000).map(|n| format!("f{n}")).collect();
        let spec: Vec<(String, u64, bool)> =
            names.iter().map(|n| (format!("d/{n}"), 7, false)).collect();
        let mut s = laid_out(dir.path(), &test_info::test_info("t", false, &spec));
        s.set_max_open_files(16);
        let data: Vec<u8> = (0..3000 * 7).map(|n| (n % 251) as u8).collect();
        for (k, chunk) in data.chunks(1000).enumerate() {
            s.write(k as u64 * 1000, chunk).unwrap();
            assert!(s.open_files() <= 16);
        }
        let mut back = vec![0; data.len()];
        s.read(0, &mut back).unwrap();
        assert!(back == data);
        assert!(s.open_files() <= 16);
        assert_eq!(
            std::fs::read(dir.path().join("t/d/f2999")).unwrap(),
            &data[2999 * 7..]
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut i = info(&[("a", 4, false)]);
        i.files[0].path = vec!["..".into(), "x".into()];
        assert!(Storage::new(dir.path(), &i).is_err());
    }
}

//! The torrent's files on disk: maps the torrent's byte range onto its files and does positional
//! reads and writes. Synchronous: only the disk thread calls it.
//!
//! Files are created on first write and extended with `set_len` (sparse where the file system
//! allows). Pad files (BEP 47) are never written: reads of them return zeros.

use std::fs::{File, OpenOptions};
use std::io;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;
#[cfg(windows)]
use windows_file_ext::FileExt;

use protocol::Info;

#[derive(Debug)]
struct StoredFile {
    path: PathBuf,
    offset: u64,
    length: u64,
    pad: bool,
    handle: Option<File>,
    writable: bool,
}

#[derive(Debug)]
pub struct Storage {
    root: PathBuf,
    files: Vec<StoredFile>,
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
        let root = save_dir.join(&info.name);
        let mut files = Vec::with_capacity(info.files.len());
        for f in &info.files {
            let path = if info.single_file {
                root.clone()
            } else {
                let mut p = root.clone();
                for c in &f.path {
                    safe(c)?;
                    p.push(c);
                }
                p
            };
            files.push(StoredFile {
                path,
                offset: f.offset,
                length: f.length,
                pad: f.pad,
                handle: None,
                writable: false,
            });
        }
        Ok(Storage { root, files })
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
        let file = &mut self.files[i];
        if file.handle.is_none() || (write && !file.writable) {
            let handle = if write {
                if let Some(dir) = file.path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let h = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&file.path)?;
                let meta = h.metadata()?;
                // Only regular files are extended (a device such as /dev/full cannot be).
                if meta.is_file() && meta.len() < file.length {
                    h.set_len(file.length)?;
                }
                h
            } else {
                File::open(&file.path)?
            };
            file.handle = Some(handle);
            file.writable = write;
        }
        file.handle
            .as_ref()
            .ok_or_else(|| io::Error::other("file handle vanished"))
    }

    /// Writes `data` at torrent offset `offset`, skipping pad files.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut jobs = Vec::new();
        self.spans(offset, data.len(), |i, at, range| {
            jobs.push((i, at, range));
            Ok(())
        })?;
        for (i, at, range) in jobs {
            if self.files[i].pad {
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
            self.open(i, false)?.read_exact_at(&mut buf[range], at)?;
        }
        Ok(())
    }

    /// Whether any byte of `[offset, offset+len)` lies in a (non-pad) file that does not exist
    /// or is too short: such a piece cannot be on disk, so checking skips hashing it.
    pub fn missing(&self, offset: u64, len: usize) -> bool {
        let mut missing = false;
        let _ = self.spans(offset, len, |i, _, _| {
            let f = &self.files[i];
            if !f.pad && std::fs::metadata(&f.path).map_or(true, |m| m.len() < f.length) {
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
        let m = std::fs::metadata(&f.path).ok()?;
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
        for f in &mut self.files {
            f.handle = None;
        }
        Ok(())
    }

    /// Removes the torrent's files (and its directory if that leaves it empty).
    pub fn delete(&mut self) {
        for f in &mut self.files {
            f.handle = None;
            let _ = std::fs::remove_file(&f.path);
        }
        if self.files.len() > 1 || self.root.is_dir() {
            let _ = remove_empty_dirs(&self.root);
        }
    }
}

fn remove_empty_dirs(dir: &Path) -> io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            remove_empty_dirs(&p)?;
        }
    }
    std::fs::remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::FileEntry;

    fn info(files: &[(&str, u64, bool)]) -> Info {
        let mut offset = 0;
        let entries = files
            .iter()
            .map(|&(name, length, pad)| {
                let e = FileEntry {
                    path: vec![name.into()],
                    length,
                    offset,
                    pad,
                    executable: false,
                    hidden: false,
                };
                offset += length;
                e
            })
            .collect();
        Info {
            name: "t".into(),
            piece_length: 16,
            pieces: vec![[0; 20]; offset.div_ceil(16) as usize],
            files: entries,
            single_file: false,
            private: false,
            total_length: offset,
        }
    }

    #[test]
    fn writes_span_files_and_skip_pads() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Storage::new(
            dir.path(),
            &info(&[("a", 5, false), ("pad", 3, true), ("b", 10, false)]),
        )
        .unwrap();
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
        let mut s = Storage::new(dir.path(), &info(&[("a", 20, false)])).unwrap();
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

    #[test]
    fn hostile_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut i = info(&[("a", 4, false)]);
        i.files[0].path = vec!["..".into(), "x".into()];
        assert!(Storage::new(dir.path(), &i).is_err());
    }
}

/// Windows has positional IO (`seek_read`/`seek_write`) but no `read_exact_at`/`write_all_at`:
/// these loop over partial transfers the way the Unix ones do, so the code above is the same on
/// both (the file cursor the Windows calls move is never used here).
#[cfg(windows)]
mod windows_file_ext {
    use std::io;
    use std::os::windows::fs::FileExt as _;

    pub trait FileExt {
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
        fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    }

    impl FileExt for std::fs::File {
        fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
            while !buf.is_empty() {
                match self.seek_read(buf, offset) {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => {
                        buf = &mut buf[n..];
                        offset += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }

        fn write_all_at(&self, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
            while !buf.is_empty() {
                match self.seek_write(buf, offset) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        buf = &buf[n..];
                        offset += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
    }
}

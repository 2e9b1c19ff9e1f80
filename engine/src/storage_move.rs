//! Moving a torrent's files to another save directory while it runs (the disk thread does it
//! between two jobs, so no read or write sees a half-moved torrent).
//!
//! One file system: the torrent's file or directory is renamed, which is atomic and keeps
//! every byte and stamp. Across file systems (`EXDEV`): each file the torrent has on disk is
//! copied (never through a link, like every access, `storage_fs.rs`), read back and compared
//! by SHA-1, and only when every copy matched are the originals deleted. Any failure before
//! that removes what was copied and leaves the torrent where it was, working; so does a cancel
//! (`cancel`, looked at between chunks of the copy: a rename is over at once). Nothing is ever
//! moved over something that exists at the destination.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use sha1::{Digest, Sha1};

use super::{fs, Storage};

const CHUNK: usize = 1 << 20;

/// The error of a move cancelled while it copied (`Storage::relocate`).
pub const MOVE_CANCELLED: &str = "the move was cancelled";

impl Storage {
    /// Bytes a move copies at most: the data files' lengths.
    pub fn data_bytes(&self) -> u64 {
        self.files.iter().filter(|f| !f.pad).map(|f| f.length).sum()
    }

    /// Moves the torrent's files to `to` (made if missing), and its part file to `parts_to`
    /// (the state directory keys it by save directory). `progress(done, total)` is called as
    /// bytes are copied. `force_copy` takes the copy path on one file system too (tests).
    /// `cancel` set while it copies stops it with `ErrorKind::Interrupted` (`MOVE_CANCELLED`).
    /// On error nothing changed: the files are where they were and the storage still points
    /// at them.
    pub fn relocate(
        &mut self,
        to: &Path,
        parts_to: Option<&Path>,
        force_copy: bool,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> io::Result<()> {
        if to == self.save_dir {
            return Ok(());
        }
        if !self.claimed {
            return Err(io::Error::other(
                "the torrent's place is not settled yet (it is still checking)",
            ));
        }
        std::fs::create_dir_all(to)?;
        let dest_root = to.join(&self.root_name);
        if std::fs::symlink_metadata(&dest_root).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists already", dest_root.display()),
            ));
        }
        self.handles.close_all();
        let exists = std::fs::symlink_metadata(&self.root).is_ok();
        if exists {
            let renamed = if force_copy {
                Err(io::Error::from(io::ErrorKind::CrossesDevices))
            } else {
                std::fs::rename(&self.root, &dest_root)
            };
            match renamed {
                Ok(()) => progress(self.data_bytes(), self.data_bytes()),
                Err(e) if crosses_devices(&e) => self.copy_then_delete(to, cancel, progress)?,
                Err(e) => return Err(e),
            }
        }
        if let (Some(parts), Some(dest)) = (self.parts.as_mut(), parts_to) {
            if let Err(e) = parts.relocate(dest) {
                // The data moved; the bytes of shared pieces are fetched again at worst.
                tracing::warn!("moving the part file to {}: {e}", dest.display());
            }
        }
        self.save_dir = to.to_path_buf();
        self.root = fs::display_path(to, std::slice::from_ref(&self.root_name));
        for f in &mut self.files {
            f.path = fs::display_path(to, &f.rel);
        }
        Ok(())
    }

    /// Copies every file that exists to `to`, verifies the copies, then deletes the originals.
    fn copy_then_delete(
        &self,
        to: &Path,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> io::Result<()> {
        let total: u64 = (self.files.iter())
            .filter(|f| !f.pad && !f.in_part)
            .map(|f| f.length)
            .sum();
        let mut done = 0;
        let mut copied: Vec<&[String]> = Vec::new();
        let outcome = (|| {
            for f in self.files.iter().filter(|f| !f.pad && !f.in_part) {
                let mut src = match fs::open_file(&self.save_dir, &f.rel, false) {
                    Ok(src) => src,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let mut dst = fs::open_file(to, &f.rel, true)?;
                copied.push(&f.rel);
                dst.set_len(0)?;
                let mut buf = vec![0u8; CHUNK];
                let mut hash = Sha1::new();
                loop {
                    if cancel.load(Ordering::Relaxed) {
                        return Err(io::Error::new(io::ErrorKind::Interrupted, MOVE_CANCELLED));
                    }
                    let n = src.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    hash.update(&buf[..n]);
                    dst.write_all(&buf[..n])?;
                    done += n as u64;
                    progress(done.min(total), total);
                }
                dst.sync_all()?;
                drop(dst);
                let again = hash_of(&mut fs::open_file(to, &f.rel, false)?, &mut buf)?;
                if again != hash.finalize().as_slice() {
                    return Err(io::Error::other(format!(
                        "the copy of {} does not match the original",
                        f.path.display()
                    )));
                }
            }
            Ok(())
        })();
        if let Err(e) = outcome {
            for rel in &copied {
                let _ = fs::remove_file(to, rel);
            }
            let _ = self.remove_empty_root(to);
            return Err(e);
        }
        for f in self.files.iter().filter(|f| !f.pad) {
            let _ = fs::remove_file(&self.save_dir, &f.rel);
        }
        let _ = self.remove_empty_root(&self.save_dir);
        if !self.single_file && std::fs::symlink_metadata(to.join(&self.root_name)).is_err() {
            // A directory torrent with no file on disk yet: its (empty) place moves too.
            fs::create_exclusive(to, &self.root_name, true)?;
        }
        Ok(())
    }

    /// Removes the torrent's directory under `base` if it holds nothing (a multi-file torrent).
    fn remove_empty_root(&self, base: &Path) -> io::Result<()> {
        if self.single_file {
            return Ok(());
        }
        fs::remove_empty_dirs(base, std::slice::from_ref(&self.root_name))
    }
}

fn hash_of(file: &mut std::fs::File, buf: &mut [u8]) -> io::Result<[u8; 20]> {
    let mut hash = Sha1::new();
    loop {
        let n = file.read(buf)?;
        if n == 0 {
            return Ok(hash.finalize().into());
        }
        hash.update(&buf[..n]);
    }
}

fn crosses_devices(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::CrossesDevices || e.raw_os_error() == Some(18)
}

#[cfg(test)]
mod tests {
    use super::super::test_info::test_info;
    use super::*;

    fn filled(dir: &Path) -> (Storage, Vec<u8>) {
        let info = test_info(
            "t",
            false,
            &[("a.bin", 40_000, false), ("b.bin", 30_000, false)],
        );
        let mut s = Storage::new(dir, &info).unwrap();
        assert!(s.claim_if_free().unwrap());
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
        s.write(0, &data).unwrap();
        (s, data)
    }

    /// A move nobody cancels.
    fn go() -> AtomicBool {
        AtomicBool::new(false)
    }

    fn read_all(s: &mut Storage) -> Vec<u8> {
        let mut buf = vec![0u8; 70_000];
        s.read(0, &mut buf).unwrap();
        buf
    }

    #[test]
    fn a_rename_moves_everything_and_reads_go_on() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut s, data) = filled(&tmp.path().join("one"));
        let to = tmp.path().join("two");
        let mut last = (0, 0);
        s.relocate(&to, None, false, &go(), &mut |d, t| last = (d, t))
            .unwrap();
        assert_eq!(last, (70_000, 70_000));
        assert!(
            !tmp.path().join("one").join("t").exists(),
            "nothing left behind"
        );
        assert_eq!(std::fs::read(to.join("t/a.bin")).unwrap(), data[..40_000]);
        assert_eq!(s.root(), to.join("t"));
        assert_eq!(read_all(&mut s), data);
        s.write(0, &[9]).unwrap();
        assert_eq!(std::fs::read(to.join("t/a.bin")).unwrap()[0], 9);
    }

    #[test]
    fn a_copy_is_verified_then_the_originals_go() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("one");
        let (mut s, data) = filled(&from);
        std::fs::write(from.join("t/not-ours.txt"), b"user's").unwrap();
        let to = tmp.path().join("two");
        let mut seen = Vec::new();
        s.relocate(&to, None, true, &go(), &mut |d, t| seen.push((d, t)))
            .unwrap();
        assert_eq!(seen.last(), Some(&(70_000, 70_000)));
        assert_eq!(std::fs::read(to.join("t/b.bin")).unwrap(), data[40_000..]);
        assert!(!from.join("t/a.bin").exists() && !from.join("t/b.bin").exists());
        assert!(
            from.join("t/not-ours.txt").exists(),
            "what is not the torrent's stays"
        );
        assert_eq!(read_all(&mut s), data);
    }

    #[test]
    fn a_failed_move_leaves_the_torrent_where_it_was() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("one");
        let (mut s, data) = filled(&from);
        let to = tmp.path().join("two");
        std::fs::create_dir_all(to.join("t")).unwrap();
        let err = s
            .relocate(&to, None, false, &go(), &mut |_, _| {})
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        // A destination that is a file, not a folder.
        let blocked = tmp.path().join("blocked");
        std::fs::write(&blocked, b"x").unwrap();
        assert!(s
            .relocate(&blocked, None, true, &go(), &mut |_, _| {})
            .is_err());
        assert_eq!(s.root(), from.join("t"));
        assert_eq!(read_all(&mut s), data);
        assert!(from.join("t/a.bin").exists());
    }

    /// Cancelled in the middle of a copy (here: after the first file's first chunk): the
    /// originals stay whole and in use, and the destination keeps nothing of the torrent.
    #[test]
    fn a_cancelled_copy_leaves_the_data_where_it_was_and_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join("one");
        let (mut s, data) = filled(&from);
        let to = tmp.path().join("two");
        let cancel = go();
        let mut calls = 0;
        let err = s
            .relocate(&to, None, true, &cancel, &mut |_, _| {
                calls += 1;
                cancel.store(true, Ordering::Relaxed);
            })
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert_eq!(err.to_string(), MOVE_CANCELLED);
        assert_eq!(calls, 1, "it stopped at the next chunk");
        assert!(!to.join("t").exists(), "no partial copy is left");
        assert_eq!(s.root(), from.join("t"));
        assert_eq!(std::fs::read(from.join("t/a.bin")).unwrap(), data[..40_000]);
        assert_eq!(read_all(&mut s), data);
    }
}

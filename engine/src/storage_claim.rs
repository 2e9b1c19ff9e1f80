//! Whose file is it? A torrent writes and deletes only in the place it has *claimed* in the save
//! directory, so a same-named file it did not create is never taken over or overwritten.
//!
//! The rule (applied by the disk thread's first check, before any write):
//! - The torrent's own resume record (keyed by info-hash and save directory) names the place it
//!   made: that place is its own, whatever state the files are in. A download interrupted by a
//!   crash resumes in place; a finished one restarted seeds.
//! - Without a record, if nothing has the torrent's name, the torrent creates it (an empty file,
//!   or its directory) in one exclusive system call, so two torrents racing for one name cannot
//!   both win.
//! - Without a record, if something has the name, it is adopted only if a full check finds it
//!   a complete copy (every file of exactly its length, every piece matching): it is then the
//!   same bytes, and seeding them is harmless. Anything else (an unrelated file, a partial copy
//!   of unknown origin, a link, a directory where a file should be) is left exactly as it is,
//!   and the torrent takes the first free `name (N).ext` instead, as browsers do.
//!
//! The chosen name goes into the resume record at once (before the first write), so it
//! survives restarts: the torrent finds its `name (1)` again, and never mistakes its own partial
//! file for a stranger's.

use std::io;

use super::{fs, Storage};

/// The most `name (N)` tried before giving up with an error.
const MAX_NUMBER: u32 = 999;

/// `name (n)` the way browsers number a second download of a name: before the extension of a
/// file (`movie (1).mkv`, `backup (1).tar.gz`), at the end of a directory or of a name whose
/// only dot leads it (`.config (1)`).
pub fn numbered_name(name: &str, n: u32, single_file: bool) -> String {
    let split = if single_file {
        extension_start(name)
    } else {
        None
    };
    match split {
        Some(at) => format!("{} ({n}){}", &name[..at], &name[at..]),
        None => format!("{name} ({n})"),
    }
}

/// Where a file name's extension starts (at its dot), if it has one; `.tar.gz` and the like
/// count as one extension.
fn extension_start(name: &str) -> Option<usize> {
    let dot = name
        .rfind('.')
        .filter(|&at| at > 0 && at + 1 < name.len())?;
    let stem = &name[..dot];
    match stem.rfind('.') {
        Some(inner) if inner > 0 && stem[inner..].eq_ignore_ascii_case(".tar") => Some(inner),
        _ => Some(dot),
    }
}

impl Storage {
    /// The name of the torrent's file or directory in the save directory.
    pub fn root_name(&self) -> &str {
        &self.root_name
    }

    /// Whether the torrent's place is its own (created by it, recorded as its, or adopted as a
    /// complete copy).
    pub fn is_claimed(&self) -> bool {
        self.claimed
    }

    /// The place is this torrent's: its resume record says so, or it was adopted.
    pub fn set_claimed(&mut self) {
        self.claimed = true;
    }

    /// Lays the torrent out under `name` instead (the name its resume record gives). The
    /// record is ours, but read from disk: the name is checked like any torrent's.
    pub fn rename_root(&mut self, name: &str) -> io::Result<()> {
        protocol::path::validate_component(name).map_err(|reason| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsafe name {name:?}: {reason}"),
            )
        })?;
        self.handles.close_all();
        for f in &mut self.files {
            f.rel[0] = name.to_string();
            f.path = fs::display_path(&self.save_dir, &f.rel);
        }
        self.root = fs::display_path(&self.save_dir, std::slice::from_ref(&name.to_string()));
        self.root_name = name.to_string();
        Ok(())
    }

    /// Claims the place if nothing has its name yet (creating an empty file or the torrent's
    /// directory); `Ok(false)` if something is there.
    pub fn claim_if_free(&mut self) -> io::Result<bool> {
        let made = fs::create_exclusive(&self.save_dir, &self.root_name, !self.single_file)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.root.display())))?;
        self.claimed |= made;
        Ok(made)
    }

    /// Whether every data file is a regular file (not a link) of exactly its length: the only
    /// shape a complete copy can have, so only then is a same-named stranger worth hashing.
    pub fn has_exact_sizes(&self) -> bool {
        self.files.iter().filter(|f| !f.pad).all(|f| {
            std::fs::symlink_metadata(&f.path).is_ok_and(|m| m.is_file() && m.len() == f.length)
        })
    }

    /// Leaves whatever has this name alone and claims the first free `name (N)` instead.
    pub fn claim_a_free_name(&mut self) -> io::Result<()> {
        let base = self.root_name.clone();
        for n in 1..=MAX_NUMBER {
            let name = numbered_name(&base, n, self.single_file);
            let made = fs::create_exclusive(&self.save_dir, &name, !self.single_file)
                .map_err(|e| io::Error::new(e.kind(), format!("creating {name:?}: {e}")))?;
            if made {
                self.rename_root(&name)?;
                self.claimed = true;
                return Ok(());
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{base:?} and {MAX_NUMBER} numbered names beside it are all taken"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Info;

    fn info(name: &str, single_file: bool, files: &[(&str, u64)]) -> Info {
        let files: Vec<(&str, u64, bool)> = files.iter().map(|&(p, l)| (p, l, false)).collect();
        super::super::test_info::test_info(name, single_file, &files)
    }

    #[test]
    fn numbers_go_before_the_extension_as_in_browsers() {
        assert_eq!(numbered_name("movie.mkv", 1, true), "movie (1).mkv");
        assert_eq!(numbered_name("backup.tar.gz", 2, true), "backup (2).tar.gz");
        assert_eq!(numbered_name("a.b.c", 1, true), "a.b (1).c");
        assert_eq!(numbered_name(".bashrc", 1, true), ".bashrc (1)");
        assert_eq!(numbered_name("README", 3, true), "README (3)");
        assert_eq!(numbered_name("trailing.", 1, true), "trailing. (1)");
        assert_eq!(numbered_name("Album.v2", 1, false), "Album.v2 (1)");
    }

    #[test]
    fn a_stranger_is_left_alone_and_a_free_name_claimed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.bin"), b"mine").unwrap();
        std::fs::write(dir.path().join("f (1).bin"), b"mine too").unwrap();
        let mut s = Storage::new(dir.path(), &info("f.bin", true, &[("f.bin", 8)])).unwrap();
        assert!(!s.claim_if_free().unwrap());
        assert!(!s.is_claimed());
        assert!(s.write(0, b"12345678").is_err(), "unclaimed: no writes");
        s.delete();
        assert!(!s.has_exact_sizes());
        s.claim_a_free_name().unwrap();
        assert_eq!(s.root_name(), "f (2).bin");
        s.write(0, b"12345678").unwrap();
        assert_eq!(std::fs::read(dir.path().join("f.bin")).unwrap(), b"mine");
        assert_eq!(
            std::fs::read(dir.path().join("f (1).bin")).unwrap(),
            b"mine too"
        );
        assert_eq!(
            std::fs::read(dir.path().join("f (2).bin")).unwrap(),
            b"12345678"
        );
        s.delete();
        assert!(!dir.path().join("f (2).bin").exists());
        assert!(dir.path().join("f.bin").exists());
    }

    #[test]
    fn a_free_name_is_claimed_by_creating_it() {
        let dir = tempfile::tempdir().unwrap();
        let save = dir.path().join("new");
        let mut s = Storage::new(&save, &info("d", false, &[("x", 4), ("y", 4)])).unwrap();
        assert!(s.claim_if_free().unwrap());
        assert!(save.join("d").is_dir());
        // A second torrent of that name finds it taken.
        let mut other = Storage::new(&save, &info("d", false, &[("z", 4)])).unwrap();
        assert!(!other.claim_if_free().unwrap());
        other.claim_a_free_name().unwrap();
        assert!(save.join("d (1)").is_dir());
        assert_eq!(other.root(), save.join("d (1)"));
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_taken_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::os::unix::fs::symlink(&victim, dir.path().join("f")).unwrap();
        let mut s = Storage::new(dir.path(), &info("f", true, &[("f", 4)])).unwrap();
        assert!(!s.claim_if_free().unwrap(), "a dangling link is something");
        assert!(!victim.exists());
        assert!(!s.has_exact_sizes());
    }
}

//! Opening and removing a torrent's files without ever following a symbolic link below the save
//! directory.
//!
//! The save directory itself is the user's choice (it may well be a link to another disk) and is
//! resolved normally. Every component below it (the torrent's name, its subdirectories, the file)
//! is opened relative to its parent's descriptor with `O_NOFOLLOW` (`openat`), so a link planted
//! in the save directory, or in the torrent's own directory, is refused instead of being written
//! through: a `movie.mkv -> ~/.bashrc` or a `subdir -> /etc` gets an error, and the file outside
//! stays as it was. Path-based checks (`symlink_metadata`, then `open`) would leave a window in
//! which the link could be swapped in; descriptor-relative opens have none.
//!
//! Only regular files are used: a FIFO or device planted under the torrent's name is refused
//! (opened non-blocking first, so a FIFO cannot hang the disk thread).
//!
//! Windows has no `openat`; there each component is checked with `symlink_metadata` before use
//! (a window remains between check and open), and names are made storable with
//! `protocol::path::windows_file_name`.

use std::fs::File;
use std::io;
use std::path::Path;

/// The error for a component that is a symbolic link (or, via a link, not a directory).
fn link_refused(component: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{component:?} is a symbolic link or special file: refusing to follow it"),
    )
}

#[cfg(unix)]
mod imp {
    use std::os::fd::OwnedFd;

    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::*;

    const DIR_FLAGS: OFlags = OFlags::DIRECTORY
        .union(OFlags::NOFOLLOW)
        .union(OFlags::RDONLY)
        .union(OFlags::CLOEXEC);

    fn refusal(e: Errno, component: &str) -> io::Error {
        match e {
            // ELOOP: O_NOFOLLOW met a link. ENOTDIR: a file (or a link to one) where a
            // directory should be.
            Errno::LOOP | Errno::NOTDIR | Errno::MLINK => link_refused(component),
            e => io::Error::from(e),
        }
    }

    /// The descriptor of the directory `dirs` names below `base`, each component opened without
    /// following links; missing ones are created when `create`.
    pub(crate) fn open_dirs(base: &Path, dirs: &[String], create: bool) -> io::Result<OwnedFd> {
        if create {
            std::fs::create_dir_all(base)?;
        }
        let mut fd = rustix::fs::open(
            base,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        for d in dirs {
            fd = match rustix::fs::openat(&fd, d.as_str(), DIR_FLAGS, Mode::empty()) {
                Ok(next) => next,
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&fd, d.as_str(), Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    rustix::fs::openat(&fd, d.as_str(), DIR_FLAGS, Mode::empty())
                        .map_err(|e| refusal(e, d))?
                }
                Err(e) => return Err(refusal(e, d)),
            };
        }
        Ok(fd)
    }

    pub(crate) fn open_file(base: &Path, rel: &[String], write: bool) -> io::Result<File> {
        let (name, dirs) = rel
            .split_last()
            .ok_or_else(|| io::Error::other("empty path"))?;
        let dir = open_dirs(base, dirs, write)?;
        let mut flags = OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        flags |= if write {
            OFlags::RDWR | OFlags::CREATE
        } else {
            OFlags::RDONLY
        };
        let fd = rustix::fs::openat(&dir, name.as_str(), flags, Mode::from_raw_mode(0o666))
            .map_err(|e| refusal(e, name))?;
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
            return Err(link_refused(name));
        }
        // O_NONBLOCK means nothing for regular files; cleared anyway so the descriptor is plain.
        rustix::fs::fcntl_setfl(&fd, rustix::fs::fcntl_getfl(&fd)? - OFlags::NONBLOCK)?;
        Ok(File::from(fd))
    }

    /// Creates `name` in `base` (a directory when `dir`, else an empty file) only if nothing of
    /// that name exists, link or not: `Ok(false)` when something does. `base` is created if
    /// missing. The test and the creation are one system call, so two torrents racing for one
    /// name cannot both win.
    pub(crate) fn create_exclusive(base: &Path, name: &str, dir: bool) -> io::Result<bool> {
        let parent = open_dirs(base, &[], true)?;
        let made = if dir {
            rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o777))
        } else {
            let flags = OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY;
            rustix::fs::openat(
                &parent,
                name,
                flags | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o666),
            )
            .map(drop)
        };
        match made {
            Ok(()) => Ok(true),
            Err(Errno::EXIST) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Unlinks the file `rel` names, never through a link (a link itself is removed, as a link).
    pub(crate) fn remove_file(base: &Path, rel: &[String]) -> io::Result<()> {
        let (name, dirs) = rel
            .split_last()
            .ok_or_else(|| io::Error::other("empty path"))?;
        let dir = open_dirs(base, dirs, false)?;
        rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty()).map_err(io::Error::from)
    }

    /// Removes the directory `rel` names if it holds only empty directories; links inside are
    /// neither followed nor removed (so their directory stays).
    pub(crate) fn remove_empty_dirs(base: &Path, rel: &[String]) -> io::Result<()> {
        let (name, parents) = rel
            .split_last()
            .ok_or_else(|| io::Error::other("empty path"))?;
        let parent = open_dirs(base, parents, false)?;
        remove_tree_of_empty_dirs(&parent, name, 0)
    }

    fn remove_tree_of_empty_dirs(parent: &OwnedFd, name: &str, depth: usize) -> io::Result<()> {
        // Torrent paths are shallow; a deeper tree is not ours to walk.
        if depth > 64 {
            return Ok(());
        }
        let dir = rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty())
            .map_err(|e| refusal(e, name))?;
        let mut subdirs = Vec::new();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let child = entry.file_name().to_string_lossy().into_owned();
            if child == "." || child == ".." {
                continue;
            }
            let stat = rustix::fs::statat(&dir, child.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
                subdirs.push(child);
            }
        }
        for child in subdirs {
            let _ = remove_tree_of_empty_dirs(&dir, &child, depth + 1);
        }
        rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR).map_err(io::Error::from)
    }
}

#[cfg(not(unix))]
mod imp {
    use std::fs::OpenOptions;
    use std::path::PathBuf;

    use super::*;

    /// `base/rel...` with each component made storable, refusing any that is a link.
    fn walk(base: &Path, rel: &[String], create_dirs: bool) -> io::Result<PathBuf> {
        let mut path = base.to_path_buf();
        if create_dirs {
            std::fs::create_dir_all(base)?;
        }
        let last = rel.len().saturating_sub(1);
        for (i, c) in rel.iter().enumerate() {
            path.push(&*protocol::path::windows_file_name(c));
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => return Err(link_refused(c)),
                Ok(m) if i < last && !m.is_dir() => return Err(link_refused(c)),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if create_dirs && i < last {
                        std::fs::create_dir(&path)?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(path)
    }

    pub(crate) fn open_file(base: &Path, rel: &[String], write: bool) -> io::Result<File> {
        let path = walk(base, rel, write)?;
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .create(write)
            .truncate(false)
            .open(&path)?;
        if !file.metadata()?.is_file() {
            return Err(link_refused(rel.last().map_or("", String::as_str)));
        }
        Ok(file)
    }

    pub(crate) fn create_exclusive(base: &Path, name: &str, dir: bool) -> io::Result<bool> {
        std::fs::create_dir_all(base)?;
        let path = base.join(&*protocol::path::windows_file_name(name));
        let made = if dir {
            std::fs::create_dir(&path)
        } else {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map(drop)
        };
        match made {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn remove_file(base: &Path, rel: &[String]) -> io::Result<()> {
        std::fs::remove_file(walk(base, rel, false)?)
    }

    pub(crate) fn remove_empty_dirs(base: &Path, rel: &[String]) -> io::Result<()> {
        fn remove(dir: &Path, depth: usize) -> io::Result<()> {
            if depth > 64 {
                return Ok(());
            }
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    let _ = remove(&entry.path(), depth + 1);
                }
            }
            std::fs::remove_dir(dir)
        }
        let path = walk(base, rel, false)?;
        if std::fs::symlink_metadata(&path)?.is_dir() {
            remove(&path, 0)
        } else {
            Ok(())
        }
    }
}

pub(crate) use imp::{create_exclusive, open_file, remove_empty_dirs, remove_file};

/// Where `rel` lives below `base` on this platform (for display, stamps and the mark of origin).
pub(crate) fn display_path(base: &Path, rel: &[String]) -> std::path::PathBuf {
    let mut p = base.to_path_buf();
    for c in rel {
        #[cfg(windows)]
        p.push(&*protocol::path::windows_file_name(c));
        #[cfg(not(windows))]
        p.push(c);
    }
    p
}

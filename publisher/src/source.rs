//! What is being published: one file (a single-file torrent) or a directory (one multi-file
//! torrent of every regular file under it, in byte order of their paths), with the size and
//! modification time of each file so a cached `.torrent` can be trusted or not.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use protocol::path::{validate_component, PathError};
use serde::{Deserialize, Serialize};

/// Why a source cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{}: no such file or directory", .0.display())]
    Missing(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("{}: not a regular file or directory", .0.display())]
    NotAFile(PathBuf),
    #[error("{}: the name is not valid UTF-8, which torrents require", .0.display())]
    NotUtf8(PathBuf),
    #[error("{}: the name cannot be used in a torrent: {reason}", path.display())]
    BadName { path: PathBuf, reason: PathError },
    #[error("{}: nothing to publish, it holds no data", .0.display())]
    Empty(PathBuf),
}

/// One file of a source as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Where to read it.
    pub path: PathBuf,
    /// Its path inside the torrent (for a single file: just the torrent's name).
    pub components: Vec<String>,
    pub stamp: FileStamp,
}

/// Size and modification time: what decides whether a file changed since it was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub length: u64,
    /// Nanoseconds since the Unix epoch (negative before it; saturates past the year 2262).
    pub mtime_ns: i64,
}

impl FileStamp {
    pub fn of(metadata: &fs::Metadata) -> FileStamp {
        let mtime_ns = match metadata.modified() {
            Ok(t) => match t.duration_since(UNIX_EPOCH) {
                Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
            },
            // Platforms without mtimes: only the size can tell.
            Err(_) => 0,
        };
        FileStamp {
            length: metadata.len(),
            mtime_ns,
        }
    }

    /// Re-reads the stamp of `path` now.
    pub fn read(path: &Path) -> Result<FileStamp, SourceError> {
        fs::metadata(path)
            .map(|m| FileStamp::of(&m))
            .map_err(|e| io_error(path, e))
    }
}

/// A file or directory to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The torrent's name: the file's or directory's own name.
    pub name: String,
    /// The path given, as the user wrote it.
    pub root: PathBuf,
    pub single_file: bool,
    pub files: Vec<SourceFile>,
}

impl Source {
    pub fn total_length(&self) -> u64 {
        self.files
            .iter()
            .fold(0u64, |sum, f| sum.saturating_add(f.stamp.length))
    }

    /// Lists `path`: a regular file (symlinks followed) or a directory walked recursively.
    /// Symlinked directories are skipped (they can loop) and so are sockets, fifos and devices,
    /// with a warning; a source without a byte of data is refused.
    pub fn scan(path: &Path) -> Result<Source, SourceError> {
        let metadata = fs::metadata(path).map_err(|e| io_error(path, e))?;
        // `mymovie.mpeg`, `dir/`, `.` and `..` all need a real final name.
        let absolute = fs::canonicalize(path).map_err(|e| io_error(path, e))?;
        let name = component_name(&absolute)?;
        let files = if metadata.is_file() {
            vec![SourceFile {
                path: path.to_path_buf(),
                components: vec![name.clone()],
                stamp: FileStamp::of(&metadata),
            }]
        } else if metadata.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut Vec::new(), &mut files)?;
            files
        } else {
            return Err(SourceError::NotAFile(path.to_path_buf()));
        };
        let source = Source {
            name,
            root: path.to_path_buf(),
            single_file: metadata.is_file(),
            files,
        };
        if source.total_length() == 0 {
            return Err(SourceError::Empty(path.to_path_buf()));
        }
        Ok(source)
    }

    /// The stamps of every file, in torrent order.
    pub fn stamps(&self) -> Vec<FileStamp> {
        self.files.iter().map(|f| f.stamp).collect()
    }

    /// Re-reads every file's stamp: equal to [`Source::stamps`] unless something changed.
    pub fn current_stamps(&self) -> Result<Vec<FileStamp>, SourceError> {
        self.files
            .iter()
            .map(|f| FileStamp::read(&f.path))
            .collect()
    }
}

fn walk(
    dir: &Path,
    prefix: &mut Vec<String>,
    files: &mut Vec<SourceFile>,
) -> Result<(), SourceError> {
    let mut entries = fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<PathBuf>, io::Error>>()
        .map_err(|e| io_error(dir, e))?;
    // Byte order of names, as mktorrent and libtorrent list them: the same tree always makes the
    // same torrent.
    entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    for path in entries {
        let link = fs::symlink_metadata(&path).map_err(|e| io_error(&path, e))?;
        let metadata = if link.file_type().is_symlink() {
            match fs::metadata(&path) {
                Ok(target) if target.is_dir() => {
                    tracing::warn!(path = %path.display(), "skipping a symlinked directory");
                    continue;
                }
                Ok(target) => target,
                Err(e) => return Err(io_error(&path, e)),
            }
        } else {
            link
        };
        if !metadata.is_file() && !metadata.is_dir() {
            tracing::warn!(path = %path.display(), "skipping what is neither a file nor a directory");
            continue;
        }
        prefix.push(component_name(&path)?);
        if metadata.is_dir() {
            walk(&path, prefix, files)?;
        } else {
            files.push(SourceFile {
                path: path.clone(),
                components: prefix.clone(),
                stamp: FileStamp::of(&metadata),
            });
        }
        prefix.pop();
    }
    Ok(())
}

fn component_name(path: &Path) -> Result<String, SourceError> {
    let name = path
        .file_name()
        .ok_or_else(|| SourceError::NotAFile(path.to_path_buf()))?;
    let name = name
        .to_str()
        .ok_or_else(|| SourceError::NotUtf8(path.to_path_buf()))?;
    validate_component(name).map_err(|reason| SourceError::BadName {
        path: path.to_path_buf(),
        reason,
    })?;
    Ok(name.to_owned())
}

fn io_error(path: &Path, source: io::Error) -> SourceError {
    if source.kind() == io::ErrorKind::NotFound {
        SourceError::Missing(path.to_path_buf())
    } else {
        SourceError::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_a_single_file_source_named_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("film é.mpeg");
        fs::write(&path, b"12345").unwrap();
        let source = Source::scan(&path).unwrap();
        assert!(source.single_file);
        assert_eq!(source.name, "film é.mpeg");
        assert_eq!(source.files.len(), 1);
        assert_eq!(source.files[0].components, vec!["film é.mpeg"]);
        assert_eq!(source.total_length(), 5);
    }

    #[test]
    fn a_directory_lists_files_in_byte_order_with_empty_files_and_skips_dir_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("album");
        fs::create_dir_all(root.join("b/sub")).unwrap();
        fs::create_dir_all(root.join("empty-dir")).unwrap();
        fs::write(root.join("b/sub/z.txt"), b"z").unwrap();
        fs::write(root.join("B.txt"), b"upper").unwrap();
        fs::write(root.join("a.txt"), b"").unwrap();
        std::os::unix::fs::symlink(root.join("b"), root.join("c-loop")).unwrap();
        std::os::unix::fs::symlink(root.join("B.txt"), root.join("d-link.txt")).unwrap();
        let source = Source::scan(&root).unwrap();
        assert!(!source.single_file);
        assert_eq!(source.name, "album");
        let paths: Vec<String> = source
            .files
            .iter()
            .map(|f| f.components.join("/"))
            .collect();
        assert_eq!(paths, ["B.txt", "a.txt", "b/sub/z.txt", "d-link.txt"]);
        assert_eq!(source.total_length(), 5 + 1 + 5);
        // `dir/.` names the directory itself.
        assert_eq!(Source::scan(&root.join(".")).unwrap().name, "album");
    }

    #[test]
    fn missing_empty_and_unusable_sources_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = Source::scan(&missing).unwrap_err();
        assert!(matches!(err, SourceError::Missing(_)), "{err}");
        assert!(err.to_string().contains("no such file"));

        let empty = dir.path().join("empty");
        fs::write(&empty, b"").unwrap();
        assert!(matches!(Source::scan(&empty), Err(SourceError::Empty(_))));

        let bad = dir.path().join("bad");
        fs::create_dir(&bad).unwrap();
        fs::write(bad.join("a\\b"), b"x").unwrap();
        let err = Source::scan(&bad).unwrap_err();
        assert!(matches!(err, SourceError::BadName { .. }), "{err}");
    }

    #[test]
    fn stamps_change_when_the_file_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"one").unwrap();
        let source = Source::scan(&path).unwrap();
        assert_eq!(source.current_stamps().unwrap(), source.stamps());
        fs::write(&path, b"three").unwrap();
        assert_ne!(source.current_stamps().unwrap(), source.stamps());
    }
}

//! Resume data: which pieces were verified, and the size and modification time of every file at
//! that moment. If any file differs on the next start, nothing is trusted and the data is checked
//! again, so a crash (even kill -9) can cost a re-check but never a wrongly "verified" piece:
//! the record is written by the disk thread after the pieces' writes, and any later write
//! changes a file's mtime.
//!
//! A record belongs to one copy of a torrent: it is keyed by info-hash *and* save directory, so
//! downloads of one torrent into different directories (sharing the default state directory)
//! never read or overwrite each other's record. It is written atomically under a temporary name
//! no other process or thread uses, in a 0700 directory, as a 0600 file.
//!
//! The record also keeps the torrent's lifetime totals (bytes uploaded, seconds seeded), so ratio
//! and seeding-time goals count every run, as qBittorrent and Transmission count them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{Bitfield, InfoHash, Metainfo};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::storage::{FileStamp, Storage};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeData {
    /// The verified-pieces bitfield, hex.
    pub pieces: String,
    pub piece_count: u32,
    pub files: Vec<FileStamp>,
    /// The name of the torrent's file or directory in the save directory: its own name, or
    /// `name (N)` when that was taken (`storage_claim.rs`). A record is the torrent's proof that
    /// it made what is there. Absent in records of older versions: the torrent's own name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Over the torrent's life, up to when the record was written. Absent in records of older
    /// versions: zero.
    #[serde(default)]
    pub totals: Totals,
}

/// What a torrent did over its whole life, across restarts (kept in its resume record).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Payload bytes sent to peers.
    pub uploaded: u64,
    /// Seconds spent seeding (complete and not paused).
    pub seeding_secs: u64,
}

impl ResumeData {
    pub fn new(have: &Bitfield, files: Vec<FileStamp>) -> Self {
        ResumeData {
            pieces: hex::encode(have.as_bytes()),
            piece_count: have.len(),
            files,
            name: None,
            totals: Totals::default(),
        }
    }

    /// The same record, with these lifetime totals.
    pub fn with_totals(self, totals: Totals) -> Self {
        ResumeData { totals, ..self }
    }

    /// The same record, naming where the torrent's files are.
    pub fn named(self, name: &str) -> Self {
        ResumeData {
            name: Some(name.to_string()),
            ..self
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

    /// Writes atomically: a temporary file of this process and call alone, fsync, rename. The
    /// directory is created 0700 and the file is 0600 (on Unix): records name the user's paths.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        self.save_as(path, Durability::Synced)
    }

    /// `save`, without the fsync when `Durability::Renamed`: for a record whose pieces and files
    /// are as already recorded and only the totals moved on. A crash soon after may cost the
    /// latest totals, or at worst the record (then the data is checked again: a lost record is
    /// never a wrongly trusted piece); a daemon of 2,000 seeding torrents stops without 2,000
    /// fsyncs.
    pub fn save_as(&self, path: &Path, durability: Durability) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        write_file(path, &bytes, durability == Durability::Synced)
    }
}

/// Whether a record's write waits for the disk (`ResumeData::save_as`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Synced,
    Renamed,
}

/// Writes a file of the state directory atomically (temporary file of this process and call
/// alone, fsync, rename), owner-only: resume records, the DHT's nodes, a magnet's `.torrent`.
/// Any number of processes sharing the directory may write the same file at once.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file(path, bytes, true)
}

fn write_file(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let tmp = unique_tmp(path);
    let written = (|| {
        let mut f = create_private_file(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `.<name>.<pid>.<n>.tmp` beside `path`: two processes (or two torrents of one process) saving
/// at once never write or rename each other's temporary file.
fn unique_tmp(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Creates `dir` (and missing parents) owner-only; an existing directory is left as it is.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
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
    ResumeData::new(verified, files)
        .named(&info.name)
        .save(&resume_path(state_dir, metainfo.info_hash, save_dir))
}

/// Where a session keeps the resume data of the copy of torrent `ih` saved under `save_dir`:
/// `<info-hash>-<16 hex digits of SHA-1 of the absolute save directory>.resume`.
pub(crate) fn resume_path(state_dir: &Path, ih: InfoHash, save_dir: &Path) -> PathBuf {
    // Canonical when it exists, so `dl` and `./dl/` are one copy; else made absolute.
    let dir = std::fs::canonicalize(save_dir)
        .or_else(|_| std::path::absolute(save_dir))
        .unwrap_or_else(|_| save_dir.to_path_buf());
    let digest = Sha1::digest(dir.as_os_str().as_encoded_bytes());
    state_dir.join(format!(
        "{}-{}.resume",
        ih.to_hex(),
        hex::encode(&digest[..8])
    ))
}

/// The record of one copy (at `path`, from `resume_path`) and the pieces it vouches for
/// (`trust` checks it against the files on disk). A copy without a record of its own may take
/// over the record an older version kept under the info-hash alone, but only if `trust`
/// accepts it (every file exactly as recorded, so it was this copy's); it is then renamed to
/// this copy's name, and an untrusted one is left for the copy it belongs to.
pub(crate) fn load(
    state_dir: Option<&Path>,
    path: Option<&Path>,
    ih: InfoHash,
    trust: impl Fn(&ResumeData) -> Option<Bitfield>,
) -> (Option<ResumeData>, Option<Bitfield>) {
    let (Some(state_dir), Some(path)) = (state_dir, path) else {
        return (None, None);
    };
    if let Some(own) = ResumeData::load(path) {
        let trusted = trust(&own);
        return (Some(own), trusted);
    }
    let legacy = legacy_resume_path(state_dir, ih);
    let Some(old) = ResumeData::load(&legacy) else {
        return (None, None);
    };
    match trust(&old) {
        Some(have) => {
            if let Err(e) = std::fs::rename(&legacy, path) {
                tracing::debug!("moving {} to {}: {e}", legacy.display(), path.display());
            }
            (Some(old), Some(have))
        }
        None => (None, None),
    }
}

/// A torrent laid out where its files are, with its record and the pieces the record vouches
/// for.
pub(crate) struct Placed {
    pub storage: Storage,
    pub record: Option<ResumeData>,
    pub trusted: Option<Bitfield>,
}

/// Lays the torrent out under the name its record gives (see `storage_claim.rs`), and claimed
/// if there is a record: the record is the proof that the torrent made what is there. Without
/// one, the place stays unclaimed until the disk thread's first check settles it.
pub(crate) fn place(
    save_dir: &Path,
    info: &protocol::Info,
    state_dir: Option<&Path>,
    path: Option<&Path>,
    ih: InfoHash,
    piece_count: u32,
) -> std::io::Result<Placed> {
    let layout = |name: Option<&str>| -> std::io::Result<Storage> {
        let mut storage = Storage::new(save_dir, info)?;
        if let Some(name) = name.filter(|&n| n != info.name) {
            storage.rename_root(name)?;
        }
        Ok(storage)
    };
    let (record, trusted) = load(state_dir, path, ih, |r| {
        let laid = layout(r.name.as_deref()).ok()?;
        r.trusted_pieces(piece_count, &laid.stamps())
    });
    let mut storage = layout(record.as_ref().and_then(|r| r.name.as_deref()))?;
    if record.is_some() {
        storage.set_claimed();
    }
    Ok(Placed {
        storage,
        record,
        trusted,
    })
}

/// Where versions before the save-directory key kept a torrent's record (`<info-hash>.resume`).
/// Such a record is read only when the copy has none of its own, is trusted only if every file
/// matches it exactly, and is then moved to the new name (see `Torrent::build`).
pub(crate) fn legacy_resume_path(state_dir: &Path, ih: InfoHash) -> PathBuf {
    state_dir.join(format!("{}.resume", ih.to_hex()))
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
        let record = ResumeData::load(&resume_path(&state, built.info_hash, dir.path())).unwrap();
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
        let record = ResumeData::load(&resume_path(&state, built.info_hash, dir.path())).unwrap();
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

    #[test]
    fn totals_are_kept_and_older_records_read_as_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.resume");
        let totals = Totals {
            uploaded: 5_000_000_000,
            seeding_secs: 86_400,
        };
        let record = ResumeData::new(&Bitfield::full(4), vec![Some((1, 2))]).with_totals(totals);
        record.save_as(&path, Durability::Renamed).unwrap();
        assert_eq!(ResumeData::load(&path).unwrap().totals, totals);
        // A record of a version before the totals.
        let old = r#"{"pieces":"f0","piece_count":4,"files":[[1,2]],"name":"x"}"#;
        std::fs::write(&path, old).unwrap();
        let back = ResumeData::load(&path).unwrap();
        assert_eq!(back.totals, Totals::default());
        assert_eq!(
            back.trusted_pieces(4, &[Some((1, 2))]),
            Some(Bitfield::full(4))
        );
    }

    /// Many savers of one record at once (the old fixed `.resume.tmp` name made them rename
    /// each other's temporary file away: "No such file or directory").
    #[test]
    fn concurrent_saves_of_one_record_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/state/x.resume");
        let record = ResumeData::new(&Bitfield::full(64), vec![Some((1, 2))]);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..100 {
                        record.save(&path).unwrap();
                    }
                });
            }
        });
        assert_eq!(ResumeData::load(&path), Some(record));
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn records_are_keyed_by_save_directory() {
        let dir = tempfile::tempdir().unwrap();
        let ih = InfoHash([7; 20]);
        let a = resume_path(dir.path(), ih, &dir.path().join("a"));
        assert_ne!(a, resume_path(dir.path(), ih, &dir.path().join("b")));
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let dotted = dir.path().join("a/.");
        assert_eq!(
            a,
            resume_path(dir.path(), ih, &dotted),
            "one directory, one key"
        );
        assert!(a
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&ih.to_hex()));
    }
}

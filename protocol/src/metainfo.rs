//! Metainfo (`.torrent`, BEP 3 v1): parsing and validation of single- and multi-file torrents with
//! BEP 12 announce tiers, BEP 19 web seeds, BEP 27 private flag and BEP 47 file attributes.
//!
//! The info-hash is the SHA-1 of the raw `info` bytes exactly as they sit in the file. Everything
//! in `info` that decides where bytes land (names, paths, lengths, piece geometry) is validated
//! here, so the engine can trust a [`Metainfo`]: paths stay inside the torrent's directory, and the
//! piece hashes cover the files exactly. Optional outer fields (trackers, comment) are read
//! leniently: malformed ones are skipped rather than refusing a torrent whose data is fine.
//!
//! ```
//! use protocol::{Metainfo, MetainfoError};
//! let torrent = b"d8:announce20:http://t/announce...4:infod6:lengthi5e4:name5:a.txt\
//!                 12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee";
//! let m = Metainfo::from_bytes(torrent).unwrap();
//! assert_eq!(m.info.files[0].path, ["a.txt"]);
//! assert_eq!(m.info.piece_size(0), 5);
//! assert_eq!(m.info_hash, protocol::InfoHash::of_info_bytes(m.info_bytes()));
//! assert_eq!(m.tiers(), [["http://t/announce..."]]);
//!
//! let hostile = b"d4:infod5:filesld6:lengthi1e4:pathl2:..6:passwdee\
//!                 e4:name1:x12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee";
//! let err = Metainfo::from_bytes(hostile).unwrap_err();
//! assert!(matches!(err, MetainfoError::UnsafePath { .. }));
//! assert_eq!(err.to_string(),
//!     "unsafe path \"../passwd\" in `info.files[0].path`: `..` component (would leave the torrent's directory)");
//! ```

use std::collections::HashSet;

use crate::bencode::{self, DecodeError, Limits, Value};
use crate::path::{self, PathError};
use crate::InfoHash;

/// Largest `.torrent` accepted: a 100k-piece torrent is about 2 MiB and a 100k-file one about
/// 6 MiB; libtorrent refuses anything over 10 MB by default. The bound also caps what a hostile
/// file can cost while it is decoded (the value tree takes roughly 12x the bytes at worst).
pub const MAX_METAINFO_SIZE: usize = 16 << 20;
/// Largest piece length accepted (mainstream tools stop at 16 or 32 MiB; anything bigger than this
/// would make one piece buffer a denial of service).
pub const MAX_PIECE_LENGTH: u64 = 512 << 20;

/// Why a torrent was refused. Messages name the field (`info.files[3].path`) or the bad path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetainfoError {
    #[error(transparent)]
    Bencode(#[from] DecodeError),
    #[error("torrent is {0} bytes, more than the {max} accepted", max = MAX_METAINFO_SIZE)]
    TooLarge(usize),
    #[error("`{0}` is missing")]
    Missing(String),
    #[error("`{field}` should be a {expected}, found a {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("`{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("unsafe path {path:?} in `{field}`: {reason}")]
    UnsafePath {
        field: String,
        path: String,
        reason: PathError,
    },
    #[error("v2-only torrents (BEP 52, no `pieces`) are not supported")]
    V2Only,
}

/// A parsed, validated `.torrent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// SHA-1 of the raw `info` bytes as they appear in the file.
    pub info_hash: InfoHash,
    pub info: Info,
    pub announce: Option<String>,
    /// BEP 12 tiers as in the file (non-string entries and empty tiers dropped).
    pub announce_list: Vec<Vec<String>>,
    /// BEP 19 web seeds.
    pub url_list: Vec<String>,
    pub comment: Option<String>,
    pub created_by: Option<String>,
    /// Seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    info_bytes: Vec<u8>,
}

/// The `info` dictionary: what the info-hash commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The file name (single-file) or the directory name (multi-file); a safe path component.
    pub name: String,
    pub piece_length: u64,
    pub pieces: Vec<[u8; 20]>,
    /// In torrent order. Single-file torrents have one entry whose path is `[name]`; multi-file
    /// entries hold the path inside the torrent's directory (without `name`).
    pub files: Vec<FileEntry>,
    pub single_file: bool,
    pub private: bool,
    /// Sum of all file lengths, pad files included (pieces cover them too).
    pub total_length: u64,
}

/// One file of the torrent's concatenated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Safe components (validated by [`crate::path::validate_component`]).
    pub path: Vec<String>,
    pub length: u64,
    /// Where the file starts in the concatenation of all files.
    pub offset: u64,
    /// BEP 47 `attr` 'p': padding that aligns the next file to a piece boundary; never written.
    pub pad: bool,
    /// BEP 47 `attr` 'x'.
    pub executable: bool,
    /// BEP 47 `attr` 'h'.
    pub hidden: bool,
}

impl FileEntry {
    /// The path joined with `/`, the form tools print.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }
}

/// Torrents are decoded with unsorted keys tolerated: the hash is taken over the raw bytes, so a
/// sloppy encoder upstream does not make the data wrong. Duplicate keys are still refused.
const LIMITS: Limits = Limits {
    allow_unsorted_keys: true,
    ..Limits::DEFAULT
};

impl Metainfo {
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo, MetainfoError> {
        if bytes.len() > MAX_METAINFO_SIZE {
            return Err(MetainfoError::TooLarge(bytes.len()));
        }
        // Bytes after the top-level dictionary (a newline added by a web server, say) are
        // ignored, as libtorrent, Transmission and aria2 all do: they cannot change the info-hash.
        let (root, used) = bencode::decode_prefix(bytes, LIMITS)?;
        let bytes = &bytes[..used];
        if root.as_dict().is_none() {
            return Err(wrong_type("(torrent)", "dictionary", &root));
        }
        let info_value = root
            .get("info")
            .ok_or_else(|| MetainfoError::Missing("info".into()))?;
        let info = Info::from_value(info_value)?;
        let info_bytes = bencode::raw_dict_value(bytes, b"info")?
            .ok_or_else(|| MetainfoError::Missing("info".into()))?
            .to_vec();
        Ok(Metainfo {
            info_hash: InfoHash::of_info_bytes(&info_bytes),
            info,
            announce: root.get("announce").and_then(url_text),
            announce_list: announce_list(root.get("announce-list")),
            url_list: url_list(root.get("url-list")),
            comment: text_preferring_utf8(&root, "comment"),
            created_by: text_preferring_utf8(&root, "created by"),
            creation_date: root.get("creation date").and_then(Value::as_int),
            info_bytes,
        })
    }

    /// The exact raw `info` dictionary (what `ut_metadata` serves and the info-hash covers).
    pub fn info_bytes(&self) -> &[u8] {
        &self.info_bytes
    }

    /// Tracker tiers to use: `announce-list` if it has any, else `[[announce]]`, else none.
    pub fn tiers(&self) -> Vec<Vec<String>> {
        if !self.announce_list.is_empty() {
            return self.announce_list.clone();
        }
        self.announce.iter().map(|a| vec![a.clone()]).collect()
    }
}

impl Info {
    /// Parses a bare `info` dictionary, as fetched over `ut_metadata` for a magnet link. The caller
    /// checks that its SHA-1 matches the info-hash it asked for.
    pub fn from_bytes(info_bytes: &[u8]) -> Result<Info, MetainfoError> {
        if info_bytes.len() > MAX_METAINFO_SIZE {
            return Err(MetainfoError::TooLarge(info_bytes.len()));
        }
        Info::from_value(&bencode::decode_with(info_bytes, LIMITS)?)
    }

    pub fn piece_count(&self) -> usize {
        self.pieces.len()
    }

    /// Length of piece `index`: `piece_length` except for a shorter last piece; 0 past the end.
    pub fn piece_size(&self, index: usize) -> u64 {
        let Some(start) = (index as u64).checked_mul(self.piece_length) else {
            return 0;
        };
        if index >= self.pieces.len() || start >= self.total_length {
            return 0;
        }
        (self.total_length - start).min(self.piece_length)
    }

    fn from_value(info: &Value<'_>) -> Result<Info, MetainfoError> {
        if info.as_dict().is_none() {
            return Err(wrong_type("info", "dictionary", info));
        }
        let name = text_field(info, "info", "name")?;
        path::validate_component(&name).map_err(|reason| MetainfoError::UnsafePath {
            field: "info.name".into(),
            path: name.clone(),
            reason,
        })?;

        let piece_length = required_int(info, "info.piece length", "piece length")?;
        let piece_length = u64::try_from(piece_length)
            .ok()
            .filter(|&l| l > 0 && l <= MAX_PIECE_LENGTH)
            .ok_or_else(|| {
                invalid(
                    "info.piece length",
                    format!("{piece_length} is not in 1..={MAX_PIECE_LENGTH}"),
                )
            })?;

        let pieces = match info.get("pieces") {
            Some(v) => v
                .as_bytes()
                .ok_or_else(|| wrong_type("info.pieces", "byte string", v))?,
            None if info.get("file tree").is_some() => return Err(MetainfoError::V2Only),
            None => return Err(MetainfoError::Missing("info.pieces".into())),
        };
        if pieces.len() % 20 != 0 {
            return Err(invalid(
                "info.pieces",
                format!("{} bytes is not a multiple of 20", pieces.len()),
            ));
        }
        let pieces: Vec<[u8; 20]> = pieces
            .chunks_exact(20)
            .map(|c| {
                let mut hash = [0u8; 20];
                hash.copy_from_slice(c);
                hash
            })
            .collect();

        let (files, single_file) = match (info.get("length"), info.get("files")) {
            (Some(_), Some(_)) => {
                return Err(invalid("info", "has both `length` and `files`".to_owned()))
            }
            (Some(_), None) => {
                let length = non_negative(info, "info.length", "length")?;
                let entry = FileEntry {
                    path: vec![name.clone()],
                    length,
                    offset: 0,
                    pad: false,
                    executable: false,
                    hidden: false,
                };
                let entry = with_attributes(entry, info);
                (vec![entry], true)
            }
            (None, Some(files)) => (parse_files(files)?, false),
            (None, None) if info.get("file tree").is_some() => return Err(MetainfoError::V2Only),
            (None, None) => return Err(MetainfoError::Missing("info.length or info.files".into())),
        };
        let total_length = files.last().map_or(0, |f| f.offset + f.length);

        let expected_pieces = total_length.div_ceil(piece_length);
        if expected_pieces != pieces.len() as u64 {
            return Err(invalid(
                "info.pieces",
                format!(
                    "{} hashes, but {total_length} bytes in pieces of {piece_length} need {expected_pieces}",
                    pieces.len()
                ),
            ));
        }
        Ok(Info {
            name,
            piece_length,
            pieces,
            files,
            single_file,
            private: info.get("private").and_then(Value::as_int) == Some(1),
            total_length,
        })
    }
}

/// The checks a fuzzer runs on arbitrary bytes (cargo-fuzz target `metainfo`; the property tests
/// run it too). Panicking is its job: every accepted torrent must satisfy these invariants.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    if let Ok(m) = Metainfo::from_bytes(data) {
        assert_eq!(m.info_hash, InfoHash::of_info_bytes(m.info_bytes()));
        assert_eq!(Info::from_bytes(m.info_bytes()).as_ref(), Ok(&m.info));
        let info = &m.info;
        assert_eq!(
            info.piece_count() as u64,
            info.total_length.div_ceil(info.piece_length)
        );
        let mut offset = 0;
        for file in &info.files {
            assert_eq!(file.offset, offset, "files are contiguous");
            assert!(path::validate_path(&file.path).is_ok(), "{:?}", file.path);
            offset += file.length;
        }
        assert_eq!(offset, info.total_length);
        let magnet = crate::Magnet::from_metainfo(&m);
        assert_eq!(crate::Magnet::parse(&magnet.to_uri()), Ok(magnet));
    }
    let _ = Info::from_bytes(data);
}

fn parse_files(files: &Value<'_>) -> Result<Vec<FileEntry>, MetainfoError> {
    let list = files
        .as_list()
        .ok_or_else(|| wrong_type("info.files", "list", files))?;
    if list.is_empty() {
        return Err(invalid("info.files", "is empty".to_owned()));
    }
    let mut entries = Vec::with_capacity(list.len());
    let mut offset: u64 = 0;
    for (i, file) in list.iter().enumerate() {
        // Field names are only formatted on the error path: big torrents have 100k+ files.
        let field = |suffix: &str| format!("info.files[{i}]{suffix}");
        if file.as_dict().is_none() {
            return Err(wrong_type(&field(""), "dictionary", file));
        }
        let length = match file.get("length") {
            Some(Value::Int(n)) => u64::try_from(*n)
                .map_err(|_| invalid(&field(".length"), format!("{n} is negative")))?,
            Some(other) => return Err(wrong_type(&field(".length"), "integer", other)),
            None => return Err(MetainfoError::Missing(field(".length"))),
        };
        let path = file_path(file, &field)?;
        let entry = FileEntry {
            path,
            length,
            offset,
            pad: false,
            executable: false,
            hidden: false,
        };
        offset = offset
            .checked_add(length)
            .ok_or_else(|| invalid(&field(".length"), "total length overflows".to_owned()))?;
        entries.push(with_attributes(entry, file));
    }
    // Two entries with one path would write over each other's data. Pad files (BEP 47) are
    // exempt: they are never written, and libtorrent names two pads of one size alike
    // (`.pad/6421` twice), so refusing them would refuse its torrents.
    let mut seen: HashSet<&[String]> = HashSet::with_capacity(entries.len());
    if let Some((i, dup)) = entries
        .iter()
        .enumerate()
        .find(|(_, e)| !e.pad && !seen.insert(e.path.as_slice()))
    {
        return Err(invalid(
            &format!("info.files[{i}].path"),
            format!("{:?} appears twice", dup.display_path()),
        ));
    }
    // A file cannot also be a directory holding another file (`a` and `a/b`).
    let directories: HashSet<&[String]> = entries
        .iter()
        .flat_map(|e| (1..e.path.len()).map(move |k| &e.path[..k]))
        .collect();
    if let Some((i, clash)) = entries
        .iter()
        .enumerate()
        .find(|(_, e)| directories.contains(e.path.as_slice()))
    {
        return Err(invalid(
            &format!("info.files[{i}].path"),
            format!(
                "{:?} is a file and also a directory of other files",
                clash.display_path()
            ),
        ));
    }
    Ok(entries)
}

/// `path.utf-8` when present and valid (old clients wrote local code pages into `path`), else `path`.
fn file_path(
    file: &Value<'_>,
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<String>, MetainfoError> {
    let utf8 = file
        .get("path.utf-8")
        .filter(|p| {
            p.as_list()
                .is_some_and(|c| c.iter().all(|c| c.as_str().is_some()))
        })
        .and_then(|p| string_list(p).ok());
    let path = match utf8 {
        Some(path) => path,
        None => {
            let raw = file
                .get("path")
                .ok_or_else(|| MetainfoError::Missing(field(".path")))?;
            string_list(raw).map_err(|bad| match bad {
                ListError::NotList => wrong_type(&field(".path"), "list", raw),
                ListError::NotString(i) => invalid(
                    &field(&format!(".path[{i}]")),
                    "is not a byte string".to_owned(),
                ),
            })?
        }
    };
    path::validate_path(&path).map_err(|reason| MetainfoError::UnsafePath {
        field: field(".path"),
        path: path.join("/"),
        reason,
    })?;
    Ok(path)
}

enum ListError {
    NotList,
    NotString(usize),
}

fn string_list(value: &Value<'_>) -> Result<Vec<String>, ListError> {
    let items = value.as_list().ok_or(ListError::NotList)?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_bytes()
                .map(name_text)
                .ok_or(ListError::NotString(i))
        })
        .collect()
}

fn with_attributes(mut entry: FileEntry, dict: &Value<'_>) -> FileEntry {
    if let Some(attr) = dict.get("attr").and_then(Value::as_bytes) {
        entry.pad = attr.contains(&b'p');
        entry.executable = attr.contains(&b'x');
        entry.hidden = attr.contains(&b'h');
    }
    entry
}

/// A name from the file as text: UTF-8 when it is valid UTF-8, else each byte as the Latin-1
/// character of the same value (as Transmission reads such torrents; old clients wrote local code
/// pages without a `.utf-8` twin). The fallback is lossless: every byte maps to its own
/// character. Path validation runs on the result, so `/`, `\` and NUL are still caught, and the
/// duplicate-path check catches the rare name that reads the same both ways.
///
/// Bytes 0x80-0x9F are C1 control characters in Latin-1, which path validation refuses (they
/// drive terminals); old Windows clients meant Windows-1252 by them (`’`, `€`, `–`), so those
/// read as that code page, still one character per byte and lossless. The five bytes that
/// Windows-1252 leaves undefined stay controls, and are refused.
fn name_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| cp1252_or_latin1(b)).collect(),
    }
}

fn cp1252_or_latin1(b: u8) -> char {
    const C1: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => C1[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// A required name field, preferring `<key>.utf-8`.
fn text_field(dict: &Value<'_>, parent: &str, key: &str) -> Result<String, MetainfoError> {
    if let Some(text) = dict.get(&format!("{key}.utf-8")).and_then(Value::as_str) {
        return Ok(text.to_owned());
    }
    let field = format!("{parent}.{key}");
    let value = dict
        .get(key)
        .ok_or_else(|| MetainfoError::Missing(field.clone()))?;
    let bytes = value
        .as_bytes()
        .ok_or_else(|| wrong_type(&field, "byte string", value))?;
    Ok(name_text(bytes))
}

fn text_preferring_utf8(dict: &Value<'_>, key: &str) -> Option<String> {
    dict.get(&format!("{key}.utf-8"))
        .and_then(Value::as_str)
        .or_else(|| dict.get(key).and_then(Value::as_str))
        .map(str::to_owned)
}

fn required_int(dict: &Value<'_>, field: &str, key: &str) -> Result<i64, MetainfoError> {
    let value = dict
        .get(key)
        .ok_or_else(|| MetainfoError::Missing(field.to_owned()))?;
    value
        .as_int()
        .ok_or_else(|| wrong_type(field, "integer", value))
}

fn non_negative(dict: &Value<'_>, field: &str, key: &str) -> Result<u64, MetainfoError> {
    let n = required_int(dict, field, key)?;
    u64::try_from(n).map_err(|_| invalid(field, format!("{n} is negative")))
}

/// Tracker and web-seed URLs: non-empty UTF-8, surrounding whitespace trimmed.
fn url_text(value: &Value<'_>) -> Option<String> {
    let text = value.as_str()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn announce_list(value: Option<&Value<'_>>) -> Vec<Vec<String>> {
    let Some(tiers) = value.and_then(Value::as_list) else {
        return Vec::new();
    };
    tiers
        .iter()
        .filter_map(|tier| {
            let urls: Vec<String> = tier.as_list()?.iter().filter_map(url_text).collect();
            (!urls.is_empty()).then_some(urls)
        })
        .collect()
}

/// BEP 19 allows a single string or a list of strings.
fn url_list(value: Option<&Value<'_>>) -> Vec<String> {
    match value {
        Some(Value::List(items)) => items.iter().filter_map(url_text).collect(),
        Some(single) => url_text(single).into_iter().collect(),
        None => Vec::new(),
    }
}

fn wrong_type(field: &str, expected: &'static str, found: &Value<'_>) -> MetainfoError {
    MetainfoError::WrongType {
        field: field.to_owned(),
        expected,
        found: found.kind(),
    }
}

fn invalid(field: &str, reason: String) -> MetainfoError {
    MetainfoError::Invalid {
        field: field.to_owned(),
        reason,
    }
}

#[cfg(test)]
#[path = "metainfo_tests.rs"]
mod tests;

//! BEP 19 web seeds, the pure part: which URL holds each file, which byte ranges of which files
//! make up a run of pieces, and when a misbehaving web seed is retried or given up.
//!
//! ```
//! use protocol::webseed::file_url;
//! let t = b"d4:infod5:filesld6:lengthi3e4:pathl3:a b5:c.txteee4:name3:dir\
//!           12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee";
//! let m = protocol::Metainfo::from_bytes(t).unwrap();
//! assert_eq!(file_url("http://h/files", &m.info, &m.info.files[0]),
//!            "http://h/files/dir/a%20b/c.txt");
//! ```

use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::metainfo::{FileEntry, Info};

/// Everything but RFC 3986 unreserved characters is escaped in a path component.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The URL of `file` on the web seed `base`. Single-file: `base` itself, or `base` + name when it
/// ends in `/`. Multi-file: `base` + `/`(if missing) + name + `/` + path, each component
/// percent-encoded.
pub fn file_url(base: &str, info: &Info, file: &FileEntry) -> String {
    let enc = |c: &str| utf8_percent_encode(c, COMPONENT).to_string();
    if info.single_file {
        return if base.ends_with('/') {
            format!("{base}{}", enc(&info.name))
        } else {
            base.to_owned()
        };
    }
    let mut url = base.to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    url.push_str(&enc(&info.name));
    for c in &file.path {
        url.push('/');
        url.push_str(&enc(c));
    }
    url
}

/// One contiguous piece of a file that a byte range of the torrent covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRange {
    /// Index into `Info::files`.
    pub file: usize,
    /// Offset inside the file.
    pub offset: u64,
    pub length: u64,
    /// A BEP 47 pad file: zeros, never fetched (web servers do not have them).
    pub pad: bool,
}

/// The file ranges that make up `length` bytes of the torrent from `start`, in order. Empty
/// files are skipped; a range past the end of the torrent is cut short.
pub fn file_ranges(info: &Info, start: u64, length: u64) -> Vec<FileRange> {
    let end = start.saturating_add(length).min(info.total_length);
    let mut out = Vec::new();
    // Files are in offset order: skip those that end before `start`.
    let first = info.files.partition_point(|f| f.offset + f.length <= start);
    for (i, f) in info.files.iter().enumerate().skip(first) {
        if f.offset >= end {
            break;
        }
        if f.length == 0 {
            continue;
        }
        let from = start.max(f.offset);
        let to = end.min(f.offset + f.length);
        out.push(FileRange {
            file: i,
            offset: from - f.offset,
            length: to - from,
            pad: f.pad,
        });
    }
    out
}

/// Consecutive failed requests (errors, timeouts, bad statuses) after which a web seed is
/// disabled.
pub const MAX_FAILURES: u32 = 5;
/// Pieces from one web seed that failed their hash check before it is disabled: wrong data is
/// worse than no data.
pub const MAX_BAD_PIECES: u32 = 2;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Whether a web seed may be asked now: exponential back-off after failures, disabled for good
/// (with the reason) after [`MAX_FAILURES`] in a row or [`MAX_BAD_PIECES`] bad pieces.
#[derive(Debug, Clone, Default)]
pub struct Health {
    failures: u32,
    bad_pieces: u32,
    retry_at: Option<Instant>,
    disabled: Option<String>,
}

impl Health {
    pub fn usable(&self, now: Instant) -> bool {
        self.disabled.is_none() && self.retry_at.is_none_or(|t| now >= t)
    }

    pub fn disabled(&self) -> Option<&str> {
        self.disabled.as_deref()
    }

    /// Backing off until this instant, if it is.
    pub fn retry_at(&self) -> Option<Instant> {
        self.retry_at.filter(|_| self.disabled.is_none())
    }

    /// A request was answered correctly.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// A request failed: back off 1 s, 2 s, 4 s... or disable. Returns the wait, `None` once
    /// disabled.
    pub fn failed(&mut self, now: Instant, reason: &str) -> Option<Duration> {
        self.failures += 1;
        if self.failures >= MAX_FAILURES {
            self.disable(format!(
                "{} failures in a row, last: {reason}",
                self.failures
            ));
            return None;
        }
        let wait = FIRST_BACKOFF
            .saturating_mul(1 << (self.failures - 1).min(16))
            .min(MAX_BACKOFF);
        self.retry_at = Some(now + wait);
        Some(wait)
    }

    /// A piece it sent failed its hash check. Returns the wait like [`Health::failed`].
    pub fn bad_piece(&mut self, now: Instant) -> Option<Duration> {
        self.bad_pieces += 1;
        if self.bad_pieces >= MAX_BAD_PIECES {
            self.disable(format!(
                "sent {} pieces that failed their hash check",
                self.bad_pieces
            ));
            return None;
        }
        self.failed(now, "a piece failed its hash check")
    }

    pub fn disable(&mut self, reason: String) {
        if self.disabled.is_none() {
            self.disabled = Some(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metainfo;

    fn multi() -> Metainfo {
        // Files of 5, 0, 11 (pad) and 20 bytes; pieces of 16 bytes.
        let t = b"d4:infod5:filesl\
            d6:lengthi5e4:pathl1:a5:x.binee\
            d6:lengthi0e4:pathl5:emptyee\
            d4:attr1:p6:lengthi11e4:pathl4:.pad2:11ee\
            d6:lengthi20e4:pathl9:\xc3\xa9t\xc3\xa9 #%?eee\
            4:name4:my d12:piece lengthi16e\
            6:pieces60:xxxxxxxxxxxxxxxxxxxxyyyyyyyyyyyyyyyyyyyyzzzzzzzzzzzzzzzzzzzzee";
        Metainfo::from_bytes(t).unwrap()
    }

    #[test]
    fn urls_follow_bep19() {
        let m = multi();
        let i = &m.info;
        assert_eq!(
            file_url("http://h/d/", i, &i.files[0]),
            "http://h/d/my%20d/a/x.bin"
        );
        assert_eq!(
            file_url("http://h/d", i, &i.files[3]),
            "http://h/d/my%20d/%C3%A9t%C3%A9%20%23%25%3F"
        );
        let s = Metainfo::from_bytes(
            b"d4:infod6:lengthi5e4:name5:a b.c12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee",
        )
        .unwrap();
        let f = &s.info.files[0];
        assert_eq!(file_url("http://h/x/", &s.info, f), "http://h/x/a%20b.c");
        assert_eq!(
            file_url("http://h/exact.iso", &s.info, f),
            "http://h/exact.iso"
        );
    }

    #[test]
    fn a_piece_spanning_files_needs_several_ranges() {
        let m = multi();
        let r = file_ranges(&m.info, 0, 16);
        assert_eq!(
            r,
            [
                FileRange {
                    file: 0,
                    offset: 0,
                    length: 5,
                    pad: false
                },
                FileRange {
                    file: 2,
                    offset: 0,
                    length: 11,
                    pad: true
                },
            ]
        );
        let r = file_ranges(&m.info, 16, 100);
        assert_eq!(
            r,
            [FileRange {
                file: 3,
                offset: 0,
                length: 20,
                pad: false
            }]
        );
        let r = file_ranges(&m.info, 3, 10);
        assert_eq!(
            r[0],
            FileRange {
                file: 0,
                offset: 3,
                length: 2,
                pad: false
            }
        );
        assert_eq!(
            r[1],
            FileRange {
                file: 2,
                offset: 0,
                length: 8,
                pad: true
            }
        );
        assert!(file_ranges(&m.info, 36, 5).is_empty());
        let total: u64 = file_ranges(&m.info, 0, 36).iter().map(|r| r.length).sum();
        assert_eq!(total, 36);
    }

    #[test]
    fn health_backs_off_then_disables() {
        let t = Instant::now();
        let mut h = Health::default();
        assert!(h.usable(t));
        assert_eq!(h.failed(t, "404"), Some(Duration::from_secs(1)));
        assert!(!h.usable(t));
        assert!(h.usable(t + Duration::from_secs(1)));
        assert_eq!(h.failed(t, "404"), Some(Duration::from_secs(2)));
        h.succeeded();
        assert!(h.usable(t));
        for _ in 0..MAX_FAILURES - 1 {
            assert!(h.failed(t, "timeout").is_some());
        }
        assert_eq!(h.failed(t, "timeout"), None);
        assert!(!h.usable(t + Duration::from_secs(10_000)));
        assert!(h.disabled().unwrap().contains("timeout"));

        let mut h = Health::default();
        assert!(h.bad_piece(t).is_some());
        assert_eq!(h.bad_piece(t), None);
        assert!(h.disabled().unwrap().contains("hash check"));
    }
}

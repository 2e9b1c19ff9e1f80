//! Parallel piece hashing: every core hashes whole pieces, claimed in file order from a shared
//! counter, so the read front moves through the data sequentially (kernel read-ahead keeps up,
//! on a disk as in the page cache) while a busy core simply claims fewer pieces.
//!
//! Each worker reads its piece with large positional reads (`pread`, no shared seek position)
//! into a buffer small enough to stay in the CPU cache, and feeds it straight to SHA-1: the copy
//! out of the page cache and the hash both run from cache. Files are laid end to end as the
//! torrent lays them out (pad files are zeros, never read), so a piece may span files.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sha1::{Digest, Sha1};

/// One run of the torrent's concatenated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `length` bytes read from the start of `path`.
    File { path: PathBuf, length: u64 },
    /// A BEP 47 pad file: zeros that exist only in the piece hashes.
    Zeros { length: u64 },
}

impl Segment {
    pub fn length(&self) -> u64 {
        match self {
            Segment::File { length, .. } | Segment::Zeros { length } => *length,
        }
    }
}

/// Why hashing stopped.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("cannot open {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("cannot read {} at byte {offset}: {source}", path.display())]
    Read {
        path: PathBuf,
        offset: u64,
        source: io::Error,
    },
    #[error("{} ended at byte {offset} but was {expected} bytes long when listed: it changed while being hashed", path.display())]
    Shrunk {
        path: PathBuf,
        offset: u64,
        expected: u64,
    },
    #[error("the piece length must be positive")]
    ZeroPieceLength,
    #[error("{0} pieces do not fit in memory on this platform")]
    TooManyPieces(u64),
}

/// How the work is spread; [`HashOptions::default`] uses every core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashOptions {
    pub threads: usize,
    /// Bytes per read. Measured on a 2-core EPYC with SHA-NI (bench/hash.sh): 128-256 KiB reads
    /// stay in L2 between the copy and the hash; multi-MiB reads spill and cost ~10%.
    pub read_size: usize,
}

/// Default bytes per read (see [`HashOptions::read_size`]).
pub const DEFAULT_READ_SIZE: usize = 256 * 1024;

impl Default for HashOptions {
    fn default() -> Self {
        HashOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            read_size: DEFAULT_READ_SIZE,
        }
    }
}

/// Total length of the concatenated data.
pub fn total_length(segments: &[Segment]) -> u64 {
    segments
        .iter()
        .fold(0u64, |sum, s| sum.saturating_add(s.length()))
}

/// SHA-1 of every `piece_length` run of the segments laid end to end (the last piece may be
/// shorter). `progress` is called from the workers with the bytes just hashed.
pub fn hash_pieces(
    segments: &[Segment],
    piece_length: u64,
    options: HashOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<[u8; 20]>, HashError> {
    if piece_length == 0 {
        return Err(HashError::ZeroPieceLength);
    }
    let total = total_length(segments);
    let piece_count = total.div_ceil(piece_length);
    let count = usize::try_from(piece_count).map_err(|_| HashError::TooManyPieces(piece_count))?;
    // Offsets where each segment starts, for a binary search from a piece's start.
    let mut starts = Vec::with_capacity(segments.len());
    let mut offset = 0u64;
    for segment in segments {
        starts.push(offset);
        offset = offset.saturating_add(segment.length());
    }
    let layout = Layout {
        segments,
        starts: &starts,
        piece_length,
        total,
    };
    let next_piece = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let threads = options.threads.clamp(1, count.max(1));
    let read_size = options.read_size.max(4096);

    let outcomes: Vec<Result<Hashed, HashError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut worker = Worker::new(&layout, read_size);
                    let mut done = Vec::new();
                    loop {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let piece = next_piece.fetch_add(1, Ordering::Relaxed);
                        if piece >= piece_count {
                            break;
                        }
                        match worker.hash_piece(piece) {
                            Ok((digest, len)) => {
                                done.push((piece, digest));
                                progress(len);
                            }
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(done)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| match w.join() {
                Ok(outcome) => outcome,
                // A panicking worker is a bug in this file; surface it where it happened.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });

    let mut pieces = vec![[0u8; 20]; count];
    for outcome in outcomes {
        for (index, digest) in outcome? {
            // `index < piece_count == pieces.len()` by the claim loop above.
            if let Some(slot) = pieces.get_mut(index as usize) {
                *slot = digest;
            }
        }
    }
    Ok(pieces)
}

/// What one worker hashed: piece indexes and their digests.
type Hashed = Vec<(u64, [u8; 20])>;

struct Layout<'a> {
    segments: &'a [Segment],
    starts: &'a [u64],
    piece_length: u64,
    total: u64,
}

/// One hashing thread: its read buffer and the file it read last (pieces a worker claims are
/// usually in the same file as its previous one).
struct Worker<'a> {
    layout: &'a Layout<'a>,
    buffer: Vec<u8>,
    open: Option<(usize, File)>,
}

impl<'a> Worker<'a> {
    fn new(layout: &'a Layout<'a>, read_size: usize) -> Self {
        Worker {
            layout,
            buffer: vec![0; read_size],
            open: None,
        }
    }

    fn hash_piece(&mut self, piece: u64) -> Result<([u8; 20], u64), HashError> {
        let layout = self.layout;
        let start = piece * layout.piece_length;
        let end = start.saturating_add(layout.piece_length).min(layout.total);
        let mut sha = Sha1::new();
        // The last segment starting at or before `start`; empty segments before it are skipped.
        let mut index = layout
            .starts
            .partition_point(|&s| s <= start)
            .saturating_sub(1);
        let mut position = start;
        while position < end {
            let (Some(segment), Some(&seg_start)) =
                (layout.segments.get(index), layout.starts.get(index))
            else {
                break;
            };
            let seg_end = seg_start + segment.length();
            let stop = seg_end.min(end);
            if stop > position {
                self.feed(&mut sha, index, position - seg_start, stop - position)?;
                position = stop;
            }
            index += 1;
        }
        Ok((sha.finalize().into(), end - start))
    }

    /// Hashes `length` bytes of segment `index` from `offset` within it.
    fn feed(
        &mut self,
        sha: &mut Sha1,
        index: usize,
        mut offset: u64,
        mut length: u64,
    ) -> Result<(), HashError> {
        let Some(segment) = self.layout.segments.get(index) else {
            return Ok(());
        };
        let path = match segment {
            Segment::Zeros { .. } => {
                self.buffer.fill(0);
                while length > 0 {
                    let n = length.min(self.buffer.len() as u64) as usize;
                    sha.update(&self.buffer[..n]);
                    length -= n as u64;
                }
                return Ok(());
            }
            Segment::File { path, .. } => path,
        };
        if self.open.as_ref().is_none_or(|(i, _)| *i != index) {
            let file = File::open(path).map_err(|source| HashError::Open {
                path: path.clone(),
                source,
            })?;
            self.open = Some((index, file));
        }
        let Some((_, file)) = &self.open else {
            return Ok(());
        };
        while length > 0 {
            let n = length.min(self.buffer.len() as u64) as usize;
            let chunk = &mut self.buffer[..n];
            read_exact_at(file, chunk, offset, path, segment.length())?;
            sha.update(&*chunk);
            offset += n as u64;
            length -= n as u64;
        }
        Ok(())
    }
}

fn read_exact_at(
    file: &File,
    mut buf: &mut [u8],
    mut offset: u64,
    path: &Path,
    expected: u64,
) -> Result<(), HashError> {
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => {
                return Err(HashError::Shrunk {
                    path: path.to_path_buf(),
                    offset,
                    expected,
                })
            }
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(HashError::Read {
                    path: path.to_path_buf(),
                    offset,
                    source,
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;

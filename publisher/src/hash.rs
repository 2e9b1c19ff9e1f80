//! Parallel piece hashing: every core hashes whole pieces, claimed two at a time in file order
//! from a shared counter, so the read front moves through the data sequentially (kernel
//! read-ahead keeps up, on a disk as in the page cache) while a busy core simply claims fewer.
//!
//! A worker hashes its two neighbouring pieces together ([`Sha1Pair`]: two SHA-1 chains
//! interleaved keep the CPU's SHA unit busy, where one chain waits on itself). A piece inside one
//! file is hashed straight from a read-only map of the file, each 256 KiB made present with one
//! `MADV_POPULATE_READ` before hashing it (no copy out of the page cache, no fault per page).
//! A piece spanning files (or any piece with [`HashOptions::map_files`] off) is read with
//! positional reads (`pread`: no shared seek position) into two buffers small enough to stay in
//! the CPU's L2 cache between the copy and the hash. Files are laid end to end as the torrent
//! lays them out (pad files are zeros, never read), so a piece may span files.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::mapped::{Mapped, SigbusGuard};
use crate::sha1_pair::Sha1Pair;

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
    /// Bytes per read (two buffers of it per thread). Measured with bench/hash.sh on 2-core
    /// EPYC and Xeon VMs with SHA-NI: 128-256 KiB reads stay in L2 between the copy and the
    /// hash; multi-MiB reads spill and cost ~10%.
    pub read_size: usize,
    /// Hash a piece that lies within one file straight from a read-only map of it (no copy out
    /// of the page cache: ~10% less CPU per byte measured on the 2-core EPYC VM, mostly kernel
    /// time); pieces spanning files are read. See `mapped.rs` for a file that shrinks meanwhile.
    pub map_files: bool,
}

/// Default bytes per read (see [`HashOptions::read_size`]).
pub const DEFAULT_READ_SIZE: usize = 256 * 1024;

impl Default for HashOptions {
    fn default() -> Self {
        HashOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            read_size: DEFAULT_READ_SIZE,
            map_files: true,
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
    let use_maps = options.map_files;
    let maps: Vec<Option<Mapped>> = segments
        .iter()
        .map(|segment| match segment {
            Segment::File { path, length } if use_maps => map_file(path, *length),
            _ => None,
        })
        .collect();
    let _sigbus = maps.iter().any(Option::is_some).then(SigbusGuard::install);
    let layout = Layout {
        segments,
        maps: &maps,
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
                        // Two neighbouring pieces at a time: one SHA-1 pair (see sha1_pair).
                        let first = next_piece.fetch_add(2, Ordering::Relaxed);
                        if first >= piece_count {
                            break;
                        }
                        match worker.hash_two(first) {
                            Ok(hashed) => {
                                for (piece, digest, len) in hashed.into_iter().flatten() {
                                    done.push((piece, digest));
                                    progress(len);
                                }
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

/// A hashed piece: its index, digest and length.
type PieceHash = (u64, [u8; 20], u64);

struct Layout<'a> {
    segments: &'a [Segment],
    /// Per segment, its file mapped (when it could be).
    maps: &'a [Option<Mapped>],
    starts: &'a [u64],
    piece_length: u64,
    total: u64,
}

impl Layout<'_> {
    /// Where piece `piece` starts and ends in the concatenated data.
    fn bounds(&self, piece: u64) -> (u64, u64) {
        let start = piece.saturating_mul(self.piece_length);
        (
            start,
            start.saturating_add(self.piece_length).min(self.total),
        )
    }
}

/// Files a worker keeps open: pieces it hashes together usually lie in one or two files.
const OPEN_FILES: usize = 4;

/// One hashing thread: a read buffer per piece of a pair, and the files it read last.
struct Worker<'a> {
    layout: &'a Layout<'a>,
    buffers: [Vec<u8>; 2],
    open: Vec<(usize, File)>,
}

impl<'a> Worker<'a> {
    fn new(layout: &'a Layout<'a>, read_size: usize) -> Self {
        Worker {
            layout,
            buffers: [vec![0; read_size], vec![0; read_size]],
            open: Vec::with_capacity(OPEN_FILES),
        }
    }

    /// Hashes pieces `first` and `first + 1` (when it exists): together while they have the
    /// same length, which every piece but a short last one has.
    fn hash_two(&mut self, first: u64) -> Result<[Option<PieceHash>; 2], HashError> {
        let layout = self.layout;
        let piece_count = layout.total.div_ceil(layout.piece_length);
        let (a_start, a_end) = layout.bounds(first);
        let second = first + 1;
        let (b_start, b_end) = layout.bounds(second);
        if second < piece_count && b_end - b_start == a_end - a_start {
            let [a, b] = self.hash_pair(a_start, b_start, a_end - a_start)?;
            let len = a_end - a_start;
            return Ok([Some((first, a, len)), Some((second, b, len))]);
        }
        let a = self.hash_pair(a_start, a_start, a_end - a_start)?[0];
        let b = if second < piece_count {
            Some((
                second,
                self.hash_single(b_start, b_end - b_start)?,
                b_end - b_start,
            ))
        } else {
            None
        };
        Ok([Some((first, a, a_end - a_start)), b])
    }

    /// One piece alone (the short last one): its two lanes carry the same bytes.
    fn hash_single(&mut self, start: u64, length: u64) -> Result<[u8; 20], HashError> {
        Ok(self.hash_pair(start, start, length)?[0])
    }

    /// SHA-1 of `length` bytes from `a` and of `length` bytes from `b`, read in turns.
    fn hash_pair(&mut self, a: u64, b: u64, length: u64) -> Result<[[u8; 20]; 2], HashError> {
        let mut sha = Sha1Pair::new();
        let read_size = self.buffers[0].len() as u64;
        if let (Some((map_a, at_a)), Some((map_b, at_b))) =
            (self.mapped(a, length), self.mapped(b, length))
        {
            let mut done = 0usize;
            let length = length as usize;
            while done < length {
                let n = (length - done).min(read_size as usize);
                sha.update(map_a.bytes(at_a + done, n), map_b.bytes(at_b + done, n));
                done += n;
            }
            return Ok(sha.finalize());
        }
        let mut done = 0u64;
        while done < length {
            let n = (length - done).min(read_size) as usize;
            let mut buffers = std::mem::take(&mut self.buffers);
            let outcome = self.fill(&mut buffers[0][..n], a + done).and_then(|()| {
                if a == b {
                    let (first, second) = buffers.split_at_mut(1);
                    second[0][..n].copy_from_slice(&first[0][..n]);
                    Ok(())
                } else {
                    self.fill(&mut buffers[1][..n], b + done)
                }
            });
            if outcome.is_ok() {
                sha.update(&buffers[0][..n], &buffers[1][..n]);
            }
            self.buffers = buffers;
            outcome?;
            done += n as u64;
        }
        Ok(sha.finalize())
    }

    /// The mapping holding all of `[offset, offset + length)`, and where that starts in it.
    fn mapped(&self, offset: u64, length: u64) -> Option<(&'a Mapped, usize)> {
        let layout = self.layout;
        let index = layout
            .starts
            .partition_point(|&s| s <= offset)
            .checked_sub(1)?;
        let start = *layout.starts.get(index)?;
        let segment = layout.segments.get(index)?;
        if offset + length > start + segment.length() {
            return None; // spans files: read it
        }
        let map = layout.maps.get(index)?.as_ref()?;
        Some((map, usize::try_from(offset - start).ok()?))
    }

    /// Fills `buf` with the concatenated data from `offset`, across segment boundaries.
    fn fill(&mut self, mut buf: &mut [u8], mut offset: u64) -> Result<(), HashError> {
        let layout = self.layout;
        // The last segment starting at or before `offset`; empty segments before it are skipped.
        let mut index = layout
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        while !buf.is_empty() {
            let (Some(segment), Some(&seg_start)) =
                (layout.segments.get(index), layout.starts.get(index))
            else {
                // Past the last segment: callers never ask for more than `total`.
                buf.fill(0);
                return Ok(());
            };
            let seg_end = seg_start + segment.length();
            if seg_end > offset {
                let n = (seg_end - offset).min(buf.len() as u64) as usize;
                let (now, rest) = std::mem::take(&mut buf).split_at_mut(n);
                match segment {
                    Segment::Zeros { .. } => now.fill(0),
                    Segment::File { path, length } => {
                        let file = self.file(index, path)?;
                        read_exact_at(file, now, offset - seg_start, path, *length)?;
                    }
                }
                buf = rest;
                offset += n as u64;
            }
            index += 1;
        }
        Ok(())
    }

    /// The open file of segment `index`.
    fn file(&mut self, index: usize, path: &Path) -> Result<&File, HashError> {
        let position = match self.open.iter().position(|(i, _)| *i == index) {
            Some(position) => position,
            None => {
                let file = File::open(path).map_err(|source| HashError::Open {
                    path: path.to_path_buf(),
                    source,
                })?;
                if self.open.len() == OPEN_FILES {
                    self.open.remove(0);
                }
                self.open.push((index, file));
                self.open.len() - 1
            }
        };
        Ok(&self.open[position].1)
    }
}

/// Maps `path` when it still holds at least `length` bytes (else it is read, which reports the
/// change).
fn map_file(path: &Path, length: u64) -> Option<Mapped> {
    let file = File::open(path).ok()?;
    if file.metadata().ok()?.len() < length {
        return None;
    }
    Mapped::new(&file, length)
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

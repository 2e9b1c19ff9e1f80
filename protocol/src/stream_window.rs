//! Where a torrent's streaming readers stand and which pieces they need next: the picker asks
//! for these first (a simple form of libtorrent's `set_piece_deadline`).
//!
//! Each reader (one HTTP response of the daemon's streaming server) has a position and the end
//! of its file. Its window runs from the piece at its position for a readahead that grows with
//! the rate the reader consumes bytes (seconds of playback, within bounds), so a fast reader is
//! not starved and a slow one does not hog the swarm. A seek is just a new position: the window
//! moves with the next `moved`. Several readers share the head of the list round-robin by
//! distance, so two ranges a player opens at once both get their next piece early.
//!
//! Pure: time comes in as an argument.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::lengths::Lengths;

/// Readers one torrent keeps at once; a further one is refused (the server answers 503).
pub const MAX_READERS: usize = 32;
/// Readahead of a reader whose rate is not known yet, and the least any reader gets.
pub const MIN_READAHEAD: u64 = 4 << 20;
/// The most one reader's window covers, however fast it reads.
pub const MAX_READAHEAD: u64 = 64 << 20;
/// The window holds this many seconds at the reader's observed rate.
const READAHEAD_SECS: u64 = 20;
/// Pieces handed to the picker at most (a torrent of tiny pieces and many readers).
pub const MAX_URGENT: usize = 1024;
/// A reader not heard of for this long is forgotten (its response died without closing).
pub const IDLE: Duration = Duration::from_secs(120);
/// The rate is measured over at least this long before it counts.
const RATE_MIN_SPAN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
struct Reader {
    pos: u64,
    /// End of the reader's file in torrent bytes (exclusive).
    end: u64,
    /// Where and when the current rate measurement began (reset by a seek).
    mark: (u64, Instant),
    last: Instant,
    /// Bytes per second, 0 while unknown.
    rate: u64,
}

impl Reader {
    fn readahead(&self) -> u64 {
        self.rate
            .saturating_mul(READAHEAD_SECS)
            .clamp(MIN_READAHEAD, MAX_READAHEAD)
    }
}

/// What a reader's new position was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// No such reader (closed, or forgotten as idle).
    Unknown,
    /// On from where it was, within its window.
    ReadOn,
    /// Anywhere else: the shell may withdraw requests that no longer serve a reader.
    Seek,
}

#[derive(Debug, Clone, Default)]
pub struct StreamReaders {
    readers: BTreeMap<u64, Reader>,
    next_id: u64,
}

impl StreamReaders {
    /// A new reader at torrent byte `pos` of a file ending at `end`; `None` when full.
    pub fn open(&mut self, pos: u64, end: u64, now: Instant) -> Option<u64> {
        if self.readers.len() >= MAX_READERS {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let reader = Reader {
            pos,
            end,
            mark: (pos, now),
            last: now,
            rate: 0,
        };
        self.readers.insert(id, reader);
        Some(id)
    }

    /// The reader now wants byte `pos`. Reading on (at most one readahead forward) feeds the
    /// rate; anything else is a seek, which starts a new measurement.
    pub fn moved(&mut self, id: u64, pos: u64, now: Instant) -> Moved {
        let Some(r) = self.readers.get_mut(&id) else {
            return Moved::Unknown;
        };
        let reading_on = pos >= r.pos && pos - r.pos <= r.readahead();
        if reading_on {
            let span = now.saturating_duration_since(r.mark.1);
            if span >= RATE_MIN_SPAN {
                let bytes = pos.saturating_sub(r.mark.0);
                r.rate = (bytes as f64 / span.as_secs_f64()) as u64;
            }
        } else {
            r.mark = (pos, now);
        }
        r.pos = pos;
        r.last = now;
        if reading_on {
            Moved::ReadOn
        } else {
            Moved::Seek
        }
    }

    pub fn close(&mut self, id: u64) {
        self.readers.remove(&id);
    }

    /// Forgets readers idle past `IDLE`; true if any went.
    pub fn expire(&mut self, now: Instant) -> bool {
        let before = self.readers.len();
        (self.readers).retain(|_, r| now.saturating_duration_since(r.last) < IDLE);
        before != self.readers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.readers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.readers.len()
    }

    /// The readers' window pieces, most urgent first: each reader's next piece, then each one's
    /// second, and so on; no piece twice; at most `MAX_URGENT`.
    pub fn urgent(&self, lengths: &Lengths) -> Vec<u32> {
        let plen = u64::from(lengths.default_piece_len()).max(1);
        let count = lengths.piece_count();
        let windows: Vec<(u32, u32)> = (self.readers.values())
            .filter(|r| r.pos < r.end.min(lengths.total()))
            .map(|r| {
                let end = r.end.min(lengths.total()).min(r.pos + r.readahead());
                let first = (r.pos / plen) as u32;
                let last = (end.saturating_sub(1) / plen) as u32;
                (first, last.min(count.saturating_sub(1)))
            })
            .collect();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for step in 0u32.. {
            let mut any = false;
            for &(first, last) in &windows {
                let Some(i) = first.checked_add(step).filter(|&i| i <= last) else {
                    continue;
                };
                any = true;
                if seen.insert(i) {
                    out.push(i);
                    if out.len() >= MAX_URGENT {
                        return out;
                    }
                }
            }
            if !any {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = 1 << 20;

    fn lengths(pieces: u32) -> Lengths {
        Lengths::new(u64::from(pieces) * P, P, pieces as usize).unwrap()
    }

    #[test]
    fn a_new_reader_wants_its_minimum_readahead_in_order() {
        let mut r = StreamReaders::default();
        let t = Instant::now();
        r.open(10 * P + 5, 100 * P, t).unwrap();
        assert_eq!(r.urgent(&lengths(100)), vec![10, 11, 12, 13, 14]);
    }

    #[test]
    fn the_window_stops_at_the_file_end() {
        let mut r = StreamReaders::default();
        r.open(3 * P, 5 * P, Instant::now()).unwrap();
        assert_eq!(r.urgent(&lengths(100)), vec![3, 4]);
        let mut r = StreamReaders::default();
        r.open(5 * P, 5 * P, Instant::now()).unwrap();
        assert!(r.urgent(&lengths(100)).is_empty(), "at the end: nothing");
    }

    #[test]
    fn a_seek_moves_the_window_at_once() {
        let mut r = StreamReaders::default();
        let t = Instant::now();
        let id = r.open(0, 100 * P, t).unwrap();
        assert_eq!(
            r.moved(id, 80 * P, t + Duration::from_millis(10)),
            Moved::Seek
        );
        assert_eq!(r.urgent(&lengths(100))[0], 80);
        assert_eq!(r.moved(id, 80 * P + 5, t), Moved::ReadOn);
        assert_eq!(r.moved(99, 0, t), Moved::Unknown);
    }

    #[test]
    fn readahead_grows_with_the_rate_within_bounds() {
        let mut r = StreamReaders::default();
        let t = Instant::now();
        let id = r.open(0, 1000 * P, t).unwrap();
        // 1 MiB/s for 2 s: 20 s of it is 20 pieces.
        r.moved(id, P, t + Duration::from_secs(1));
        r.moved(id, 2 * P, t + Duration::from_secs(2));
        assert_eq!(r.urgent(&lengths(1000)).len(), 20);
        // Very fast: capped at MAX_READAHEAD.
        let id = r.open(500 * P, 1000 * P, t).unwrap();
        r.close(0);
        r.moved(id, 502 * P, t + Duration::from_secs(1));
        r.moved(id, 504 * P, t + Duration::from_secs(1));
        let urgent = r.urgent(&lengths(1000));
        assert!(
            urgent.len() as u64 <= MAX_READAHEAD / P + 1,
            "{}",
            urgent.len()
        );
        assert_eq!(urgent[0], 504);
    }

    #[test]
    fn several_readers_take_turns_and_share_pieces_once() {
        let mut r = StreamReaders::default();
        let t = Instant::now();
        r.open(0, 100 * P, t).unwrap();
        r.open(50 * P, 100 * P, t).unwrap();
        r.open(2 * P, 100 * P, t).unwrap();
        let u = r.urgent(&lengths(100));
        assert_eq!(&u[..4], &[0, 50, 2, 1]);
        let mut sorted = u.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), u.len(), "no piece twice");
    }

    #[test]
    fn readers_are_bounded_and_idle_ones_expire() {
        let mut r = StreamReaders::default();
        let t = Instant::now();
        for _ in 0..MAX_READERS {
            r.open(0, P, t).unwrap();
        }
        assert!(r.open(0, P, t).is_none());
        assert!(!r.expire(t + Duration::from_secs(1)));
        assert!(r.expire(t + IDLE));
        assert!(r.is_empty());
    }
}

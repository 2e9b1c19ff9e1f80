//! Reading verified bytes for a local player (the daemon's streaming server): readers open a
//! file, read from a position, and the pieces at and ahead of each reader go to the picker as
//! urgent (`protocol::stream_window`). A read of a piece not yet verified waits here until the
//! piece passes its hash check, so unverified bytes are never handed out.
//!
//! Bounded: readers by `stream_window::MAX_READERS`, waiting reads by `MAX_WAITING`; a wait
//! whose reader went away (its reply closed) is dropped on the next tick.

use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol::stream_window::Moved;
use tokio::sync::oneshot;

use super::Torrent;
use crate::disk::DiskJob;
use crate::types::FilePieces;
use crate::types::{EngineError, TorrentState};

/// Reads waiting for their piece, over all readers of a torrent.
const MAX_WAITING: usize = 64;
/// The most one read returns (it never crosses a piece boundary either).
pub const MAX_READ: u32 = 256 * 1024;
/// A read waiting this long makes its piece late: its blocks are asked of a second peer too.
const LATE: Duration = Duration::from_secs(1);

pub(crate) type ReadReply = oneshot::Sender<Result<Bytes, EngineError>>;

pub(crate) enum StreamCmd {
    /// A reader of file `file` starting at byte `at` of it.
    Open {
        file: usize,
        at: u64,
        reply: oneshot::Sender<Result<OpenedFile, EngineError>>,
    },
    /// Up to `max` bytes at torrent byte `offset`, once verified.
    Read {
        reader: u64,
        offset: u64,
        max: u32,
        reply: ReadReply,
    },
    Close {
        reader: u64,
    },
    /// Which pieces of file `file` are verified (a player draws them along its seek bar).
    Pieces {
        file: usize,
        reply: oneshot::Sender<Result<FilePieces, EngineError>>,
    },
}

/// A reader's id and where its file lies in the torrent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenedFile {
    pub reader: u64,
    pub offset: u64,
    pub length: u64,
}

struct Waiting {
    since: Instant,
    piece: u32,
    offset: u64,
    len: u32,
    reply: ReadReply,
}

#[derive(Default)]
pub(super) struct Streaming {
    readers: protocol::stream_window::StreamReaders,
    waiting: Vec<Waiting>,
}

impl Streaming {
    /// No reader open and no read waiting: the torrent's clock may sleep.
    pub(super) fn is_idle(&self) -> bool {
        self.readers.is_empty() && self.waiting.is_empty()
    }
}

impl Torrent {
    pub(super) fn on_stream_cmd(&mut self, cmd: StreamCmd) {
        match cmd {
            StreamCmd::Open { file, at, reply } => {
                let _ = reply.send(self.open_reader(file, at));
            }
            StreamCmd::Read {
                reader,
                offset,
                max,
                reply,
            } => self.stream_read(reader, offset, max, reply),
            StreamCmd::Close { reader } => {
                self.streaming.readers.close(reader);
                self.update_urgent();
            }
            StreamCmd::Pieces { file, reply } => {
                let _ = reply.send(self.file_pieces(file));
            }
        }
    }

    fn file_pieces(&self, file: usize) -> Result<FilePieces, EngineError> {
        let f = (self.metainfo.info.files.get(file))
            .filter(|f| !f.pad)
            .ok_or(EngineError::Stream("no such file in the torrent"))?;
        let piece_len = self.lengths.default_piece_len().max(1);
        let plen = u64::from(piece_len);
        let first = f.offset / plen;
        let last = (f.offset + f.length.max(1) - 1) / plen;
        let count = u32::try_from(last - first + 1).unwrap_or(u32::MAX);
        let mut have = vec![0u8; count.div_ceil(8) as usize];
        // While the torrent checks its data, nothing counts as verified yet.
        let checking = self.state == TorrentState::Checking;
        for i in 0..count {
            let piece = u32::try_from(first + u64::from(i)).unwrap_or(u32::MAX);
            if !checking && self.core.have().get(piece) {
                have[(i / 8) as usize] |= 0x80 >> (i % 8);
            }
        }
        Ok(FilePieces {
            length: f.length,
            piece_len,
            first_offset: (f.offset % plen) as u32,
            count,
            have,
        })
    }

    fn open_reader(&mut self, file: usize, at: u64) -> Result<OpenedFile, EngineError> {
        let f = (self.metainfo.info.files.get(file))
            .filter(|f| !f.pad)
            .ok_or(EngineError::Stream("no such file in the torrent"))?;
        let (offset, length) = (f.offset, f.length);
        let pos = offset + at.min(length);
        let reader = (self.streaming.readers)
            .open(pos, offset + length, Instant::now())
            .ok_or(EngineError::Stream("too many readers of this torrent"))?;
        self.withdraw_for_seek();
        self.update_urgent();
        Ok(OpenedFile {
            reader,
            offset,
            length,
        })
    }

    fn stream_read(&mut self, reader: u64, offset: u64, max: u32, reply: ReadReply) {
        match self.streaming.readers.moved(reader, offset, Instant::now()) {
            Moved::Unknown => {
                let _ = reply.send(Err(EngineError::Stream("the reader is closed")));
                return;
            }
            Moved::Seek => self.withdraw_for_seek(),
            Moved::ReadOn => {}
        }
        self.update_urgent();
        let plen = u64::from(self.lengths.default_piece_len()).max(1);
        let Some(piece) =
            (self.lengths).validate_piece(u32::try_from(offset / plen).unwrap_or(u32::MAX))
        else {
            let _ = reply.send(Err(EngineError::Stream("read past the torrent's end")));
            return;
        };
        let piece_end = self.lengths.piece_offset(piece) + u64::from(self.lengths.piece_len(piece));
        let len = (piece_end - offset).min(u64::from(max.clamp(1, MAX_READ))) as u32;
        let waiting = Waiting {
            since: Instant::now(),
            piece: piece.get(),
            offset,
            len,
            reply,
        };
        if self.core.have().get(piece.get()) && self.state != TorrentState::Checking {
            self.dispatch(waiting);
        } else if self.streaming.waiting.len() >= MAX_WAITING {
            let _ = (waiting.reply).send(Err(EngineError::Stream("too many reads waiting")));
        } else {
            self.streaming.waiting.push(waiting);
        }
    }

    /// Disk jobs run in order, so this read comes after the piece's writes.
    fn dispatch(&self, w: Waiting) {
        let _ = self.disk.send(DiskJob::ReadRange {
            offset: w.offset,
            len: w.len,
            reply: w.reply,
        });
    }

    /// A piece passed its hash check: the reads waiting for it go to the disk thread.
    pub(super) fn stream_piece_verified(&mut self, piece: u32) {
        if self.streaming.waiting.iter().all(|w| w.piece != piece) {
            return;
        }
        let (ready, rest) = std::mem::take(&mut self.streaming.waiting)
            .into_iter()
            .partition(|w| w.piece == piece);
        self.streaming.waiting = rest;
        for w in ready {
            self.dispatch(w);
        }
    }

    /// Every tick: waits whose reader gave up go, readers gone quiet are forgotten.
    pub(super) fn stream_tick(&mut self, now: Instant) {
        self.streaming.waiting.retain(|w| !w.reply.is_closed());
        let mut late: Vec<u32> = (self.streaming.waiting.iter())
            .filter(|w| now.saturating_duration_since(w.since) >= LATE)
            .map(|w| w.piece)
            .collect();
        late.sort_unstable();
        late.dedup();
        let any_late = !late.is_empty();
        self.core.picker_mut().set_late(late);
        if self.streaming.readers.expire(now) || any_late {
            self.update_urgent();
        }
    }

    /// The checking phase ended: pieces it found may be what readers wait for.
    pub(super) fn stream_checked(&mut self) {
        let have = self.core.have().clone();
        let (ready, rest) = std::mem::take(&mut self.streaming.waiting)
            .into_iter()
            .partition(|w| have.get(w.piece));
        self.streaming.waiting = rest;
        for w in ready {
            self.dispatch(w);
        }
        self.update_urgent();
    }

    /// A reader jumped (or a new one opened): requests outstanding at peers for pieces no
    /// reader needs are cancelled, so the peers' queues (and a capped seeder's spread-out
    /// serving order) do not stand between the reader and its bytes. A block already on its way
    /// is still taken when it comes (the peer remembers it as withdrawn, the picker as free).
    ///
    /// A block asked again after a withdrawal is not withdrawn a second time: the peer keeps one
    /// mark per withdrawn block, and a seeder that ignores cancels (its blocks already read)
    /// would send one copy per request, so a third copy would count as unrequested; enough of
    /// them (seeks while a capped seeder's queue is long) and it was banned.
    fn withdraw_for_seek(&mut self) {
        let urgent: std::collections::HashSet<u32> = (self.streaming.readers)
            .urgent(&self.lengths)
            .into_iter()
            .collect();
        self.core.withdraw_except(&urgent);
    }

    /// Hands the readers' pieces to the picker and asks peers for them at once (a seek moves
    /// the priorities with its first read).
    fn update_urgent(&mut self) {
        let urgent = self.streaming.readers.urgent(&self.lengths);
        self.core.picker_mut().set_urgent(urgent);
        if !self.streaming.readers.is_empty() {
            self.core.request_from_all();
        }
    }
}

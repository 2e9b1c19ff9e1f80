//! The disk of one torrent (a lane of `disk_pool`'s threads): positional writes, reads for uploads, and SHA-1 verification,
//! all off the async reactor.
//!
//! Blocks are hashed as they arrive in order (a piece is never read back to verify it); a block
//! that arrives ahead of its predecessors waits in memory until the gap is filled. Jobs run in
//! the order they were queued, so a read queued after a piece's writes sees the piece, and a
//! piece is reported verified only once all of its bytes are written.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use protocol::{Bitfield, Info, Lengths, PieceIndex, ValidBlock};
use sha1::{Digest, Sha1};
use tokio::sync::mpsc;

use crate::peer::PeerKey;
use crate::resume::ResumeData;
use crate::storage::Storage;

#[path = "disk_changes.rs"]
mod changes;
pub use changes::{ChangedFile, Withdrawal};

/// Block bytes queued for writing: the actor stops requesting above `HIGH_WATER` and the disk
/// thread wakes it (`DiskEvent::Drained`) below `LOW_WATER`, so a slow disk throttles the
/// download instead of filling memory.
#[derive(Debug, Default)]
pub struct WriteBacklog {
    pub pending: AtomicU64,
    pub waiting: AtomicBool,
}

pub const HIGH_WATER: u64 = 2 << 20;
pub const LOW_WATER: u64 = 1 << 20;

impl WriteBacklog {
    /// Called by the actor when it wants to request more: false = wait for `Drained`.
    pub fn has_room(&self) -> bool {
        if self.pending.load(Ordering::Acquire) < HIGH_WATER {
            return true;
        }
        self.waiting.store(true, Ordering::Release);
        // The disk thread may have drained in between: look again so no wake-up is lost.
        if self.pending.load(Ordering::Acquire) < LOW_WATER {
            self.waiting.store(false, Ordering::Release);
            return true;
        }
        false
    }
}

pub enum DiskJob {
    /// A block accepted by the picker; its piece is hashed once all blocks are in.
    Write { block: ValidBlock, data: Bytes },
    /// Read a block that peer `key` asked for; answered with `DiskEvent::ReadDone`.
    Read { key: PeerKey, block: ValidBlock },
    /// Hash the existing data (pieces whose files are missing are skipped). `recorded`: the
    /// file stamps of untrusted resume data; files that changed since are reported (see
    /// `disk_changes.rs`). If the torrent's place is not yet its own, the check settles that
    /// first (`storage_claim.rs`) and records the outcome in `record_to` before any write.
    Check {
        recorded: Option<Vec<crate::storage::FileStamp>>,
        record_to: Option<PathBuf>,
    },
    /// Write resume data for these verified pieces, after every earlier write, with the
    /// torrent's lifetime totals (synced to disk unless only the totals changed).
    SaveResume {
        have: Bitfield,
        path: PathBuf,
        totals: crate::resume::Totals,
        durability: crate::resume::Durability,
    },
    /// Close the files (flushing them) and stop; `delete` removes them first.
    Stop { delete: bool },
    /// Never read these pieces for peers again (answered with `Withdrawal::Pieces`).
    Withdraw {
        pieces: Vec<u32>,
        reply: Option<tokio::sync::oneshot::Sender<Vec<u32>>>,
    },
    /// Which files are skipped now (one per file): see `Storage::select`.
    Select(Vec<bool>),
    /// Read verified bytes for a streaming reader (within one piece, which the actor has
    /// seen verified); answered on `reply`, refused if the piece was withdrawn.
    ReadRange {
        offset: u64,
        len: u32,
        reply: tokio::sync::oneshot::Sender<Result<Bytes, crate::EngineError>>,
    },
    /// Move the files to the save directory `to` (`storage_move.rs`), the part file to
    /// `parts_to`, and the resume data from `resume.0` to `resume.1`; answered with
    /// `MoveProgress` events and then `Moved`.
    Move {
        to: PathBuf,
        parts_to: Option<PathBuf>,
        resume: Option<(PathBuf, PathBuf)>,
        force_copy: bool,
        /// Set by `Session::cancel_move` while it copies.
        cancel: std::sync::Arc<std::sync::atomic::AtomicBool>,
    },
    /// Hash again the pieces of files that changed on disk; answer with what changed.
    RecheckChanged {
        reply: tokio::sync::oneshot::Sender<Vec<ChangedFile>>,
    },
}

#[derive(Debug)]
pub enum DiskEvent {
    Verified(PieceIndex),
    /// The write backlog fell below `LOW_WATER` after the actor had to wait.
    Drained,
    ReadDone {
        key: PeerKey,
        block: ValidBlock,
        data: Bytes,
    },
    Failed(PieceIndex),
    CheckProgress {
        done: u32,
    },
    Checked(Bitfield),
    /// Something else had the torrent's name: its files go to this path instead (sent before
    /// `Checked`).
    Relocated(PathBuf),
    /// A write failed (disk full, permissions): the torrent cannot go on.
    Error(String),
    Stopped,
    /// Pieces that may no longer be served (see `disk_changes.rs`).
    Withdrawal(Withdrawal),
    /// A move copies across file systems: bytes copied of the total.
    MoveProgress {
        done: u64,
        total: u64,
    },
    /// The move ended: the torrent's new path (file or directory), or why it stayed.
    Moved(Result<PathBuf, String>),
}

struct PieceHash {
    hasher: Sha1,
    next: u32,
    waiting: BTreeMap<u32, Bytes>,
}

pub struct Disk {
    storage: Storage,
    lengths: Lengths,
    hashes: Vec<[u8; 20]>,
    partial: HashMap<u32, PieceHash>,
    events: mpsc::UnboundedSender<DiskEvent>,
    backlog: Arc<WriteBacklog>,
    guard: changes::Guard,
}

impl Disk {
    /// A torrent's disk, to run on a lane of the pool (`DiskSender::spawn`).
    pub fn new(
        storage: Storage,
        info: &Info,
        lengths: Lengths,
        events: mpsc::UnboundedSender<DiskEvent>,
        backlog: Arc<WriteBacklog>,
    ) -> Disk {
        let guard = changes::Guard::new(&storage, lengths.piece_count());
        Disk {
            guard,
            storage,
            lengths,
            hashes: info.pieces.clone(),
            partial: HashMap::new(),
            events,
            backlog,
        }
    }

    /// Runs one job; `Break` once the disk has stopped (its lane takes no more jobs).
    pub(crate) fn run_job(&mut self, job: DiskJob) -> ControlFlow<()> {
        {
            match job {
                DiskJob::Write { block, data } => self.write(block, data),
                DiskJob::Read { key, block } => self.read(key, block),
                DiskJob::ReadRange { offset, len, reply } => {
                    let _ = reply.send(self.read_range(offset, len));
                }
                DiskJob::Check {
                    recorded,
                    record_to,
                } => self.check(recorded, record_to),
                DiskJob::Withdraw { pieces, reply } => self.withdraw(pieces, reply),
                DiskJob::RecheckChanged { reply } => self.report_changes(reply),
                DiskJob::Select(skipped) => self.select(&skipped),
                DiskJob::SaveResume {
                    have,
                    path,
                    totals,
                    durability,
                } => self.save_resume(&have, &path, totals, durability),
                DiskJob::Move {
                    to,
                    parts_to,
                    resume,
                    force_copy,
                    cancel,
                } => self.relocate(&to, parts_to.as_deref(), resume, force_copy, &cancel),
                DiskJob::Stop { delete } => {
                    if delete {
                        self.storage.delete();
                    } else if let Err(e) = self.storage.close() {
                        tracing::warn!("closing files: {e}");
                    }
                    let _ = self.events.send(DiskEvent::Stopped);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn write(&mut self, block: ValidBlock, data: Bytes) {
        let offset = self.lengths.piece_offset(block.piece) + u64::from(block.begin);
        let written = self.storage.write(offset, &data);
        let len = data.len() as u64;
        let left = self
            .backlog
            .pending
            .fetch_sub(len, Ordering::AcqRel)
            .saturating_sub(len);
        if left < LOW_WATER && self.backlog.waiting.swap(false, Ordering::AcqRel) {
            let _ = self.events.send(DiskEvent::Drained);
        }
        if let Err(e) = written {
            let _ = self.events.send(DiskEvent::Error(format!(
                "writing {}: {e}",
                self.storage.root().display()
            )));
            return;
        }
        self.guard_wrote(offset, data.len());
        let piece = block.piece;
        let state = self
            .partial
            .entry(piece.get())
            .or_insert_with(|| PieceHash {
                hasher: Sha1::new(),
                next: 0,
                waiting: BTreeMap::new(),
            });
        if block.begin != state.next {
            if block.begin > state.next {
                state.waiting.insert(block.begin, data);
            }
            return;
        }
        state.hasher.update(&data);
        state.next += block.length;
        while let Some(next) = state.waiting.remove(&state.next) {
            state.hasher.update(&next);
            state.next += next.len() as u32;
        }
        if state.next >= self.lengths.piece_len(piece) {
            if let Some(done) = self.partial.remove(&piece.get()) {
                let ok = done.hasher.finalize().as_slice() == self.expected(piece);
                if ok {
                    self.guard_verified(piece);
                }
                let _ = self.events.send(if ok {
                    DiskEvent::Verified(piece)
                } else {
                    DiskEvent::Failed(piece)
                });
            }
        }
    }

    fn select(&mut self, skipped: &[bool]) {
        match self.storage.select(skipped) {
            // Files we just made from the part file: our own write, not someone's edit.
            Ok(made) => {
                for i in made {
                    if let Some((_, offset, length, _)) = self.storage.file_span(i) {
                        self.guard_wrote(offset, usize::try_from(length).unwrap_or(usize::MAX));
                    }
                }
            }
            Err(e) => {
                let _ = self.events.send(DiskEvent::Error(format!(
                    "moving bytes out of the part file into {}: {e}",
                    self.storage.root().display()
                )));
            }
        }
    }

    fn expected(&self, piece: PieceIndex) -> &[u8] {
        self.hashes
            .get(piece.get() as usize)
            .map_or(&[], |h| h.as_slice())
    }

    fn read(&mut self, key: PeerKey, block: ValidBlock) {
        if !self.guard_allows(block.piece, false) {
            return self.refuse_read(key, block);
        }
        let offset = self.lengths.piece_offset(block.piece) + u64::from(block.begin);
        let mut buf = vec![0; block.length as usize];
        let read = self.storage.read(offset, &mut buf);
        // Looked at after reading: bytes someone changed under us are never sent.
        if !self.guard_allows(block.piece, true) {
            return self.refuse_read(key, block);
        }
        match read {
            Ok(()) => {
                let _ = self.events.send(DiskEvent::ReadDone {
                    key,
                    block,
                    data: Bytes::from(buf),
                });
            }
            Err(e) => {
                tracing::warn!("reading piece {} for upload: {e}", block.piece.get());
                self.refuse_read(key, block);
            }
        }
    }

    fn read_range(&mut self, offset: u64, len: u32) -> Result<Bytes, crate::EngineError> {
        let plen = u64::from(self.lengths.default_piece_len()).max(1);
        let piece = u32::try_from(offset / plen)
            .ok()
            .and_then(|i| self.lengths.validate_piece(i))
            .ok_or(crate::EngineError::Stream("read past the torrent's end"))?;
        let withdrawn = crate::EngineError::Stream("the piece changed on disk");
        if !self.guard_allows(piece, false) {
            return Err(withdrawn);
        }
        let mut buf = vec![0; len as usize];
        (self.storage.read(offset, &mut buf)).map_err(|source| crate::EngineError::Io {
            what: "reading for a stream from",
            path: self.storage.root().to_path_buf(),
            source,
        })?;
        // Looked at after reading, as for uploads: bytes changed under us are never sent.
        if !self.guard_allows(piece, true) {
            return Err(withdrawn);
        }
        Ok(Bytes::from(buf))
    }

    fn check(
        &mut self,
        recorded: Option<Vec<crate::storage::FileStamp>>,
        record_to: Option<PathBuf>,
    ) {
        let fresh = !self.storage.is_claimed();
        let stranger = match self.claim_if_free() {
            Ok(stranger) => stranger,
            Err(e) => return self.fail_check(e),
        };
        self.guard_reset();
        let mut have = Bitfield::new(self.lengths.piece_count());
        let mut buf = Vec::new();
        // A stranger of other sizes cannot be a complete copy: not worth reading.
        let pieces = if stranger && !self.storage.has_exact_sizes() {
            None
        } else {
            Some(self.lengths.pieces())
        };
        for piece in pieces.into_iter().flatten() {
            if self.piece_matches(piece, &mut buf) {
                have.set(piece.get());
            } else if stranger {
                break; // not a complete copy: no need to read more of someone else's file
            }
            if piece.get() % 64 == 63 {
                let _ = self.events.send(DiskEvent::CheckProgress {
                    done: piece.get() + 1,
                });
            }
        }
        if stranger {
            if let Err(e) = self.settle_stranger(&mut have) {
                return self.fail_check(e);
            }
        }
        // The claim is recorded before any write, so a crash from here on cannot make the
        // torrent's own partial file look like a stranger's.
        // A fresh claim has no record, so no totals before this run (and none yet in it).
        if let (true, Some(path)) = (fresh, &record_to) {
            let (totals, synced) = (Default::default(), crate::resume::Durability::Synced);
            self.save_resume(&have, path, totals, synced);
        }
        if let Some(recorded) = recorded {
            self.guard_changed_since(&recorded, &have);
        }
        let _ = self.events.send(DiskEvent::Checked(have));
    }

    /// Claims the torrent's place if nothing has its name; true if something that is not
    /// ours has it (the check then decides: `settle_stranger`).
    fn claim_if_free(&mut self) -> std::io::Result<bool> {
        if self.storage.is_claimed() {
            return Ok(false);
        }
        let free = self.storage.claim_if_free()?;
        Ok(!free)
    }

    /// After checking a same-named stranger: a complete copy of exactly the torrent's sizes is
    /// adopted; anything else is left alone and a free `name (N)` claimed, with nothing in it.
    fn settle_stranger(&mut self, have: &mut Bitfield) -> std::io::Result<()> {
        if have.is_full() && self.storage.has_exact_sizes() {
            self.storage.set_claimed();
            return Ok(());
        }
        self.storage.claim_a_free_name()?;
        *have = Bitfield::new(self.lengths.piece_count());
        self.guard_reset();
        let _ = (self.events).send(DiskEvent::Relocated(self.storage.root().to_path_buf()));
        Ok(())
    }

    fn relocate(
        &mut self,
        to: &std::path::Path,
        parts_to: Option<&std::path::Path>,
        resume: Option<(PathBuf, PathBuf)>,
        force_copy: bool,
        cancel: &std::sync::atomic::AtomicBool,
    ) {
        let events = self.events.clone();
        let mut last = 0;
        let mut progress = |done: u64, total: u64| {
            // At most about a hundred progress events per move.
            if done == total || done >= last + total / 100 {
                last = done;
                let _ = events.send(DiskEvent::MoveProgress { done, total });
            }
        };
        let moved = self
            .storage
            .relocate(to, parts_to, force_copy, cancel, &mut progress);
        let outcome = match moved {
            Ok(()) => {
                // Our own move changed the stamps (a copy's mtimes): not someone's edit.
                self.guard_restamp();
                if let Some((from, to)) = resume {
                    match std::fs::rename(&from, &to) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => tracing::warn!("moving resume data to {}: {e}", to.display()),
                    }
                }
                Ok(self.storage.root().to_path_buf())
            }
            Err(e) => Err(format!(
                "moving {} to {}: {e}",
                self.storage.root().display(),
                to.display()
            )),
        };
        let _ = self.events.send(DiskEvent::Moved(outcome));
    }

    fn fail_check(&self, e: std::io::Error) {
        let _ = self.events.send(DiskEvent::Error(format!(
            "claiming {}: {e}",
            self.storage.root().display()
        )));
    }

    /// Resume data for `have`, naming where the files are. Never for a place that is not the
    /// torrent's: the record would make a stranger's file look like ours.
    fn save_resume(
        &self,
        have: &Bitfield,
        path: &std::path::Path,
        totals: crate::resume::Totals,
        durability: crate::resume::Durability,
    ) {
        if !self.storage.is_claimed() {
            return;
        }
        let data = ResumeData::new(have, self.storage.stamps())
            .named(self.storage.root_name())
            .with_totals(totals);
        if let Err(e) = data.save_as(path, durability) {
            tracing::warn!("cannot save resume data to {}: {e}", path.display());
        }
    }
}

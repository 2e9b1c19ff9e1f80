//! Files that change under a torrent we serve: pieces that no longer match their hashes are
//! withdrawn, never served.
//!
//! The disk thread remembers every file's size and modification time as of the last time it
//! knew the data (the initial check, trusted resume data, or its own writes). After each read
//! for an upload it looks at the stamps of the piece's files again: a write by anyone else
//! changes the mtime before its bytes land, so a read that finished before the stamp still
//! matched read bytes nobody had touched. When a stamp moved, every piece of that file is hashed
//! again (here, off the reactor); the ones that fail are withdrawn: their reads are refused and
//! the actor is told to clear them from what we have (and never to fetch them again: that would
//! overwrite someone's edit). A report per changed file waits for `RecheckChanged`.
//!
//! A write moves the mtime just before its bytes land, so a re-hash right after that moment can
//! still see the old bytes. A file whose mtime was recent (under [`SETTLE`]) when re-hashed is
//! therefore hashed once more after [`SETTLE`] (at the next read or `RecheckChanged`).
//!
//! Limit: a change within the same mtime tick as our last look (a few ms on ext4) is invisible to
//! stamps; only hashing every block on every read would see it.

use std::ops::Range;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocol::{Bitfield, PieceIndex, ValidBlock};
use sha1::{Digest, Sha1};
use tokio::sync::oneshot;

use super::{Disk, DiskEvent};
use crate::peer::PeerKey;
use crate::storage::{FileStamp, Storage};

/// One file found changed, and what that did to the torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    pub path: PathBuf,
    /// Pieces holding bytes of the file: all of them were hashed again.
    pub pieces_checked: u32,
    /// Those that no longer match their hash (newly: pieces already withdrawn are not repeated).
    pub mismatched: Vec<u32>,
}

/// What the disk thread tells the actor about withdrawn pieces.
#[derive(Debug)]
pub enum Withdrawal {
    /// Stop serving these pieces; `reply` (an explicit withdrawal) wants the ones we had.
    Pieces {
        pieces: Vec<u32>,
        reply: Option<oneshot::Sender<Vec<u32>>>,
    },
    /// A read for a withdrawn piece was not done: the request must be refused.
    ReadRefused { key: PeerKey, block: ValidBlock },
    /// The answer to `DiskJob::RecheckChanged`, after any `Pieces` it caused.
    Rechecked {
        report: Vec<ChangedFile>,
        reply: oneshot::Sender<Vec<ChangedFile>>,
    },
}

/// Whether a modification time (ns since the epoch) is less than [`SETTLE`] ago.
fn recent(mtime_ns: u128) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    now.saturating_sub(mtime_ns) < SETTLE.as_nanos()
}

/// The disk thread's view of the files and of the pieces it refuses to read.
pub(super) struct Guard {
    baseline: Vec<FileStamp>,
    /// Per file: hash it once more at this time (its mtime was too recent to trust the bytes).
    again: Vec<Option<Instant>>,
    withdrawn: Bitfield,
    unreported: Vec<ChangedFile>,
}

/// How long after a write its bytes are surely in place (far above a `write` call's duration).
pub const SETTLE: Duration = Duration::from_secs(1);

impl Guard {
    pub(super) fn new(storage: &Storage, piece_count: u32) -> Guard {
        let baseline = storage.stamps();
        // Bytes just written may not all be in place yet (see the module doc): look again.
        let again = (baseline.iter())
            .map(|s| {
                s.filter(|&(_, mtime)| recent(mtime))
                    .map(|_| Instant::now() + SETTLE)
            })
            .collect();
        Guard {
            again,
            baseline,
            withdrawn: Bitfield::new(piece_count),
            unreported: Vec::new(),
        }
    }
}

impl Disk {
    /// The initial check is about to read everything: what it finds is the truth from now on.
    pub(super) fn guard_reset(&mut self) {
        self.guard = Guard::new(&self.storage, self.lengths.piece_count());
    }

    /// The files moved (our own doing): their stamps now are the baseline.
    pub(super) fn guard_restamp(&mut self) {
        self.guard.baseline = self.storage.stamps();
        self.guard.again = vec![None; self.guard.baseline.len()];
    }

    /// After the initial check: the files whose stamps differ from the (untrusted) resume data's
    /// changed while we were not looking; their pieces that failed the check are reported as
    /// such (a publisher's source edited between hashing and seeding).
    pub(super) fn guard_changed_since(&mut self, recorded: &[FileStamp], have: &Bitfield) {
        if recorded.len() != self.storage.file_count() {
            return; // another torrent's layout: nothing to compare
        }
        for (i, was) in recorded.iter().enumerate() {
            if self.guard.baseline.get(i) == Some(was) {
                continue;
            }
            let Some((path, offset, length, true)) = self.storage.file_span(i) else {
                continue;
            };
            let pieces = self.pieces_of(offset, length);
            self.guard.unreported.push(ChangedFile {
                path: path.to_path_buf(),
                pieces_checked: pieces.len() as u32,
                mismatched: pieces.filter(|&p| !have.get(p)).collect(),
            });
        }
    }

    /// Our own write changed these files' stamps: that is not someone else's edit.
    pub(super) fn guard_wrote(&mut self, offset: u64, len: usize) {
        for i in self.storage.files_touching(offset, len) {
            if let Some(slot) = self.guard.baseline.get_mut(i) {
                *slot = self.storage.stamp(i);
            }
        }
    }

    /// A piece passed its hash after being written: it may be served again.
    pub(super) fn guard_verified(&mut self, piece: PieceIndex) {
        self.guard.withdrawn.clear(piece.get());
    }

    /// Whether a read of `piece` may be served: before it, the piece must not be withdrawn;
    /// after it (`read_done`), the piece's files must still be as last seen.
    pub(super) fn guard_allows(&mut self, piece: PieceIndex, read_done: bool) -> bool {
        if read_done {
            let offset = self.lengths.piece_offset(piece);
            let len = self.lengths.piece_len(piece) as usize;
            let moved = self
                .storage
                .files_touching(offset, len)
                .into_iter()
                .any(|i| self.guard.baseline.get(i) != Some(&self.storage.stamp(i)) || self.due(i));
            if moved {
                self.recheck_changed();
            }
        }
        !self.guard.withdrawn.get(piece.get())
    }

    pub(super) fn refuse_read(&self, key: PeerKey, block: ValidBlock) {
        let _ = self
            .events
            .send(DiskEvent::Withdrawal(Withdrawal::ReadRefused {
                key,
                block,
            }));
    }

    /// `DiskJob::Withdraw`: refuse reads of `pieces` from now on and tell the actor.
    pub(super) fn withdraw(&mut self, pieces: Vec<u32>, reply: Option<oneshot::Sender<Vec<u32>>>) {
        for &p in &pieces {
            self.guard.withdrawn.set(p);
        }
        let _ = self
            .events
            .send(DiskEvent::Withdrawal(Withdrawal::Pieces { pieces, reply }));
    }

    /// `DiskJob::RecheckChanged`: looks for changed files now and answers with every change
    /// found since the last answer (also those found by reads).
    pub(super) fn report_changes(&mut self, reply: oneshot::Sender<Vec<ChangedFile>>) {
        self.recheck_changed();
        let report = std::mem::take(&mut self.guard.unreported);
        let _ = self
            .events
            .send(DiskEvent::Withdrawal(Withdrawal::Rechecked {
                report,
                reply,
            }));
    }

    /// Hashes again every piece of every file whose stamp moved; withdraws those that fail.
    fn recheck_changed(&mut self) {
        // Taken before hashing: a change while we hash moves the stamp again and is seen later.
        let now = self.storage.stamps();
        let mut mismatched_all = Vec::new();
        for i in 0..self.storage.file_count() {
            let moved = self.guard.baseline.get(i) != now.get(i);
            if !moved && !self.due(i) {
                continue;
            }
            self.guard.again[i] = now
                .get(i)
                .copied()
                .flatten()
                .filter(|&(_, mtime)| recent(mtime))
                .map(|_| Instant::now() + SETTLE);
            let Some((path, offset, length, holds_data)) = self.storage.file_span(i) else {
                continue;
            };
            if !holds_data {
                continue;
            }
            let path = path.to_path_buf();
            let pieces = self.pieces_of(offset, length);
            let pieces_checked = pieces.len() as u32;
            let mut mismatched = Vec::new();
            let mut buf = Vec::new();
            for p in pieces {
                if self.guard.withdrawn.get(p) {
                    continue;
                }
                let Some(piece) = self.lengths.validate_piece(p) else {
                    continue;
                };
                if !self.piece_matches(piece, &mut buf) {
                    self.guard.withdrawn.set(p);
                    mismatched.push(p);
                }
            }
            if !moved && mismatched.is_empty() {
                continue; // the second look found nothing the first did not
            }
            tracing::warn!(
                "{} changed on disk: {} of its {pieces_checked} pieces no longer match",
                path.display(),
                mismatched.len()
            );
            mismatched_all.extend_from_slice(&mismatched);
            self.guard.unreported.push(ChangedFile {
                path,
                pieces_checked,
                mismatched,
            });
        }
        self.guard.baseline = now;
        if !mismatched_all.is_empty() {
            let _ = self.events.send(DiskEvent::Withdrawal(Withdrawal::Pieces {
                pieces: mismatched_all,
                reply: None,
            }));
        }
    }

    /// Whether file `i` is due for its second look.
    fn due(&self, i: usize) -> bool {
        self.guard
            .again
            .get(i)
            .copied()
            .flatten()
            .is_some_and(|t| Instant::now() >= t)
    }

    /// The pieces holding bytes of `[offset, offset+length)` (`length` > 0).
    fn pieces_of(&self, offset: u64, length: u64) -> Range<u32> {
        let plen = u64::from(self.lengths.default_piece_len()).max(1);
        let first = offset / plen;
        let last = (offset + length - 1) / plen;
        let count = u64::from(self.lengths.piece_count());
        (first.min(count) as u32)..((last + 1).min(count) as u32)
    }

    /// Reads `piece` whole and compares its SHA-1 with the torrent's.
    pub(super) fn piece_matches(&mut self, piece: PieceIndex, buf: &mut Vec<u8>) -> bool {
        let offset = self.lengths.piece_offset(piece);
        let len = self.lengths.piece_len(piece) as usize;
        if self.storage.missing(offset, len) {
            return false;
        }
        buf.resize(len, 0);
        self.storage.read(offset, buf).is_ok()
            && Sha1::digest(buf.as_slice()).as_slice() == self.expected(piece)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use protocol::wire::BlockRef;
    use protocol::{Lengths, MetainfoBuilder};
    use sha1::{Digest, Sha1};
    use tokio::sync::mpsc;

    use super::super::{Disk, DiskEvent, DiskJob, WriteBacklog};
    use super::*;
    use crate::disk_pool::DiskSender;

    const PIECE: usize = 16 * 1024;

    /// The next event, within a deadline.
    async fn next(rx: &mut mpsc::UnboundedReceiver<DiskEvent>) -> DiskEvent {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the disk thread answers")
            .expect("the disk thread is running")
    }

    #[tokio::test]
    async fn a_changed_piece_is_refused_withdrawn_and_reported_and_the_others_still_served() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..4 * PIECE).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("f.bin"), &data).unwrap();
        let pieces = data.chunks(PIECE).map(|c| Sha1::digest(c).into()).collect();
        let info = MetainfoBuilder::single_file("f.bin", data.len() as u64)
            .piece_length(PIECE as u64)
            .pieces(pieces)
            .build()
            .unwrap()
            .metainfo
            .info;
        let lengths = Lengths::new(info.total_length, info.piece_length, 4).unwrap();
        let storage = Storage::new(dir.path(), &info).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(WriteBacklog::default());
        let disk = DiskSender::start(Disk::new(storage, &info, lengths, tx, backlog)).unwrap();
        let block = |piece| {
            lengths
                .validate_request(BlockRef {
                    piece,
                    begin: 0,
                    length: PIECE as u32,
                })
                .unwrap()
        };
        disk.send(DiskJob::Read {
            key: 1,
            block: block(2),
        })
        .unwrap();
        assert!(matches!(next(&mut rx).await, DiskEvent::ReadDone { .. }));

        // Someone edits a few bytes in the middle of piece 2 (the mtime moves on).
        std::thread::sleep(Duration::from_millis(20));
        let mut edited = data.clone();
        edited[2 * PIECE + 100..2 * PIECE + 104].copy_from_slice(b"EDIT");
        std::fs::write(dir.path().join("f.bin"), &edited).unwrap();

        disk.send(DiskJob::Read {
            key: 1,
            block: block(2),
        })
        .unwrap();
        match next(&mut rx).await {
            DiskEvent::Withdrawal(Withdrawal::Pieces {
                pieces,
                reply: None,
            }) => {
                assert_eq!(pieces, vec![2])
            }
            other => panic!("expected a withdrawal, got {other:?}"),
        }
        match next(&mut rx).await {
            DiskEvent::Withdrawal(Withdrawal::ReadRefused { key: 1, block: b }) => {
                assert_eq!(b, block(2))
            }
            other => panic!("expected the read refused, got {other:?}"),
        }
        // The untouched pieces are still read, with their original bytes.
        disk.send(DiskJob::Read {
            key: 1,
            block: block(3),
        })
        .unwrap();
        match next(&mut rx).await {
            DiskEvent::ReadDone { data: got, .. } => assert_eq!(&got[..], &data[3 * PIECE..]),
            other => panic!("expected piece 3, got {other:?}"),
        }
        // The change found by the read is reported once, to the next recheck.
        let (reply, answer) = oneshot::channel();
        disk.send(DiskJob::RecheckChanged { reply }).unwrap();
        let DiskEvent::Withdrawal(Withdrawal::Rechecked { report, reply }) = next(&mut rx).await
        else {
            panic!("expected the recheck's answer");
        };
        reply.send(report).unwrap();
        let report = answer.await.unwrap();
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].path, dir.path().join("f.bin"));
        assert_eq!(report[0].pieces_checked, 4);
        assert_eq!(report[0].mismatched, vec![2]);
        let (reply, _answer) = oneshot::channel();
        disk.send(DiskJob::RecheckChanged { reply }).unwrap();
        match next(&mut rx).await {
            DiskEvent::Withdrawal(Withdrawal::Rechecked { report, .. }) => {
                assert!(report.is_empty(), "{report:?}")
            }
            other => panic!("expected an empty recheck, got {other:?}"),
        }
        disk.send(DiskJob::Stop { delete: false }).unwrap();
    }
}

#[cfg(test)]
mod check_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use protocol::{Lengths, MetainfoBuilder};
    use sha1::{Digest, Sha1};
    use tokio::sync::mpsc;

    use super::super::{Disk, DiskEvent, DiskJob, WriteBacklog};
    use super::*;
    use crate::disk_pool::DiskSender;

    #[tokio::test]
    async fn a_file_edited_since_the_resume_data_is_reported_by_the_initial_check() {
        const PIECE: usize = 16 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let data: Vec<u8> = (0..3 * PIECE).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let pieces = data.chunks(PIECE).map(|c| Sha1::digest(c).into()).collect();
        let info = MetainfoBuilder::single_file("f.bin", data.len() as u64)
            .piece_length(PIECE as u64)
            .pieces(pieces)
            .build()
            .unwrap()
            .metainfo
            .info;
        let lengths = Lengths::new(info.total_length, info.piece_length, 3).unwrap();
        let mut storage = Storage::new(dir.path(), &info).unwrap();
        storage.set_claimed(); // it has a record
        let recorded = storage.stamps();
        std::thread::sleep(Duration::from_millis(20));
        let mut edited = data;
        edited[PIECE + 5] ^= 0xff;
        std::fs::write(&path, &edited).unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(WriteBacklog::default());
        let disk = DiskSender::start(Disk::new(storage, &info, lengths, tx, backlog)).unwrap();
        disk.send(DiskJob::Check {
            recorded: Some(recorded),
            record_to: None,
        })
        .unwrap();
        let (reply, _answer) = oneshot::channel();
        disk.send(DiskJob::RecheckChanged { reply }).unwrap();
        let mut report = None;
        while report.is_none() {
            let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap()
                .unwrap();
            match ev {
                DiskEvent::Checked(have) => {
                    assert_eq!(have.iter_ones().collect::<Vec<_>>(), vec![0, 2])
                }
                DiskEvent::Withdrawal(Withdrawal::Rechecked { report: r, .. }) => report = Some(r),
                _ => {}
            }
        }
        let report = report.unwrap();
        assert_eq!(report.len(), 1, "{report:?}");
        assert_eq!(
            (report[0].pieces_checked, &report[0].mismatched[..]),
            (3, &[1][..])
        );
        disk.send(DiskJob::Stop { delete: false }).unwrap();
    }
}

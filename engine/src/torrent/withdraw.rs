//! Withdrawing pieces we had: their data changed on disk (found by the disk thread, see
//! `disk_changes.rs`) or the owner said so (`Session::withdraw_pieces`, in `session_withdraw.rs`).
//!
//! BEP 3 has no "I no longer have" message, so peers that saw our bitfield may still ask: their
//! requests are refused (reject-request under the fast extension, silently dropped otherwise;
//! the disk thread refuses reads already queued). A withdrawn piece is also set to "skip": it is
//! never fetched again, since writing the swarm's bytes would overwrite whatever changed it.

use protocol::picker::PRIORITY_SKIP;
use protocol::Picker;
use tokio::sync::oneshot;

use super::Torrent;
use crate::disk::{ChangedFile, DiskJob, Withdrawal};
use crate::peer::PeerKey;

/// What the session asks of a torrent's actor.
pub(crate) enum WithdrawCmd {
    Pieces {
        pieces: Vec<u32>,
        reply: oneshot::Sender<Vec<u32>>,
    },
    RecheckChanged {
        reply: oneshot::Sender<Vec<ChangedFile>>,
    },
}

impl Torrent {
    /// Both requests go through the disk thread, so they are answered after the initial check
    /// and in order with the reads already queued.
    pub(super) fn on_withdraw_cmd(&mut self, cmd: WithdrawCmd) {
        let job = match cmd {
            WithdrawCmd::Pieces { pieces, reply } => DiskJob::Withdraw {
                pieces,
                reply: Some(reply),
            },
            WithdrawCmd::RecheckChanged { reply } => DiskJob::RecheckChanged { reply },
        };
        let _ = self.disk.send(job);
    }

    pub(super) fn on_withdrawal(&mut self, news: Withdrawal) {
        match news {
            Withdrawal::Pieces { pieces, reply } => {
                let gone = self.withdraw(&pieces);
                if !gone.is_empty() {
                    tracing::warn!(
                        "torrent {}: {} pieces no longer served (their data changed)",
                        self.metainfo.info.name,
                        gone.len()
                    );
                }
                if let Some(reply) = reply {
                    let _ = reply.send(gone);
                }
            }
            Withdrawal::ReadRefused { key, block } => self.refuse(key, block.as_ref()),
            Withdrawal::Rechecked { report, reply } => {
                let _ = reply.send(report);
            }
        }
    }

    /// A request we accepted but will not answer.
    fn refuse(&mut self, key: PeerKey, block: protocol::wire::BlockRef) {
        self.core.handle_read_refused(key, block);
    }

    /// Clears `pieces` from what we have and marks them skipped; returns those we had.
    fn withdraw(&mut self, pieces: &[u32]) -> Vec<u32> {
        let mut have = self.core.have().clone();
        let gone: Vec<u32> = pieces.iter().copied().filter(|&p| have.clear(p)).collect();
        if gone.is_empty() {
            return gone;
        }
        for &p in &gone {
            if let Some(prio) = self.piece_priorities.get_mut(p as usize) {
                *prio = PRIORITY_SKIP;
            }
        }
        // The picker only ever gains pieces, so it is rebuilt: what we have, what we want, and
        // what each connected peer has. Blocks in flight for a piece we do not have and still
        // want are requested again by the new picker.
        let mut picker = Picker::new(self.lengths, have);
        picker.set_priorities(self.piece_priorities.clone());
        picker.set_sequential(self.sequential);
        self.core.replace_picker(picker);
        self.resume_dirty = true;
        self.publish_status();
        gone
    }
}

//! Moving a running torrent's files to another save directory: the disk thread moves them
//! between two jobs (`storage_move.rs`), peers stay connected, and requests wait for it. The
//! resume data and the part file follow, since the state directory keys them by save
//! directory. The torrent shows `moving` while it lasts, then `SessionEvent::Moved` (or
//! `MoveFailed`, with the files and the torrent where they were).

use std::path::PathBuf;

use tokio::sync::oneshot;

use super::Torrent;
use crate::disk::DiskJob;
use crate::types::{EngineError, MoveStatus, SessionEvent};

/// `Session::move_storage`: move to `to`; answered once the move started (or was refused).
pub(crate) struct MoveCmd {
    pub to: PathBuf,
    /// Copy even on one file system (tests of the copy path).
    pub force_copy: bool,
    pub reply: oneshot::Sender<Result<(), EngineError>>,
}

impl Torrent {
    pub(super) fn on_move_cmd(&mut self, cmd: MoveCmd) {
        let refused = if self.moving.is_some() {
            Some("a move of this torrent is under way")
        } else if self.state == crate::types::TorrentState::Checking {
            Some("the torrent is still checking its files")
        } else {
            None
        };
        if let Some(why) = refused {
            let _ = cmd.reply.send(Err(EngineError::Unsupported(why)));
            return;
        }
        let resume = (self.shared.state_dir.as_deref()).map(|d| {
            let to = crate::resume::resume_path(d, self.metainfo.info_hash, &cmd.to);
            (self.resume_path.clone(), to)
        });
        let parts_to = resume.as_ref().map(|(_, to)| to.with_extension("parts"));
        let moves = resume.and_then(|(from, to)| from.map(|from| (from, to)));
        self.moving_to = moves.as_ref().map(|(_, to)| to.clone());
        self.moving = Some(MoveStatus {
            to: cmd.to.clone(),
            done_bytes: 0,
            total_bytes: self.metainfo.info.total_length,
        });
        let job = DiskJob::Move {
            to: cmd.to,
            parts_to,
            resume: moves,
            force_copy: cmd.force_copy,
        };
        let sent = self.disk.send(job).is_ok();
        if !sent {
            self.moving = None;
        }
        // The status shows the move before the caller hears it started.
        self.publish_status();
        let _ = cmd.reply.send(if sent {
            Ok(())
        } else {
            Err(EngineError::Unsupported("the torrent is stopping"))
        });
    }

    pub(super) fn on_move_progress(&mut self, done: u64, total: u64) {
        if let Some(m) = self.moving.as_mut() {
            m.done_bytes = done;
            m.total_bytes = total;
        }
        self.publish_status();
    }

    pub(super) fn on_moved(&mut self, outcome: Result<PathBuf, String>) {
        self.moving = None;
        let ih = self.metainfo.info_hash;
        let new_resume = self.moving_to.take();
        let event = match outcome {
            Ok(root) => {
                self.save_path = root.clone();
                if new_resume.is_some() {
                    self.resume_path = new_resume;
                }
                // The record names the files as they are now (their stamps changed with a copy).
                self.saved_have = None;
                self.resume_dirty = true;
                SessionEvent::Moved(ih, root)
            }
            Err(message) => {
                tracing::warn!(%ih, %message, "move failed");
                SessionEvent::MoveFailed(ih, message)
            }
        };
        // The status first: whoever hears the event reads a status that is already moved.
        self.publish_status();
        let _ = self.shared.events.send(event);
    }
}

//! Choosing files while a torrent runs: new file priorities reach the picker and the disk
//! thread (a file left unselected keeps the bytes it shares with selected files in the part
//! file, `storage_parts.rs`), and each file's progress is read back for the user.

use tokio::sync::oneshot;

use super::status::piece_priorities;
use super::Torrent;
use crate::disk::DiskJob;
use crate::types::{EngineError, FilePriority, FileProgress, TorrentState};

pub(crate) enum SelectionCmd {
    Set {
        priorities: Vec<FilePriority>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    Files(oneshot::Sender<Vec<FileProgress>>),
}

/// Which files are skipped, for the disk thread; `None` = every file wanted.
pub(super) fn skipped(priorities: Option<&[FilePriority]>, count: usize) -> Vec<bool> {
    match priorities {
        Some(p) => p.iter().map(|p| *p == FilePriority::Skip).collect(),
        None => vec![false; count],
    }
}

/// One priority per file from a list of indices to download (the others skip); `None` when
/// the list selects every file. Indices past the end are ignored, see
/// [`protocol::file_selection::selection_mask`].
pub(crate) fn priorities_from_indices(
    file_count: usize,
    indices: &[u32],
) -> Option<Vec<FilePriority>> {
    let mask = protocol::file_selection::selection_mask(file_count, indices);
    (!mask.iter().all(|&m| m)).then(|| {
        mask.iter()
            .map(|&m| {
                if m {
                    FilePriority::Normal
                } else {
                    FilePriority::Skip
                }
            })
            .collect()
    })
}

impl Torrent {
    pub(super) fn on_selection_cmd(&mut self, cmd: SelectionCmd) {
        match cmd {
            SelectionCmd::Set { priorities, reply } => {
                let _ = reply.send(self.set_file_priorities(priorities));
            }
            SelectionCmd::Files(reply) => {
                let _ = reply.send(self.file_progress());
            }
        }
    }

    fn set_file_priorities(&mut self, priorities: Vec<FilePriority>) -> Result<(), EngineError> {
        let expected = self.metainfo.info.files.len();
        if priorities.len() != expected {
            return Err(EngineError::BadFilePriorities {
                got: priorities.len(),
                expected,
            });
        }
        // The disk thread first: a file selected again must hold its parked bytes before any
        // block of it arrives (jobs run in order).
        let _ = self
            .disk
            .send(DiskJob::Select(skipped(Some(&priorities), expected)));
        self.piece_priorities = piece_priorities(&self.metainfo, &self.lengths, Some(&priorities));
        self.file_priorities = priorities;
        if self.state == TorrentState::Checking {
            return Ok(()); // the end of the check hands the new priorities to the picker
        }
        self.core
            .picker_mut()
            .set_priorities(self.piece_priorities.clone());
        if self.core.picker().is_complete() {
            if !matches!(self.state, TorrentState::Seeding | TorrentState::Error) {
                self.on_complete(false);
            }
        } else if self.state == TorrentState::Seeding {
            self.state = TorrentState::Connecting;
            self.completed_sent = false;
            self.sync_core_mode();
        }
        self.core.refresh_interest();
        self.core.request_from_all();
        self.fill_webseeds();
        self.resume_dirty = true;
        self.publish_status();
        Ok(())
    }

    /// Each file's priority and the bytes of it in verified pieces.
    fn file_progress(&self) -> Vec<FileProgress> {
        let info = &self.metainfo.info;
        let have = self.core.have();
        let plen = u64::from(self.lengths.default_piece_len()).max(1);
        let bytes_had = |offset: u64, length: u64| -> u64 {
            if length == 0 {
                return 0;
            }
            let (first, last) = (offset / plen, (offset + length - 1) / plen);
            (first..=last)
                .filter(|&p| u32::try_from(p).is_ok_and(|p| have.get(p)))
                .map(|p| ((p + 1) * plen).min(offset + length) - (p * plen).max(offset))
                .sum()
        };
        info.files
            .iter()
            .enumerate()
            .map(|(index, f)| {
                let mut path = vec![info.name.clone()];
                if !info.single_file {
                    path.extend(f.path.iter().cloned());
                }
                FileProgress {
                    index,
                    path,
                    length: f.length,
                    pad: f.pad,
                    priority: self.file_priorities.get(index).copied().unwrap_or_default(),
                    have_bytes: if f.pad {
                        0
                    } else {
                        bytes_had(f.offset, f.length)
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_become_priorities_and_all_or_none_means_no_selection() {
        use FilePriority::{Normal, Skip};
        assert_eq!(
            priorities_from_indices(3, &[1]),
            Some(vec![Skip, Normal, Skip])
        );
        assert_eq!(priorities_from_indices(3, &[0, 1, 2]), None);
        assert_eq!(priorities_from_indices(3, &[5]), None);
        assert_eq!(skipped(Some(&[Skip, Normal]), 2), vec![true, false]);
        assert_eq!(skipped(None, 2), vec![false, false]);
    }
}

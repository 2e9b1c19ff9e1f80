//! The session's calls that only pass a command on to one torrent's task: more peers and
//! sources, pause, resume, choosing files, moving them.

use std::net::SocketAddr;
use std::path::PathBuf;

use protocol::InfoHash;
use tokio::sync::oneshot;

use crate::session::Session;
use crate::torrent::{AddSources, SelectionCmd, TorrentCmd};
use crate::types::{EngineError, FilePriority, FileProgress};

impl Session {
    /// More peers to try for a torrent (tracker answers, PEX, a user's `--peer`).
    pub fn add_peers(&self, ih: InfoHash, peers: Vec<SocketAddr>) -> Result<(), EngineError> {
        let _ = self.handle(ih)?.cmd.send(TorrentCmd::AddPeers(peers));
        Ok(())
    }

    /// What an `add` of a torrent already running brings (see [`crate::Sources::of`]): its new
    /// trackers are announced to at once, its new web seeds fetched from, its peers dialled,
    /// before or after the torrent's metadata. `source_url` and `allow_lan` are that add's, as
    /// in [`AddTorrent`]: a public page's sources obey the LAN rule whatever the torrent's own
    /// origin.
    pub fn add_sources(
        &self,
        ih: InfoHash,
        sources: crate::Sources,
        source_url: Option<&str>,
        allow_lan: bool,
    ) -> Result<(), EngineError> {
        let targets = crate::tracker::targets::Targets::new(source_url, allow_lan);
        let cmd = TorrentCmd::AddSources(Box::new(AddSources { sources, targets }));
        let _ = self.handle(ih)?.cmd.send(cmd);
        Ok(())
    }

    pub async fn pause(&self, ih: InfoHash) -> Result<(), EngineError> {
        let _ = self.handle(ih)?.cmd.send(TorrentCmd::Pause);
        Ok(())
    }

    pub async fn resume(&self, ih: InfoHash) -> Result<(), EngineError> {
        let _ = self.handle(ih)?.cmd.send(TorrentCmd::Resume);
        Ok(())
    }

    /// Sets one priority per file (in torrent order) while the torrent runs: `Skip` files are
    /// never fetched or created (bytes they share with wanted files go to the part file), and a
    /// file selected again gets its bytes back from there. A magnet without its metadata yet
    /// refuses (`Unsupported`).
    pub async fn set_file_priorities(
        &self,
        ih: InfoHash,
        priorities: Vec<FilePriority>,
    ) -> Result<(), EngineError> {
        let (reply, wait) = oneshot::channel();
        let cmd = TorrentCmd::Selection(SelectionCmd::Set { priorities, reply });
        let _ = self.handle(ih)?.cmd.send(cmd);
        wait.await.unwrap_or(Err(EngineError::Unsupported(
            "choosing files before the torrent's metadata has arrived",
        )))
    }

    /// Moves a torrent's files to `save_dir` while it runs: a rename on one file system; copy,
    /// verify, delete across file systems. Returns once the move started; `status().moving`
    /// shows its progress, then `SessionEvent::Moved` (or `MoveFailed`, with the files left
    /// where they were and the torrent working there). Refused while the torrent checks, moves
    /// already, or is a magnet without its metadata (`Unsupported`).
    pub async fn move_storage(&self, ih: InfoHash, save_dir: PathBuf) -> Result<(), EngineError> {
        self.move_storage_with(ih, save_dir, false).await
    }

    /// `move_storage`, copying even on one file system when `force_copy` (tests of the copy
    /// path, which one file system cannot otherwise reach).
    #[doc(hidden)]
    pub async fn move_storage_with(
        &self,
        ih: InfoHash,
        save_dir: PathBuf,
        force_copy: bool,
    ) -> Result<(), EngineError> {
        let (reply, wait) = oneshot::channel();
        let cmd = TorrentCmd::Move(crate::torrent::MoveCmd {
            to: save_dir,
            force_copy,
            reply,
        });
        let _ = self.handle(ih)?.cmd.send(cmd);
        wait.await.unwrap_or(Err(EngineError::Unsupported(
            "moving a torrent before its metadata has arrived",
        )))
    }

    /// Stops the torrent's move under way: a copy stops at its next chunk, removes what it
    /// copied and leaves the torrent working where it was (`SessionEvent::MoveFailed` with
    /// `MOVE_CANCELLED`); a rename is over at once, so there is nothing to stop. `Unsupported`
    /// when no move is under way.
    pub async fn cancel_move(&self, ih: InfoHash) -> Result<(), EngineError> {
        let (reply, wait) = oneshot::channel();
        let _ = self.handle(ih)?.cmd.send(TorrentCmd::CancelMove(reply));
        wait.await.unwrap_or(Err(EngineError::Unsupported(
            "no move of this torrent is under way",
        )))
    }

    /// Each file with its priority and progress; `None` while a magnet's metadata is missing.
    pub async fn files(&self, ih: InfoHash) -> Result<Option<Vec<FileProgress>>, EngineError> {
        let (reply, wait) = oneshot::channel();
        let cmd = TorrentCmd::Selection(SelectionCmd::Files(reply));
        let _ = self.handle(ih)?.cmd.send(cmd);
        Ok(wait.await.ok())
    }
}

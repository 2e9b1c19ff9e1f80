//! The session's side of withdrawing pieces (see `torrent/withdraw.rs`): the calls a program
//! makes, passed to the torrent's task.

use protocol::InfoHash;
use tokio::sync::oneshot;

use crate::disk::ChangedFile;
use crate::session::Session;
use crate::torrent::{TorrentCmd, WithdrawCmd};
use crate::types::EngineError;

impl Session {
    /// Stops serving `pieces` of a torrent (for good: they are not fetched again either).
    /// Returns those we had, which are no longer counted in `have_bytes`.
    pub async fn withdraw_pieces(
        &self,
        ih: InfoHash,
        pieces: Vec<u32>,
    ) -> Result<Vec<u32>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let _ = self
            .handle(ih)?
            .cmd
            .send(TorrentCmd::Withdraw(WithdrawCmd::Pieces { pieces, reply }));
        answer.await.map_err(|_| not_now())
    }

    /// Hashes again every piece of the torrent's files whose size or modification time changed,
    /// withdraws those that no longer match, and reports each changed file since the last call
    /// (including changes the disk thread found by itself before serving a read). Runs on the
    /// torrent's disk thread, after the jobs queued before it.
    pub async fn recheck_changed_files(
        &self,
        ih: InfoHash,
    ) -> Result<Vec<ChangedFile>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let _ = self
            .handle(ih)?
            .cmd
            .send(TorrentCmd::Withdraw(WithdrawCmd::RecheckChanged { reply }));
        answer.await.map_err(|_| not_now())
    }
}

fn not_now() -> EngineError {
    EngineError::Unsupported(
        "withdrawing pieces of a torrent that is stopping or has no metadata yet",
    )
}

//! One torrent's own rate limits and seed goals, which the session keeps beside the torrent
//! (they outlive a magnet's metadata phase and change while it runs).

use protocol::InfoHash;

use crate::session::Session;
use crate::torrent::TorrentCmd;
use crate::types::EngineError;

impl Session {
    /// One torrent's own limits, under the session's (the stricter applies); `None` lifts the
    /// torrent's limit in that direction. Takes effect with the next bytes moved.
    pub fn set_torrent_rate_limits(
        &self,
        ih: InfoHash,
        down: Option<u64>,
        up: Option<u64>,
    ) -> Result<(), EngineError> {
        let limits = self.lock_limits();
        let l = limits.get(&ih).ok_or(EngineError::UnknownTorrent(ih))?;
        l.down.set_rate(down);
        l.up.set_rate(up);
        Ok(())
    }

    /// One torrent's seed goals (`AddTorrent::seed_goals`), judged from its next tick on: a
    /// torrent already past a new goal pauses within a second.
    pub fn set_seed_goals(
        &self,
        ih: InfoHash,
        goals: protocol::SeedGoals,
    ) -> Result<(), EngineError> {
        let limits = self.lock_limits();
        let l = limits.get(&ih).ok_or(EngineError::UnknownTorrent(ih))?;
        *l.seed_goals.lock().unwrap_or_else(|e| e.into_inner()) = goals;
        drop(limits);
        // A quiet torrent's clock may be asleep for seconds: it looks at its goals now.
        if let Ok(h) = self.handle(ih) {
            let _ = h.cmd.send(TorrentCmd::GoalsChanged);
        }
        Ok(())
    }

    /// One torrent's own limits (download, upload), as set at `add` or since.
    pub fn torrent_rate_limits(&self, ih: InfoHash) -> Option<(Option<u64>, Option<u64>)> {
        let limits = self.lock_limits();
        limits.get(&ih).map(|l| (l.down.rate(), l.up.rate()))
    }
}

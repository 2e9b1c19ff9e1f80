//! Seed goals in the torrent actor: counts the time spent seeding and pauses the torrent once
//! `protocol::seed_goal::reached` says a goal is met, telling the session's subscribers why (the
//! daemon records the pause, or removes the torrent, as its settings say).

use std::time::Duration;

use super::Torrent;
use crate::types::{SessionEvent, TorrentState};

impl Torrent {
    /// Called every tick with the time since the previous one (`last_tick`), which it moves to
    /// `now` as it counts `elapsed`: the status published later in the tick adds the time since
    /// `last_tick` (`seeding_now`), and read the old one it counted `elapsed` twice (a status
    /// said 2 s after 1.5 s of seeding).
    pub(super) fn seed_goal_tick(&mut self, now: std::time::Instant, elapsed: Duration) {
        self.last_tick = now;
        // Only a complete torrent that runs is seeding (qBittorrent applies share limits to
        // finished torrents only, too).
        if self.state != TorrentState::Seeding || self.paused {
            return;
        }
        self.seeding += elapsed;
        let goals = *self.seed_goals.lock().unwrap_or_else(|e| e.into_inner());
        let Some(reason) = protocol::seed_goal::reached(
            goals,
            self.lifetime_uploaded(),
            self.metainfo.info.total_length,
            self.seeding.as_secs(),
        ) else {
            return;
        };
        tracing::info!(
            "torrent {}: seed goal ({}) reached; pausing",
            self.metainfo.info.name,
            reason.as_str()
        );
        self.paused = true;
        self.disconnect_all();
        // Status first: a subscriber reacting to the event must see the torrent paused.
        self.publish_status();
        let _ = (self.shared.events).send(SessionEvent::SeedGoalReached(
            self.metainfo.info_hash,
            reason,
        ));
    }

    /// When a seeding torrent's time goal falls due (its clock must come round by then even
    /// when nothing else moves).
    pub(super) fn seed_goal_due(&self, now: std::time::Instant) -> Option<std::time::Instant> {
        if self.state != TorrentState::Seeding || self.paused {
            return None;
        }
        let goals = *self.seed_goals.lock().unwrap_or_else(|e| e.into_inner());
        let left = goals.time_secs?.saturating_sub(self.seeding.as_secs());
        Some(now + Duration::from_secs(left))
    }

    /// Time seeding until `now`: what the clock counted at its last turn, plus since then.
    pub(super) fn seeding_now(&self, now: std::time::Instant) -> Duration {
        if self.state != TorrentState::Seeding || self.paused {
            return self.seeding;
        }
        self.seeding + now.saturating_duration_since(self.last_tick)
    }
}

//! Seed goals in the daemon: a torrent's own goals (`set_goals`, kept in the download list) over
//! the global settings, handed to the engine, which judges them every tick
//! (`protocol::seed_goal`). When a torrent reaches one, the engine pauses it and says so; the
//! daemon then does what `seed_goal_action` says: records the pause as if the user paused it, or
//! removes the torrent from the list (its files stay), and tells subscribers why.
//!
//! As in qBittorrent, a goal stays reached: `resume` starts the torrent, and the next tick pauses
//! it again (or removes it), until its goal is raised or lifted with `set_goals`.

use protocol::{Goal, InfoHash, SeedGoals};
use serde_json::{json, Value};

use super::state::{engine_error, Core, State};
use crate::api::{ApiError, ErrorCode};

fn goals_json(hex: &str, goals: SeedGoals) -> Value {
    json!({
        "info_hash": hex,
        "seed_ratio": crate::goals::applied(goals.ratio),
        "seed_time_secs": crate::goals::applied(goals.time_secs),
    })
}

impl Core {
    /// `set_goals`: changes what was given, applies it at once and remembers it.
    pub(super) async fn set_goals(
        &self,
        info_hash: &str,
        ratio: Option<Goal<f64>>,
        time_secs: Option<Goal<u64>>,
    ) -> Result<Value, ApiError> {
        if let Some(Goal::Value(r)) = ratio {
            if !r.is_finite() || r < 0.0 {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("seed_ratio {r} is not a ratio >= 0"),
                ));
            }
        }
        let ih = self.known(info_hash).await?;
        let hex = ih.to_hex();
        let mut state = self.state.lock().await;
        let State { entries, settings } = &mut *state;
        let Some(entry) = entries.iter_mut().find(|e| e.info_hash == hex) else {
            return Err(ApiError::new(ErrorCode::UnknownTorrent, "no such torrent"));
        };
        if let Some(r) = ratio {
            entry.seed_ratio = r;
        }
        if let Some(t) = time_secs {
            entry.seed_time_secs = t;
        }
        let goals = entry.seed_goals(settings);
        match self.session.set_seed_goals(ih, goals) {
            // A download that could not be restored has no engine torrent: remembered only.
            Ok(()) | Err(engine::EngineError::UnknownTorrent(_)) => {}
            Err(e) => return Err(engine_error(e)),
        }
        drop(state);
        self.save_entries().await?;
        Ok(goals_json(&hex, goals))
    }

    /// Hands every download's goals to the engine again (after the settings changed).
    pub(super) fn apply_goals(&self, state: &State) {
        for entry in &state.entries {
            if let Ok(ih) = InfoHash::from_hex(&entry.info_hash) {
                let _ = (self.session).set_seed_goals(ih, entry.seed_goals(&state.settings));
            }
        }
    }
}

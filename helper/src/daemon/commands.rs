//! The commands a client sends, dispatched (`handle`), and the small ones that change one
//! download or the settings: pause, resume, remove, rate limits, settings, `hello`, `list`.

use engine::{EngineError, TorrentState};
use serde_json::{json, Value};

use super::add::check_limits;
use super::state::{blocking, engine_error, lock, settings_json, Core};
use crate::api::status_json;
use crate::api::{ApiError, Command, ErrorCode, PROTOCOL_VERSION};

impl Core {
    /// Runs one command (subscriptions are the connection's business, see `conn.rs`).
    pub async fn handle(&self, command: Command) -> Result<Value, ApiError> {
        match command {
            Command::Hello { client } => self.hello(client).await,
            Command::Add(args) => self.add(args).await,
            Command::List { offset } => Ok(self.list(offset)),
            Command::Pause { info_hash } => self.set_paused(&info_hash, true).await,
            Command::Resume { info_hash } => self.set_paused(&info_hash, false).await,
            Command::Remove {
                info_hash,
                delete_files,
            } => self.remove(&info_hash, delete_files).await,
            Command::Open {
                info_hash,
                confirm_executable,
            } => self.open(&info_hash, false, confirm_executable).await,
            Command::Reveal { info_hash } => self.open(&info_hash, true, false).await,
            Command::Peers { info_hash } => {
                let ih = self.known(&info_hash).await?;
                Ok(super::detail::peers_json(
                    &ih.to_hex(),
                    &self.session.peers(ih),
                ))
            }
            Command::SetLimits {
                info_hash,
                down_limit,
                up_limit,
            } => self.set_limits(&info_hash, down_limit, up_limit).await,
            Command::Files { info_hash, offset } => self.files(&info_hash, offset).await,
            Command::Priority {
                info_hash,
                files,
                priority,
            } => self.priority(&info_hash, &files, priority).await,
            Command::Select {
                info_hash,
                files,
                save_dir,
            } => self.select(&info_hash, &files, save_dir.as_deref()).await,
            Command::Queue { info_hash, to } => self.queue_move(&info_hash, &to).await,
            Command::Move {
                info_hash,
                save_dir,
            } => self.move_storage(&info_hash, &save_dir).await,
            Command::CancelMove { info_hash } => self.cancel_move(&info_hash).await,
            Command::SetGoals {
                info_hash,
                seed_ratio,
                seed_time_secs,
            } => self.set_goals(&info_hash, seed_ratio, seed_time_secs).await,
            Command::StreamUrl { info_hash, file } => self.stream_url(&info_hash, file).await,
            Command::GetSettings => Ok(settings_json(&self.state.lock().await.settings)),
            Command::SetSettings { settings } => self.set_settings(&settings).await,
            Command::Shutdown => {
                self.request_shutdown();
                Ok(json!({"stopping": true}))
            }
            Command::Subscribe | Command::Unsubscribe => Err(ApiError::new(
                ErrorCode::Internal,
                "subscriptions are handled by the connection",
            )),
        }
    }

    async fn hello(&self, client: Option<String>) -> Result<Value, ApiError> {
        tracing::info!(client = client.as_deref().unwrap_or("?"), "hello");
        let statuses = self.statuses();
        let active = statuses
            .iter()
            .filter(|s| {
                !matches!(
                    s.state,
                    TorrentState::Seeding | TorrentState::Paused | TorrentState::Error
                )
            })
            .count();
        let state = self.state.lock().await;
        let s = &state.settings;
        Ok(json!({
            "helper": "bthelper",
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": PROTOCOL_VERSION,
            "pid": std::process::id(),
            "listen_port": self.session.local_addr().port(),
            "listen_addrs": self.session.listen_addrs(),
            "port_mapping": self.session.port_mapping(),
            "connectable": self.session.connectable(),
            "torrents": statuses.len(),
            "active": active,
            "settings": {
                "download_dir": s.download_dir,
                "download_rate_limit": s.download_rate_limit,
                "upload_rate_limit": s.upload_rate_limit,
                "seed_ratio": s.seed_ratio,
                "seed_time_secs": s.seed_time_secs,
                "seed_goal_action": s.seed_goal_action,
                "keep_seeding": s.keep_seeding,
            },
        }))
    }

    fn list(&self, offset: usize) -> Value {
        let statuses = self.statuses();
        let total = statuses.len();
        let rest: Vec<Value> = statuses.iter().skip(offset).map(status_json).collect();
        let remaining = rest.len();
        let first = crate::frame::split_by_size(rest, crate::frame::MAX_TO_BROWSER - 4096)
            .into_iter()
            .next()
            .unwrap_or_default();
        let next_offset = (first.len() < remaining).then(|| offset + first.len());
        json!({"torrents": first, "total": total, "next_offset": next_offset})
    }

    pub(super) async fn set_paused(
        &self,
        info_hash: &str,
        paused: bool,
    ) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        if paused {
            self.session.pause(ih).await.map_err(engine_error)?;
        } else {
            self.session.resume(ih).await.map_err(engine_error)?;
        }
        lock(&self.auto_paused).remove(&ih);
        let hex = ih.to_hex();
        // Held back no more: it shows as what the engine says now (the engine's own change
        // of state reaches subscribers by itself).
        if lock(&self.queue).queued.remove(&hex) {
            self.touch(ih);
        }
        self.queue_wake.notify_one();
        let mut state = self.state.lock().await;
        if let Some(e) = state.entries.iter_mut().find(|e| e.info_hash == hex) {
            e.paused = paused;
        }
        drop(state);
        self.save_entries().await?;
        Ok(json!({"info_hash": hex, "paused": paused}))
    }

    pub(super) async fn remove(
        &self,
        info_hash: &str,
        delete_files: bool,
    ) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        match self.session.remove(ih, delete_files).await {
            Ok(()) | Err(EngineError::UnknownTorrent(_)) => {}
            Err(e) => return Err(engine_error(e)),
        }
        let hex = ih.to_hex();
        lock(&self.unrestorable).retain(|s| s.info_hash != ih);
        lock(&self.awaiting).remove(&hex);
        lock(&self.queue).queued.remove(&hex);
        let mut state = self.state.lock().await;
        state.entries.retain(|e| e.info_hash != hex);
        drop(state);
        self.save_entries().await?;
        let (store, name) = (self.store.clone(), hex.clone());
        blocking(move || {
            store.delete_torrent(&name);
            Ok(())
        })
        .await?;
        lock(&self.auto_paused).remove(&ih);
        // A slot may have freed.
        self.queue_wake.notify_one();
        Ok(json!({"info_hash": hex, "deleted_files": delete_files}))
    }

    /// `set_limits`: a torrent's own rate limits, applied at once and remembered.
    async fn set_limits(
        &self,
        info_hash: &str,
        down: Option<Option<u64>>,
        up: Option<Option<u64>>,
    ) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        let mut state = self.state.lock().await;
        let hex = ih.to_hex();
        let Some(entry) = state.entries.iter_mut().find(|e| e.info_hash == hex) else {
            return Err(ApiError::new(ErrorCode::UnknownTorrent, "no such torrent"));
        };
        let down = down.unwrap_or(entry.down_limit);
        let up = up.unwrap_or(entry.up_limit);
        check_limits(down, up)?;
        match self.session.set_torrent_rate_limits(ih, down, up) {
            // A download that could not be restored has no engine torrent: remembered only.
            Ok(()) | Err(EngineError::UnknownTorrent(_)) => {}
            Err(e) => return Err(engine_error(e)),
        }
        entry.down_limit = down;
        entry.up_limit = up;
        drop(state);
        self.save_entries().await?;
        Ok(json!({"info_hash": hex, "down_limit": down, "up_limit": up}))
    }

    async fn set_settings(
        &self,
        patch: &crate::settings::SettingsPatch,
    ) -> Result<Value, ApiError> {
        let mut state = self.state.lock().await;
        let new = state.settings.patched(patch)?;
        let old = &state.settings;
        let restart_required = new.encryption != state.settings.encryption
            || new.listen_port != old.listen_port
            || new.stream_port != old.stream_port
            || new.port_mapping != old.port_mapping
            || (new.dht, new.dht_port, &new.dht_bootstrap, new.lsd)
                != (old.dht, old.dht_port, &old.dht_bootstrap, old.lsd);
        // Written under the state lock (so writes keep the order of changes), off the runtime.
        let (store, written) = (self.store.clone(), new.clone());
        blocking(move || store.save_settings(&written)).await?;
        self.session
            .set_rate_limits(new.download_rate_limit, new.upload_rate_limit)
            .await;
        state.settings = new;
        self.queue_wake.notify_one();
        // A changed global goal applies to the torrents that follow it at once.
        self.apply_goals(&state);
        let mut reply = settings_json(&state.settings);
        reply["restart_required"] = json!(restart_required);
        Ok(reply)
    }
}

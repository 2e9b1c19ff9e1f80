//! The daemon's state and the commands that change it: the engine session, the persisted download
//! list and settings. What subscribers receive is built in `publish.rs`; connection handling
//! (framing, subscriptions) lives in `conn.rs`; this file knows nothing of sockets.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::SystemTime;

use base64::Engine as _;
use engine::{AddTorrent, EngineError, Session, TorrentSource, TorrentState, TorrentStatus};
use protocol::{InfoHash, Magnet, Metainfo};
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch, Mutex};

use super::publish::Outgoing;
use super::store::{Entry, Store};
use crate::api::{AddArgs, ApiError, Command, ErrorCode, PROTOCOL_VERSION};
use crate::settings::Settings;

pub(super) struct State {
    pub(super) entries: Vec<Entry>,
    pub(super) settings: Settings,
}

pub struct Core {
    pub(super) session: Session,
    pub(super) store: Store,
    pub(super) state: Mutex<State>,
    pub(super) outgoing: broadcast::Sender<Outgoing>,
    pub(super) subscribers: AtomicUsize,
    /// Finished torrents paused because no browser is connected and `keep_seeding` is off;
    /// resumed when a subscriber returns. Never persisted: the user did not pause them.
    pub(super) auto_paused: StdMutex<HashSet<InfoHash>>,
    /// Downloads in the list that could not be restored (their `.torrent` copy is gone or bad):
    /// shown as `error` so the user sees them and can remove them.
    unrestorable: StdMutex<Vec<TorrentStatus>>,
    /// Info-hashes (hex) of the downloads waiting for the user's choice of files.
    pub(super) awaiting: StdMutex<HashSet<String>>,
    /// What the queue holds back (`queue.rs`).
    pub(super) queue: StdMutex<super::queue::QueueState>,
    /// Held while a progress round is computed and sent, and while a subscriber registers and
    /// takes its snapshot: so no round computed before a snapshot is delivered after it.
    pub(super) publish_lock: StdMutex<()>,
    /// The streaming server's port and token, once it listens (`stream/`).
    pub(super) stream: std::sync::OnceLock<super::stream::StreamAddr>,
    shutdown: watch::Sender<bool>,
}

impl Core {
    pub fn new(
        session: Session,
        store: Store,
        entries: Vec<Entry>,
        settings: Settings,
    ) -> Arc<Core> {
        let (outgoing, _) = broadcast::channel(256);
        let (shutdown, _) = watch::channel(false);
        let awaiting = (entries.iter())
            .filter(|e| e.awaiting_selection)
            .map(|e| e.info_hash.clone())
            .collect();
        Arc::new(Core {
            session,
            store,
            awaiting: StdMutex::new(awaiting),
            queue: StdMutex::default(),
            state: Mutex::new(State { entries, settings }),
            outgoing,
            subscribers: AtomicUsize::new(0),
            auto_paused: StdMutex::new(HashSet::new()),
            unrestorable: StdMutex::new(Vec::new()),
            publish_lock: StdMutex::new(()),
            stream: std::sync::OnceLock::new(),
            shutdown,
        })
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Adds every persisted download to the session (at daemon start). A download that cannot
    /// be restored is logged and kept in the list, so a fixed file or a newer helper can retry.
    pub async fn restore(&self) {
        let state = self.state.lock().await;
        for entry in &state.entries {
            let source = match &entry.magnet {
                Some(link) => Magnet::parse(link)
                    .map(TorrentSource::Magnet)
                    .map_err(|e| e.to_string()),
                None => self
                    .store
                    .load_torrent(&entry.info_hash)
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|b| Metainfo::from_bytes(&b).map_err(|e| e.to_string()))
                    .map(|m| TorrentSource::Metainfo(Box::new(m))),
            };
            let result = match source {
                Ok(source) => self
                    .session
                    .add(add_torrent(source, entry, &state.settings))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                tracing::error!(info_hash = %entry.info_hash, %error, "cannot restore download");
                lock(&self.unrestorable).push(unrestorable_status(entry, error));
            }
        }
        tracing::info!(count = state.entries.len(), "downloads restored");
    }

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
            Command::SetGoals {
                info_hash,
                seed_ratio,
                seed_time_secs,
            } => self.set_goals(&info_hash, seed_ratio, seed_time_secs).await,
            Command::StreamUrl { info_hash, file } => self.stream_url(&info_hash, file).await,
            Command::GetSettings => Ok(settings_json(&self.state.lock().await.settings)),
            Command::SetSettings { settings } => self.set_settings(&settings).await,
            Command::Shutdown => {
                let _ = self.shutdown.send(true);
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

    async fn add(&self, args: AddArgs) -> Result<Value, ApiError> {
        let given = [&args.torrent_b64, &args.magnet, &args.url]
            .iter()
            .filter(|o| o.is_some())
            .count();
        if given != 1 {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "add needs exactly one of `torrent_b64`, `magnet`, `url`",
            ));
        }
        let peers = args
            .peers
            .iter()
            .map(|p| {
                p.parse::<std::net::SocketAddr>().map_err(|_| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        format!("peer {p:?} is not an ip:port"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_limits(args.down_limit, args.up_limit)?;
        let save_dir = self
            .state
            .lock()
            .await
            .settings
            .resolve_save_dir(args.save_dir.as_deref())?;
        let mut source_url = args.source_url.clone();
        let (source, torrent_bytes, magnet) = if let Some(link) = &args.magnet {
            let magnet = Magnet::parse(link).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidMagnet,
                    format!("not a usable magnet link: {e}"),
                )
            })?;
            (TorrentSource::Magnet(magnet), None, Some(link.clone()))
        } else {
            let bytes = if let Some(b64) = &args.torrent_b64 {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| {
                        ApiError::new(
                            ErrorCode::BadRequest,
                            format!("`torrent_b64` is not base64: {e}"),
                        )
                    })?
            } else {
                let url = args.url.as_deref().unwrap_or_default();
                source_url = Some(url.to_owned());
                crate::fetch::fetch_torrent(url).await.map_err(|e| {
                    ApiError::new(ErrorCode::FetchFailed, format!("fetching {url}: {e:#}"))
                })?
            };
            let metainfo = Metainfo::from_bytes(&bytes).map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidTorrent,
                    format!("not a valid .torrent: {e}"),
                )
            })?;
            (
                TorrentSource::Metainfo(Box::new(metainfo)),
                Some(bytes),
                None,
            )
        };
        let (info_hash, name) = match &source {
            TorrentSource::Metainfo(m) => (m.info_hash, m.info.name.clone()),
            TorrentSource::Magnet(m) => (
                m.info_hash,
                m.display_name
                    .clone()
                    .unwrap_or_else(|| m.info_hash.to_hex()),
            ),
        };
        let (only, awaiting_selection) = super::choose::selection_at_add(
            &source,
            args.files.as_deref(),
            &self.state.lock().await.settings,
        )?;
        let hex = info_hash.to_hex();
        let (listed, allow_lan) = {
            let state = self.state.lock().await;
            let listed = state.entries.iter().any(|e| e.info_hash == hex);
            (listed, state.settings.allow_lan_for_web_torrents)
        };
        if listed {
            // Added again: what this add brings joins the running torrent (under this add's
            // LAN rule), and the caller still hears that it was listed.
            let mut sources = engine::Sources::of(&source);
            sources.peers.extend(peers);
            let merged = self
                .session
                .add_sources(info_hash, sources, source_url.as_deref(), allow_lan)
                .is_ok();
            let how = match merged {
                true => "; the trackers, web seeds and peers it brings were added to it",
                false => "",
            };
            return Err(ApiError::new(
                ErrorCode::AlreadyAdded,
                format!("{name} is already in the download list{how}"),
            ));
        }
        std::fs::create_dir_all(&save_dir).map_err(|e| {
            ApiError::new(
                ErrorCode::Engine,
                format!("cannot create {}: {e}", save_dir.display()),
            )
        })?;
        let entry = Entry {
            info_hash: hex.clone(),
            name: name.clone(),
            magnet,
            source_url,
            save_dir,
            paused: args.paused,
            sequential: args.sequential,
            added_at: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            down_limit: args.down_limit,
            up_limit: args.up_limit,
            only,
            priorities: None,
            awaiting_selection,
            seed_ratio: protocol::Goal::Follow,
            seed_time_secs: protocol::Goal::Follow,
        };
        // The .torrent copy is written first: a download in the list must always be restorable.
        if let Some(bytes) = &torrent_bytes {
            self.store.save_torrent(&hex, bytes).map_err(internal)?;
        }
        let mut state = self.state.lock().await;
        let mut add = add_torrent(source, &entry, &state.settings);
        add.peers = peers;
        let queued = !add.paused && self.starts_queued(state.settings.max_active_downloads);
        if queued {
            add.paused = true;
            lock(&self.queue).queued.insert(hex.clone());
        }
        if let Err(e) = self.session.add(add).await {
            if !matches!(e, EngineError::AlreadyAdded(_)) {
                self.store.delete_torrent(&hex);
            }
            return Err(engine_error(e));
        }
        if awaiting_selection {
            lock(&self.awaiting).insert(hex.clone());
        }
        state.entries.push(entry);
        self.store.save_entries(&state.entries).map_err(internal)?;
        let mut reply = json!({"info_hash": hex, "name": name});
        if awaiting_selection {
            reply["awaiting_selection"] = json!(true);
        }
        Ok(reply)
    }

    /// Every download's status: the engine's, then those that could not be restored.
    pub fn statuses(&self) -> Vec<TorrentStatus> {
        let mut all = self.session.statuses();
        super::choose::show_awaiting(&mut all, &lock(&self.awaiting));
        super::queue::show_queued(&mut all, &lock(&self.queue).queued);
        all.extend(lock(&self.unrestorable).iter().cloned());
        all
    }

    fn list(&self, offset: usize) -> Value {
        let statuses = self.statuses();
        let total = statuses.len();
        let rest: Vec<Value> = statuses.iter().skip(offset).map(status_json).collect();
        let remaining = rest.len();
        let first = crate::api::split_by_size(rest, crate::frame::MAX_TO_BROWSER - 4096)
            .into_iter()
            .next()
            .unwrap_or_default();
        let next_offset = (first.len() < remaining).then(|| offset + first.len());
        json!({"torrents": first, "total": total, "next_offset": next_offset})
    }

    pub(super) async fn known(&self, info_hash: &str) -> Result<InfoHash, ApiError> {
        let ih = InfoHash::from_hex(info_hash).map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("info_hash {info_hash:?} is not 40 hex digits"),
            )
        })?;
        let hex = ih.to_hex();
        if !self
            .state
            .lock()
            .await
            .entries
            .iter()
            .any(|e| e.info_hash == hex)
        {
            return Err(ApiError::new(
                ErrorCode::UnknownTorrent,
                format!("no torrent {hex} in the download list"),
            ));
        }
        Ok(ih)
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
        lock(&self.queue).queued.remove(&hex);
        let mut state = self.state.lock().await;
        if let Some(e) = state.entries.iter_mut().find(|e| e.info_hash == hex) {
            e.paused = paused;
        }
        self.store.save_entries(&state.entries).map_err(internal)?;
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
        lock(&self.unrestorable).retain(|s| s.info_hash != hex);
        lock(&self.awaiting).remove(&hex);
        lock(&self.queue).queued.remove(&hex);
        let mut state = self.state.lock().await;
        state.entries.retain(|e| e.info_hash != hex);
        self.store.save_entries(&state.entries).map_err(internal)?;
        self.store.delete_torrent(&hex);
        lock(&self.auto_paused).remove(&ih);
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
        self.store.save_entries(&state.entries).map_err(internal)?;
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
        self.store.save_settings(&new).map_err(internal)?;
        self.session
            .set_rate_limits(new.download_rate_limit, new.upload_rate_limit)
            .await;
        state.settings = new;
        // A changed global goal applies to the torrents that follow it at once.
        self.apply_goals(&state);
        let mut reply = settings_json(&state.settings);
        reply["restart_required"] = json!(restart_required);
        Ok(reply)
    }
}

fn unrestorable_status(entry: &Entry, error: String) -> TorrentStatus {
    TorrentStatus {
        info_hash: entry.info_hash.clone(),
        name: entry.name.clone(),
        state: TorrentState::Error,
        progress: 0.0,
        total_bytes: 0,
        have_bytes: 0,
        downloaded: 0,
        uploaded: 0,
        down_rate: 0,
        up_rate: 0,
        peers: 0,
        seeds: 0,
        eta_secs: None,
        error: Some(format!("cannot restore this download: {error}")),
        save_path: entry
            .save_dir
            .join(&entry.name)
            .to_string_lossy()
            .into_owned(),
        seeding_secs: 0,
        web_seeds: Vec::new(),
        moving: None,
    }
}

pub(super) fn add_torrent(source: TorrentSource, entry: &Entry, settings: &Settings) -> AddTorrent {
    AddTorrent {
        source,
        save_dir: Some(entry.save_dir.clone()),
        paused: entry.paused,
        peers: Vec::new(),
        seed_goals: super::goals::entry_goals(entry, settings),
        sequential: entry.sequential,
        file_priorities: entry.priorities.clone(),
        only_files: entry.only.clone(),
        // Waiting for the user's choice: paused as soon as the files are known.
        pause_after_metadata: entry.awaiting_selection,
        download_rate_limit: entry.down_limit,
        upload_rate_limit: entry.up_limit,
        // The LAN rule: a torrent from a public page stays off the user's LAN unless allowed.
        source_url: entry.source_url.clone(),
        allow_lan: settings.allow_lan_for_web_torrents,
    }
}

/// A per-torrent limit is a positive number of bytes per second, or none.
fn check_limits(down: Option<u64>, up: Option<u64>) -> Result<(), ApiError> {
    if down == Some(0) || up == Some(0) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "a rate limit is a positive number of bytes per second, or null for none",
        ));
    }
    Ok(())
}

pub fn status_json(status: &TorrentStatus) -> Value {
    serde_json::to_value(status).unwrap_or(Value::Null)
}

fn settings_json(settings: &Settings) -> Value {
    serde_json::to_value(settings).unwrap_or(Value::Null)
}

pub(super) fn engine_error(e: EngineError) -> ApiError {
    let code = match e {
        EngineError::AlreadyAdded(_) => ErrorCode::AlreadyAdded,
        EngineError::UnknownTorrent(_) => ErrorCode::UnknownTorrent,
        EngineError::Unsupported(_) => ErrorCode::Unsupported,
        _ => ErrorCode::Engine,
    };
    ApiError::new(code, e.to_string())
}

pub(super) fn internal(e: anyhow::Error) -> ApiError {
    tracing::error!("{e:#}");
    ApiError::new(ErrorCode::Internal, format!("{e:#}"))
}

pub(super) fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entrys_source_url_and_the_lan_setting_reach_the_engine() {
        let magnet =
            Magnet::parse("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567").unwrap();
        let entry = Entry {
            info_hash: "0123456789abcdef0123456789abcdef01234567".into(),
            name: "x".into(),
            magnet: None,
            source_url: Some("https://example.com/x.torrent".into()),
            save_dir: "/d".into(),
            paused: false,
            sequential: false,
            added_at: 0,
            down_limit: None,
            up_limit: None,
            only: None,
            priorities: None,
            awaiting_selection: false,
            seed_ratio: protocol::Goal::Follow,
            seed_time_secs: protocol::Goal::Follow,
        };
        let mut settings = Settings::with_download_dir("/d".into());
        let add = add_torrent(TorrentSource::Magnet(magnet.clone()), &entry, &settings);
        assert_eq!(add.source_url, entry.source_url);
        assert!(!add.allow_lan, "off by default");
        settings.allow_lan_for_web_torrents = true;
        let add = add_torrent(TorrentSource::Magnet(magnet), &entry, &settings);
        assert!(add.allow_lan);
    }
}

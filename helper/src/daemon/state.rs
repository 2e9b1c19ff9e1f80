//! The daemon's state, the lowest layer of the daemon: the engine session, the persisted download
//! list and settings, what the queue and the choice of files hold back, and the channel to
//! subscribers. The commands (`commands.rs`, `add.rs`, `choose.rs`, `goals.rs`, `queue.rs`, ...)
//! build on it; it imports none of them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;

use engine::{
    AddTorrent, EngineError, Session, StatusChanges, TorrentSource, TorrentState, TorrentStatus,
};
use protocol::InfoHash;
use serde_json::Value;
use tokio::sync::{broadcast, watch, Mutex, Notify};

use super::store::{Entry, Store};
use super::stream::addr::StreamAddr;
use crate::api::{ApiError, ErrorCode};
use crate::settings::Settings;

/// What subscribers receive. Progress carries only the torrents whose status changed since the
/// previous tick (a full snapshot is sent on `subscribe` and after a subscriber lags).
#[derive(Clone, Debug)]
pub enum Outgoing {
    Event(Arc<Value>),
    Progress(Arc<Vec<Value>>),
}

/// What the queue remembers between ticks.
#[derive(Default)]
pub(super) struct QueueState {
    /// Paused by the queue (not by the user): shown as `queued`, resumed by the queue.
    pub queued: HashSet<String>,
    /// Per running torrent: the payload seen last and when it last grew.
    pub progress: HashMap<String, (u64, Instant)>,
}

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
    pub(super) unrestorable: StdMutex<Vec<TorrentStatus>>,
    /// Info-hashes (hex) of the downloads waiting for the user's choice of files.
    pub(super) awaiting: StdMutex<HashSet<String>>,
    /// What the queue holds back (`queue.rs`).
    pub(super) queue: StdMutex<QueueState>,
    /// Held while a progress round is computed and sent, and while a subscriber registers and
    /// takes its snapshot: so no round computed before a snapshot is delivered after it.
    pub(super) publish_lock: StdMutex<()>,
    /// The streaming server's port and token, once it listens (`stream/`).
    pub(super) stream: std::sync::OnceLock<StreamAddr>,
    /// The engine's change stream the first subscriber starts, until the progress task takes it.
    pub(super) changes: StdMutex<Option<StatusChanges>>,
    /// Torrents whose status as shown changed without the engine's changing (the daemon's
    /// `queued` and `awaiting_selection`), for the next progress round (`touch`).
    pub(super) touched: StdMutex<HashSet<InfoHash>>,
    pub(super) touched_wake: Notify,
    /// Rings when the number of subscribers goes from or to zero.
    pub(super) subscribers_changed: Notify,
    /// Rings when the queue should look again (an order, a setting, a pause changed).
    pub(super) queue_wake: Notify,
    /// Taken while the download list is written (`save_entries`).
    entries_write: Mutex<()>,
    /// Statuses built for progress rounds since the daemon started (what idle costs; tests).
    pub(super) progress_built: AtomicU64,
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
            changes: StdMutex::new(None),
            touched: StdMutex::new(HashSet::new()),
            touched_wake: Notify::new(),
            subscribers_changed: Notify::new(),
            queue_wake: Notify::new(),
            progress_built: AtomicU64::new(0),
            entries_write: Mutex::new(()),
            shutdown,
        })
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks `run` to stop the daemon (the `shutdown` command).
    pub(super) fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Every download's status: the engine's, then those that could not be restored.
    pub fn statuses(&self) -> Vec<TorrentStatus> {
        let mut all = self.session.statuses();
        show_awaiting(&mut all, &lock(&self.awaiting));
        show_queued(&mut all, &lock(&self.queue).queued);
        all.extend(lock(&self.unrestorable).iter().cloned());
        all
    }

    /// The statuses of `hashes` as `statuses` shows them; those not listed are left out.
    pub(super) fn statuses_of(&self, hashes: &HashSet<InfoHash>) -> Vec<TorrentStatus> {
        let mut some: Vec<TorrentStatus> = (hashes.iter())
            .filter_map(|&ih| self.session.status(ih))
            .collect();
        show_awaiting(&mut some, &lock(&self.awaiting));
        show_queued(&mut some, &lock(&self.queue).queued);
        let unrestorable = lock(&self.unrestorable);
        some.extend(
            (unrestorable.iter())
                .filter(|s| hashes.contains(&s.info_hash))
                .cloned(),
        );
        some
    }

    /// Writes the download list as it is now, off the async threads, holding no lock while it
    /// writes. Writers take turns and each writes the list as it is when its turn comes, so the
    /// file never goes back to an older list.
    pub(super) async fn save_entries(&self) -> Result<(), ApiError> {
        let _turn = self.entries_write.lock().await;
        let entries = self.state.lock().await.entries.clone();
        let store = self.store.clone();
        blocking(move || store.save_entries(&entries)).await
    }

    /// The daemon changed how `ih` shows (queued, awaiting a choice) or where it stands in the
    /// queue: subscribers get its status with the next round, and the queue looks again.
    pub(super) fn touch(&self, ih: InfoHash) {
        self.queue_wake.notify_one();
        if self.subscribers.load(Ordering::SeqCst) == 0 {
            return;
        }
        lock(&self.touched).insert(ih);
        self.touched_wake.notify_one();
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
}

/// Shows the paused torrents that wait for a choice as `awaiting_selection`.
pub(super) fn show_awaiting(statuses: &mut [TorrentStatus], awaiting: &HashSet<String>) {
    for s in statuses.iter_mut() {
        if s.state == TorrentState::Paused && awaiting.contains(&s.info_hash.to_hex()) {
            s.state = TorrentState::AwaitingSelection;
        }
    }
}

/// Shows the torrents the queue holds back as `queued`.
pub(super) fn show_queued(statuses: &mut [TorrentStatus], queued: &HashSet<String>) {
    for s in statuses.iter_mut() {
        // Checking its files while it waits is still waiting, from the user's side.
        if s.state != TorrentState::Error && queued.contains(&s.info_hash.to_hex()) {
            s.state = TorrentState::Queued;
        }
    }
}

pub(super) fn unrestorable_status(entry: &Entry, error: String) -> TorrentStatus {
    TorrentStatus {
        name: entry.name.clone(),
        error: Some(format!("cannot restore this download: {error}")),
        save_path: entry.save_dir.join(&entry.name),
        ..TorrentStatus::empty(
            InfoHash::from_hex(&entry.info_hash).unwrap_or_default(),
            TorrentState::Error,
        )
    }
}

pub(super) fn add_torrent(source: TorrentSource, entry: &Entry, settings: &Settings) -> AddTorrent {
    AddTorrent {
        source,
        save_dir: Some(entry.save_dir.clone()),
        paused: entry.paused,
        peers: Vec::new(),
        seed_goals: entry.seed_goals(settings),
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

pub(super) fn settings_json(settings: &Settings) -> Value {
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

/// Runs file work on a blocking thread, its error as an internal one.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(internal),
        Err(e) => Err(internal(anyhow::anyhow!("a file task failed: {e}"))),
    }
}

pub(super) fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Magnet;

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

    #[test]
    fn waiting_torrents_show_as_awaiting_selection_only_while_paused() {
        let mut s = vec![
            engine_placeholder(0xaa, TorrentState::Paused),
            engine_placeholder(0xbb, TorrentState::Paused),
        ];
        let waiting: HashSet<String> = [InfoHash([0xaa; 20]).to_hex()].into();
        show_awaiting(&mut s, &waiting);
        assert_eq!(s[0].state, TorrentState::AwaitingSelection);
        assert_eq!(s[1].state, TorrentState::Paused);
        let mut s = vec![engine_placeholder(0xaa, TorrentState::Connecting)];
        show_awaiting(&mut s, &waiting);
        assert_eq!(
            s[0].state,
            TorrentState::Connecting,
            "a magnet still fetching metadata"
        );
    }

    fn engine_placeholder(byte: u8, state: TorrentState) -> TorrentStatus {
        TorrentStatus::empty(InfoHash([byte; 20]), state)
    }
}

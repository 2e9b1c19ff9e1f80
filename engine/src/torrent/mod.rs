//! One task per torrent: the driver of its `protocol::session::TorrentCore`. It feeds the core
//! what peers, the disk and the clock say, and carries out what the core asks for; peer tasks
//! and the disk thread talk to it over channels, so no lock guards the hot path.
//! The only shared state is the status snapshot it publishes for `Session::statuses`.

mod announcer;
mod conns;
mod messages;
mod metadata;
mod moving;
mod seed_goal;
mod selection;
mod setup;
mod sources;
mod status;
mod stream;
mod totals;
#[path = "../webseed/actor.rs"]
mod webseed_actor;
mod wiring;
mod withdraw;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::session::TorrentCore;
use protocol::{Bitfield, Lengths, Metainfo, PeerId, Picker};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::disk::{DiskEvent, DiskJob, WriteBacklog};
use crate::peer::{Outgoing, PeerContext, PeerEvent, PeerKey};
use crate::ratelimit::RateLimiter;
use crate::status_feed::StatusCell;
use crate::types::{EngineError, FilePriority, PeerStatus, SessionEvent, TorrentState};

pub(crate) use metadata::{cached_metainfo, spawn_magnet, MagnetOptions};
pub(crate) use moving::MoveCmd;
#[cfg(test)]
pub(crate) use protocol::session::STALL_TIMEOUT;
pub(crate) use selection::{priorities_from_indices, SelectionCmd};
pub(crate) use sources::AddSources;
pub(crate) use stream::{StreamCmd, MAX_READ};
pub(crate) use wiring::{extensions, peer_context, Channels, Wiring};
pub(crate) use withdraw::WithdrawCmd;

const TICK: Duration = Duration::from_millis(500);
/// How long a quiet torrent's clock may sleep (see `Torrent::next_tick`): a daemon seeding
/// 2,000 torrents that nobody is connected to woke 4,000 times a second at `TICK`, and still
/// 200 times a second at 10 s (16 of its 20 CPU ticks a minute). Nothing a quiet torrent
/// does needs its clock sooner: the core's timers, the seed-time goal and commands wake it,
/// the announcer and the DHT keep their own timers, and a status's seeding time is advanced
/// by whoever reads it (`status_feed`).
const QUIET_TICK: Duration = Duration::from_secs(60);
const RESUME_EVERY: Duration = Duration::from_secs(30);

/// Commands from the session.
pub(crate) enum TorrentCmd {
    /// Boxed, as every large variant should be: the command channel allocates a block of 32
    /// slots of the largest variant up front, in every torrent.
    Incoming(Box<(crate::mse_stream::PeerStream, BytesMut)>),
    AddPeers(Vec<SocketAddr>),
    Pause,
    Resume,
    Stop {
        delete: bool,
        done: oneshot::Sender<()>,
    },
    Withdraw(withdraw::WithdrawCmd),
    Selection(selection::SelectionCmd),
    /// The torrent was added again, with these sources (`sources.rs`).
    AddSources(Box<AddSources>),
    Stream(stream::StreamCmd),
    /// The seed goals changed (they live in `TorrentOptions::seed_goals`): judge them now.
    GoalsChanged,
    /// Move the files to another save directory (`moving.rs`), or stop that move.
    Move(moving::MoveCmd),
    CancelMove(oneshot::Sender<Result<(), EngineError>>),
}

/// What the session keeps of a running torrent.
#[derive(Clone)]
pub(crate) struct TorrentHandle {
    pub cmd: mpsc::UnboundedSender<TorrentCmd>,
    pub status: Arc<StatusCell>,
    pub peers: Arc<Mutex<Vec<PeerStatus>>>,
}

/// Session-wide settings and services a torrent uses.
#[derive(Clone)]
pub(crate) struct SessionShared {
    pub our_id: PeerId,
    pub listen_port: u16,
    pub down_limit: Arc<RateLimiter>,
    pub up_limit: Arc<RateLimiter>,
    pub events: broadcast::Sender<SessionEvent>,
    pub max_peers: usize,
    /// Connections from one host (`IpKey`), handshaking ones included.
    pub max_peers_per_ip: usize,
    pub write_timeout: Duration,
    pub upload_slots: usize,
    pub state_dir: Option<PathBuf>,
    pub announce_ip: Option<String>,
    pub connector: Arc<crate::connect::Connector>,
    pub web_seed_timeout: Duration,
    /// The session's DHT node: peers hear its port (BEP 5 `port`) and tell us theirs.
    pub dht: Option<crate::dht::Dht>,
    /// Which tracker, web seed and PEX addresses this torrent may contact (the LAN rule; set
    /// per torrent from `AddTorrent::source_url`).
    pub targets: crate::tracker::targets::Targets,
    /// Times any torrent's clock came round (`Session::clock_turns`).
    pub clock_turns: Arc<std::sync::atomic::AtomicU64>,
}

pub(crate) struct TorrentOptions {
    pub metainfo: Metainfo,
    pub save_dir: PathBuf,
    pub paused: bool,
    pub peers: Vec<SocketAddr>,
    /// The torrent's seed goals, shared with the session so they can change while it runs
    /// (also across a magnet's metadata phase).
    pub seed_goals: Arc<Mutex<protocol::SeedGoals>>,
    pub sequential: bool,
    pub file_priorities: Option<Vec<FilePriority>>,
    /// A magnet's torrent starts paused (see `AddTorrent::pause_after_metadata`).
    pub pause_after_metadata: bool,
}

pub(crate) struct Torrent {
    shared: SessionShared,
    metainfo: Arc<Metainfo>,
    lengths: Lengths,
    /// The BitTorrent rules: the picker, the choker, each peer's protocol state, strikes and
    /// bans, whom to dial (`protocol::session`). This task drives it.
    core: TorrentCore,
    piece_priorities: Vec<u8>,
    /// One per file, as the user chose them (`selection.rs`).
    file_priorities: Vec<FilePriority>,
    sequential: bool,
    ctx: PeerContext,
    /// What only the driver has of each connected peer (its writer, its counters).
    conns: HashMap<PeerKey, conns::Conn>,
    disk: crate::disk_pool::DiskSender,
    backlog: Arc<WriteBacklog>,
    state: TorrentState,
    checking_done: u32,
    paused: bool,
    error: Option<String>,
    seed_goals: Arc<Mutex<protocol::SeedGoals>>,
    /// Time spent seeding (complete and not paused) over the torrent's life (earlier runs from
    /// its resume record), for the time goal, up to `last_tick` (the clock's last turn; a quiet
    /// torrent's clock sleeps for seconds).
    seeding: Duration,
    /// Bytes uploaded in earlier runs (from the resume record): the ratio goal and the status
    /// count the torrent's life; announces count this run, as BEP 3 trackers expect since
    /// `started`.
    uploaded_before: u64,
    /// The totals the resume record on disk holds (`totals.rs`).
    saved_totals: crate::resume::Totals,
    last_tick: Instant,
    /// Payload bytes moved by connections already closed (live ones are in their stats).
    closed_down: u64,
    closed_up: u64,
    down_rate: u64,
    up_rate: u64,
    resume_path: Option<PathBuf>,
    resume_dirty: bool,
    /// The pieces the resume record on disk holds, when known: a record that would say the
    /// same is not written again (a daemon of 2,000 seeding torrents rewrote, fsync'd and
    /// renamed every record after start-up and again at shutdown: two minutes to stop).
    saved_have: Option<Bitfield>,
    last_resume: Instant,
    completed_sent: bool,
    /// The last wanted piece arrived in this run. A copy found complete by the initial check
    /// never sets it: BEP 3 sends `completed` only for a download that finished, and a seeder
    /// (btpublish) whose check ends after its first announce would otherwise count as one.
    finished_download: bool,
    save_path: PathBuf,
    announce: sources::Announce,
    added: sources::Added,
    status_out: Arc<StatusCell>,
    peers_out: Arc<Mutex<Vec<PeerStatus>>>,
    webseeds: crate::webseed::WebSeeds,
    /// Streaming readers and the reads waiting for their pieces (`stream.rs`).
    streaming: stream::Streaming,
    /// A move under way (`moving.rs`), and where its resume data goes.
    moving: Option<crate::types::MoveStatus>,
    moving_to: Option<PathBuf>,
    move_cancel: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// A torrent that is set up but whose actor has not started yet.
pub(crate) struct Prepared {
    torrent: Torrent,
    channels: Channels,
}

impl Prepared {
    pub(crate) fn start(self) {
        let (torrent, (a, b, c)) = (self.torrent, self.channels);
        tokio::spawn(torrent.run(a, b, c));
    }
}

impl Torrent {
    /// Sets the torrent up (layout, resume data, disk thread); its actor runs once the caller
    /// calls [`Prepared::start`]. The split lets the session announce `Added` first: a complete
    /// copy checks in milliseconds and would otherwise report `Completed` before `Added`.
    pub(crate) async fn prepare(
        shared: SessionShared,
        opts: TorrentOptions,
    ) -> Result<(TorrentHandle, Prepared), EngineError> {
        let wiring = Wiring::new();
        let handle = wiring.handle();
        let (torrent, channels) = Torrent::build_blocking(shared, opts, wiring, None).await?;
        Ok((handle, Prepared { torrent, channels }))
    }

    /// [`Torrent::build`] on a blocking thread: laying out a torrent creates and sizes its
    /// files and reads its resume data, which for thousands of files takes the runtime's
    /// thread for long enough to stall every other torrent and connection on it.
    async fn build_blocking(
        shared: SessionShared,
        opts: TorrentOptions,
        wiring: Wiring,
        handoff: Option<metadata::Handoff>,
    ) -> Result<(Torrent, Channels), EngineError> {
        let dir = opts.save_dir.clone();
        let build = move || Torrent::build(shared, opts, wiring, handoff);
        match tokio::task::spawn_blocking(build).await {
            Ok(built) => built,
            Err(e) => Err(EngineError::Io {
                what: "setting up a torrent in",
                path: dir,
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    async fn run(
        mut self,
        mut cmds: mpsc::UnboundedReceiver<TorrentCmd>,
        mut peer_events: mpsc::Receiver<PeerEvent>,
        mut disk_events: mpsc::UnboundedReceiver<DiskEvent>,
    ) {
        let tick = tokio::time::sleep(TICK);
        tokio::pin!(tick);
        let upload_room = self.ctx.upload_room.clone();
        loop {
            tokio::select! {
                biased;
                Some(ev) = disk_events.recv() => self.on_disk(ev),
                cmd = cmds.recv() => match cmd {
                    None => {
                        self.stop(false, &mut disk_events).await;
                        return;
                    }
                    Some(TorrentCmd::Stop { delete, done }) => {
                        self.stop(delete, &mut disk_events).await;
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.on_command(cmd),
                },
                Some(ev) = peer_events.recv() => self.on_peer_event(ev),
                Some(ev) = self.webseeds.recv() => self.on_webseed(ev),
                () = upload_room.notified() => self.on_upload_room(),
                () = &mut tick => {
                    let now = Instant::now();
                    // `on_tick` moves `last_tick` on (`seed_goal_tick`).
                    self.on_tick(now, now.duration_since(self.last_tick));
                    tick.as_mut().reset(self.next_tick(now).into());
                }
            }
            self.core.set_disk_room(self.backlog.has_room());
            self.flush();
            // A quiet torrent's clock sleeps past `TICK`: if something started moving, or a
            // timer came nearer (a dial backed off, a goal changed), it comes round sooner.
            let now = Instant::now();
            if tick.deadline() > tokio::time::Instant::from_std(now + TICK) {
                let next = self.next_tick(now);
                if tokio::time::Instant::from_std(next) < tick.deadline() {
                    tick.as_mut().reset(next.into());
                }
            }
        }
    }

    /// Nothing moves: no connection of any stage, no web seed fetching, no streaming reader,
    /// no check under way. Rates, choking, stalls and PEX have nothing to do then.
    fn quiet(&self) -> bool {
        self.conns.is_empty()
            && self.core.pool().connections() == 0
            && !self.webseeds.busy()
            && self.streaming.is_idle()
            && self.state != TorrentState::Checking
    }

    /// When the clock next comes round: every `TICK` while anything moves; a quiet torrent
    /// sleeps until the core's next timer (a dial due, a rechoke), its seed-time goal, a web
    /// seed's back-off ending, or `QUIET_TICK`, whichever is first.
    fn next_tick(&self, now: Instant) -> Instant {
        if !self.quiet() {
            return now + TICK;
        }
        let due = [
            self.core.poll_timeout(),
            self.seed_goal_due(now),
            self.webseeds.next_retry(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + QUIET_TICK);
        due.clamp(now + TICK, now + QUIET_TICK)
    }

    fn on_command(&mut self, cmd: TorrentCmd) {
        match cmd {
            TorrentCmd::Incoming(incoming) => {
                let (stream, buf) = *incoming;
                self.accept(stream, buf)
            }
            TorrentCmd::AddPeers(addrs) => self.add_candidates(addrs),
            TorrentCmd::Pause => {
                self.paused = true;
                self.disconnect_all();
                self.sync_core_mode();
                self.publish_status();
            }
            TorrentCmd::Resume => {
                self.paused = false;
                if self.state == TorrentState::Error {
                    // A write error may have been transient (space freed): try again.
                    self.error = None;
                    self.state = TorrentState::Connecting;
                }
                self.sync_core_mode();
                self.fill_webseeds();
                self.publish_status();
            }
            TorrentCmd::Stop { .. } => {}
            TorrentCmd::Withdraw(cmd) => self.on_withdraw_cmd(cmd),
            TorrentCmd::Selection(cmd) => self.on_selection_cmd(cmd),
            TorrentCmd::AddSources(add) => self.add_sources(*add),
            TorrentCmd::Stream(cmd) => self.on_stream_cmd(cmd),
            TorrentCmd::GoalsChanged => {
                // Judged at once, on the seeding time up to now.
                let now = Instant::now();
                self.seed_goal_tick(now, now.saturating_duration_since(self.last_tick));
            }
            TorrentCmd::Move(cmd) => self.on_move_cmd(cmd),
            TorrentCmd::CancelMove(reply) => self.on_cancel_move(reply),
        }
    }

    fn on_disk(&mut self, ev: DiskEvent) {
        match ev {
            DiskEvent::Verified(piece) => self.piece_verified(piece),
            DiskEvent::Drained => {
                self.core.set_disk_room(true);
                self.core.request_from_all();
                self.fill_webseeds();
            }
            DiskEvent::Failed(piece) => self.piece_failed(piece),
            DiskEvent::ReadDone { key, block, data } => self.read_done(key, block, data),
            DiskEvent::CheckProgress { done } => self.checking_done = done,
            DiskEvent::Checked(have) => self.checked(have),
            DiskEvent::Relocated(root) => self.save_path = root,
            DiskEvent::MoveProgress { done, total } => self.on_move_progress(done, total),
            DiskEvent::Moved(outcome) => self.on_moved(outcome),
            // Writes already queued fail too: report the first.
            DiskEvent::Error(msg) if self.state != TorrentState::Error => self.fail(msg),
            DiskEvent::Error(_) => {}
            DiskEvent::Stopped => {}
            DiskEvent::Withdrawal(news) => self.on_withdrawal(news),
        }
    }

    /// The initial check (or trusted resume data) says which pieces we have.
    fn checked(&mut self, have: Bitfield) {
        let mut picker = Picker::new(self.lengths, have);
        picker.set_priorities(self.piece_priorities.clone());
        picker.set_sequential(self.sequential);
        self.core.replace_picker(picker);
        self.state = TorrentState::Connecting;
        self.resume_dirty = true;
        self.stream_checked();
        self.announce_to_adopted();
        self.sync_core_mode();
        if self.core.picker().is_complete() {
            self.on_complete(false);
        }
        self.fill_webseeds();
        self.publish_status();
    }

    fn fail(&mut self, msg: String) {
        tracing::error!("torrent {}: {msg}", self.metainfo.info.name);
        self.state = TorrentState::Error;
        self.error = Some(msg.clone());
        self.disconnect_all();
        self.sync_core_mode();
        // Status first: a subscriber reacting to the event must see the new state.
        self.publish_status();
        let _ = self
            .shared
            .events
            .send(SessionEvent::Error(self.metainfo.info_hash, msg));
    }

    /// Every wanted piece is verified; `downloaded` when the last of them arrived in this run
    /// (not found by the initial check).
    fn on_complete(&mut self, downloaded: bool) {
        self.state = TorrentState::Seeding;
        self.finished_download |= downloaded;
        if !self.completed_sent {
            self.completed_sent = true;
            self.publish_status();
            let _ = self
                .shared
                .events
                .send(SessionEvent::Completed(self.metainfo.info_hash));
        }
        self.save_resume();
        // The core withdraws the endgame's twin requests and leaves the other seeds.
        self.sync_core_mode();
        self.publish_status();
    }

    fn save_resume(&mut self) {
        if let Some(path) = &self.resume_path {
            let have_changed = self.saved_have.as_ref() != Some(self.core.have());
            let totals = self.totals(Instant::now());
            let changed = have_changed || totals != self.saved_totals;
            if self.state != TorrentState::Checking && changed {
                let have = self.core.have().clone();
                self.saved_have = Some(have.clone());
                self.saved_totals = totals;
                let durability = if have_changed {
                    crate::resume::Durability::Synced
                } else {
                    crate::resume::Durability::Renamed
                };
                let _ = self.disk.send(DiskJob::SaveResume {
                    have,
                    path: path.clone(),
                    totals,
                    durability,
                });
            }
        }
        self.resume_dirty = false;
        self.last_resume = Instant::now();
    }

    fn announce_stats(&self, stopping: bool) -> announcer::AnnounceStats {
        announcer::AnnounceStats {
            uploaded: self.uploaded(),
            downloaded: self.downloaded(),
            left: self.core.picker().wanted_left(),
            completed: self.finished_download && self.state == TorrentState::Seeding,
            stopping,
        }
    }

    async fn stop(&mut self, delete: bool, disk_events: &mut mpsc::UnboundedReceiver<DiskEvent>) {
        self.disconnect_all();
        let last = self.announce_stats(true);
        self.added.stop(&mut self.announce, last).await;
        if !delete {
            self.save_resume();
        } else if let Some(path) = &self.resume_path {
            let _ = std::fs::remove_file(path);
            if let Some(dir) = &self.shared.state_dir {
                // A magnet's cached metadata (`metadata::cache_path`).
                let _ = std::fs::remove_file(
                    dir.join(format!("{}.torrent", self.metainfo.info_hash.to_hex())),
                );
            }
        }
        let _ = self.disk.send(DiskJob::Stop { delete });
        // Wait for the disk thread to finish its queue, bounded in case a disk hangs.
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(ev) = disk_events.recv().await {
                if matches!(ev, DiskEvent::Stopped) {
                    break;
                }
            }
        })
        .await;
    }

    fn on_tick(&mut self, now: Instant, elapsed: Duration) {
        (self.shared.clock_turns).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let secs = elapsed.as_secs_f64().max(0.001);
        let (down, up) = self.update_rates(secs);
        self.webseeds_tick(secs);
        self.down_rate = down + self.webseeds.rate();
        self.up_rate = up;
        self.stream_tick(now);
        self.core
            .set_upload_limited(self.shared.up_limit.is_limited());
        self.core.handle_timeout(now);
        self.flush();
        let due = self.resume_dirty || self.totals_due(now);
        if due && now.duration_since(self.last_resume) >= RESUME_EVERY {
            self.save_resume();
        }
        self.seed_goal_tick(now, elapsed);
        if let Some((tx, _)) = &self.announce {
            // Only wakes the announcer when something it sends changed (not on every tick):
            // a completion, or a check that found the copy complete (`left` reached 0).
            let stats = self.announce_stats(false);
            tx.send_if_modified(|old| {
                let changed =
                    old.completed != stats.completed || (old.left == 0) != (stats.left == 0);
                *old = stats;
                changed
            });
        }
        self.publish_status();
    }

    fn downloaded(&self) -> u64 {
        self.closed_down
            + self.conns.values().map(|c| c.downloaded()).sum::<u64>()
            + self.webseeds.downloaded()
    }

    fn uploaded(&self) -> u64 {
        self.closed_up + self.conns.values().map(|c| c.uploaded()).sum::<u64>()
    }

    fn disconnect_all(&mut self) {
        self.stop_webseeds();
        self.core.set_active(false, Instant::now());
        self.flush();
    }

    fn send(&self, key: PeerKey, item: Outgoing) {
        if let Some(c) = self.conns.get(&key) {
            let _ = c.writer.send(item);
        }
    }
}

/// Every torrent has a command channel and a peer-event channel, and each allocates a block of
/// 32 slots of its message type from the start: 2,000 seeding torrents paid for those blocks
/// whether anything was ever sent or not (104-byte peer events, 80-byte commands before).
#[test]
fn channel_messages_stay_small() {
    use std::mem::size_of;
    assert!(size_of::<TorrentCmd>() <= 48, "{}", size_of::<TorrentCmd>());
    assert!(size_of::<PeerEvent>() <= 64, "{}", size_of::<PeerEvent>());
    assert!(size_of::<DiskEvent>() <= 56, "{}", size_of::<DiskEvent>());
}

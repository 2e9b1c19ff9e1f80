//! One actor task per torrent. It owns the picker, the choker and the per-peer bookkeeping;
//! peer tasks and the disk thread talk to it over channels, so no lock guards the hot path.
//! The only shared state is the status snapshot it publishes for `Session::statuses`.

mod allowed_fast;
mod announcer;
mod ext;
mod hosts;
mod messages;
mod metadata;
mod peers;
mod pex;
mod seed_goal;
mod selection;
mod sources;
mod status;
mod stream;
mod uploads;
#[path = "../webseed/actor.rs"]
mod webseed_actor;
mod withdraw;

use status::piece_priorities;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::{Bitfield, Choker, Lengths, Metainfo, PeerId, Picker};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::disk::{Disk, DiskEvent, DiskJob, WriteBacklog};
use crate::peer::{Outgoing, PeerContext, PeerEvent, PeerKey};
use crate::ratelimit::RateLimiter;
use crate::status_feed::StatusCell;
use crate::types::{
    EngineError, FilePriority, PeerStatus, SessionEvent, TorrentState, TorrentStatus,
};

pub(crate) use metadata::{cached_metainfo, spawn_magnet, MagnetOptions};
pub(crate) use peers::Peer;
#[cfg(test)]
pub(crate) use peers::STALL_TIMEOUT;
pub(crate) use selection::{priorities_from_indices, SelectionCmd};
pub(crate) use sources::AddSources;
pub(crate) use stream::{StreamCmd, MAX_READ};

const TICK: Duration = Duration::from_millis(500);
const RESUME_EVERY: Duration = Duration::from_secs(30);

/// Commands from the session.
pub(crate) enum TorrentCmd {
    Incoming {
        stream: crate::mse_stream::PeerStream,
        buf: BytesMut,
    },
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
    AddSources(AddSources),
    Stream(stream::StreamCmd),
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

/// The receiving ends a torrent actor runs on.
pub(super) type Channels = (
    mpsc::UnboundedReceiver<TorrentCmd>,
    mpsc::Receiver<PeerEvent>,
    mpsc::UnboundedReceiver<DiskEvent>,
);

/// The channels and published snapshots of one torrent, made before its actor: a magnet's
/// metadata phase and the torrent that follows it share them, so the session's handle and the
/// peer connections stay valid across the change.
pub(super) struct Wiring {
    pub cmd_tx: mpsc::UnboundedSender<TorrentCmd>,
    pub cmd_rx: mpsc::UnboundedReceiver<TorrentCmd>,
    pub peer_tx: mpsc::Sender<PeerEvent>,
    pub peer_rx: mpsc::Receiver<PeerEvent>,
    pub status_out: Arc<StatusCell>,
    pub peers_out: Arc<Mutex<Vec<PeerStatus>>>,
    /// Peer writers' "my queue drained" signal: the actor's, whichever phase made the peer.
    pub upload_room: Arc<tokio::sync::Notify>,
}

impl Wiring {
    pub(super) fn new() -> Wiring {
        // Small: a slow actor makes peer readers wait, leaving data in kernel socket buffers.
        let (peer_tx, peer_rx) = mpsc::channel(128);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        Wiring {
            cmd_tx,
            cmd_rx,
            peer_tx,
            peer_rx,
            status_out: Arc::new(StatusCell::new(status::placeholder())),
            peers_out: Arc::new(Mutex::new(Vec::new())),
            upload_room: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub(super) fn handle(&self) -> TorrentHandle {
        TorrentHandle {
            cmd: self.cmd_tx.clone(),
            status: self.status_out.clone(),
            peers: self.peers_out.clone(),
        }
    }
}

/// What every connection of a torrent shares (`piece_count` 0 while the metadata is unknown).
pub(super) fn peer_context(
    shared: &SessionShared,
    info_hash: protocol::InfoHash,
    piece_count: u32,
    events: mpsc::Sender<PeerEvent>,
    upload_room: Arc<tokio::sync::Notify>,
) -> PeerContext {
    PeerContext {
        info_hash,
        our_id: shared.our_id,
        piece_count,
        events,
        down_limit: shared.down_limit.clone(),
        up_limit: shared.up_limit.clone(),
        connector: shared.connector.clone(),
        dht: shared.dht.clone(),
        upload_room,
        write_timeout: shared.write_timeout,
        max_queued_bytes: crate::peer::MAX_QUEUED_BYTES,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct PieceRecord {
    failed: u32,
    passed: u32,
}

/// Where we stand with an address we may dial.
struct Candidate {
    next_attempt: Instant,
    failures: u32,
}

pub(crate) struct Torrent {
    shared: SessionShared,
    metainfo: Arc<Metainfo>,
    lengths: Lengths,
    picker: Picker,
    piece_priorities: Vec<u8>,
    /// One per file, as the user chose them (`selection.rs`).
    file_priorities: Vec<FilePriority>,
    sequential: bool,
    choker: Choker,
    ctx: PeerContext,
    peers: HashMap<PeerKey, Peer>,
    /// Outgoing connections not yet through the handshake.
    connecting: HashMap<PeerKey, SocketAddr>,
    /// Accepted connections not yet through the handshake: they count against `max_peers`
    /// and the per-host cap like the others.
    handshaking: HashMap<PeerKey, SocketAddr>,
    next_key: PeerKey,
    candidates: HashMap<SocketAddr, Candidate>,
    /// Addresses never to dial (ourselves, peers the metadata phase distrusted).
    banned_addrs: HashSet<SocketAddr>,
    /// Hosts banned for misbehaviour, whatever port or peer id they come back with.
    bans: protocol::BanList,
    /// Pieces each offender (a host, or one local program) sent blocks of that failed / passed
    /// their hash check (bounded).
    strikes: protocol::BoundedMap<protocol::Offender, PieceRecord>,
    /// Who sent blocks of each piece being downloaded.
    contributors: HashMap<u32, Vec<SocketAddr>>,
    /// Pieces being downloaded that hold blocks from a web seed: if one fails its check, the
    /// peers who sent the rest are not to blame for it (`messages.rs`, `piece_failed`).
    webseed_touched: HashSet<u32>,
    disk: std_mpsc::Sender<DiskJob>,
    backlog: Arc<WriteBacklog>,
    state: TorrentState,
    checking_done: u32,
    paused: bool,
    error: Option<String>,
    seed_goals: Arc<Mutex<protocol::SeedGoals>>,
    /// Time spent seeding (complete and not paused) in this session, for the time goal.
    seeding: Duration,
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
    rng: rand::rngs::StdRng,
    webseeds: crate::webseed::WebSeeds,
    uploads: uploads::Uploads,
    /// Streaming readers and the reads waiting for their pieces (`stream.rs`).
    streaming: stream::Streaming,
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
    pub(crate) fn prepare(
        shared: SessionShared,
        opts: TorrentOptions,
    ) -> Result<(TorrentHandle, Prepared), EngineError> {
        let wiring = Wiring::new();
        let handle = wiring.handle();
        let (torrent, channels) = Torrent::build(shared, opts, wiring, None)?;
        Ok((handle, Prepared { torrent, channels }))
    }

    /// Sets the torrent up on existing channels; a magnet torrent hands over its connections
    /// and announcer (`handoff`) once the metadata is in.
    fn build(
        shared: SessionShared,
        opts: TorrentOptions,
        wiring: Wiring,
        handoff: Option<metadata::Handoff>,
    ) -> Result<(Torrent, Channels), EngineError> {
        let Wiring {
            cmd_tx,
            cmd_rx,
            peer_tx,
            peer_rx,
            status_out,
            peers_out,
            upload_room,
        } = wiring;
        let metainfo = Arc::new(opts.metainfo);
        let info = &metainfo.info;
        let info_hash = metainfo.info_hash;
        if let Some(fp) = &opts.file_priorities {
            if fp.len() != info.files.len() {
                return Err(EngineError::BadFilePriorities {
                    got: fp.len(),
                    expected: info.files.len(),
                });
            }
        }
        let lengths = Lengths::new(info.total_length, info.piece_length, info.pieces.len())
            .map_err(|_| {
                EngineError::Unsupported("a torrent whose piece count does not match its length")
            })?;
        let resume_path = (shared.state_dir.as_deref())
            .map(|d| crate::resume::resume_path(d, info_hash, &opts.save_dir));
        let crate::resume::Placed {
            mut storage,
            record: resume,
            trusted,
        } = crate::resume::place(
            &opts.save_dir,
            info,
            shared.state_dir.as_deref(),
            resume_path.as_deref(),
            info_hash,
            lengths.piece_count(),
        )
        .map_err(|source| EngineError::Io {
            what: "laying out",
            path: opts.save_dir.clone(),
            source,
        })?;
        let save_path = storage.root().to_path_buf();
        if let Some(parts) = resume_path.as_ref().map(|p| p.with_extension("parts")) {
            let skipped = selection::skipped(opts.file_priorities.as_deref(), info.files.len());
            let plen = u64::from(lengths.default_piece_len());
            (storage.use_part_file(&parts, plen, &skipped)).map_err(|source| EngineError::Io {
                what: "opening the part file",
                path: parts.clone(),
                source,
            })?;
        }

        let (disk_tx, disk_rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(WriteBacklog::default());
        let targets = shared.targets;
        let disk =
            Disk::spawn(storage, info, lengths, disk_tx, backlog.clone()).map_err(|source| {
                EngineError::Io {
                    what: "starting the disk thread for",
                    path: save_path.clone(),
                    source,
                }
            })?;
        let mut ctx = peer_context(
            &shared,
            info_hash,
            lengths.piece_count(),
            peer_tx,
            upload_room,
        );
        if info.private {
            ctx.dht = None; // BEP 27: no DHT bit, no port messages
        }
        let piece_priorities =
            piece_priorities(&metainfo, &lengths, opts.file_priorities.as_deref());
        let now = Instant::now();
        let initial = TorrentStatus {
            info_hash,
            name: info.name.clone(),
            state: TorrentState::Checking,
            progress: 0.0,
            total_bytes: info.total_length,
            have_bytes: 0,
            downloaded: 0,
            uploaded: 0,
            down_rate: 0,
            up_rate: 0,
            peers: 0,
            seeds: 0,
            eta_secs: None,
            error: None,
            save_path: save_path.clone(),
            seeding_secs: 0,
            web_seeds: Vec::new(),
        };
        status_out.publish(initial);
        let (web_seed_timeout, down_limit) = (shared.web_seed_timeout, shared.down_limit.clone());
        let mut torrent = Torrent {
            choker: Choker::new(shared.upload_slots),
            picker: Picker::new(lengths, Bitfield::new(lengths.piece_count())),
            shared,
            metainfo: metainfo.clone(),
            lengths,
            piece_priorities,
            file_priorities: (opts.file_priorities.clone())
                .unwrap_or_else(|| vec![FilePriority::Normal; info.files.len()]),
            sequential: opts.sequential,
            ctx,
            peers: HashMap::new(),
            connecting: HashMap::new(),
            handshaking: HashMap::new(),
            next_key: 1,
            candidates: HashMap::new(),
            banned_addrs: HashSet::new(),
            bans: protocol::BanList::default(),
            strikes: protocol::BoundedMap::new(protocol::peer_bounds::MAX_BANS),
            contributors: HashMap::new(),
            webseed_touched: HashSet::new(),
            disk,
            backlog: backlog.clone(),
            state: TorrentState::Checking,
            checking_done: 0,
            paused: opts.paused,
            error: None,
            seed_goals: opts.seed_goals,
            seeding: Duration::ZERO,
            closed_down: 0,
            closed_up: 0,
            down_rate: 0,
            up_rate: 0,
            resume_path,
            resume_dirty: false,
            saved_have: None,
            last_resume: now,
            completed_sent: false,
            finished_download: false,
            save_path,
            announce: None,
            added: sources::Added::new(cmd_tx.clone()),
            status_out: status_out.clone(),
            peers_out: peers_out.clone(),
            rng: rand::SeedableRng::from_os_rng(),
            webseeds: crate::webseed::WebSeeds::new(
                metainfo.clone(),
                lengths,
                web_seed_timeout,
                down_limit,
                backlog.clone(),
                targets,
            ),
            uploads: uploads::Uploads::default(),
            streaming: stream::Streaming::default(),
        };
        let handed_announcer = match handoff {
            Some(h) => torrent.adopt(h),
            None => false,
        };
        torrent.add_candidates(opts.peers);
        let tiers = metainfo.tiers();
        if !tiers.is_empty() && !handed_announcer {
            let (tx, rx) = watch::channel(torrent.announce_stats(false));
            let setup = announcer::AnnouncerSetup {
                tiers,
                info_hash,
                peer_id: torrent.shared.our_id,
                port: torrent.shared.listen_port,
                ip: torrent.shared.announce_ip.clone(),
                targets: torrent.shared.targets,
            };
            let task = announcer::spawn(setup, rx, cmd_tx.clone());
            torrent.announce = Some((tx, task));
        }
        match trusted {
            Some(have) => {
                torrent.saved_have = Some(have.clone());
                torrent.checked(have)
            }
            None => {
                let recorded = resume.map(|r| r.files);
                let record_to = torrent.resume_path.clone();
                let _ = (torrent.disk).send(DiskJob::Check {
                    recorded,
                    record_to,
                });
            }
        }
        Ok((torrent, (cmd_rx, peer_rx, disk_rx)))
    }

    async fn run(
        mut self,
        mut cmds: mpsc::UnboundedReceiver<TorrentCmd>,
        mut peer_events: mpsc::Receiver<PeerEvent>,
        mut disk_events: mpsc::UnboundedReceiver<DiskEvent>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_tick = Instant::now();
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
                () = upload_room.notified() => self.pump_uploads(),
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.on_tick(now, now.duration_since(last_tick));
                    last_tick = now;
                }
            }
        }
    }

    fn on_command(&mut self, cmd: TorrentCmd) {
        match cmd {
            TorrentCmd::Incoming { stream, buf } => self.accept(stream, buf),
            TorrentCmd::AddPeers(addrs) => self.add_candidates(addrs),
            TorrentCmd::Pause => {
                self.paused = true;
                self.disconnect_all();
                self.publish_status();
            }
            TorrentCmd::Resume => {
                self.paused = false;
                if self.state == TorrentState::Error {
                    // A write error may have been transient (space freed): try again.
                    self.error = None;
                    self.state = TorrentState::Connecting;
                }
                self.maybe_connect(Instant::now());
                self.fill_webseeds();
                self.publish_status();
            }
            TorrentCmd::Stop { .. } => {}
            TorrentCmd::Withdraw(cmd) => self.on_withdraw_cmd(cmd),
            TorrentCmd::Selection(cmd) => self.on_selection_cmd(cmd),
            TorrentCmd::AddSources(add) => self.add_sources(add),
            TorrentCmd::Stream(cmd) => self.on_stream_cmd(cmd),
        }
    }

    fn on_disk(&mut self, ev: DiskEvent) {
        match ev {
            DiskEvent::Verified(piece) => self.piece_verified(piece),
            DiskEvent::Drained => {
                self.request_from_all();
                self.fill_webseeds();
            }
            DiskEvent::Failed(piece) => self.piece_failed(piece),
            DiskEvent::ReadDone { key, block, data } => self.read_done(key, block, data),
            DiskEvent::CheckProgress { done } => self.checking_done = done,
            DiskEvent::Checked(have) => self.checked(have),
            DiskEvent::Relocated(root) => self.save_path = root,
            // Writes already queued fail too: report the first.
            DiskEvent::Error(msg) if self.state != TorrentState::Error => self.fail(msg),
            DiskEvent::Error(_) => {}
            DiskEvent::Stopped => {}
            DiskEvent::Withdrawal(news) => self.on_withdrawal(news),
        }
    }

    /// The initial check (or trusted resume data) says which pieces we have.
    fn checked(&mut self, have: Bitfield) {
        self.picker = Picker::new(self.lengths, have);
        self.picker.set_priorities(self.piece_priorities.clone());
        self.picker.set_sequential(self.sequential);
        self.state = TorrentState::Connecting;
        self.resume_dirty = true;
        self.stream_checked();
        self.announce_to_adopted();
        if self.picker.is_complete() {
            self.on_complete(false);
        }
        self.maybe_connect(Instant::now());
        self.fill_webseeds();
        self.publish_status();
    }

    fn fail(&mut self, msg: String) {
        tracing::error!("torrent {}: {msg}", self.metainfo.info.name);
        self.state = TorrentState::Error;
        self.error = Some(msg.clone());
        self.disconnect_all();
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
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        // Endgame twins still outstanding are no longer wanted.
        for p in self.peers.values_mut() {
            let mut frames = Vec::new();
            for b in p.withdraw_all() {
                protocol::wire::Message::Cancel(b.as_ref()).encode(&mut frames);
            }
            if !frames.is_empty() {
                let _ = p.writer.send(Outgoing::Frame(frames));
            }
        }
        for key in keys {
            self.update_interest(key);
            if self.peers.get(&key).is_some_and(|p| p.has.is_full()) {
                self.close_peer(key, "both seeding");
            }
        }
        self.publish_status();
    }

    fn save_resume(&mut self) {
        if let Some(path) = &self.resume_path {
            let unchanged = self.saved_have.as_ref() == Some(self.picker.have());
            if self.state != TorrentState::Checking && !unchanged {
                let have = self.picker.have().clone();
                self.saved_have = Some(have.clone());
                let _ = self.disk.send(DiskJob::SaveResume {
                    have,
                    path: path.clone(),
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
            left: self.picker.wanted_left(),
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
        let secs = elapsed.as_secs_f64().max(0.001);
        let (mut down, mut up) = (0u64, 0u64);
        for peer in self.peers.values_mut() {
            peer.update_rates(secs);
            down += peer.down_rate;
            up += peer.up_rate;
        }
        self.webseeds_tick(secs);
        self.down_rate = down + self.webseeds.rate();
        self.up_rate = up;
        self.check_stalls(now);
        self.stream_tick(now);
        self.pump_uploads();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.update_interest(key);
        }
        self.request_from_all();
        self.rechoke(now);
        self.maybe_connect(now);
        self.pex_tick(now);
        if self.resume_dirty && now.duration_since(self.last_resume) >= RESUME_EVERY {
            self.save_resume();
        }
        self.seed_goal_tick(elapsed);
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
            + self.peers.values().map(|p| p.downloaded()).sum::<u64>()
            + self.webseeds.downloaded()
    }

    fn uploaded(&self) -> u64 {
        self.closed_up + self.peers.values().map(|p| p.uploaded()).sum::<u64>()
    }

    fn disconnect_all(&mut self) {
        self.stop_webseeds();
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.close_peer(key, "torrent stopped or paused");
        }
    }

    fn send(&self, key: PeerKey, item: Outgoing) {
        if let Some(p) = self.peers.get(&key) {
            let _ = p.writer.send(item);
        }
    }
}

//! A torrent added from a magnet link, before it has its metadata (BEP 9): the driver of its
//! `protocol::session::MetadataCore`, which holds the rules (whom to ask for which piece, the
//! timeouts, the info-hash check, distrusting a liar, the bound on `metadata_size`). This task
//! finds peers (the link's `x.pe` and `tr` trackers, PEX, and whatever else sends `AddPeers`),
//! connects, feeds the core, and carries out what it polls. When the core hands out the
//! verified dictionary it writes the `.torrent` beside the resume data and becomes an ordinary
//! torrent in the same task, on the same channels, keeping its connections and its announcer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use protocol::session::MetadataCore;
use protocol::wire::MetadataDownload;
use protocol::{InfoHash, Magnet, Metainfo, PeerId};
use tokio::sync::{mpsc, oneshot, watch};

use super::announcer::{self, AnnounceStats};
use super::sources::{self, AddSources, Added};
use super::{
    peer_context, SessionShared, Torrent, TorrentCmd, TorrentHandle, TorrentOptions, Wiring, TICK,
};
use crate::peer::{PeerContext, PeerEvent, PeerKey, PeerStats};
use crate::types::{PeerStatus, SessionEvent, TorrentState, TorrentStatus};

mod adopt;
mod conns;
#[cfg(test)]
mod tests;

/// What the session gives a magnet torrent.
pub(crate) struct MagnetOptions {
    pub magnet: Magnet,
    pub save_dir: PathBuf,
    pub paused: bool,
    pub peers: Vec<SocketAddr>,
    /// The session's recipe for the torrent's options once its metadata is known (so the
    /// per-torrent settings of a magnet and of a `.torrent` are made in one place).
    pub finish: Box<dyn FnOnce(Metainfo) -> TorrentOptions + Send>,
}

/// Where a magnet's fetched `.torrent` is kept: beside its resume data.
fn cache_path(state_dir: &Path, ih: InfoHash) -> PathBuf {
    state_dir.join(format!("{}.torrent", ih.to_hex()))
}

/// The `.torrent` fetched earlier for this info-hash, if it is still there and intact: a magnet
/// added again (a daemon restart, `bthelper download` run twice) starts without a fetch.
pub(crate) fn cached_metainfo(state_dir: Option<&Path>, ih: InfoHash) -> Option<Metainfo> {
    let bytes = std::fs::read(cache_path(state_dir?, ih)).ok()?;
    Metainfo::from_bytes(&bytes)
        .ok()
        .filter(|m| m.info_hash == ih)
}

/// Several downloads of one magnet may share the state directory: each writes under a
/// temporary name of its own (`resume::write_private`).
fn save_cache(state_dir: &Path, ih: InfoHash, bytes: &[u8]) -> std::io::Result<()> {
    crate::resume::write_private(&cache_path(state_dir, ih), bytes)
}

/// Starts the metadata phase of a magnet torrent; the handle stays valid for its whole life.
pub(crate) fn spawn_magnet(shared: SessionShared, opts: MagnetOptions) -> TorrentHandle {
    let mut wiring = Wiring::new();
    let handle = wiring.handle();
    let ih = opts.magnet.info_hash;
    let ctx = peer_context(
        &shared,
        ih,
        0,
        wiring.peer_tx.clone(),
        wiring.upload_room.clone(),
    );
    let name = opts
        .magnet
        .display_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| ih.to_hex());
    let announce = (!opts.magnet.trackers.is_empty()).then(|| {
        let stats = AnnounceStats {
            // Unknown until the metadata is in; not 0, which would say we are a seed.
            left: 1,
            ..Default::default()
        };
        let (tx, rx) = watch::channel(stats);
        let setup = announcer::AnnouncerSetup {
            tiers: opts
                .magnet
                .trackers
                .iter()
                .map(|t| vec![t.clone()])
                .collect(),
            info_hash: ih,
            peer_id: shared.our_id,
            port: shared.listen_port,
            ip: shared.announce_ip.clone(),
            targets: shared.targets,
        };
        (tx, announcer::spawn(setup, rx, wiring.cmd_tx.clone()))
    });
    // The link's own peers, then any the caller gave.
    let mut peers: Vec<SocketAddr> = opts
        .magnet
        .peers
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    peers.extend(opts.peers.iter().copied());
    let core = MetadataCore::new(
        ih,
        shared.our_id,
        shared.max_peers,
        shared.max_peers_per_ip,
        super::extensions(&shared, None),
    );
    let mut phase = MagnetPhase {
        shared,
        ctx,
        name,
        save_dir: opts.save_dir.clone(),
        magnet: opts.magnet,
        finish: Some(opts.finish),
        paused: opts.paused,
        error: None,
        core,
        conns: HashMap::new(),
        announce,
        added: Added::new(wiring.cmd_tx.clone()),
        status_out: wiring.status_out.clone(),
        peers_out: wiring.peers_out.clone(),
    };
    if phase.paused {
        phase.core.set_active(false, Instant::now());
    }
    phase.add_candidates(peers);
    phase.flush();
    phase.publish_status();
    let (cmd_rx, peer_rx) = take_receivers(&mut wiring);
    tokio::spawn(phase.run(wiring, cmd_rx, peer_rx));
    handle
}

/// Moves the receivers out of `wiring` (they go back in at the handoff).
fn take_receivers(
    wiring: &mut Wiring,
) -> (
    mpsc::UnboundedReceiver<TorrentCmd>,
    mpsc::Receiver<PeerEvent>,
) {
    let (_, cmd_dead) = mpsc::unbounded_channel();
    let (_, peer_dead) = mpsc::channel(1);
    (
        std::mem::replace(&mut wiring.cmd_rx, cmd_dead),
        std::mem::replace(&mut wiring.peer_rx, peer_dead),
    )
}

/// What the driver keeps of a connection made before the metadata (what it said is the core's).
pub(super) struct PendingConn {
    writer: crate::peer::OutQueue,
    stats: Arc<PeerStats>,
    peer_id: PeerId,
}

/// What the metadata phase hands the torrent that follows it.
pub(super) struct Handoff {
    /// The phase's rules and state: its peers, its pool (candidates, bans, the connections
    /// of every stage).
    core: MetadataCore,
    conns: HashMap<PeerKey, PendingConn>,
    announce: sources::Announce,
    added: Added,
}

struct MagnetPhase {
    shared: SessionShared,
    ctx: PeerContext,
    magnet: Magnet,
    name: String,
    save_dir: PathBuf,
    finish: Option<Box<dyn FnOnce(Metainfo) -> TorrentOptions + Send>>,
    paused: bool,
    error: Option<String>,
    /// The BEP 9 fetch and the connections' protocol state; handed to the torrent that
    /// follows.
    core: MetadataCore,
    conns: HashMap<PeerKey, PendingConn>,
    announce: sources::Announce,
    added: Added,
    status_out: Arc<crate::status_feed::StatusCell>,
    peers_out: Arc<std::sync::Mutex<Vec<PeerStatus>>>,
}

/// Why the phase's loop ended.
enum Exit {
    Stopped,
    Metadata(Vec<u8>),
}

impl MagnetPhase {
    async fn run(
        mut self,
        mut wiring: Wiring,
        mut cmds: mpsc::UnboundedReceiver<TorrentCmd>,
        mut peer_events: mpsc::Receiver<PeerEvent>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let exit = loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None => {
                        self.stop(None).await;
                        break Exit::Stopped;
                    }
                    Some(TorrentCmd::Stop { done, .. }) => {
                        self.stop(Some(done)).await;
                        break Exit::Stopped;
                    }
                    Some(cmd) => self.on_command(cmd),
                },
                Some(ev) = peer_events.recv() => self.on_peer_event(ev),
                _ = tick.tick() => self.on_tick(Instant::now()),
            }
            if let Some(info) = self.flush() {
                break Exit::Metadata(info);
            }
        };
        let Exit::Metadata(info) = exit else { return };
        wiring.cmd_rx = cmds;
        wiring.peer_rx = peer_events;
        if let Err(why) = self.become_torrent(info, wiring).await {
            tracing::error!("magnet {}: {why}", self.magnet.info_hash);
        }
    }

    /// Builds the torrent from the verified info dictionary and runs it in this task. On an
    /// error (metadata that is not a usable torrent, files that cannot be laid out) the torrent
    /// stays listed in `error` until removed.
    async fn become_torrent(&mut self, info: Vec<u8>, mut wiring: Wiring) -> Result<(), String> {
        let ih = self.magnet.info_hash;
        let bytes =
            MetadataDownload::torrent_file(&info, &self.magnet.trackers, &self.magnet.web_seeds);
        let built = Metainfo::from_bytes(&bytes)
            .map_err(|e| format!("the metadata is not a usable torrent: {e}"));
        let metainfo = match built {
            Ok(m) => m,
            Err(why) => return self.fail_forever(why, wiring).await,
        };
        tracing::info!("magnet {ih}: metadata received ({} bytes)", info.len());
        if let Some(dir) = &self.shared.state_dir {
            if let Err(e) = save_cache(dir, ih, &bytes) {
                tracing::warn!("magnet {ih}: cannot save the .torrent: {e}");
            }
        }
        let Some(finish) = self.finish.take() else {
            return Err("metadata arrived twice".into());
        };
        let mut opts = finish(metainfo);
        opts.paused = self.paused || opts.pause_after_metadata;
        let spent = MetadataCore::new(ih, self.shared.our_id, 0, 0, Default::default());
        let handoff = Handoff {
            core: std::mem::replace(&mut self.core, spent),
            conns: std::mem::take(&mut self.conns),
            announce: self.announce.take(),
            added: std::mem::replace(&mut self.added, Added::new(wiring.cmd_tx.clone())),
        };
        let status_out = wiring.status_out.clone();
        let peers_out = wiring.peers_out.clone();
        let (cmd_rx, peer_rx) = take_receivers(&mut wiring);
        let rewired = Wiring {
            cmd_rx,
            peer_rx,
            status_out,
            peers_out,
            cmd_tx: wiring.cmd_tx.clone(),
            peer_tx: wiring.peer_tx.clone(),
            upload_room: wiring.upload_room.clone(),
        };
        match Torrent::build_blocking(self.shared.clone(), opts, rewired, Some(handoff)).await {
            Ok((torrent, (cmds, peers, disk))) => {
                torrent.run(cmds, peers, disk).await;
                Ok(())
            }
            Err(e) => {
                // The receivers went down with the failed build: the torrent shows the error,
                // and `remove` still works (its wait ends when the command channel is gone).
                let why = format!("cannot start the torrent: {e}");
                self.error = Some(why.clone());
                self.publish_status();
                let _ = self
                    .shared
                    .events
                    .send(SessionEvent::Error(ih, why.clone()));
                Err(why)
            }
        }
    }

    /// Stays in `error` (answering commands) until the torrent is removed.
    async fn fail_forever(&mut self, why: String, mut wiring: Wiring) -> Result<(), String> {
        self.error = Some(why.clone());
        self.close_all();
        self.publish_status();
        let _ = self
            .shared
            .events
            .send(SessionEvent::Error(self.magnet.info_hash, why.clone()));
        while let Some(cmd) = wiring.cmd_rx.recv().await {
            if let TorrentCmd::Stop { done, .. } = cmd {
                self.stop(Some(done)).await;
                break;
            }
        }
        Err(why)
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
                self.close_all();
            }
            TorrentCmd::Resume => {
                self.paused = false;
                if self.error.is_none() {
                    self.core.set_active(true, Instant::now());
                }
            }
            TorrentCmd::AddSources(add) => self.add_sources(*add),
            // No pieces yet: dropping the reply tells the caller so (and goals wait for the
            // torrent, which reads them from the shared cell).
            TorrentCmd::Stop { .. }
            | TorrentCmd::Withdraw(_)
            | TorrentCmd::Selection(_)
            | TorrentCmd::Stream(_)
            | TorrentCmd::GoalsChanged
            | TorrentCmd::Move(_)
            | TorrentCmd::CancelMove(_) => {}
        }
        self.publish_status();
    }

    async fn stop(&mut self, done: Option<oneshot::Sender<()>>) {
        self.close_all();
        let last = AnnounceStats {
            left: 1,
            stopping: true,
            ..Default::default()
        };
        self.added.stop(&mut self.announce, last).await;
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// The magnet was added again: its new trackers announce at once, its peers are dialled,
    /// and its web seeds wait for the torrent.
    fn add_sources(&mut self, add: AddSources) {
        let AddSources { sources, targets } = add;
        // The link's own sources, under the torrent's rule, may already cover this add's.
        let own = self.shared.targets.covers(&targets);
        let trackers = (sources.trackers.into_iter())
            .filter(|t| !(own && self.magnet.trackers.contains(t)))
            .collect();
        let stats = AnnounceStats {
            left: 1, // unknown until the metadata is in
            ..Default::default()
        };
        let ih = self.magnet.info_hash;
        (self.added).announce(
            &self.shared,
            ih,
            trackers,
            targets,
            &mut self.announce,
            stats,
        );
        for url in sources.web_seeds {
            if !(own && self.magnet.web_seeds.contains(&url)) {
                self.added.keep_web_seed(url, targets);
            }
        }
        self.add_candidates(sources::allowed(sources.peers, targets));
    }

    fn on_tick(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.publish_status();
    }

    fn publish_status(&self) {
        let state = if self.error.is_some() {
            TorrentState::Error
        } else if self.paused {
            TorrentState::Paused
        } else {
            // Fetching metadata: no size yet, so nothing to show as downloading.
            TorrentState::Connecting
        };
        let status = TorrentStatus {
            name: self.name.clone(),
            peers: self.conns.len() as u32,
            error: self.error.clone(),
            save_path: self.save_dir.clone(),
            ..TorrentStatus::empty(self.magnet.info_hash, state)
        };
        self.status_out.publish(status);
        let peers = (self.core.peers())
            .map(|(_, p)| PeerStatus {
                addr: p.addr,
                client: (p.handshake.as_ref())
                    .and_then(|h| h.v.as_ref())
                    .map_or_else(|| "unknown".into(), |v| v.chars().take(64).collect()),
                am_choking: true,
                am_interested: false,
                peer_choking: p.peer_choking,
                peer_interested: p.peer_interested,
                down_rate: 0,
                up_rate: 0,
                progress: 0.0,
            })
            .collect();
        if let Ok(mut out) = self.peers_out.lock() {
            *out = peers;
        }
    }
}

//! The session: one listening socket, the torrents, and the public API the daemon, the terminal
//! client and the publisher drive.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{InfoHash, Metainfo, PeerId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, oneshot, watch};

use crate::connect::{self, Connector};
use crate::ratelimit::RateLimiter;
use crate::session_adding::{is_reserved, Reservation};
use crate::torrent::{
    cached_metainfo, spawn_magnet, MagnetOptions, SessionShared, Torrent, TorrentCmd,
    TorrentHandle, TorrentOptions,
};
use crate::transport::Transport;
use crate::types::{
    AddTorrent, EngineError, PeerStatus, SessionConfig, SessionEvent, TorrentSource, TorrentStatus,
};

/// A running engine. Cheap to clone; every clone drives the same session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

#[derive(Clone)]
pub(crate) struct TorrentLimits {
    pub(crate) down: Arc<RateLimiter>,
    pub(crate) up: Arc<RateLimiter>,
    /// The torrent's seed goals, which its actor reads every tick.
    pub(crate) seed_goals: Arc<Mutex<protocol::SeedGoals>>,
}

struct Inner {
    config: SessionConfig,
    local_addr: SocketAddr,
    shared: SessionShared,
    torrents: Mutex<HashMap<InfoHash, TorrentHandle>>,
    /// Torrents whose files are being laid out on a blocking thread (`add`), taken under the
    /// `torrents` lock: a second add of one of them is refused, as if it were listed already.
    adding: crate::session_adding::Adding,
    /// Each torrent's own limiters (children of the session's), which its peers, web seeds
    /// and upload queue share: changing a rate here reaches them all at once.
    limits: Mutex<HashMap<InfoHash, TorrentLimits>>,
    shutdown: watch::Sender<bool>,
    discovery: crate::discovery::Discovery,
    /// The router's forwarding of our port, when the config asks for it.
    port_mapper: Option<crate::portmap::PortMapper>,
    /// The addresses the peer listeners are bound to (IPv4, and its IPv6 twin if bound).
    listen_addrs: Vec<SocketAddr>,
    incoming: crate::reach::Incoming,
    /// Who hears of status changes (`status_changes`).
    feed: Arc<crate::status_feed::Feed>,
}

impl Session {
    /// Binds the listening socket and starts accepting peers.
    pub async fn start(config: SessionConfig) -> Result<Session, EngineError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| EngineError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| EngineError::Listen {
                addr: config.listen,
                source,
            })?;
        let mut listeners = vec![listener];
        listeners.extend(crate::reach::bind_twin(local_addr));
        // uTP takes the peer port's number on UDP before the DHT starts, which then moves to
        // another port by itself (`Dht::start` falls back when its wanted port is taken).
        let (utp, utp_incoming) = if config.utp {
            match crate::utp::UtpSocket::bind(local_addr).await {
                Ok((socket, incoming)) => (Some(socket), Some(incoming)),
                Err(e) => {
                    tracing::warn!("uTP off: cannot bind UDP {local_addr}: {e}");
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        let listen_addrs = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        let discovery =
            crate::discovery::Discovery::start(&config, local_addr, config.state_dir.clone()).await;
        let (events, _) = broadcast::channel(256);
        let shared = SessionShared {
            our_id: config
                .peer_id
                .unwrap_or_else(|| PeerId::generate(&mut rand::rng())),
            listen_port: local_addr.port(),
            down_limit: Arc::new(RateLimiter::new(config.download_rate_limit)),
            up_limit: Arc::new(RateLimiter::new(config.upload_rate_limit)),
            events,
            max_peers: config.max_peers_per_torrent.max(1),
            max_peers_per_ip: config.max_peers_per_ip.max(1),
            write_timeout: config.peer_write_timeout,
            // 0 is allowed: everyone stays choked (see `Torrent::rechoke`).
            upload_slots: config.upload_slots,
            state_dir: config.state_dir.clone(),
            announce_ip: config.announce_ip.clone(),
            connector: Arc::new(Connector::new(config.encryption).with_utp(utp.clone())),
            web_seed_timeout: config.web_seed_timeout,
            dht: discovery.dht.clone(),
            targets: Default::default(),
            clock_turns: Default::default(),
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let port_mapper = (config.port_mapping && crate::portmap::worth_mapping(local_addr.ip()))
            .then(|| crate::portmap::PortMapper::start(local_addr.port()));
        let inner = Arc::new(Inner {
            config,
            local_addr,
            shared,
            torrents: Mutex::new(HashMap::new()),
            adding: Mutex::new(Default::default()),
            limits: Mutex::new(HashMap::new()),
            shutdown,
            discovery,
            port_mapper,
            listen_addrs,
            incoming: Default::default(),
            feed: Default::default(),
        });
        tokio::spawn(accept_loop(
            listeners,
            utp_incoming,
            Arc::downgrade(&inner),
            shutdown_rx,
        ));
        Ok(Session { inner })
    }

    /// The address peers reach us at (the bound port when `listen` asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The UDP port of the session's DHT node, if it runs one.
    pub fn dht_port(&self) -> Option<u16> {
        self.inner.discovery.dht.as_ref().map(|d| d.port())
    }

    /// Nodes in the DHT's routing table at its last look, every few seconds: `None` without a
    /// DHT or before the first look; `Some(0)`: no DHT node reachable yet.
    pub fn dht_nodes(&self) -> Option<usize> {
        self.inner.discovery.dht.as_ref().and_then(|d| d.nodes())
    }

    /// Every address peers may connect to: the IPv4 one and, beside 0.0.0.0 or 127.0.0.1, its
    /// IPv6 twin on the same port when the system has IPv6.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        self.inner.listen_addrs.clone()
    }

    /// Whether peers have connected to us since the session started (from the LAN, from
    /// beyond it).
    pub fn connectable(&self) -> crate::Connectable {
        let outside = crate::portmap::worth_mapping(self.inner.local_addr.ip());
        (self.inner.incoming).status(outside.then(|| self.port_mapping().state))
    }

    /// Where the router's forwarding of our port stands (`Off` when not asked for).
    pub fn port_mapping(&self) -> crate::PortMapStatus {
        self.inner
            .port_mapper
            .as_ref()
            .map_or_else(crate::PortMapStatus::off, |m| m.status())
    }

    pub fn peer_id(&self) -> PeerId {
        self.inner.shared.our_id
    }

    /// Adds a torrent: checks existing data (or trusts matching resume data), then downloads
    /// or seeds. Returns at once; progress shows in `status` and `events`.
    pub async fn add(&self, mut add: AddTorrent) -> Result<InfoHash, EngineError> {
        if *self.inner.shutdown.borrow() {
            return Err(EngineError::ShutDown);
        }
        // BEP 53: a magnet's `so=` chooses the files unless the caller chose.
        if let (None, TorrentSource::Magnet(m)) = (&add.only_files, &add.source) {
            add.only_files.clone_from(&m.select_only);
        }
        // BEP 27: a private torrent never uses the DHT or LSD (a magnet's is not known yet).
        let private = matches!(&add.source, TorrentSource::Metainfo(m) if m.info.private);
        let ih = match &add.source {
            TorrentSource::Metainfo(m) => m.info_hash,
            TorrentSource::Magnet(m) => m.info_hash,
        };
        // Reserved until it is listed: laying its files out runs on a blocking thread, without
        // the lock, and a second add of it meanwhile is refused.
        let _reserved = {
            let torrents = self.lock();
            if torrents.contains_key(&ih) || is_reserved(&self.inner.adding, &ih) {
                return Err(EngineError::AlreadyAdded(ih));
            }
            Reservation::new(&self.inner.adding, ih)
        };
        let save_dir = add
            .save_dir
            .clone()
            .unwrap_or_else(|| self.inner.config.download_dir.clone());
        let mut peers = std::mem::take(&mut add.peers);
        let paused = add.paused;
        let dir = save_dir.clone();
        let seed_goals = Arc::new(Mutex::new(add.seed_goals));
        let goals = seed_goals.clone();
        // One recipe for a torrent's options, whether its metadata is here or comes later.
        let options = move |metainfo: Metainfo| TorrentOptions {
            save_dir: dir,
            paused: add.paused || add.pause_after_metadata,
            peers: Vec::new(),
            seed_goals: goals,
            sequential: add.sequential,
            file_priorities: add.file_priorities.or_else(|| {
                let only = add.only_files.as_deref()?;
                crate::torrent::priorities_from_indices(metainfo.info.files.len(), only)
            }),
            pause_after_metadata: add.pause_after_metadata,
            metainfo,
        };
        // The torrent's own limiters stand in for the session's in everything it shares with
        // its connections (a magnet's metadata phase included, whose peers it inherits).
        let limits = TorrentLimits {
            down: Arc::new(RateLimiter::child(
                self.inner.shared.down_limit.clone(),
                add.download_rate_limit,
            )),
            up: Arc::new(RateLimiter::child(
                self.inner.shared.up_limit.clone(),
                add.upload_rate_limit,
            )),
            seed_goals,
        };
        let mut shared = self.inner.shared.clone();
        shared.down_limit = limits.down.clone();
        shared.up_limit = limits.up.clone();
        shared.targets =
            crate::tracker::targets::Targets::new(add.source_url.as_deref(), add.allow_lan);
        // The torrent's metainfo, or (a magnet still without it) its metadata phase's handle.
        let source: Result<Metainfo, TorrentHandle> = match add.source {
            TorrentSource::Metainfo(m) => Ok(*m),
            // A magnet whose metadata we fetched before starts as a torrent at once.
            TorrentSource::Magnet(magnet) => {
                match cached_metainfo(self.inner.config.state_dir.as_deref(), ih) {
                    Some(mut m) => {
                        peers.extend(crate::magnet_merge::merge_magnet(&mut m, &magnet));
                        Ok(m)
                    }
                    None => {
                        let opts = MagnetOptions {
                            magnet,
                            save_dir,
                            paused,
                            peers: peers.clone(),
                            finish: Box::new(options.clone()),
                        };
                        Err(spawn_magnet(shared.clone(), opts))
                    }
                }
            }
        };
        // A cached magnet's torrent may be private too.
        let private = private || source.as_ref().is_ok_and(|m| m.info.private);
        let (handle, prepared) = match source {
            Ok(metainfo) => {
                let mut opts = options(metainfo);
                opts.peers = peers;
                let (handle, ready) = Torrent::prepare(shared, opts).await?;
                if *self.inner.shutdown.borrow() {
                    return Err(EngineError::ShutDown);
                }
                (handle, Some(ready))
            }
            Err(handle) => (handle, None),
        };
        {
            let mut torrents = self.lock();
            handle.status.attach(&self.inner.feed, ih);
            self.inner.discovery.track(ih, private, &handle);
            self.lock_limits().insert(ih, limits);
            torrents.insert(ih, handle);
        }
        // Added goes out before the actor starts, so no event of the torrent can precede it.
        let _ = self.inner.shared.events.send(SessionEvent::Added(ih));
        if let Some(torrent) = prepared {
            torrent.start();
        }
        Ok(ih)
    }

    pub(crate) fn lock_limits(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<InfoHash, TorrentLimits>> {
        self.inner.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InfoHash, TorrentHandle>> {
        self.inner
            .torrents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn handle(&self, ih: InfoHash) -> Result<TorrentHandle, EngineError> {
        self.lock()
            .get(&ih)
            .cloned()
            .ok_or(EngineError::UnknownTorrent(ih))
    }

    /// Stops the torrent (saving resume data unless deleting) and forgets it; with
    /// `delete_files` its data is removed too.
    pub async fn remove(&self, ih: InfoHash, delete_files: bool) -> Result<(), EngineError> {
        let handle = self
            .lock()
            .remove(&ih)
            .ok_or(EngineError::UnknownTorrent(ih))?;
        self.lock_limits().remove(&ih);
        let (done, wait) = oneshot::channel();
        let _ = handle.cmd.send(TorrentCmd::Stop {
            delete: delete_files,
            done,
        });
        let _ = wait.await;
        self.inner.feed.mark(ih);
        let _ = self.inner.shared.events.send(SessionEvent::Removed(ih));
        Ok(())
    }

    /// The session-wide limits (over all torrents), bytes per second; `None` = unlimited.
    pub async fn set_rate_limits(&self, down: Option<u64>, up: Option<u64>) {
        self.inner.shared.down_limit.set_rate(down);
        self.inner.shared.up_limit.set_rate(up);
    }

    /// How many times the torrents' clocks came round since the session started: what an idle
    /// session costs in wake-ups, for tests and benchmarks (a quiet torrent sleeps for seconds).
    pub fn clock_turns(&self) -> u64 {
        let shared = &self.inner.shared;
        shared
            .clock_turns
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn statuses(&self) -> Vec<TorrentStatus> {
        let mut all: Vec<TorrentStatus> = self
            .lock()
            .values()
            .filter_map(|h| h.status.snapshot())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.info_hash.cmp(&b.info_hash)));
        all
    }

    pub fn status(&self, ih: InfoHash) -> Option<TorrentStatus> {
        let h = self.lock().get(&ih).cloned()?;
        let s = h.status.snapshot()?;
        Some(s)
    }

    pub fn peers(&self, ih: InfoHash) -> Vec<PeerStatus> {
        let Some(h) = self.lock().get(&ih).cloned() else {
            return Vec::new();
        };
        let peers = h.peers.lock().map(|p| p.clone()).unwrap_or_default();
        peers
    }

    /// The torrents whose status changes from now on, pushed as they publish (see
    /// [`StatusChanges`]): a torrent added or removed counts as changed; a seeding torrent
    /// whose only change is its `seeding_secs` does not. Costs nothing while nobody watches.
    pub fn status_changes(&self) -> crate::StatusChanges {
        self.inner.feed.watch()
    }

    pub fn events(&self) -> broadcast::Receiver<SessionEvent> {
        self.inner.shared.events.subscribe()
    }

    /// Stops accepting, stops every torrent (resume data saved, files flushed and closed).
    pub async fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        crate::reach::unregister_v6_port(self.inner.local_addr.port());
        let handles: Vec<TorrentHandle> = self.lock().drain().map(|(_, h)| h).collect();
        self.lock_limits().clear();
        let mut waits = Vec::new();
        for h in handles {
            let (done, wait) = oneshot::channel();
            let _ = h.cmd.send(TorrentCmd::Stop {
                delete: false,
                done,
            });
            waits.push(wait);
        }
        for w in waits {
            let _ = w.await;
        }
        self.inner.discovery.shutdown().await;
        if let Some(mapper) = &self.inner.port_mapper {
            mapper.shutdown().await;
        }
    }
}

/// Connections still owing us their handshake, at most: a flood of silent connections costs
/// a bounded number of tasks (each also times out after `HANDSHAKE_TIMEOUT`).
const MAX_PENDING_HANDSHAKES: usize = 256;

/// Connections per host that have not named their torrent yet: one host dribbling handshakes
/// (slow-loris) cannot take all of `MAX_PENDING_HANDSHAKES` from everyone else.
#[derive(Clone)]
struct PendingPerHost {
    counts: HostCounts,
    cap: usize,
}

type HostCounts = Arc<Mutex<HashMap<protocol::IpKey, usize>>>;

/// One pending connection of a host, given back when dropped (`None`: an exempt host).
struct HostSlot(Option<(HostCounts, protocol::IpKey)>);

impl PendingPerHost {
    fn take(&self, ip: std::net::IpAddr) -> Option<HostSlot> {
        if protocol::peer_bounds::is_own_machine(ip) {
            return Some(HostSlot(None));
        }
        let host = protocol::IpKey::from(ip);
        let mut counts = self.counts.lock().ok()?;
        let n = counts.entry(host).or_default();
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(HostSlot(Some((self.counts.clone(), host))))
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        let Some((counts, host)) = &self.0 else {
            return;
        };
        if let Ok(mut counts) = counts.lock() {
            if let Some(n) = counts.get_mut(host) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(host);
                }
            }
        }
    }
}

/// The next connection on any of the listeners (accepting is cancel-safe: a listener that lost
/// the race keeps its connection for the next round).
async fn accept_any(listeners: &[TcpListener]) -> std::io::Result<(TcpStream, SocketAddr)> {
    let accepts = listeners.iter().map(|l| Box::pin(l.accept()));
    futures::future::select_all(accepts).await.0
}

/// The next uTP connection, or never when uTP is off (or its socket is gone).
async fn accept_utp(
    incoming: &mut Option<tokio::sync::mpsc::Receiver<crate::utp::UtpStream>>,
) -> Transport {
    match incoming {
        Some(rx) => match rx.recv().await {
            Some(s) => Transport::Utp(s),
            None => {
                *incoming = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

async fn accept_loop(
    listeners: Vec<TcpListener>,
    mut utp: Option<tokio::sync::mpsc::Receiver<crate::utp::UtpStream>>,
    inner: std::sync::Weak<Inner>,
    mut shutdown: watch::Receiver<bool>,
) {
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
    let per_host = PendingPerHost {
        counts: Arc::default(),
        cap: inner
            .upgrade()
            .map_or(1, |i| i.shared.max_peers_per_ip.max(1)),
    };
    loop {
        let accepted = tokio::select! {
            r = accept_any(&listeners) => r.map(|(s, from)| (Transport::Tcp(s), from)),
            s = accept_utp(&mut utp) => {
                let from = match &s {
                    Transport::Utp(u) => u.peer_addr(),
                    Transport::Tcp(_) => continue,
                };
                Ok((s, from))
            }
            _ = shutdown.changed() => return,
        };
        let Some(inner) = inner.upgrade() else { return };
        match accepted {
            Ok((stream, from)) => {
                inner.incoming.arrived(from.ip());
                // Over either limit the connection is simply closed.
                let Some(slot) = per_host.take(from.ip()) else {
                    continue;
                };
                let Ok(permit) = pending.clone().try_acquire_owned() else {
                    continue;
                };
                let weak = Arc::downgrade(&inner);
                tokio::spawn(async move {
                    route_incoming(stream, weak).await;
                    drop((permit, slot));
                });
            }
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Sorts out plaintext or MSE (as the encryption policy allows), reads the handshake up to the
/// info-hash and hands the connection to that torrent.
async fn route_incoming(stream: Transport, inner: std::sync::Weak<Inner>) {
    let Some(policy) = inner.upgrade().map(|i| i.shared.connector.policy()) else {
        return;
    };
    let served = || {
        inner
            .upgrade()
            .and_then(|i| i.torrents.lock().ok().map(|t| t.keys().copied().collect()))
            .unwrap_or_default()
    };
    let (stream, buf, ih) = match connect::accept(stream, policy, served).await {
        Ok(routed) => routed,
        Err(why) => {
            tracing::debug!("incoming connection dropped: {why}");
            return;
        }
    };
    let Some(inner) = inner.upgrade() else { return };
    let handle = inner.torrents.lock().ok().and_then(|t| t.get(&ih).cloned());
    if let Some(h) = handle {
        let _ = h.cmd.send(TorrentCmd::Incoming(Box::new((stream, buf))));
    }
}

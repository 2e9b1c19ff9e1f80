//! BEP 5 Mainline DHT on the `mainline` crate, which runs its node on a thread of its own; we
//! talk to it through its async handle. The node is shared by every torrent of the session:
//! each non-private torrent runs a search task (`search.rs`) that asks it for peers and
//! announces us, whether or not the torrent has its metadata yet.
//!
//! The routing table outlives the process: the addresses of its good nodes are written to
//! `dht_nodes` in the state directory whenever they change, and the next start bootstraps from
//! them as well as from the configured routers. Nodes that peers name in BEP 5 `port` messages
//! are kept too: if the routing table is still empty (the routers unreachable), the node is
//! restarted with those nodes as its bootstrap.
//!
//! Nothing waits for the DHT: the node starts at once from the bootstrap entries that are
//! addresses already (saved nodes, `ip:port` routers); router *names* are resolved in the
//! background (a LAN's DNS may take many seconds to fail, or never answer), and the node is
//! restarted with their addresses if its table is still empty then. Trackers, LSD, PEX and
//! direct peers run meanwhile. A node that reaches nobody is reported by its table size
//! (`Dht::nodes`), not by log lines.

mod search;

pub(crate) use search::spawn_search;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mainline::async_dht::AsyncDht;
use tokio::sync::watch;

/// How the session's DHT node runs.
#[derive(Debug, Clone)]
pub struct DhtConfig {
    /// UDP port of the node; `None` = the peer listen port (any free port if that is taken).
    pub port: Option<u16>,
    /// Routers to bootstrap from, as `host:port`; default: the public Mainline routers.
    pub bootstrap: Vec<String>,
}

impl Default for DhtConfig {
    fn default() -> Self {
        DhtConfig {
            port: None,
            bootstrap: mainline::DEFAULT_BOOTSTRAP_NODES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl DhtConfig {
    /// Bootstraps from `bootstrap` (the public routers if it is empty) on `port`.
    pub fn with_bootstrap(bootstrap: Vec<String>, port: Option<u16>) -> DhtConfig {
        let mut config = DhtConfig {
            port,
            ..DhtConfig::default()
        };
        if !bootstrap.is_empty() {
            config.bootstrap = bootstrap;
        }
        config
    }
}

/// The file in the state directory that keeps the routing table's nodes across restarts.
pub const NODES_FILE: &str = "dht_nodes";
/// Saved nodes at most: enough to re-enter the network, few enough that the node (which visits
/// every bootstrap node while its table is small) does not flood them.
const MAX_SAVED_NODES: usize = 64;
/// Nodes learned from peers' `port` messages, at most.
const MAX_LEARNED_NODES: usize = 64;
const MAINTAIN_EVERY: Duration = Duration::from_secs(5);
/// Longest the shutdown waits to save the routing table.
const SAVE_AT_SHUTDOWN: Duration = Duration::from_secs(2);
/// An empty routing table this long after a (re)start means the bootstrap failed.
const REBOOT_AFTER: Duration = Duration::from_secs(20);
/// How long one router name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the DHT node could not start (the session then runs without it).
#[derive(Debug, thiserror::Error)]
pub enum DhtError {
    #[error("cannot bind the DHT's UDP port {port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("the DHT thread did not start: {0}")]
    Thread(String),
}

/// The session's DHT node. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Dht {
    inner: Arc<Inner>,
}

struct Inner {
    bind: Ipv4Addr,
    port: AtomicU16,
    /// Bootstrap addresses (`ip:port`): the configured literal ones, the saved nodes, and the
    /// routers' addresses once resolved.
    bootstrap: Mutex<Vec<String>>,
    /// Routing table size at the last look; -1 until the first.
    nodes: AtomicI64,
    nodes_file: Option<PathBuf>,
    node: Mutex<Option<AsyncDht>>,
    learned: Mutex<BTreeSet<SocketAddrV4>>,
    stop: watch::Sender<bool>,
}

impl Dht {
    /// Starts the node on `listen_ip` (IPv4 only: the crate's node is IPv4), bootstrapping from
    /// the configured routers and the saved nodes.
    pub(crate) async fn start(
        config: &DhtConfig,
        listen_ip: IpAddr,
        peer_port: u16,
        state_dir: Option<PathBuf>,
    ) -> Result<Dht, DhtError> {
        let bind = match listen_ip {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let nodes_file = state_dir.map(|d| d.join(NODES_FILE));
        let (mut bootstrap, names) = split_bootstrap(&config.bootstrap);
        if let Some(file) = &nodes_file {
            bootstrap.extend(load_nodes(file).iter().map(|a| a.to_string()));
        }
        let wanted = config.port.unwrap_or(peer_port);
        let node = match build(bind, wanted, bootstrap.clone()).await {
            Ok(node) => node,
            // Our peer port may be another program's DHT port: any free port then.
            Err(e) if config.port.is_none() && wanted != 0 => {
                tracing::warn!("{e}; the DHT uses another port");
                build(bind, 0, bootstrap.clone()).await?
            }
            Err(e) => return Err(e),
        };
        let port = node.info().await.local_addr().port();
        let (stop, stop_rx) = watch::channel(false);
        let dht = Dht {
            inner: Arc::new(Inner {
                bind,
                port: AtomicU16::new(port),
                bootstrap: Mutex::new(bootstrap),
                nodes: AtomicI64::new(-1),
                nodes_file,
                node: Mutex::new(Some(node)),
                learned: Mutex::new(BTreeSet::new()),
                stop,
            }),
        };
        if !names.is_empty() {
            tokio::spawn(resolve_routers(
                Arc::downgrade(&dht.inner),
                names,
                stop_rx.clone(),
            ));
        }
        tokio::spawn(maintain(Arc::downgrade(&dht.inner), stop_rx));
        Ok(dht)
    }

    /// Nodes in the routing table at the last look (every few seconds); `None` before the
    /// first. 0 after it: no node reachable yet.
    pub(crate) fn nodes(&self) -> Option<usize> {
        usize::try_from(self.inner.nodes.load(Ordering::Relaxed)).ok()
    }

    /// The UDP port of the node (what `port` messages tell peers).
    pub(crate) fn port(&self) -> u16 {
        self.inner.port.load(Ordering::Relaxed)
    }

    pub(crate) fn node(&self) -> Option<AsyncDht> {
        self.inner.node.lock().ok().and_then(|n| n.clone())
    }

    /// A peer told us (BEP 5 `port` message) that it runs a DHT node at `addr`.
    pub(crate) fn learn_node(&self, addr: SocketAddr) {
        let SocketAddr::V4(addr) = addr else { return };
        if addr.port() == 0 || addr.ip().is_unspecified() || addr.ip().is_multicast() {
            return;
        }
        if let Ok(mut learned) = self.inner.learned.lock() {
            if learned.len() < MAX_LEARNED_NODES {
                learned.insert(addr);
            }
        }
    }

    /// Saves the routing table and stops the node.
    pub(crate) async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        if let Some(node) = self.node() {
            // Bounded: the node answers one request per turn of its loop, and a daemon of
            // 2,000 torrents has that many searches queued before this one (its shutdown took
            // two minutes waiting here). The table saved a few seconds ago will do.
            let mut saved = Vec::new();
            let save = save_table(&self.inner, &node, &mut saved);
            if tokio::time::timeout(SAVE_AT_SHUTDOWN, save).await.is_err() {
                tracing::debug!("DHT: routing table not saved at shutdown (node busy)");
            }
        }
        if let Ok(mut n) = self.inner.node.lock() {
            *n = None;
        }
    }
}

/// Builds a mainline node off the reactor: it resolves the routers' names and waits for its
/// thread to bind.
async fn build(bind: Ipv4Addr, port: u16, bootstrap: Vec<String>) -> Result<AsyncDht, DhtError> {
    tokio::task::spawn_blocking(move || {
        let mut builder = mainline::Dht::builder();
        builder.bind_address(bind).port(port).bootstrap(&bootstrap);
        builder.build().map(|d| d.as_async())
    })
    .await
    .map_err(|e| DhtError::Thread(e.to_string()))?
    .map_err(|source| DhtError::Bind { port, source })
}

/// Keeps the saved node list current and restarts a node whose bootstrap failed once peers
/// have named other nodes.
async fn maintain(inner: std::sync::Weak<Inner>, mut stop: watch::Receiver<bool>) {
    let mut saved: Vec<SocketAddrV4> = Vec::new();
    let mut started = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(MAINTAIN_EVERY) => {}
            _ = stop.changed() => return,
        }
        let Some(inner) = inner.upgrade() else { return };
        let Some(node) = inner.node.lock().ok().and_then(|n| n.clone()) else {
            return;
        };
        let table = save_table(&inner, &node, &mut saved).await;
        inner.nodes.store(table as i64, Ordering::Relaxed);
        let learned: Vec<String> = match inner.learned.lock() {
            Ok(l) => l.iter().map(|a| a.to_string()).collect(),
            Err(_) => Vec::new(),
        };
        if table == 0 && !learned.is_empty() && started.elapsed() >= REBOOT_AFTER {
            started = Instant::now();
            reboot(&inner, node, learned).await;
        }
    }
}

/// Writes the table's good nodes (plus learned ones) when they changed; returns the table size.
async fn save_table(inner: &Inner, node: &AsyncDht, saved: &mut Vec<SocketAddrV4>) -> usize {
    let table: Vec<SocketAddrV4> = node
        .to_bootstrap()
        .await
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let count = table.len();
    let mut nodes: Vec<SocketAddrV4> = table;
    if let Ok(learned) = inner.learned.lock() {
        for a in learned.iter() {
            if !nodes.contains(a) {
                nodes.push(*a);
            }
        }
    }
    nodes.truncate(MAX_SAVED_NODES);
    if let Some(file) = &inner.nodes_file {
        if !nodes.is_empty() && nodes != *saved {
            if let Err(e) = store_nodes(file, &nodes) {
                tracing::warn!("saving {}: {e}", file.display());
            } else {
                *saved = nodes;
            }
        }
    }
    count
}

/// Restarts the node on the same port with `learned` added to its bootstrap.
async fn reboot(inner: &Inner, old: AsyncDht, learned: Vec<String>) {
    tracing::info!(
        "DHT bootstrap failed; restarting it from {} nodes peers told us about",
        learned.len()
    );
    if let Ok(mut n) = inner.node.lock() {
        *n = None;
    }
    drop(old);
    let mut bootstrap = inner
        .bootstrap
        .lock()
        .map(|b| b.clone())
        .unwrap_or_default();
    bootstrap.extend(learned);
    // The old node's thread lets go of the port within its read timeout (50 ms) once no
    // search holds a handle to it; if one still does, a new port beats no DHT.
    let port = inner.port.load(Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(3);
    let node = loop {
        match build(inner.bind, port, bootstrap.clone()).await {
            Ok(node) => break Ok(node),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(_) => break build(inner.bind, 0, bootstrap.clone()).await,
        }
    };
    match node {
        Ok(node) => {
            inner
                .port
                .store(node.info().await.local_addr().port(), Ordering::Relaxed);
            if let Ok(mut n) = inner.node.lock() {
                *n = Some(node);
            }
        }
        Err(e) => tracing::warn!("restarting the DHT: {e}"),
    }
}

/// Splits bootstrap entries into IPv4 `ip:port` addresses, usable without a lookup, and names.
fn split_bootstrap(entries: &[String]) -> (Vec<String>, Vec<String>) {
    let (literal, names): (Vec<&String>, Vec<&String>) = entries
        .iter()
        .partition(|e| e.parse::<SocketAddrV4>().is_ok());
    (
        literal.into_iter().cloned().collect(),
        names.into_iter().cloned().collect(),
    )
}

/// Resolves the router names (all at once, each bounded) off the start-up path; if any
/// resolves, they join the bootstrap list, and a node that has found nobody yet restarts with
/// them. Names that do not resolve are simply left out (said at debug level: on a LAN without
/// a route to the public routers that is the normal case, and the status shows it).
async fn resolve_routers(
    inner: std::sync::Weak<Inner>,
    names: Vec<String>,
    mut stop: watch::Receiver<bool>,
) {
    let lookups = names.iter().map(|name| async move {
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host(name.as_str())).await {
            Ok(Ok(addrs)) => addrs
                .filter_map(|a| match a {
                    SocketAddr::V4(a) => Some(a.to_string()),
                    SocketAddr::V6(_) => None,
                })
                .collect(),
            Ok(Err(e)) => {
                tracing::debug!("DHT router {name}: {e}");
                Vec::new()
            }
            Err(_) => {
                tracing::debug!("DHT router {name}: no answer from DNS");
                Vec::new()
            }
        }
    });
    let resolved: Vec<String> = tokio::select! {
        all = futures::future::join_all(lookups) => all.into_iter().flatten().collect(),
        _ = stop.changed() => return,
    };
    let Some(inner) = inner.upgrade() else { return };
    if resolved.is_empty() {
        return;
    }
    if let Ok(mut b) = inner.bootstrap.lock() {
        for a in &resolved {
            if !b.contains(a) {
                b.push(a.clone());
            }
        }
    }
    let Some(node) = inner.node.lock().ok().and_then(|n| n.clone()) else {
        return;
    };
    if node.to_bootstrap().await.is_empty() {
        tracing::debug!("DHT: {} router addresses resolved", resolved.len());
        reboot(&inner, node, Vec::new()).await;
    }
}

/// Reads a nodes file: one `ip:port` a line; anything else is skipped.
pub(crate) fn load_nodes(file: &std::path::Path) -> Vec<SocketAddrV4> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| l.trim().parse().ok())
        .take(MAX_SAVED_NODES)
        .collect()
}

/// Writes atomically, so a crash leaves the old list or the new one, under a temporary name of
/// its own: downloads sharing the default state directory write this file at the same time.
fn store_nodes(file: &std::path::Path, nodes: &[SocketAddrV4]) -> std::io::Result<()> {
    let text: String = nodes.iter().map(|a| format!("{a}\n")).collect();
    crate::resume::write_private(file, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_file_round_trips_and_skips_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(NODES_FILE);
        let nodes: Vec<SocketAddrV4> = vec!["127.0.0.1:6881".parse().unwrap()];
        store_nodes(&file, &nodes).unwrap();
        assert_eq!(load_nodes(&file), nodes);
        std::fs::write(&file, "garbage\n10.0.0.1:1\n[::1]:5\n\n").unwrap();
        assert_eq!(load_nodes(&file), vec!["10.0.0.1:1".parse().unwrap()]);
        assert!(load_nodes(&dir.path().join("missing")).is_empty());
    }

    /// Downloads sharing the default state directory save the list at the same time (a fixed
    /// `dht_nodes.tmp` made them rename each other's file away).
    #[test]
    fn concurrent_stores_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(NODES_FILE);
        let nodes: Vec<SocketAddrV4> = vec!["127.0.0.1:6881".parse().unwrap()];
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..100 {
                        store_nodes(&file, &nodes).unwrap();
                    }
                });
            }
        });
        assert_eq!(load_nodes(&file), nodes);
    }
}

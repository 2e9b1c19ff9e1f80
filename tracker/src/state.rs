//! The tracker's shared state and the announce logic both front ends (HTTP and UDP) use.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::tracker::Event;
use protocol::InfoHash;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::{Announce, SwarmStore};
use crate::swarm::Counts;
use crate::udp_conn::ConnectionIds;
use crate::weblog::WebLog;

pub const NOT_PUBLISHED: &str = "this torrent is not published on this tracker";

pub struct Tracker {
    pub config: Config,
    pub store: SwarmStore,
    pub registry: RwLock<Registry>,
    /// Serialises publishes so `--file` is written in the order the registry changed.
    pub registration_lock: tokio::sync::Mutex<()>,
    pub metrics: Metrics,
    pub weblog: WebLog,
    pub connection_ids: ConnectionIds,
    /// HTTP connections open now, beyond one-shot announces answered on accept.
    pub open_connections: AtomicUsize,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Tracker {
    pub fn new(config: Config, registry: Registry, weblog: WebLog) -> Arc<Tracker> {
        Arc::new(Tracker {
            store: SwarmStore::new(config.peer_timeout_secs, rand::random())
                .with_max_swarms(config.max_swarms)
                .with_max_peers_per_ip(config.max_peers_per_ip),
            config,
            registry: RwLock::new(registry),
            registration_lock: tokio::sync::Mutex::new(()),
            metrics: Metrics::default(),
            weblog,
            connection_ids: ConnectionIds::default(),
            open_connections: AtomicUsize::new(0),
        })
    }

    /// A place among `--max-connections`, held until the slot drops; `None` when all are taken.
    pub fn connection_slot(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let before = self.open_connections.fetch_add(1, Ordering::Relaxed);
        if before >= self.config.max_connections {
            self.open_connections.fetch_sub(1, Ordering::Relaxed);
            crate::metrics::bump(&self.metrics.connections_refused);
            return None;
        }
        Some(ConnectionSlot(self.clone()))
    }

    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an announce and fills `out` with peers; `Err` is the failure reason to send.
    pub fn announce(
        &self,
        info_hash: InfoHash,
        addr: SocketAddr,
        event: Event,
        left: u64,
        numwant: Option<usize>,
        out: &mut Vec<SocketAddr>,
    ) -> Result<Counts, &'static str> {
        self.announce_at(now_secs(), info_hash, addr, event, left, numwant, out)
    }

    /// [`Tracker::announce`] at a time the caller read (the UDP loop reads the clock once per
    /// batch of datagrams rather than twice per datagram).
    #[allow(clippy::too_many_arguments)]
    pub fn announce_at(
        &self,
        now_secs: u64,
        info_hash: InfoHash,
        addr: SocketAddr,
        event: Event,
        left: u64,
        numwant: Option<usize>,
        out: &mut Vec<SocketAddr>,
    ) -> Result<Counts, &'static str> {
        let pinned = {
            let reg = self.registry();
            match reg.get_by_hash(&info_hash) {
                Some(p) => Some(p.publisher),
                None if self.config.open => None,
                None => return Err(NOT_PUBLISHED),
            }
        };
        let numwant = if event == Event::Stopped {
            0
        } else {
            numwant
                .unwrap_or(self.config.default_numwant)
                .min(self.config.max_numwant)
        };
        let a = Announce {
            info_hash,
            addr,
            event,
            left,
            numwant,
            start: rand::random::<u32>() as usize,
            pinned,
        };
        self.store.announce(&a, now_secs, out)
    }
}

/// One open connection counted against `--max-connections`.
pub struct ConnectionSlot(Arc<Tracker>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

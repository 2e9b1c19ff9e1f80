//! UDP tracker transport (BEP 15): connect, then announce or scrape with the connection id,
//! retransmitting after 15 * 2^n seconds and reusing a connection id for a minute.
//!
//! Each tracker gets one socket that lives as long as its connection id: trackers may tie the
//! id to our source address *and port* (bttrack does), so a fresh socket per request would
//! make every cached id "unknown".

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::InfoHash;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::udp_packets::{self as packets, Answer, MAX_DATAGRAM};
use super::{AnnounceOutcome, AnnounceParams, ScrapeCounts, TrackerConfig, TrackerError};

pub(crate) struct UdpClient {
    initial_timeout: Duration,
    retries: u32,
    connection_ttl: Duration,
    targets: super::targets::Targets,
    /// Per tracker address: our socket to it and the connection id it gave us (with when).
    connections: HashMap<SocketAddr, TrackerSocket>,
}

struct TrackerSocket {
    socket: Arc<UdpSocket>,
    connection: Option<(u64, Instant)>,
}

impl UdpClient {
    pub(crate) fn new(config: &TrackerConfig) -> Self {
        UdpClient {
            initial_timeout: config.udp_initial_timeout,
            retries: config.udp_retries,
            connection_ttl: config.udp_connection_ttl,
            targets: config.targets,
            connections: HashMap::new(),
        }
    }

    pub(crate) async fn announce(
        &mut self,
        url: &str,
        p: &AnnounceParams,
    ) -> Result<AnnounceOutcome, TrackerError> {
        let addr = resolve(url, &self.targets).await?;
        let ipv6 = addr.is_ipv6();
        self.with_connection(url, addr, |connection, transaction| {
            (
                packets::announce_request(connection, transaction, p),
                Box::new(move |d: &[u8]| packets::announce_reply(d, transaction, ipv6, url)),
            )
        })
        .await
    }

    pub(crate) async fn scrape(
        &mut self,
        url: &str,
        info_hash: InfoHash,
    ) -> Result<ScrapeCounts, TrackerError> {
        let addr = resolve(url, &self.targets).await?;
        self.with_connection(url, addr, |connection, transaction| {
            (
                packets::scrape_request(connection, transaction, &info_hash),
                Box::new(move |d: &[u8]| packets::scrape_reply(d, transaction)),
            )
        })
        .await
    }

    /// Runs one request with a valid connection id, connecting first if there is none or it
    /// expired. A request that fails with a cached id (no answer, or an error such as "unknown
    /// connection id") is retried once on a fresh connection: the tracker may have forgotten the
    /// id sooner than we did. Any failure drops the socket, so the next call starts clean.
    async fn with_connection<'u, T>(
        &mut self,
        url: &'u str,
        addr: SocketAddr,
        build: impl Fn(u64, u32) -> (Vec<u8>, Parser<'u, T>),
    ) -> Result<T, TrackerError> {
        let result = self.request_once(url, addr, &build).await;
        let result = match result {
            Err((error, true)) => {
                tracing::debug!(tracker = %url, %error, "retrying with a new connection id");
                self.connections.remove(&addr);
                self.request_once(url, addr, &build).await
            }
            other => other,
        };
        result.map_err(|(error, _)| {
            self.connections.remove(&addr);
            error
        })
    }

    /// One request; on failure also says whether it used a cached connection id.
    async fn request_once<'u, T>(
        &mut self,
        url: &'u str,
        addr: SocketAddr,
        build: &impl Fn(u64, u32) -> (Vec<u8>, Parser<'u, T>),
    ) -> Result<T, (TrackerError, bool)> {
        let socket = self.socket_for(url, addr).await.map_err(|e| (e, false))?;
        let ttl = self.connection_ttl;
        let cached = self
            .connections
            .get(&addr)
            .and_then(|t| t.connection)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(id, _)| id);
        let connection = match cached {
            Some(id) => id,
            None => self
                .connect(url, &socket, addr)
                .await
                .map_err(|e| (e, false))?,
        };
        let transaction: u32 = rand::random();
        let (request, parse) = build(connection, transaction);
        self.exchange(url, &socket, &request, &*parse)
            .await
            .map_err(|e| {
                let retry = cached.is_some()
                    && matches!(
                        e,
                        TrackerError::Timeout { .. } | TrackerError::Failure { .. }
                    );
                (e, retry)
            })
    }

    /// Our socket to `addr`, opened (and connected to it) on first use.
    async fn socket_for(
        &mut self,
        url: &str,
        addr: SocketAddr,
    ) -> Result<Arc<UdpSocket>, TrackerError> {
        if let Some(t) = self.connections.get(&addr) {
            return Ok(t.socket.clone());
        }
        let socket = Arc::new(open(url, addr).await?);
        self.connections.insert(
            addr,
            TrackerSocket {
                socket: socket.clone(),
                connection: None,
            },
        );
        Ok(socket)
    }

    async fn connect(
        &mut self,
        url: &str,
        socket: &UdpSocket,
        addr: SocketAddr,
    ) -> Result<u64, TrackerError> {
        let transaction: u32 = rand::random();
        let request = packets::connect_request(transaction);
        let parse = move |d: &[u8]| packets::connect_reply(d, transaction);
        let id = self.exchange(url, socket, &request, &parse).await?;
        if let Some(t) = self.connections.get_mut(&addr) {
            t.connection = Some((id, Instant::now()));
        }
        Ok(id)
    }

    /// Sends `request` and waits for its answer, retransmitting after 1, 2, 4... times the
    /// initial timeout. Datagrams for other transactions are ignored.
    async fn exchange<T>(
        &self,
        url: &str,
        socket: &UdpSocket,
        request: &[u8],
        parse: &(dyn Fn(&[u8]) -> Answer<T> + Sync),
    ) -> Result<T, TrackerError> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut waited = Duration::ZERO;
        for attempt in 0..=self.retries {
            let wait = self.initial_timeout.saturating_mul(1 << attempt.min(8));
            socket.send(request).await.map_err(|e| io(url, e))?;
            let deadline = Instant::now() + wait;
            loop {
                let received = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await;
                let Ok(received) = received else { break };
                let len = received.map_err(|e| io(url, e))?;
                match parse(buf.get(..len).unwrap_or(&[])) {
                    Answer::Unrelated => continue,
                    Answer::Ok(answer) => return Ok(answer),
                    Answer::Failure(reason) => {
                        return Err(TrackerError::Failure {
                            url: url.to_owned(),
                            reason,
                        })
                    }
                    Answer::Malformed(reason) => {
                        return Err(TrackerError::BadResponse {
                            url: url.to_owned(),
                            reason,
                        })
                    }
                }
            }
            waited += wait;
            tracing::debug!(tracker = %url, ?wait, "no UDP tracker reply, retransmitting");
        }
        Err(TrackerError::Timeout {
            url: url.to_owned(),
            after: waited,
        })
    }
}

type Parser<'u, T> = Box<dyn Fn(&[u8]) -> Answer<T> + Send + Sync + 'u>;

/// Resolves `udp://host:port[/...]` to the tracker's address.
async fn resolve(url: &str, targets: &super::targets::Targets) -> Result<SocketAddr, TrackerError> {
    let invalid = |reason: &str| TrackerError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    let host = parsed.host_str().ok_or_else(|| invalid("no host"))?;
    let port = parsed.port().ok_or_else(|| invalid("no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // Resolved, then checked by address: the LAN rule (`targets.rs`).
    let addrs = targets.resolve(host, port).await.map_err(|e| io(url, e))?;
    addrs
        .first()
        .copied()
        .ok_or_else(|| invalid("host has no address"))
}

/// A socket connected to `addr` (so only the tracker's datagrams arrive, and an ICMP "port
/// unreachable" surfaces as an error at once).
async fn open(url: &str, addr: SocketAddr) -> Result<UdpSocket, TrackerError> {
    let local: SocketAddr = if addr.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(|e| io(url, e))?;
    socket.connect(addr).await.map_err(|e| io(url, e))?;
    Ok(socket)
}

fn io(url: &str, e: std::io::Error) -> TrackerError {
    TrackerError::Io {
        url: url.to_owned(),
        reason: e.to_string(),
    }
}

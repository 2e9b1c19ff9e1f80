//! BEP 14 local service discovery: every non-private torrent is announced on the LAN's
//! multicast group every few minutes, and peers announcing our torrents there are handed to
//! those torrents like a tracker's. The datagram codec is `protocol::lsd`; this file only moves
//! datagrams and time.
//!
//! Our own announces come back to us (multicast loop is on, so that two clients on one host
//! find each other): the random cookie in them tells them apart.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::lsd::{LsdAnnounce, LSD_GROUP_V4, LSD_GROUP_V6, MAX_ANNOUNCE_LEN, MAX_INFO_HASHES};
use protocol::InfoHash;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::status_feed::StatusCell;
use crate::torrent::TorrentCmd;
use crate::types::TorrentState;

/// Where and how often the session announces. `Default` is BEP 14's groups on the system's
/// default multicast interface, every 5 minutes per torrent.
#[derive(Debug, Clone)]
pub struct LsdConfig {
    /// IPv4 group and port; `None` = no IPv4 discovery.
    pub group_v4: Option<SocketAddrV4>,
    /// IPv6 group and port; `None` = no IPv6 discovery.
    pub group_v6: Option<SocketAddrV6>,
    /// The interface (by address) to join on and send from; unspecified = the system's choice.
    /// A loopback address keeps discovery on this host (what tests use).
    pub interface_v4: Ipv4Addr,
    /// Multicast TTL: 1 keeps announces on the local link.
    pub ttl: u32,
    pub announce_every: Duration,
}

impl Default for LsdConfig {
    fn default() -> Self {
        let (ip4, port4) = LSD_GROUP_V4;
        let (ip6, port6) = LSD_GROUP_V6;
        LsdConfig {
            group_v4: Some(SocketAddrV4::new(ip4.into(), port4)),
            group_v6: Some(SocketAddrV6::new(ip6.into(), port6, 0, 0)),
            interface_v4: Ipv4Addr::UNSPECIFIED,
            ttl: 1,
            announce_every: Duration::from_secs(300),
        }
    }
}

struct Tracked {
    to_torrent: mpsc::UnboundedSender<TorrentCmd>,
    status: Arc<StatusCell>,
    next_announce: Instant,
}

type Registry = Arc<Mutex<HashMap<InfoHash, Tracked>>>;

/// The session's discovery service. Dropping it (or `shutdown`) stops its tasks.
pub(crate) struct Lsd {
    torrents: Registry,
    stop: watch::Sender<bool>,
}

impl Lsd {
    /// Joins the configured groups; fails only if no group could be joined.
    pub(crate) fn start(config: &LsdConfig, listen_port: u16) -> std::io::Result<Lsd> {
        let torrents: Registry = Arc::default();
        let (stop, stop_rx) = watch::channel(false);
        let cookie = format!("{:08x}", rand::random::<u32>());
        let mut started = 0;
        let mut last_error = None;
        let groups = [
            config.group_v4.map(SocketAddr::V4),
            config.group_v6.map(SocketAddr::V6),
        ];
        for group in groups.into_iter().flatten() {
            match open(group, config) {
                Ok((recv, send)) => {
                    let task = Task {
                        group,
                        recv,
                        send,
                        cookie: cookie.clone(),
                        listen_port,
                        every: config.announce_every,
                        torrents: torrents.clone(),
                    };
                    tokio::spawn(task.run(stop_rx.clone()));
                    started += 1;
                }
                Err(e) => {
                    tracing::debug!("local service discovery on {group}: {e}");
                    last_error = Some(e);
                }
            }
        }
        match (started, last_error) {
            (0, Some(e)) => Err(e),
            _ => Ok(Lsd { torrents, stop }),
        }
    }

    /// Announces a torrent from now on (at once, then every `announce_every`), and hands it the
    /// peers that announce it. It is forgotten when its command channel closes.
    pub(crate) fn track(
        &self,
        info_hash: InfoHash,
        to_torrent: mpsc::UnboundedSender<TorrentCmd>,
        status: Arc<StatusCell>,
    ) {
        if let Ok(mut t) = self.torrents.lock() {
            t.insert(
                info_hash,
                Tracked {
                    to_torrent,
                    status,
                    next_announce: Instant::now(),
                },
            );
        }
    }

    pub(crate) fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Lsd {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A receiving socket bound to the group's port (shared with other clients on this host) and a
/// sending socket on the chosen interface.
fn open(group: SocketAddr, config: &LsdConfig) -> std::io::Result<(UdpSocket, UdpSocket)> {
    let domain = Domain::for_address(group);
    let recv = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    recv.set_reuse_address(true)?;
    // Windows has no SO_REUSEPORT; its SO_REUSEADDR alone lets clients share the port.
    #[cfg(unix)]
    recv.set_reuse_port(true)?;
    let send = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    match group {
        SocketAddr::V4(g) => {
            recv.join_multicast_v4(g.ip(), &config.interface_v4)?;
            // Bound to the group address: only the group's datagrams arrive on this socket.
            recv.bind(&SocketAddr::V4(g).into())?;
            send.set_multicast_if_v4(&config.interface_v4)?;
            send.set_multicast_ttl_v4(config.ttl)?;
            send.set_multicast_loop_v4(true)?;
            send.bind(&SocketAddr::new(IpAddr::V4(config.interface_v4), 0).into())?;
        }
        SocketAddr::V6(g) => {
            recv.set_only_v6(true)?;
            recv.join_multicast_v6(g.ip(), 0)?;
            recv.bind(
                &SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, g.port(), 0, 0)).into(),
            )?;
            send.set_only_v6(true)?;
            send.set_multicast_hops_v6(config.ttl)?;
            send.set_multicast_loop_v6(true)?;
            send.bind(&SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0).into())?;
        }
    }
    recv.set_nonblocking(true)?;
    send.set_nonblocking(true)?;
    Ok((
        UdpSocket::from_std(recv.into())?,
        UdpSocket::from_std(send.into())?,
    ))
}

struct Task {
    group: SocketAddr,
    recv: UdpSocket,
    send: UdpSocket,
    cookie: String,
    listen_port: u16,
    every: Duration,
    torrents: Registry,
}

impl Task {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut buf = vec![0u8; MAX_ANNOUNCE_LEN + 1];
        loop {
            tokio::select! {
                r = self.recv.recv_from(&mut buf) => match r {
                    Ok((n, from)) => self.received(&buf[..n], from),
                    Err(e) => {
                        tracing::debug!("local service discovery: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
                _ = tick.tick() => self.announce_due().await,
                _ = stop.changed() => return,
            }
        }
    }

    fn received(&self, datagram: &[u8], from: SocketAddr) {
        let announce = match LsdAnnounce::decode(datagram) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!("local service discovery: ignoring a datagram from {from}: {e}");
                return;
            }
        };
        if announce.cookie.as_deref() == Some(self.cookie.as_str()) {
            return;
        }
        let peer = SocketAddr::new(from.ip(), announce.port);
        let Ok(torrents) = self.torrents.lock() else {
            return;
        };
        for ih in &announce.info_hashes {
            if let Some(t) = torrents.get(ih) {
                tracing::debug!("local service discovery: {peer} has {ih}");
                let _ = t.to_torrent.send(TorrentCmd::AddPeers(vec![peer]));
            }
        }
    }

    async fn announce_due(&self) {
        let now = Instant::now();
        let mut due = Vec::new();
        if let Ok(mut torrents) = self.torrents.lock() {
            torrents.retain(|_, t| !t.to_torrent.is_closed());
            for (ih, t) in torrents.iter_mut() {
                let state = t.status.lock().map(|s| s.state).ok();
                let active = !matches!(state, Some(TorrentState::Paused | TorrentState::Error));
                if active && t.next_announce <= now {
                    t.next_announce = now + self.every;
                    due.push(*ih);
                }
            }
        }
        let host = self.group.to_string();
        for chunk in due.chunks(MAX_INFO_HASHES) {
            let mut datagram = Vec::new();
            LsdAnnounce {
                port: self.listen_port,
                info_hashes: chunk.to_vec(),
                cookie: Some(self.cookie.clone()),
            }
            .encode(&host, &mut datagram);
            if let Err(e) = self.send.send_to(&datagram, self.group).await {
                tracing::debug!("local service discovery: sending to {}: {e}", self.group);
            }
        }
    }
}

//! Being reachable: the IPv6 twin of the peer listener, the IPv6 address we tell trackers
//! (BEP 7), and the count of connections peers open to us (the "connectable" indicator).
//!
//! A session that listens on all IPv4 interfaces also listens on all IPv6 ones, on the same port
//! (a second socket with `IPV6_V6ONLY`, so it never collides with the IPv4 one where the system
//! would map IPv4 into IPv6); one on 127.0.0.1 also listens on ::1. A system without IPv6 only
//! loses the twin.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::portmap::PortMapState;
use tokio::net::TcpListener;

/// The IPv6 address to listen on beside `v4`: `[::]` beside `0.0.0.0`, `[::1]` beside
/// 127.0.0.1, nothing beside a particular address (the user chose one family).
fn twin_address(v4: SocketAddr) -> Option<SocketAddr> {
    match v4.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            Some(SocketAddr::from((Ipv6Addr::UNSPECIFIED, v4.port())))
        }
        IpAddr::V4(ip) if ip.is_loopback() => {
            Some(SocketAddr::from((Ipv6Addr::LOCALHOST, v4.port())))
        }
        _ => None,
    }
}

/// Binds the IPv6 twin of the IPv4 listener at `v4` (its actual port), or says why not.
pub(crate) fn bind_twin(v4: SocketAddr) -> Option<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let addr = twin_address(v4)?;
    let bind = || -> std::io::Result<TcpListener> {
        let socket = Socket::new(Domain::IPV6, Type::STREAM, None)?;
        socket.set_only_v6(true)?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        socket.set_nonblocking(true)?;
        TcpListener::from_std(socket.into())
    };
    match bind() {
        Ok(listener) => {
            if addr.ip().is_unspecified() {
                register_v6_port(addr.port());
            }
            Some(listener)
        }
        Err(e) => {
            tracing::info!("no IPv6 listener on {addr}: {e}");
            None
        }
    }
}

/// Ports on which a session of this process listens on all IPv6 interfaces. The tracker client
/// announces our IPv6 address only for those (it knows the port it announces, not the session):
/// a session bound to one IPv4 address must not hand trackers an address it does not serve.
static V6_PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

fn register_v6_port(port: u16) {
    if let Ok(mut ports) = V6_PORTS.lock() {
        ports.insert(port);
    }
}

/// The session on `port` stops listening.
pub(crate) fn unregister_v6_port(port: u16) {
    if let Ok(mut ports) = V6_PORTS.lock() {
        ports.remove(&port);
    }
}

/// BEP 7's `ipv6=` for an announce of `port`: our global IPv6 address, if this machine has one
/// and a session listens on IPv6 on that port.
pub(crate) fn announce_ipv6(port: u16) -> Option<String> {
    let listening = V6_PORTS.lock().is_ok_and(|p| p.contains(&port));
    if !listening {
        return None;
    }
    global_ipv6().map(|ip| ip.to_string())
}

/// The source address this machine would use towards the IPv6 internet, if it is a global one.
/// Connecting a UDP socket only asks the kernel for a route: nothing is sent.
fn global_ipv6() -> Option<Ipv6Addr> {
    let probe = std::net::UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).ok()?;
    // A public resolver's address (2001:4860:4860::8888); any global address would do.
    probe
        .connect((
            Ipv6Addr::new(0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888),
            53,
        ))
        .ok()?;
    match probe.local_addr().ok()?.ip() {
        IpAddr::V6(ip) if is_global_unicast(ip) => Some(ip),
        _ => None,
    }
}

/// 2000::/3 (global unicast) less 2001:db8::/32 (documentation).
fn is_global_unicast(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
}

/// How long nobody from the internet may connect before `hello` warns: a swarm finds a new
/// peer within minutes (trackers re-announce every few, the DHT as often), so ten minutes of
/// silence means peers cannot get through rather than have not heard of us.
pub const WARN_AFTER: Duration = Duration::from_secs(10 * 60);

/// Connections peers opened to us, by where they came from, since the listener started.
pub(crate) struct Incoming {
    lan: AtomicU64,
    internet: AtomicU64,
    started: Instant,
}

impl Default for Incoming {
    fn default() -> Self {
        Incoming {
            lan: AtomicU64::new(0),
            internet: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl Incoming {
    /// Counts a connection accepted from `ip` (this machine's own programs do not count: they
    /// prove nothing about the network).
    pub(crate) fn arrived(&self, ip: IpAddr) {
        let loopback = match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        };
        if loopback {
            return;
        }
        let counter = if protocol::lan::is_local(ip) {
            &self.lan
        } else {
            &self.internet
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// What we know, with a warning when it is time for one: `mapping` is where the port
    /// mapping stands, `None` when the session listens on loopback only (nobody outside is
    /// meant to reach it, so there is nothing to warn about).
    pub(crate) fn status(&self, mapping: Option<PortMapState>) -> Connectable {
        let lan = self.lan.load(Ordering::Relaxed);
        let internet = self.internet.load(Ordering::Relaxed);
        let state = if internet > 0 {
            ConnectableState::Yes
        } else if lan > 0 {
            ConnectableState::LanOnly
        } else {
            ConnectableState::NotYet
        };
        let up = self.started.elapsed();
        Connectable {
            state,
            incoming_lan: lan,
            incoming_internet: internet,
            up_secs: up.as_secs(),
            warning: mapping.and_then(|m| warning(state, up, m)),
        }
    }
}

/// Whether to warn that peers from the internet do not reach us, and the likely cause: after
/// `WARN_AFTER` with none, "no_mapping" when the router forwards nothing for us (mapping off
/// or failed), "firewall" when it does and still nobody came (this computer's firewall, or a
/// second NAT such as the carrier's, drops them). No warning while the mapping is still being
/// looked for.
fn warning(
    state: ConnectableState,
    up: Duration,
    mapping: PortMapState,
) -> Option<ConnectableWarning> {
    if state == ConnectableState::Yes || up < WARN_AFTER {
        return None;
    }
    match mapping {
        PortMapState::Off | PortMapState::Failed => Some(ConnectableWarning::NoMapping),
        PortMapState::Mapped => Some(ConnectableWarning::Firewall),
        PortMapState::Searching => None,
    }
}

/// Whether peers can open connections to us, as far as we have seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectableState {
    /// A peer from beyond the LAN connected to us since the session started.
    Yes,
    /// Only peers on the LAN (private, link-local addresses) did.
    LanOnly,
    /// Nobody did yet: we may be behind a NAT or firewall, or simply not yet found.
    NotYet,
}

/// Why no peer from the internet has reached us, as far as we can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectableWarning {
    /// The router forwards no port to us (mapping off, or no router mapped it).
    NoMapping,
    /// The router forwards our port, yet nobody came: a firewall or a second NAT.
    Firewall,
}

/// The "connectable" indicator of `hello`, `doctor` and the popup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Connectable {
    pub state: ConnectableState,
    pub incoming_lan: u64,
    pub incoming_internet: u64,
    /// Seconds since the listener started (what the counts cover).
    pub up_secs: u64,
    /// Set after `WARN_AFTER` without a peer from the internet.
    pub warning: Option<ConnectableWarning>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_and_global_addresses() {
        let v4 = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(twin_address(v4("0.0.0.0:6881")), Some(v4("[::]:6881")));
        assert_eq!(twin_address(v4("127.0.0.1:5")), Some(v4("[::1]:5")));
        assert_eq!(twin_address(v4("10.0.0.2:5")), None);
        let g = |s: &str| is_global_unicast(s.parse().unwrap());
        assert!(g("2a01:4f8::2") && g("2001:4860::1"));
        assert!(
            !g("::1")
                && !g("fe80::1")
                && !g("fd00::1")
                && !g("2001:db8::1")
                && !g("::ffff:1.2.3.4")
        );
    }

    #[test]
    fn warns_after_minutes_without_a_peer_from_the_internet() {
        use ConnectableState::*;
        let late = WARN_AFTER + Duration::from_secs(1);
        let early = WARN_AFTER - Duration::from_secs(1);
        assert_eq!(warning(NotYet, early, PortMapState::Failed), None);
        assert_eq!(
            warning(NotYet, late, PortMapState::Failed),
            Some(ConnectableWarning::NoMapping)
        );
        assert_eq!(
            warning(LanOnly, late, PortMapState::Off),
            Some(ConnectableWarning::NoMapping)
        );
        assert_eq!(
            warning(NotYet, late, PortMapState::Mapped),
            Some(ConnectableWarning::Firewall)
        );
        assert_eq!(warning(NotYet, late, PortMapState::Searching), None);
        assert_eq!(warning(Yes, late, PortMapState::Failed), None);
        // A loopback session never warns; a fresh one not yet.
        // (A machine up for less than that has no such instant; then the pure rule above is all.)
        if let Some(started) = Instant::now().checked_sub(late) {
            let incoming = Incoming {
                started,
                ..Incoming::default()
            };
            assert_eq!(incoming.status(None).warning, None);
            let s = incoming.status(Some(PortMapState::Failed));
            assert_eq!(s.warning, Some(ConnectableWarning::NoMapping));
            assert!(s.up_secs >= late.as_secs());
        }
        assert_eq!(
            Incoming::default()
                .status(Some(PortMapState::Failed))
                .warning,
            None
        );
    }

    #[test]
    fn counts_where_connections_come_from() {
        let incoming = Incoming::default();
        assert_eq!(incoming.status(None).state, ConnectableState::NotYet);
        incoming.arrived("127.0.0.1".parse().unwrap());
        incoming.arrived("::1".parse().unwrap());
        incoming.arrived("127.0.0.9".parse().unwrap());
        assert_eq!(incoming.status(None).state, ConnectableState::NotYet);
        incoming.arrived("192.168.1.7".parse().unwrap());
        assert_eq!(incoming.status(None).state, ConnectableState::LanOnly);
        incoming.arrived("44.1.2.4".parse().unwrap());
        let s = incoming.status(None);
        assert_eq!(
            (s.state, s.incoming_lan, s.incoming_internet),
            (ConnectableState::Yes, 1, 1)
        );
    }

    #[test]
    fn ipv6_is_announced_only_for_ports_served_on_ipv6() {
        // Port 1 is never a session's here.
        assert_eq!(announce_ipv6(1), None);
    }
}

//! Port mapping: asks the user's router to forward our peer port (TCP for peers, UDP for the
//! DHT and, later, uTP) from its external address, so peers outside the LAN can connect to us.
//!
//! One task per session: PCP (RFC 6887) at the default gateway first, which answers within a
//! second if it speaks it; NAT-PMP (RFC 6886, same port) when the gateway answers PCP as a
//! NAT-PMP-only one would; else UPnP IGD, found by an SSDP search. A granted mapping is
//! renewed at half its lease; one that fails to renew sends the task back to searching; a
//! search that finds nothing is retried every few minutes (routers reboot, laptops move). At
//! shutdown the mapping is removed, within a deadline. What the task knows is published as a
//! `PortMapStatus` for `hello`, `doctor` and the popup.

mod natpmp;
mod pcp;
mod soap;
mod udp;
mod upnp;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use protocol::portmap::natpmp::NATPMP_PORT;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The lease we ask PCP and NAT-PMP for (RFC 6886's recommendation).
const NATPMP_LEASE_SECS: u32 = 7200;
/// The lease we ask UPnP for; permanent-only gateways get 0 and are re-asked as often.
const UPNP_LEASE_SECS: u32 = 3600;
/// A permanent or very long lease is still re-asked this often (a rebooted router forgets).
const MAX_RENEW: Duration = Duration::from_secs(30 * 60);
/// Nor more often than this, whatever the gateway grants.
const MIN_RENEW: Duration = Duration::from_secs(30);
/// After a search that found no gateway, the next one.
const RETRY_AFTER: Duration = Duration::from_secs(5 * 60);
/// Removing the mapping at shutdown may take this long, at most.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the port mapping stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortMapState {
    /// Turned off by the user, or the session listens on loopback only.
    Off,
    Searching,
    Mapped,
    /// No gateway mapped the port; `error` says why. Retried every few minutes.
    Failed,
}

/// What `hello`, `doctor` and the popup show about the port mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMapStatus {
    pub state: PortMapState,
    /// "pcp", "natpmp" or "upnp", once mapped.
    pub method: Option<&'static str>,
    /// Our address and port as peers outside the router reach them.
    pub external: Option<SocketAddr>,
    pub error: Option<String>,
}

impl PortMapStatus {
    pub fn off() -> Self {
        Self::with(PortMapState::Off)
    }

    fn with(state: PortMapState) -> Self {
        PortMapStatus {
            state,
            method: None,
            external: None,
            error: None,
        }
    }
}

/// The session's port-mapping task.
pub(crate) struct PortMapper {
    status: watch::Receiver<PortMapStatus>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl PortMapper {
    pub(crate) fn start(port: u16) -> PortMapper {
        let (status_tx, status) = watch::channel(PortMapStatus::with(PortMapState::Searching));
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(port, status_tx, stop_rx));
        PortMapper {
            status,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    pub(crate) fn status(&self) -> PortMapStatus {
        self.status.borrow().clone()
    }

    /// Removes the mapping (within `REMOVE_TIMEOUT`) and ends the task.
    pub(crate) async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(mut task) = task {
            if tokio::time::timeout(REMOVE_TIMEOUT + Duration::from_secs(1), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

/// A gateway that mapped our port, and how to talk to it again.
enum Gateway {
    Pcp(pcp::Client),
    NatPmp(SocketAddr),
    Upnp(upnp::Igd),
}

struct Mapped {
    gateway: Gateway,
    external: SocketAddr,
    lease_secs: u32,
}

impl Mapped {
    fn status(&self) -> PortMapStatus {
        PortMapStatus {
            state: PortMapState::Mapped,
            method: Some(match self.gateway {
                Gateway::Pcp(_) => "pcp",
                Gateway::NatPmp(_) => "natpmp",
                Gateway::Upnp(_) => "upnp",
            }),
            external: Some(self.external),
            error: None,
        }
    }

    fn renew_in(&self) -> Duration {
        match self.lease_secs {
            0 => MAX_RENEW,
            s => Duration::from_secs(u64::from(s / 2)).clamp(MIN_RENEW, MAX_RENEW),
        }
    }
}

/// Finds a gateway that maps `port`: PCP or NAT-PMP at the default gateway first, then UPnP.
async fn establish(port: u16) -> Result<Mapped, String> {
    let first_error = match natpmp::default_gateway() {
        Some(gw) => match map_at(SocketAddr::from((gw, NATPMP_PORT)), port).await {
            Ok(mapped) => return Ok(mapped),
            Err(e) => e,
        },
        None => "PCP/NAT-PMP: no default gateway".to_string(),
    };
    let upnp = async {
        let igd = upnp::discover().await?;
        let lease_secs = upnp::map(&igd, port, UPNP_LEASE_SECS).await?;
        let ip = upnp::external_ip(&igd).await?;
        Ok::<_, String>(Mapped {
            gateway: Gateway::Upnp(igd),
            external: SocketAddr::new(ip, port),
            lease_secs,
        })
    };
    upnp.await
        .map_err(|upnp_error| format!("{first_error}; {upnp_error}"))
}

/// Maps `port` at the PCP/NAT-PMP `server`: PCP first; NAT-PMP when the server answers as a
/// NAT-PMP-only one (RFC 6887 section 9) or refuses PCP. Silence ends it at once: both
/// protocols share the port, and RFC 6886 has a NAT-PMP server answer every version.
async fn map_at(server: SocketAddr, port: u16) -> Result<Mapped, String> {
    let mut client = pcp::Client::new(server);
    let pcp_error = match client.map(port, NATPMP_LEASE_SECS).await {
        Ok(g) => {
            return Ok(Mapped {
                gateway: Gateway::Pcp(client),
                external: SocketAddr::new(g.external_ip, g.external_port),
                lease_secs: g.lifetime_secs,
            })
        }
        Err(pcp::PcpFailure::Silent(e)) => return Err(e),
        Err(e) => e.text(),
    };
    match natpmp::map(server, port, NATPMP_LEASE_SECS).await {
        Ok(g) => Ok(Mapped {
            gateway: Gateway::NatPmp(server),
            external: SocketAddr::new(g.external_ip, g.external_port),
            lease_secs: g.lifetime_secs,
        }),
        Err(e) => Err(format!("{pcp_error}; {e}")),
    }
}

/// Asks the same gateway again: the external address and lease now, or `Err` when it no longer
/// maps the port.
async fn renew(gateway: &mut Gateway, port: u16) -> Result<(SocketAddr, u32), String> {
    match gateway {
        Gateway::Pcp(client) => {
            let g = client
                .map(port, NATPMP_LEASE_SECS)
                .await
                .map_err(|e| e.text())?;
            Ok((
                SocketAddr::new(g.external_ip, g.external_port),
                g.lifetime_secs,
            ))
        }
        Gateway::NatPmp(server) => {
            let g = natpmp::map(*server, port, NATPMP_LEASE_SECS).await?;
            Ok((
                SocketAddr::new(g.external_ip, g.external_port),
                g.lifetime_secs,
            ))
        }
        Gateway::Upnp(igd) => {
            let lease = upnp::map(igd, port, UPNP_LEASE_SECS).await?;
            Ok((SocketAddr::new(upnp::external_ip(igd).await?, port), lease))
        }
    }
}

async fn remove(mapped: &mut Mapped, port: u16) {
    let removal = async {
        match &mut mapped.gateway {
            Gateway::Pcp(client) => client.unmap(port).await,
            Gateway::NatPmp(server) => natpmp::unmap(*server, port).await,
            Gateway::Upnp(igd) => upnp::unmap(igd, port).await,
        }
    };
    if tokio::time::timeout(REMOVE_TIMEOUT, removal).await.is_err() {
        tracing::info!("port mapping: the gateway did not confirm the removal in time");
    }
}

async fn run(port: u16, status: watch::Sender<PortMapStatus>, mut stop: watch::Receiver<bool>) {
    loop {
        status.send_replace(PortMapStatus::with(PortMapState::Searching));
        let found = tokio::select! {
            found = establish(port) => found,
            _ = stop.changed() => return,
        };
        let mut mapped = match found {
            Ok(mapped) => mapped,
            Err(error) => {
                tracing::info!("port mapping failed: {error}");
                status.send_replace(PortMapStatus {
                    error: Some(error),
                    ..PortMapStatus::with(PortMapState::Failed)
                });
                tokio::select! {
                    () = tokio::time::sleep(RETRY_AFTER) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        tracing::info!(external = %mapped.external, "port mapped");
        status.send_replace(mapped.status());
        loop {
            tokio::select! {
                () = tokio::time::sleep(mapped.renew_in()) => {}
                _ = stop.changed() => {
                    remove(&mut mapped, port).await;
                    return;
                }
            }
            let renewed = tokio::select! {
                r = renew(&mut mapped.gateway, port) => r,
                _ = stop.changed() => {
                    remove(&mut mapped, port).await;
                    return;
                }
            };
            match renewed {
                Ok((external, lease_secs)) => {
                    mapped.external = external;
                    mapped.lease_secs = lease_secs;
                    status.send_replace(mapped.status());
                }
                Err(e) => {
                    tracing::info!("port mapping lost: {e}");
                    break;
                }
            }
        }
    }
}

/// Whether a session listening on `ip` maps its port at all: a loopback listener cannot be
/// reached from outside whatever the router does.
pub(crate) fn worth_mapping(ip: IpAddr) -> bool {
    !ip.is_loopback()
}

//! A UPnP IGD client: an SSDP search on the LAN, the first gateway whose description offers a
//! WAN connection service, and SOAP calls to it. What a gateway sends is capped (answers,
//! descriptions, SOAP replies) and its URLs must stay on its own address.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use protocol::portmap::upnp::{self, UpnpError, WanService};
use protocol::portmap::Transport;
use tokio::net::UdpSocket;

use super::soap::exchange;

/// How long we listen for SSDP answers (our search asks for them within MX = 2 s).
const SEARCH_WINDOW: Duration = Duration::from_secs(3);
/// SSDP answers we look at, at most: a LAN full of devices cannot keep us busy.
const MAX_ANSWERS: usize = 8;

/// A gateway found on the LAN.
#[derive(Debug, Clone)]
pub(super) struct Igd {
    service: WanService,
    /// Our address as the gateway sees it: what mappings forward to.
    local_ip: IpAddr,
}

/// Searches the LAN for a gateway.
pub(super) async fn discover() -> Result<Igd, String> {
    let socket = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))
        .await
        .map_err(|e| format!("UPnP: {e}"))?;
    let _ = socket.set_multicast_ttl_v4(2);
    let group = SocketAddr::from(upnp::SSDP_GROUP);
    socket
        .send_to(&upnp::encode_search(), group)
        .await
        .map_err(|e| format!("UPnP: SSDP search: {e}"))?;
    let deadline = tokio::time::Instant::now() + SEARCH_WINDOW;
    let mut buf = vec![0u8; upnp::MAX_SSDP_LEN];
    let mut last_error = "UPnP: no gateway answered the SSDP search".to_string();
    for _ in 0..MAX_ANSWERS {
        let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        else {
            break;
        };
        match gateway_at(&buf[..n], from.ip()).await {
            Ok(igd) => return Ok(igd),
            Err(e) => last_error = format!("UPnP: {from}: {e}"),
        }
    }
    Err(last_error)
}

async fn gateway_at(answer: &[u8], from: IpAddr) -> Result<Igd, String> {
    let location = upnp::decode_search_answer(answer).map_err(|e| e.to_string())?;
    let url = upnp::same_host(&location, from).map_err(|e| e.to_string())?;
    let (status, xml) = exchange(&url, None, upnp::MAX_DESCRIPTION_LEN).await?;
    if status != 200 {
        return Err(format!("{url}: HTTP {status}"));
    }
    let service = upnp::decode_description(&xml, &url).map_err(|e| e.to_string())?;
    upnp::same_host(service.control_url.as_str(), from).map_err(|e| e.to_string())?;
    let probe = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))
        .await
        .map_err(|e| e.to_string())?;
    probe
        .connect((from, 1900))
        .await
        .map_err(|e| e.to_string())?;
    let local_ip = probe.local_addr().map_err(|e| e.to_string())?.ip();
    Ok(Igd { service, local_ip })
}

async fn call(igd: &Igd, soap: upnp::SoapCall) -> Result<String, UpnpError> {
    let (_, xml) = exchange(&igd.service.control_url, Some(&soap), upnp::MAX_SOAP_LEN)
        .await
        .map_err(|e| UpnpError::Fault {
            code: 0,
            description: e,
        })?;
    upnp::decode_soap(&xml)?;
    Ok(xml)
}

/// The gateway's external address.
pub(super) async fn external_ip(igd: &Igd) -> Result<IpAddr, String> {
    let xml = call(igd, upnp::encode_get_external_ip(&igd.service.service_type))
        .await
        .map_err(|e| format!("UPnP: {e}"))?;
    upnp::decode_external_ip(&xml).map_err(|e| format!("UPnP: {e}"))
}

/// Maps `port` (TCP and UDP, the same external port) for `lease_secs`; a gateway that takes
/// only permanent mappings gets one (we remove it at shutdown). Returns the lease granted.
pub(super) async fn map(igd: &Igd, port: u16, lease_secs: u32) -> Result<u32, String> {
    let mut lease = lease_secs;
    for transport in [Transport::Tcp, Transport::Udp] {
        let st = &igd.service.service_type;
        let description = format!("Swarmlink {port}/{}", transport.name());
        let ask = |lease| {
            upnp::encode_add_port_mapping(
                st,
                transport,
                port,
                igd.local_ip,
                port,
                lease,
                &description,
            )
        };
        match call(igd, ask(lease)).await {
            Ok(_) => {}
            Err(UpnpError::Fault {
                code: upnp::ONLY_PERMANENT_LEASES,
                ..
            }) if lease != 0 => {
                lease = 0;
                call(igd, ask(0)).await.map_err(|e| format!("UPnP: {e}"))?;
            }
            Err(e) => return Err(format!("UPnP: mapping {port}/{}: {e}", transport.name())),
        }
    }
    Ok(lease)
}

/// Removes both mappings of `port`.
pub(super) async fn unmap(igd: &Igd, port: u16) {
    for transport in [Transport::Tcp, Transport::Udp] {
        let soap = upnp::encode_delete_port_mapping(&igd.service.service_type, transport, port);
        if let Err(e) = call(igd, soap).await {
            tracing::debug!("UPnP: removing the {} mapping: {e}", transport.name());
        }
    }
}

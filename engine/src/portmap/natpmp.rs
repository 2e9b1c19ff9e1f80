//! A NAT-PMP client (RFC 6886) over tokio UDP: the gateway is the default route's next hop.
//! The exchange (tries, waits, strays ignored) is `udp::ask`'s; a refusal ends the attempt at
//! once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use protocol::portmap::natpmp::{self, NatPmpError, Transport, MAX_ANSWER_LEN};

use super::udp::{self, Unanswered};

/// What the gateway granted for our port.
#[derive(Debug, Clone, Copy)]
pub(super) struct Granted {
    pub external_ip: IpAddr,
    pub external_port: u16,
    pub lifetime_secs: u32,
}

/// The default gateway of this thread's network namespace (Linux: `/proc/.../net/route`).
pub(super) fn default_gateway() -> Option<Ipv4Addr> {
    let text = std::fs::read_to_string("/proc/thread-self/net/route")
        .or_else(|_| std::fs::read_to_string("/proc/net/route"))
        .ok()?;
    parse_route_table(&text)
}

/// The gateway of the first default route in `/proc/net/route` (hex, host byte order: the
/// kernel prints the address's bytes as a little-endian u32).
fn parse_route_table(text: &str) -> Option<Ipv4Addr> {
    const RTF_UP_GATEWAY: u32 = 0x1 | 0x2;
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (dest, gw, flags) = (cols.get(1)?, cols.get(2)?, cols.get(3)?);
        let flags = u32::from_str_radix(flags, 16).ok()?;
        if *dest != "00000000" || flags & RTF_UP_GATEWAY != RTF_UP_GATEWAY {
            return None;
        }
        let gw = u32::from_str_radix(gw, 16).ok()?;
        Some(Ipv4Addr::from(gw.to_le_bytes()))
    })
}

/// Sends `request` to the NAT-PMP `server` until an answer `decode` accepts, a refusal, or the
/// tries run out.
async fn ask<T>(
    server: SocketAddr,
    request: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, NatPmpError>,
) -> Result<T, String> {
    let socket = udp::connect(server)
        .await
        .map_err(|e| format!("NAT-PMP: {e}"))?;
    let is_refusal = |e: &NatPmpError| matches!(e, NatPmpError::Refused(_));
    udp::ask(&socket, request, MAX_ANSWER_LEN, decode, is_refusal)
        .await
        .map_err(|e| match e {
            Unanswered::Silent => format!("NAT-PMP: gateway {} does not answer", server.ip()),
            Unanswered::Io(e) => format!("NAT-PMP: gateway {}: {e}", server.ip()),
            Unanswered::Answer(e) => format!("NAT-PMP: gateway {}: {e}", server.ip()),
        })
}

/// Maps `port` (TCP and UDP) for `lifetime_secs`, asking for the same external port.
pub(super) async fn map(
    server: SocketAddr,
    port: u16,
    lifetime_secs: u32,
) -> Result<Granted, String> {
    let external_ip = ask(
        server,
        &natpmp::encode_external_address_request(),
        natpmp::decode_external_address,
    )
    .await?;
    let mut granted = Granted {
        external_ip: IpAddr::V4(external_ip),
        external_port: port,
        lifetime_secs,
    };
    for transport in [Transport::Tcp, Transport::Udp] {
        let request = natpmp::encode_map_request(transport, port, port, lifetime_secs);
        let m = ask(server, &request, |b| natpmp::decode_map(b, transport, port)).await?;
        if transport == Transport::Tcp {
            granted.external_port = m.external;
        }
        granted.lifetime_secs = granted.lifetime_secs.min(m.lifetime_secs);
    }
    Ok(granted)
}

/// Removes both mappings of `port` (lifetime 0).
pub(super) async fn unmap(server: SocketAddr, port: u16) {
    for transport in [Transport::Tcp, Transport::Udp] {
        let request = natpmp::encode_map_request(transport, port, 0, 0);
        if let Err(e) = ask(server, &request, |b| natpmp::decode_map(b, transport, port)).await {
            tracing::debug!("removing the {} mapping: {e}", transport.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_default_route() {
        let table =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     lan0\t00004D0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                     lan0\t00000000\t01004D0A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert_eq!(parse_route_table(table), Some(Ipv4Addr::new(10, 77, 0, 1)));
        assert_eq!(parse_route_table("Iface\n"), None);
    }
}

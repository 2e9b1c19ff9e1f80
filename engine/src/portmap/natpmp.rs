//! A NAT-PMP client (RFC 6886) over tokio UDP: the gateway is the default route's next hop.
//! Each request is retried a few times with doubling waits (RFC 6886 asks for up to 9 tries
//! starting at 250 ms, over a minute; a home router answers the first or not at all, so three
//! tries, under 2 s, tell us enough). Datagrams that are not an answer to our request are
//! ignored; a refusal ends the attempt at once.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use protocol::portmap::natpmp::{self, NatPmpError, Transport, MAX_ANSWER_LEN, NATPMP_PORT};
use tokio::net::UdpSocket;

const FIRST_WAIT: Duration = Duration::from_millis(250);
const TRIES: u32 = 3;

/// What the gateway granted for our port.
#[derive(Debug, Clone, Copy)]
pub(super) struct Granted {
    pub external_ip: Ipv4Addr,
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

/// Sends `request` to the gateway until an answer `decode` accepts, a refusal, or the tries run
/// out.
async fn ask<T>(
    gateway: Ipv4Addr,
    request: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, NatPmpError>,
) -> Result<T, String> {
    let socket = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))
        .await
        .map_err(|e| format!("NAT-PMP: {e}"))?;
    socket
        .connect((gateway, NATPMP_PORT))
        .await
        .map_err(|e| format!("NAT-PMP: {e}"))?;
    let mut wait = FIRST_WAIT;
    let mut buf = [0u8; MAX_ANSWER_LEN];
    for _ in 0..TRIES {
        // A gateway without NAT-PMP may answer with ICMP port unreachable: a failed send or
        // receive is the same "no" as silence.
        socket
            .send(request)
            .await
            .map_err(|e| format!("NAT-PMP: {e}"))?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(format!("NAT-PMP: gateway {gateway}: {e}")),
                Ok(Ok(n)) => match decode(&buf[..n]) {
                    Ok(v) => return Ok(v),
                    Err(e @ NatPmpError::Refused(_)) => {
                        return Err(format!("NAT-PMP: gateway {gateway}: {e}"))
                    }
                    // Not an answer to this request (a late one to an earlier): keep waiting.
                    Err(_) => continue,
                },
            }
        }
        wait *= 2;
    }
    Err(format!("NAT-PMP: gateway {gateway} does not answer"))
}

/// Maps `port` (TCP and UDP) for `lifetime_secs`, asking for the same external port.
pub(super) async fn map(
    gateway: Ipv4Addr,
    port: u16,
    lifetime_secs: u32,
) -> Result<Granted, String> {
    let external_ip = ask(
        gateway,
        &natpmp::encode_external_address_request(),
        natpmp::decode_external_address,
    )
    .await?;
    let mut granted = Granted {
        external_ip,
        external_port: port,
        lifetime_secs,
    };
    for transport in [Transport::Tcp, Transport::Udp] {
        let request = natpmp::encode_map_request(transport, port, port, lifetime_secs);
        let m = ask(gateway, &request, |b| {
            natpmp::decode_map(b, transport, port)
        })
        .await?;
        if transport == Transport::Tcp {
            granted.external_port = m.external;
        }
        granted.lifetime_secs = granted.lifetime_secs.min(m.lifetime_secs);
    }
    Ok(granted)
}

/// Removes both mappings of `port` (lifetime 0).
pub(super) async fn unmap(gateway: Ipv4Addr, port: u16) {
    for transport in [Transport::Tcp, Transport::Udp] {
        let request = natpmp::encode_map_request(transport, port, 0, 0);
        if let Err(e) = ask(gateway, &request, |b| {
            natpmp::decode_map(b, transport, port)
        })
        .await
        {
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

//! A PCP client (RFC 6887): MAP requests for our peer port, TCP and UDP, to the gateway's port
//! 5351. Each mapping has its own random nonce, kept for its renewals and its removal (the
//! gateway lets only the nonce that made a mapping change it). The answer names the external
//! address, so no second request is needed as in NAT-PMP.

use std::net::{IpAddr, SocketAddr};

use protocol::portmap::pcp::{self, MapRequest, Nonce, PcpError, MAX_MESSAGE_LEN};
use protocol::portmap::Transport;

use super::natpmp::Granted;
use super::udp::{self, Unanswered};

/// Why PCP did not map the port.
#[derive(Debug)]
pub(super) enum PcpFailure {
    /// The gateway answered as a NAT-PMP-only one: ask it over NAT-PMP.
    NatPmpOnly,
    /// Nothing answered on port 5351: neither PCP nor NAT-PMP is there.
    Silent(String),
    /// It answered and refused, or the socket failed.
    Other(String),
}

impl PcpFailure {
    pub(super) fn text(&self) -> String {
        match self {
            PcpFailure::NatPmpOnly => "PCP: the gateway speaks NAT-PMP only".to_string(),
            PcpFailure::Silent(s) | PcpFailure::Other(s) => s.clone(),
        }
    }
}

/// A PCP server and the mappings we asked it for.
#[derive(Debug, Clone)]
pub(super) struct Client {
    server: SocketAddr,
    /// Our address as the gateway sees it (it checks the request's client field against it).
    local_ip: IpAddr,
    nonces: [(Transport, Nonce); 2],
}

impl Client {
    pub(super) fn new(server: SocketAddr) -> Client {
        Client {
            server,
            local_ip: server.ip(),
            nonces: [
                (Transport::Tcp, rand::random()),
                (Transport::Udp, rand::random()),
            ],
        }
    }

    /// Maps (or renews) `port` for TCP and UDP for `lifetime_secs`; 0 removes both.
    pub(super) async fn map(
        &mut self,
        port: u16,
        lifetime_secs: u32,
    ) -> Result<Granted, PcpFailure> {
        let socket = udp::connect(self.server)
            .await
            .map_err(|e| PcpFailure::Other(format!("PCP: {e}")))?;
        self.local_ip = socket
            .local_addr()
            .map_err(|e| PcpFailure::Other(format!("PCP: {e}")))?
            .ip();
        let mut granted = Granted {
            external_ip: self.local_ip,
            external_port: port,
            lifetime_secs,
        };
        for (transport, nonce) in self.nonces {
            let request = MapRequest {
                nonce,
                transport,
                client: self.local_ip,
                internal: port,
                external: port,
                lifetime_secs,
            };
            let is_final = |e: &PcpError| matches!(e, PcpError::Refused(_) | PcpError::NatPmpOnly);
            let decode = |b: &[u8]| pcp::decode_map_answer(b, &request);
            let m = udp::ask(
                &socket,
                &pcp::encode_map_request(&request),
                MAX_MESSAGE_LEN,
                decode,
                is_final,
            )
            .await
            .map_err(|e| {
                let gw = self.server.ip();
                match e {
                    Unanswered::Answer(PcpError::NatPmpOnly) => PcpFailure::NatPmpOnly,
                    Unanswered::Silent => {
                        PcpFailure::Silent(format!("PCP/NAT-PMP: gateway {gw} does not answer"))
                    }
                    Unanswered::Io(e) => PcpFailure::Other(format!("PCP: gateway {gw}: {e}")),
                    Unanswered::Answer(e) => {
                        PcpFailure::Other(format!("PCP: gateway {gw}: {} {e}", transport.name()))
                    }
                }
            })?;
            if transport == Transport::Tcp {
                granted.external_ip = m.external_ip;
                granted.external_port = m.external_port;
            }
            granted.lifetime_secs = granted.lifetime_secs.min(m.lifetime_secs);
        }
        Ok(granted)
    }

    /// Removes both mappings (lifetime 0, with their nonces).
    pub(super) async fn unmap(&mut self, port: u16) {
        if let Err(e) = self.map(port, 0).await {
            tracing::debug!("removing the PCP mappings: {}", e.text());
        }
    }
}

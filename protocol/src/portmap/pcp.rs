//! PCP (RFC 6887), the MAP opcode only: the request a client sends to its gateway's UDP port
//! 5351 (the port NAT-PMP uses too) to forward a port, and the gateway's answer. PCP is NAT-PMP's
//! successor and the way a router opens an IPv6 pinhole; addresses are 16 bytes, IPv4 ones as
//! IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
//!
//! ```text
//! request  header   [2, opcode 1, 0, 0, lifetime:u32, client ip:16]                      24 bytes
//!          MAP      [nonce:12, protocol, 0, 0, 0, internal:u16, external:u16, ext ip:16] 36 bytes
//! answer   header   [2, 128+1, 0, result, lifetime:u32, epoch:u32, 0:12]                 24 bytes
//!          MAP      as in the request, with the port and address the gateway assigned
//! ```
//! A request with lifetime 0 removes the mapping; the gateway only lets the nonce that made a
//! mapping change or remove it. A NAT-PMP-only gateway answers a PCP request with a NAT-PMP
//! answer of version 0 and result 1 (unsupported version): that is [`PcpError::NatPmpOnly`],
//! the client's cue to fall back to NAT-PMP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Transport;

/// A request is this long (we send no options).
pub const REQUEST_LEN: usize = 60;
/// The longest PCP message (RFC 6887 section 7): longer answers are dropped unread.
pub const MAX_MESSAGE_LEN: usize = 1100;
const VERSION: u8 = 2;
const OPCODE_MAP: u8 = 1;
const RESPONSE_BIT: u8 = 0x80;
/// RFC 6887's result UNSUPP_VERSION, the same number in NAT-PMP.
const UNSUPP_VERSION: u8 = 1;

/// The 96-bit nonce that ties a mapping to the client that made it.
pub type Nonce = [u8; 12];

fn protocol_number(transport: Transport) -> u8 {
    match transport {
        Transport::Tcp => 6,
        Transport::Udp => 17,
    }
}

/// `ip` as the 16 bytes PCP carries.
fn to_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The 16 bytes back as an address: IPv4-mapped ones as IPv4.
fn from_bytes(bytes: &[u8]) -> IpAddr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&bytes[..16]);
    let v6 = Ipv6Addr::from(octets);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// What we ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRequest {
    pub nonce: Nonce,
    pub transport: Transport,
    /// Our address as the gateway sees the request come from (PCP checks it).
    pub client: IpAddr,
    pub internal: u16,
    /// A wish; the gateway may assign another.
    pub external: u16,
    /// 0 removes the mapping.
    pub lifetime_secs: u32,
}

/// Encodes a MAP request. The suggested external address is "any" of the client's family: the
/// all-zeros IPv4 address for an IPv4 client, `::` for an IPv6 one.
pub fn encode_map_request(r: &MapRequest) -> [u8; REQUEST_LEN] {
    let mut out = [0u8; REQUEST_LEN];
    out[0] = VERSION;
    out[1] = OPCODE_MAP;
    out[4..8].copy_from_slice(&r.lifetime_secs.to_be_bytes());
    out[8..24].copy_from_slice(&to_bytes(r.client));
    out[24..36].copy_from_slice(&r.nonce);
    out[36] = protocol_number(r.transport);
    out[40..42].copy_from_slice(&r.internal.to_be_bytes());
    out[42..44].copy_from_slice(&r.external.to_be_bytes());
    let any = match r.client {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    out[44..60].copy_from_slice(&to_bytes(any));
    out
}

/// A granted mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub external_ip: IpAddr,
    pub external_port: u16,
    pub lifetime_secs: u32,
}

/// Why an answer is not the one we wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcpError {
    #[error("answer of {0} bytes is not a PCP MAP answer")]
    Length(usize),
    #[error("the gateway speaks NAT-PMP, not PCP")]
    NatPmpOnly,
    #[error("answer of version {0}, not PCP's 2")]
    Version(u8),
    #[error("not a MAP answer (opcode byte {0})")]
    Opcode(u8),
    #[error("answer to another request (nonce, protocol or port differ)")]
    NotOurs,
    /// The gateway refused; RFC 6887 section 7.4's result code.
    #[error("the gateway refused: {}", result_text(*.0))]
    Refused(u8),
}

/// RFC 6887's result codes, for the status line.
pub fn result_text(code: u8) -> &'static str {
    match code {
        1 => "unsupported version",
        2 => "not authorized (port mapping is off on the gateway, or not for us)",
        3 => "malformed request",
        4 => "unsupported opcode",
        5 => "unsupported option",
        6 => "malformed option",
        7 => "network failure (the gateway has no external address)",
        8 => "out of resources",
        9 => "unsupported protocol",
        10 => "our quota of mappings is used up",
        11 => "cannot provide that external port or address",
        12 => "address mismatch (a NAT between us and the gateway)",
        13 => "too many remote peers",
        _ => "unknown result code",
    }
}

/// The mapping from an answer to `request`. Anything that is not the answer to exactly that
/// request (another nonce, protocol or port) is `NotOurs`, so a late answer to an earlier
/// request or a stranger's datagram is never taken for ours.
pub fn decode_map_answer(bytes: &[u8], request: &MapRequest) -> Result<Mapping, PcpError> {
    // A NAT-PMP gateway's "unsupported version" is 8 bytes or more, version 0, result 1.
    if bytes.len() >= 4 && bytes[0] == 0 {
        let result = u16::from_be_bytes([bytes[2], bytes[3]]);
        return Err(if result == u16::from(UNSUPP_VERSION) {
            PcpError::NatPmpOnly
        } else {
            PcpError::Version(0)
        });
    }
    if bytes.len() < 4 {
        return Err(PcpError::Length(bytes.len()));
    }
    if bytes[0] != VERSION {
        return Err(PcpError::Version(bytes[0]));
    }
    if bytes[1] != RESPONSE_BIT | OPCODE_MAP {
        return Err(PcpError::Opcode(bytes[1]));
    }
    // An error answer carries the result in the header; a gateway may cut the rest short.
    if bytes[3] != 0 && bytes.len() < REQUEST_LEN {
        return Err(PcpError::Refused(bytes[3]));
    }
    if bytes.len() < REQUEST_LEN || bytes.len() > MAX_MESSAGE_LEN || !bytes.len().is_multiple_of(4)
    {
        return Err(PcpError::Length(bytes.len()));
    }
    let ours = bytes[24..36] == request.nonce
        && bytes[36] == protocol_number(request.transport)
        && u16::from_be_bytes([bytes[40], bytes[41]]) == request.internal;
    if !ours {
        return Err(PcpError::NotOurs);
    }
    if bytes[3] != 0 {
        return Err(PcpError::Refused(bytes[3]));
    }
    Ok(Mapping {
        external_ip: from_bytes(&bytes[44..60]),
        external_port: u16::from_be_bytes([bytes[42], bytes[43]]),
        lifetime_secs: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(client: IpAddr) -> MapRequest {
        MapRequest {
            nonce: [7; 12],
            transport: Transport::Tcp,
            client,
            internal: 6881,
            external: 6881,
            lifetime_secs: 7200,
        }
    }

    /// What a gateway answers to `r`: its request with the response bit, a result, an epoch,
    /// and the assigned port and address.
    fn answer(r: &MapRequest, result: u8, port: u16, ip: IpAddr, lifetime: u32) -> Vec<u8> {
        let mut a = encode_map_request(r).to_vec();
        a[1] |= RESPONSE_BIT;
        a[3] = result;
        a[4..8].copy_from_slice(&lifetime.to_be_bytes());
        a[8..12].copy_from_slice(&99u32.to_be_bytes());
        a[12..24].fill(0);
        a[42..44].copy_from_slice(&port.to_be_bytes());
        a[44..60].copy_from_slice(&to_bytes(ip));
        a
    }

    #[test]
    fn request_layout() {
        let r = request(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)));
        let b = encode_map_request(&r);
        assert_eq!(&b[..8], &[2, 1, 0, 0, 0, 0, 0x1c, 0x20]);
        assert_eq!(
            &b[8..24],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, 2]
        );
        assert_eq!(&b[24..36], &[7; 12]);
        assert_eq!(&b[36..40], &[6, 0, 0, 0]);
        assert_eq!(&b[40..44], &[0x1a, 0xe1, 0x1a, 0xe1]);
        // "Any IPv4 address": ::ffff:0.0.0.0.
        assert_eq!(
            &b[44..60],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]
        );
        let udp6 = MapRequest {
            transport: Transport::Udp,
            ..request("2001:db8::2".parse().unwrap())
        };
        let b = encode_map_request(&udp6);
        assert_eq!(b[36], 17);
        assert_eq!(b[8], 0x20);
        assert_eq!(&b[44..60], &[0; 16]);
    }

    #[test]
    fn decodes_a_grant() {
        let r = request(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)));
        let ext = IpAddr::V4(Ipv4Addr::new(44, 1, 2, 3));
        let m = decode_map_answer(&answer(&r, 0, 6882, ext, 3600), &r).unwrap();
        assert_eq!(
            (m.external_ip, m.external_port, m.lifetime_secs),
            (ext, 6882, 3600)
        );
        let r6 = request("2001:db8::2".parse().unwrap());
        let ext6: IpAddr = "2001:db8::2".parse().unwrap();
        let m = decode_map_answer(&answer(&r6, 0, 6881, ext6, 60), &r6).unwrap();
        assert_eq!(m.external_ip, ext6);
    }

    #[test]
    fn refuses_what_is_not_our_answer() {
        let r = request(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)));
        let ext = IpAddr::V4(Ipv4Addr::new(44, 1, 2, 3));
        let good = answer(&r, 0, 6881, ext, 3600);
        // Another nonce, protocol or internal port: not ours.
        for (i, v) in [(24, 8u8), (36, 17), (41, 0xe2)] {
            let mut a = good.clone();
            a[i] = v;
            assert_eq!(
                decode_map_answer(&a, &r),
                Err(PcpError::NotOurs),
                "byte {i}"
            );
        }
        // A refusal says why; even a short one.
        assert_eq!(
            decode_map_answer(&answer(&r, 2, 0, ext, 30), &r),
            Err(PcpError::Refused(2))
        );
        assert_eq!(
            decode_map_answer(&[2, 0x81, 0, 8, 0, 0, 0, 30], &r),
            Err(PcpError::Refused(8))
        );
        // A request echoed back is no answer; nor is a long or ragged one.
        assert_eq!(
            decode_map_answer(&encode_map_request(&r), &r),
            Err(PcpError::Opcode(1))
        );
        let mut long = good.clone();
        long.extend_from_slice(&[0; 1100]);
        assert_eq!(decode_map_answer(&long, &r), Err(PcpError::Length(1160)));
        assert_eq!(
            decode_map_answer(&good[..59], &r),
            Err(PcpError::Length(59))
        );
        let mut v3 = good;
        v3[0] = 3;
        assert_eq!(decode_map_answer(&v3, &r), Err(PcpError::Version(3)));
    }

    #[test]
    fn a_natpmp_gateway_says_unsupported_version() {
        let r = request(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)));
        // RFC 6886's answer to a request of another version: [0, 128+op, 0, 1, epoch].
        assert_eq!(
            decode_map_answer(&[0, 129, 0, 1, 0, 0, 0, 9], &r),
            Err(PcpError::NatPmpOnly)
        );
        assert_eq!(
            decode_map_answer(&[0, 128, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4], &r),
            Err(PcpError::Version(0))
        );
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let r = request(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)));
            let _ = decode_map_answer(&bytes, &r);
        }

        #[test]
        fn every_grant_round_trips(
            nonce in any::<[u8; 12]>(),
            udp in any::<bool>(),
            v6 in any::<bool>(),
            ip in any::<[u8; 16]>(),
            internal in 1u16..,
            port in any::<u16>(),
            lifetime in any::<u32>(),
        ) {
            let client = if v6 {
                IpAddr::V6(Ipv6Addr::from(ip))
            } else {
                IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]))
            };
            let r = MapRequest {
                nonce,
                transport: if udp { Transport::Udp } else { Transport::Tcp },
                client,
                internal,
                external: internal,
                lifetime_secs: lifetime,
            };
            let ext = IpAddr::V4(Ipv4Addr::new(ip[4], ip[5], ip[6], ip[7]));
            let m = decode_map_answer(&answer(&r, 0, port, ext, lifetime), &r).unwrap();
            prop_assert_eq!(m, Mapping { external_ip: ext, external_port: port, lifetime_secs: lifetime });
        }
    }
}

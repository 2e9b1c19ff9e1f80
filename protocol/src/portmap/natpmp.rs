//! NAT-PMP (RFC 6886): the two requests a client sends to its gateway's UDP port 5351, and the
//! gateway's answers. A request is a handful of bytes; so is every answer, and anything longer,
//! shorter, of another version or not a reply to what we asked is an error value.
//!
//! ```text
//! external address   request  [0, 0]
//!                    answer   [0, 128, result:u16, epoch:u32, ip:4]
//! map a port         request  [0, op, 0, 0, internal:u16, external:u16, lifetime:u32]   op 1 UDP, 2 TCP
//!                    answer   [0, 128+op, result:u16, epoch:u32, internal:u16, external:u16, lifetime:u32]
//! ```
//! A mapping with lifetime 0 (and external port 0) removes it.

use std::net::Ipv4Addr;

/// The gateway's NAT-PMP (and PCP) port.
pub const NATPMP_PORT: u16 = 5351;
/// The longest answer we read; a real one is 12 or 16 bytes.
pub const MAX_ANSWER_LEN: usize = 64;

/// Which transport a mapping is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn opcode(self) -> u8 {
        match self {
            Transport::Udp => 1,
            Transport::Tcp => 2,
        }
    }

    /// "TCP"/"UDP", as UPnP spells them.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// Asks for the gateway's external address.
pub fn encode_external_address_request() -> [u8; 2] {
    [0, 0]
}

/// Asks for `external` (a wish; the gateway may grant another) to be forwarded to our
/// `internal` port for `lifetime_secs`; 0 removes the mapping.
pub fn encode_map_request(
    transport: Transport,
    internal: u16,
    external: u16,
    lifetime_secs: u32,
) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[1] = transport.opcode();
    out[4..6].copy_from_slice(&internal.to_be_bytes());
    out[6..8].copy_from_slice(&external.to_be_bytes());
    out[8..12].copy_from_slice(&lifetime_secs.to_be_bytes());
    out
}

/// A granted mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub internal: u16,
    pub external: u16,
    pub lifetime_secs: u32,
}

/// Why an answer is not the one we wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatPmpError {
    #[error("answer of {0} bytes has the wrong length")]
    Length(usize),
    #[error("answer of version {0}, not NAT-PMP's 0")]
    Version(u8),
    #[error("answer to opcode {got}, we asked {wanted}")]
    Opcode { got: u8, wanted: u8 },
    #[error("the gateway refused: {}", result_text(*.0))]
    Refused(u16),
    #[error("answer for internal port {0}, not ours")]
    OtherPort(u16),
}

fn result_text(code: u16) -> &'static str {
    match code {
        1 => "unsupported version",
        2 => "not authorized (port mapping is off on the gateway)",
        3 => "network failure (the gateway has no external address)",
        4 => "out of resources",
        5 => "unsupported opcode",
        _ => "unknown result code",
    }
}

/// Checks the common header of an answer to `opcode` and returns its body after the epoch.
fn answer_body(bytes: &[u8], opcode: u8, len: usize) -> Result<&[u8], NatPmpError> {
    if bytes.len() != len {
        return Err(NatPmpError::Length(bytes.len()));
    }
    if bytes[0] != 0 {
        return Err(NatPmpError::Version(bytes[0]));
    }
    if bytes[1] != 128 + opcode {
        return Err(NatPmpError::Opcode {
            got: bytes[1],
            wanted: 128 + opcode,
        });
    }
    let result = u16::from_be_bytes([bytes[2], bytes[3]]);
    if result != 0 {
        return Err(NatPmpError::Refused(result));
    }
    Ok(&bytes[8..])
}

/// The external address from an answer to `encode_external_address_request`.
pub fn decode_external_address(bytes: &[u8]) -> Result<Ipv4Addr, NatPmpError> {
    // An error answer may be shorter than a full one: check the result code first.
    if bytes.len() >= 4 && bytes.len() < 12 && bytes[0] == 0 && bytes[1] == 128 {
        let result = u16::from_be_bytes([bytes[2], bytes[3]]);
        if result != 0 {
            return Err(NatPmpError::Refused(result));
        }
    }
    let body = answer_body(bytes, 0, 12)?;
    Ok(Ipv4Addr::new(body[0], body[1], body[2], body[3]))
}

/// The mapping from an answer to `encode_map_request` for `transport` and our `internal` port.
pub fn decode_map(
    bytes: &[u8],
    transport: Transport,
    internal: u16,
) -> Result<Mapping, NatPmpError> {
    let body = answer_body(bytes, transport.opcode(), 16)?;
    let got_internal = u16::from_be_bytes([body[0], body[1]]);
    if got_internal != internal {
        return Err(NatPmpError::OtherPort(got_internal));
    }
    Ok(Mapping {
        internal,
        external: u16::from_be_bytes([body[2], body[3]]),
        lifetime_secs: u32::from_be_bytes([body[4], body[5], body[6], body[7]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn answer(op: u8, result: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 128 + op];
        v.extend_from_slice(&result.to_be_bytes());
        v.extend_from_slice(&77u32.to_be_bytes());
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn map_request_layout() {
        let r = encode_map_request(Transport::Tcp, 6881, 6882, 7200);
        assert_eq!(r, [0, 2, 0, 0, 0x1a, 0xe1, 0x1a, 0xe2, 0, 0, 0x1c, 0x20]);
        assert_eq!(encode_map_request(Transport::Udp, 1, 0, 0)[1], 1);
    }

    #[test]
    fn decodes_answers() {
        let a = answer(0, 0, &[44, 1, 2, 3]);
        assert_eq!(decode_external_address(&a), Ok(Ipv4Addr::new(44, 1, 2, 3)));
        let mut rest = vec![0x1a, 0xe1, 0x1a, 0xe2];
        rest.extend_from_slice(&3600u32.to_be_bytes());
        let m = decode_map(&answer(2, 0, &rest), Transport::Tcp, 6881).unwrap();
        assert_eq!((m.external, m.lifetime_secs), (6882, 3600));
    }

    #[test]
    fn refuses_wrong_answers() {
        let mut rest = vec![0x1a, 0xe1, 0x1a, 0xe2];
        rest.extend_from_slice(&3600u32.to_be_bytes());
        // A UDP answer is not a TCP one, another port is not ours, a refusal says why.
        assert!(matches!(
            decode_map(&answer(1, 0, &rest), Transport::Tcp, 6881),
            Err(NatPmpError::Opcode { .. })
        ));
        assert_eq!(
            decode_map(&answer(2, 0, &rest), Transport::Tcp, 1),
            Err(NatPmpError::OtherPort(6881))
        );
        assert_eq!(
            decode_map(&answer(2, 2, &rest), Transport::Tcp, 6881),
            Err(NatPmpError::Refused(2))
        );
        assert_eq!(
            decode_external_address(&answer(0, 3, &[])),
            Err(NatPmpError::Refused(3))
        );
        assert_eq!(decode_external_address(&[0]), Err(NatPmpError::Length(1)));
        let mut pcp = answer(0, 0, &[1, 2, 3, 4]);
        pcp[0] = 2;
        assert_eq!(decode_external_address(&pcp), Err(NatPmpError::Version(2)));
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_external_address(&bytes);
            let _ = decode_map(&bytes, Transport::Udp, 6881);
        }
    }
}

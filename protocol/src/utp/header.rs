//! BEP 29's packet header (version 1) and its extension chain, of which only selective ACK
//! (extension 1) means anything to us; other extensions are skipped by their length, as the
//! BEP asks, so a newer peer's additions do not break the connection.
//!
//! ```text
//! 0       4       8               16              24              32
//! +-------+-------+---------------+---------------+---------------+
//! | type  | ver   | extension     | connection_id                 |
//! +-------+-------+---------------+---------------+---------------+
//! | timestamp_microseconds                                        |
//! | timestamp_difference_microseconds                             |
//! | wnd_size                                                      |
//! | seq_nr                        | ack_nr                        |
//! +---------------+---------------+---------------+---------------+
//! ```

use thiserror::Error;

/// The fixed header's length.
pub const HEADER_LEN: usize = 20;
/// The largest selective-ACK bitmask we send or take, in bytes (covers 512 packets past the
/// cumulative ack; libutp sends 4, libtorrent up to the reorder buffer it keeps).
pub const MAX_SACK_BYTES: usize = 64;
/// At most this many extensions are walked: a chain of empty extensions is no reason to spin.
const MAX_EXTENSIONS: usize = 16;

/// The packet types of BEP 29.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// Carries payload.
    Data = 0,
    /// The sender's last packet: its sequence number ends the stream.
    Fin = 1,
    /// An acknowledgement without payload; it takes no sequence number.
    State = 2,
    /// Abort: the connection is gone.
    Reset = 3,
    /// Opens a connection.
    Syn = 4,
}

impl PacketType {
    fn from_nibble(n: u8) -> Option<PacketType> {
        Some(match n {
            0 => PacketType::Data,
            1 => PacketType::Fin,
            2 => PacketType::State,
            3 => PacketType::Reset,
            4 => PacketType::Syn,
            _ => return None,
        })
    }
}

/// One packet's header, extensions included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub ty: PacketType,
    pub conn_id: u16,
    /// The sender's clock when it sent this, in microseconds (any epoch: only differences count).
    pub timestamp_us: u32,
    /// The sender's clock at receipt of our last packet minus that packet's timestamp: the
    /// one-way delay from us to it plus the clocks' offset, which LEDBAT reads.
    pub timestamp_diff_us: u32,
    /// Bytes the sender can still take into its receive buffer.
    pub wnd_size: u32,
    pub seq_nr: u16,
    pub ack_nr: u16,
    /// Selective ACK: bit `i` (byte `i / 8`, bit `i % 8` from the least significant) says that
    /// packet `ack_nr + 2 + i` arrived. We send a multiple of 4 bytes, at most
    /// [`MAX_SACK_BYTES`]; we take 1 to [`MAX_SACK_BYTES`] (more is cut).
    pub sack: Option<Vec<u8>>,
}

/// Why a datagram is not a uTP packet we take.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("{0} bytes is shorter than a uTP header")]
    Short(usize),
    #[error("uTP version {0} (only 1 is spoken)")]
    Version(u8),
    #[error("unknown uTP packet type {0}")]
    Type(u8),
    #[error("extension at offset {0} runs past the packet")]
    Extension(usize),
    #[error("an empty selective ACK")]
    SackLength(usize),
    #[error("more than 16 extensions")]
    TooManyExtensions,
}

impl Header {
    /// Decodes a packet's header; returns it and the offset where the payload starts.
    pub fn decode(buf: &[u8]) -> Result<(Header, usize), HeaderError> {
        if buf.len() < HEADER_LEN {
            return Err(HeaderError::Short(buf.len()));
        }
        let version = buf[0] & 0x0f;
        if version != 1 {
            return Err(HeaderError::Version(version));
        }
        let ty = PacketType::from_nibble(buf[0] >> 4).ok_or(HeaderError::Type(buf[0] >> 4))?;
        let u16_at = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let mut header = Header {
            ty,
            conn_id: u16_at(2),
            timestamp_us: u32_at(4),
            timestamp_diff_us: u32_at(8),
            wnd_size: u32_at(12),
            seq_nr: u16_at(16),
            ack_nr: u16_at(18),
            sack: None,
        };
        let mut next = buf[1];
        let mut at = HEADER_LEN;
        let mut walked = 0;
        while next != 0 {
            walked += 1;
            if walked > MAX_EXTENSIONS {
                return Err(HeaderError::TooManyExtensions);
            }
            let (Some(&following), Some(&len)) = (buf.get(at), buf.get(at + 1)) else {
                return Err(HeaderError::Extension(at));
            };
            let len = usize::from(len);
            let data = buf
                .get(at + 2..at + 2 + len)
                .ok_or(HeaderError::Extension(at))?;
            if next == 1 {
                // BEP 29 says a multiple of 4 bytes, but libtorrent sends as many bytes as its
                // reorder buffer spans (1 to 32): any non-empty length is taken, and past
                // MAX_SACK_BYTES the bits are not needed (we never have more in flight).
                if len == 0 {
                    return Err(HeaderError::SackLength(len));
                }
                header.sack = Some(data[..len.min(MAX_SACK_BYTES)].to_vec());
            }
            next = following;
            at += 2 + len;
        }
        Ok((header, at))
    }

    /// Appends the header (and its selective ACK, if any) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let sack = self
            .sack
            .as_deref()
            .filter(|s| !s.is_empty() && s.len() % 4 == 0 && s.len() <= MAX_SACK_BYTES);
        out.push(((self.ty as u8) << 4) | 1);
        out.push(u8::from(sack.is_some()));
        out.extend_from_slice(&self.conn_id.to_be_bytes());
        out.extend_from_slice(&self.timestamp_us.to_be_bytes());
        out.extend_from_slice(&self.timestamp_diff_us.to_be_bytes());
        out.extend_from_slice(&self.wnd_size.to_be_bytes());
        out.extend_from_slice(&self.seq_nr.to_be_bytes());
        out.extend_from_slice(&self.ack_nr.to_be_bytes());
        if let Some(sack) = sack {
            out.push(0);
            // Bounded by MAX_SACK_BYTES above, so it fits.
            out.push(sack.len() as u8);
            out.extend_from_slice(sack);
        }
    }

    /// Whether the selective ACK says packet `seq` arrived.
    pub fn sacked(&self, seq: u16) -> bool {
        let Some(sack) = &self.sack else { return false };
        let i = usize::from(seq.wrapping_sub(self.ack_nr.wrapping_add(2)));
        sack.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
    }
}

/// The connection id a datagram is addressed to and whether it opens a connection, read
/// without decoding the rest (the demultiplexer's question). `None`: not a uTP packet.
pub fn peek_conn_id(buf: &[u8]) -> Option<(u16, PacketType)> {
    if buf.len() < HEADER_LEN || buf[0] & 0x0f != 1 {
        return None;
    }
    let ty = PacketType::from_nibble(buf[0] >> 4)?;
    Some((u16::from_be_bytes([buf[2], buf[3]]), ty))
}

/// `a` comes before `b` in the wrapping 16-bit sequence space.
pub fn seq_before(a: u16, b: u16) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;

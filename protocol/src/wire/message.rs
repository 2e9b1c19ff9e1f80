//! Length-prefixed peer wire messages: BEP 3, the BEP 6 fast extension and the BEP 10 envelope.
//!
//! Decoding borrows from the caller's buffer: a `Piece`'s block, a `Bitfield` and an `Extended`
//! payload are slices of the bytes the socket filled, so a 16 KiB block is copied once, by the
//! caller, straight to where it belongs.

use super::WireError;

/// Largest frame (length prefix value) accepted by default: 1 MiB. A block message is
/// 16 KiB + 9 bytes; the rest is room for the bitfield of a torrent with up to 8 million pieces.
/// Once a torrent's piece count is known, a caller may pass a tighter bound to [`decode`].
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// The 4-byte big-endian length prefix of every message after the handshake.
pub const LENGTH_PREFIX: usize = 4;

/// Message ids as they appear on the wire.
pub mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST_PIECE: u8 = 0x0D;
    pub const HAVE_ALL: u8 = 0x0E;
    pub const HAVE_NONE: u8 = 0x0F;
    pub const REJECT_REQUEST: u8 = 0x10;
    pub const ALLOWED_FAST: u8 = 0x11;
    pub const EXTENDED: u8 = 20;
}

/// A block of a piece as `request`, `cancel` and `reject` name it. Bounds against the torrent
/// (piece count, piece length, 16 KiB block size) are the engine's to check: the wire only
/// carries three integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRef {
    pub piece: u32,
    pub begin: u32,
    pub length: u32,
}

/// One peer wire message. Borrowed payloads point into the buffer given to [`decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    /// Raw bitfield bytes, high bit first; its length against the piece count is the caller's check.
    Bitfield(&'a [u8]),
    Request(BlockRef),
    Piece {
        index: u32,
        begin: u32,
        data: &'a [u8],
    },
    Cancel(BlockRef),
    /// BEP 5: the peer's DHT port.
    Port(u16),
    // BEP 6 fast extension.
    HaveAll,
    HaveNone,
    SuggestPiece(u32),
    RejectRequest(BlockRef),
    AllowedFast(u32),
    /// BEP 10: `id` 0 is the extended handshake, others are the ids agreed in it.
    Extended {
        id: u8,
        payload: &'a [u8],
    },
}

impl Message<'_> {
    /// The id byte on the wire (`None` for keep-alive, which has no id).
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have(_) => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece { .. } => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::SuggestPiece(_) => id::SUGGEST_PIECE,
            Message::RejectRequest(_) => id::REJECT_REQUEST,
            Message::AllowedFast(_) => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
        })
    }

    /// Size of the whole frame on the wire, length prefix included.
    pub fn encoded_len(&self) -> usize {
        let payload = match self {
            Message::KeepAlive => return LENGTH_PREFIX,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 0,
            Message::Have(_) | Message::SuggestPiece(_) | Message::AllowedFast(_) => 4,
            Message::Bitfield(bits) => bits.len(),
            Message::Request(_) | Message::Cancel(_) | Message::RejectRequest(_) => 12,
            Message::Piece { data, .. } => 8 + data.len(),
            Message::Port(_) => 2,
            Message::Extended { payload, .. } => 1 + payload.len(),
        };
        LENGTH_PREFIX + 1 + payload
    }

    /// Appends the whole frame (length prefix, id, payload) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        let len = (self.encoded_len() - LENGTH_PREFIX) as u32;
        out.extend_from_slice(&len.to_be_bytes());
        let Some(id) = self.id() else { return };
        out.push(id);
        match *self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
            Message::Have(i) | Message::SuggestPiece(i) | Message::AllowedFast(i) => {
                out.extend_from_slice(&i.to_be_bytes())
            }
            Message::Bitfield(bits) => out.extend_from_slice(bits),
            Message::Request(b) | Message::Cancel(b) | Message::RejectRequest(b) => {
                out.extend_from_slice(&b.piece.to_be_bytes());
                out.extend_from_slice(&b.begin.to_be_bytes());
                out.extend_from_slice(&b.length.to_be_bytes());
            }
            Message::Piece { index, begin, data } => {
                out.extend_from_slice(&index.to_be_bytes());
                out.extend_from_slice(&begin.to_be_bytes());
                out.extend_from_slice(data);
            }
            Message::Port(port) => out.extend_from_slice(&port.to_be_bytes()),
            Message::Extended { id, payload } => {
                out.push(id);
                out.extend_from_slice(payload);
            }
        }
    }
}

/// Appends only the 13-byte header of a `piece` message carrying `data_len` bytes, so a sender
/// can write the block from its own buffer (vectored write) without copying it into `out`.
pub fn encode_piece_header(index: u32, begin: u32, data_len: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(&(9 + data_len).to_be_bytes());
    out.push(id::PIECE);
    out.extend_from_slice(&index.to_be_bytes());
    out.extend_from_slice(&begin.to_be_bytes());
}

/// Decodes one message from the start of `buf`.
///
/// `Ok(None)`: the frame is not complete yet (read more and call again with the longer buffer).
/// `Ok(Some((message, consumed)))`: drop `consumed` bytes from the front of the buffer.
/// The length prefix is checked against `max_frame` before the rest of the frame is awaited, so a
/// peer announcing a 4 GiB frame is refused at its fourth byte and nothing is allocated for it.
pub fn decode(buf: &[u8], max_frame: usize) -> Result<Option<(Message<'_>, usize)>, WireError> {
    let Some(prefix) = buf.first_chunk::<LENGTH_PREFIX>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*prefix) as usize;
    if len > max_frame {
        return Err(WireError::FrameTooLarge {
            len: len as u64,
            max: max_frame,
        });
    }
    let Some(frame) = buf.get(LENGTH_PREFIX..LENGTH_PREFIX + len) else {
        return Ok(None);
    };
    let message = decode_frame(frame)?;
    Ok(Some((message, LENGTH_PREFIX + len)))
}

/// Decodes one frame's body (id + payload, the length prefix already removed).
pub fn decode_frame(frame: &[u8]) -> Result<Message<'_>, WireError> {
    let Some((&id, payload)) = frame.split_first() else {
        return Ok(Message::KeepAlive);
    };
    let exact = |want: usize| {
        if payload.len() == want {
            Ok(())
        } else {
            Err(WireError::BadLength {
                id,
                len: payload.len(),
                expected: want,
            })
        }
    };
    let message = match id {
        id::CHOKE => exact(0).map(|_| Message::Choke)?,
        id::UNCHOKE => exact(0).map(|_| Message::Unchoke)?,
        id::INTERESTED => exact(0).map(|_| Message::Interested)?,
        id::NOT_INTERESTED => exact(0).map(|_| Message::NotInterested)?,
        id::HAVE_ALL => exact(0).map(|_| Message::HaveAll)?,
        id::HAVE_NONE => exact(0).map(|_| Message::HaveNone)?,
        id::HAVE => exact(4).map(|_| Message::Have(be_u32(payload, 0)))?,
        id::SUGGEST_PIECE => exact(4).map(|_| Message::SuggestPiece(be_u32(payload, 0)))?,
        id::ALLOWED_FAST => exact(4).map(|_| Message::AllowedFast(be_u32(payload, 0)))?,
        id::BITFIELD => Message::Bitfield(payload),
        id::REQUEST => exact(12).map(|_| Message::Request(block_ref(payload)))?,
        id::CANCEL => exact(12).map(|_| Message::Cancel(block_ref(payload)))?,
        id::REJECT_REQUEST => exact(12).map(|_| Message::RejectRequest(block_ref(payload)))?,
        id::PIECE => {
            if payload.len() < 8 {
                return Err(WireError::BadLength {
                    id,
                    len: payload.len(),
                    expected: 8,
                });
            }
            Message::Piece {
                index: be_u32(payload, 0),
                begin: be_u32(payload, 4),
                data: &payload[8..],
            }
        }
        id::PORT => {
            exact(2).map(|_| Message::Port(u16::from_be_bytes([payload[0], payload[1]])))?
        }
        id::EXTENDED => match payload.split_first() {
            Some((&ext, rest)) => Message::Extended {
                id: ext,
                payload: rest,
            },
            None => {
                return Err(WireError::BadLength {
                    id,
                    len: 0,
                    expected: 1,
                })
            }
        },
        _ => {
            return Err(WireError::UnknownId {
                id,
                len: payload.len(),
            })
        }
    };
    Ok(message)
}

/// Reads a big-endian u32 at `at`; callers have checked the payload length first.
fn be_u32(payload: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(src) = payload.get(at..at + 4) {
        b.copy_from_slice(src);
    }
    u32::from_be_bytes(b)
}

fn block_ref(payload: &[u8]) -> BlockRef {
    BlockRef {
        piece: be_u32(payload, 0),
        begin: be_u32(payload, 4),
        length: be_u32(payload, 8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block() -> impl Strategy<Value = BlockRef> {
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(piece, begin, length)| BlockRef {
            piece,
            begin,
            length,
        })
    }

    /// Owned inputs for every variant; the borrowed `Message` is built from them in the test.
    #[derive(Debug, Clone)]
    enum Shape {
        Unit(u8),
        Index(u8, u32),
        Bits(Vec<u8>),
        Block(u8, BlockRef),
        Piece(u32, u32, Vec<u8>),
        Port(u16),
        Extended(u8, Vec<u8>),
    }

    fn shape() -> impl Strategy<Value = Shape> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..300);
        prop_oneof![
            (0u8..7).prop_map(Shape::Unit),
            (0u8..3, any::<u32>()).prop_map(|(k, i)| Shape::Index(k, i)),
            bytes().prop_map(Shape::Bits),
            (0u8..3, block()).prop_map(|(k, b)| Shape::Block(k, b)),
            (any::<u32>(), any::<u32>(), bytes()).prop_map(|(i, b, d)| Shape::Piece(i, b, d)),
            any::<u16>().prop_map(Shape::Port),
            (any::<u8>(), bytes()).prop_map(|(i, p)| Shape::Extended(i, p)),
        ]
    }

    fn message(s: &Shape) -> Message<'_> {
        match s {
            Shape::Unit(k) => [
                Message::KeepAlive,
                Message::Choke,
                Message::Unchoke,
                Message::Interested,
                Message::NotInterested,
                Message::HaveAll,
                Message::HaveNone,
            ][usize::from(*k)],
            Shape::Index(0, i) => Message::Have(*i),
            Shape::Index(1, i) => Message::SuggestPiece(*i),
            Shape::Index(_, i) => Message::AllowedFast(*i),
            Shape::Bits(b) => Message::Bitfield(b),
            Shape::Block(0, b) => Message::Request(*b),
            Shape::Block(1, b) => Message::Cancel(*b),
            Shape::Block(_, b) => Message::RejectRequest(*b),
            Shape::Piece(index, begin, data) => Message::Piece {
                index: *index,
                begin: *begin,
                data,
            },
            Shape::Port(p) => Message::Port(*p),
            Shape::Extended(id, payload) => Message::Extended { id: *id, payload },
        }
    }

    /// Frames as a real client sends them (bytes written out by hand from BEP 3 / BEP 6).
    const CAPTURED: &[(&[u8], Message<'static>)] = &[
        (b"\0\0\0\0", Message::KeepAlive),
        (b"\0\0\0\x01\x01", Message::Unchoke),
        (b"\0\0\0\x05\x04\0\0\x01\x02", Message::Have(258)),
        (b"\0\0\0\x03\x05\xff\xe0", Message::Bitfield(b"\xff\xe0")),
        (
            b"\0\0\0\x0d\x06\0\0\0\x01\0\0\x40\0\0\0\x40\0",
            Message::Request(BlockRef {
                piece: 1,
                begin: 16384,
                length: 16384,
            }),
        ),
        (
            b"\0\0\0\x0c\x07\0\0\0\x02\0\0\0\x10abc",
            Message::Piece {
                index: 2,
                begin: 16,
                data: b"abc",
            },
        ),
        (b"\0\0\0\x03\x09\x1a\xe1", Message::Port(6881)),
        (b"\0\0\0\x01\x0e", Message::HaveAll),
        (b"\0\0\0\x05\x11\0\0\0\x07", Message::AllowedFast(7)),
        (
            b"\0\0\0\x04\x14\x00de",
            Message::Extended {
                id: 0,
                payload: b"de",
            },
        ),
    ];

    #[test]
    fn captured_frames_decode_at_every_split() {
        for (frame, want) in CAPTURED {
            for cut in 0..frame.len() {
                assert_eq!(
                    decode(&frame[..cut], DEFAULT_MAX_FRAME),
                    Ok(None),
                    "{want:?} cut {cut}"
                );
            }
            assert_eq!(
                decode(frame, DEFAULT_MAX_FRAME),
                Ok(Some((*want, frame.len())))
            );
            let mut again = Vec::new();
            want.encode(&mut again);
            assert_eq!(&again[..], *frame);
        }
    }

    #[test]
    fn an_oversized_prefix_is_refused_before_the_frame_arrives() {
        // Only the 4 prefix bytes exist: a decoder that waited or allocated would return Ok(None).
        let huge = u32::MAX.to_be_bytes();
        assert_eq!(
            decode(&huge, DEFAULT_MAX_FRAME),
            Err(WireError::FrameTooLarge {
                len: u64::from(u32::MAX),
                max: DEFAULT_MAX_FRAME
            })
        );
        let just_over = ((16 * 1024 + 9 + 1) as u32).to_be_bytes();
        assert!(decode(&just_over, 16 * 1024 + 9).is_err());
        let at_limit = ((16 * 1024 + 9) as u32).to_be_bytes();
        assert_eq!(decode(&at_limit, 16 * 1024 + 9), Ok(None));
    }

    #[test]
    fn errors_name_the_id_and_length() {
        assert_eq!(
            decode(b"\0\0\0\x03\x04\0\0", DEFAULT_MAX_FRAME),
            Err(WireError::BadLength {
                id: 4,
                len: 2,
                expected: 4
            })
        );
        assert_eq!(
            decode(b"\0\0\0\x02\x63\0", DEFAULT_MAX_FRAME),
            Err(WireError::UnknownId { id: 0x63, len: 1 })
        );
        assert!(decode(b"\0\0\0\x01\x14", DEFAULT_MAX_FRAME).is_err());
        assert!(decode(b"\0\0\0\x05\x07\0\0\0\0", DEFAULT_MAX_FRAME).is_err());
        let err = decode(b"\0\0\0\x02\x00\x00", DEFAULT_MAX_FRAME).unwrap_err();
        assert_eq!(
            err.to_string(),
            "message id 0 has a 1-byte payload, expected 0"
        );
    }

    #[test]
    fn piece_header_matches_a_full_piece_frame() {
        let data = [9u8; 100];
        let mut full = Vec::new();
        Message::Piece {
            index: 5,
            begin: 32768,
            data: &data,
        }
        .encode(&mut full);
        let mut header = Vec::new();
        encode_piece_header(5, 32768, 100, &mut header);
        assert_eq!(header.len(), 13);
        assert_eq!(&full[..13], &header[..]);
    }

    proptest! {
        #[test]
        fn every_message_round_trips(shapes in proptest::collection::vec(shape(), 1..8)) {
            let messages: Vec<Message<'_>> = shapes.iter().map(message).collect();
            let mut buf = Vec::new();
            for m in &messages {
                let before = buf.len();
                m.encode(&mut buf);
                prop_assert_eq!(buf.len() - before, m.encoded_len());
            }
            let mut at = 0;
            for m in &messages {
                let (got, used) = decode(&buf[at..], DEFAULT_MAX_FRAME).unwrap().unwrap();
                prop_assert_eq!(&got, m);
                at += used;
            }
            prop_assert_eq!(at, buf.len());
        }

        #[test]
        fn a_split_frame_is_partial_then_whole(s in shape(), cut_seed in any::<usize>()) {
            let m = message(&s);
            let mut buf = Vec::new();
            m.encode(&mut buf);
            let cut = cut_seed % buf.len();
            prop_assert_eq!(decode(&buf[..cut], DEFAULT_MAX_FRAME), Ok(None));
            prop_assert_eq!(decode(&buf, DEFAULT_MAX_FRAME), Ok(Some((m, buf.len()))));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..100) {
            let _ = decode(&bytes, max);
            let _ = decode_frame(&bytes);
        }
    }
}

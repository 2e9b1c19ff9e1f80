//! A peer's message as the core takes it: decoded, owning its payload. Blocks and extension
//! payloads are zero-copy `Bytes` slices of the connection's read buffer.

use bytes::{Bytes, BytesMut};

use crate::wire::{self, BlockRef, Message};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerMessage {
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    Bitfield(Bytes),
    HaveAll,
    HaveNone,
    Request(BlockRef),
    Cancel(BlockRef),
    Reject(BlockRef),
    AllowedFast(u32),
    Piece {
        index: u32,
        begin: u32,
        data: Bytes,
    },
    Extended {
        id: u8,
        payload: Bytes,
    },
    /// Keep-alive, port, suggest: nothing for the core to do beyond noting the peer is alive.
    /// (A BEP 5 `port` is read by the connection itself: it feeds the DHT.)
    Other,
}

impl PeerMessage {
    /// Decodes one frame from the front of `buf` and splits it off.
    pub fn decode(
        buf: &mut BytesMut,
        max_frame: usize,
    ) -> Result<Option<(PeerMessage, usize)>, wire::WireError> {
        let (shape, used) = match wire::decode(buf, max_frame)? {
            Some((msg, used)) => (Shape::of(&msg), used),
            None => return Ok(None),
        };
        let frame = buf.split_to(used).freeze();
        let msg = match shape {
            Shape::Plain(m) => m,
            // Payload offsets: 4-byte length, 1-byte id, then 8 bytes of index+begin for a
            // block, 1 byte of extended id for an extended message.
            Shape::Piece { index, begin } => PeerMessage::Piece {
                index,
                begin,
                data: frame.slice(13..),
            },
            Shape::Bitfield => PeerMessage::Bitfield(frame.slice(5..)),
            Shape::Extended { id } => PeerMessage::Extended {
                id,
                payload: frame.slice(6..),
            },
        };
        Ok(Some((msg, used)))
    }
}

enum Shape {
    Plain(PeerMessage),
    Piece { index: u32, begin: u32 },
    Bitfield,
    Extended { id: u8 },
}

impl Shape {
    fn of(msg: &Message<'_>) -> Shape {
        Shape::Plain(match *msg {
            Message::Choke => PeerMessage::Choke,
            Message::Unchoke => PeerMessage::Unchoke,
            Message::Interested => PeerMessage::Interested,
            Message::NotInterested => PeerMessage::NotInterested,
            Message::Have(i) => PeerMessage::Have(i),
            Message::Bitfield(_) => return Shape::Bitfield,
            Message::Request(b) => PeerMessage::Request(b),
            Message::Piece { index, begin, .. } => return Shape::Piece { index, begin },
            Message::Cancel(b) => PeerMessage::Cancel(b),
            Message::HaveAll => PeerMessage::HaveAll,
            Message::HaveNone => PeerMessage::HaveNone,
            Message::RejectRequest(b) => PeerMessage::Reject(b),
            Message::AllowedFast(i) => PeerMessage::AllowedFast(i),
            Message::Extended { id, .. } => return Shape::Extended { id },
            Message::KeepAlive | Message::Port(_) | Message::SuggestPiece(_) => PeerMessage::Other,
        })
    }
}

//! Blocks to the disk, and the disk's verdict on each piece: a verified piece is announced to
//! the peers that lack it, a failed one is wanted again and charged to its senders
//! (`strikes`).

use std::net::SocketAddr;

use bytes::Bytes;

use super::core::TorrentCore;
use super::outputs::{DiskOp, Transmit};
use crate::wire::Message;
use crate::{PieceIndex, ValidBlock};

impl TorrentCore {
    /// Queues a block for the disk, remembering who sent it.
    pub(super) fn store(&mut self, block: ValidBlock, from: SocketAddr, data: Bytes) {
        self.strikes.contributed(block.piece.get(), from);
        self.disk.push_back(DiskOp::Write { block, data });
    }

    /// The disk verified `piece`: its senders earn a pass, and every peer that lacks it hears
    /// `have`.
    pub fn handle_verified(&mut self, piece: PieceIndex) {
        self.picker.piece_verified(piece);
        self.strikes.passed(piece.get());
        let mut frame = Vec::new();
        Message::Have(piece.get()).encode(&mut frame);
        let lacking: Vec<_> = (self.peers.iter())
            .filter(|(_, p)| !p.has.get(piece.get()))
            .map(|(&k, _)| k)
            .collect();
        for key in lacking {
            self.send(key, Transmit::Frame(frame.clone()));
        }
        // Interest that this piece may have ended is re-evaluated at the next timeout: doing
        // it here would scan every peer's pieces once per verified piece.
    }

    /// `piece` failed its hash check: its blocks are wanted again, and its senders charged.
    pub fn handle_failed(&mut self, piece: PieceIndex) {
        self.picker.piece_failed(piece);
        for addr in self.strikes.failed(piece.get()) {
            self.ban_host(addr, "sent data that failed hash checks");
        }
        self.request_from_all();
    }
}

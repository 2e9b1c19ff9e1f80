//! What the disk reports about pieces and reads, passed to the core, plus what else a piece's
//! fate touches outside it: streaming readers, web seeds, resume data, completion.

use bytes::Bytes;
use protocol::{PieceIndex, ValidBlock};

use super::Torrent;
use crate::peer::PeerKey;

impl Torrent {
    pub(super) fn read_done(&mut self, key: PeerKey, block: ValidBlock, data: Bytes) {
        self.core.handle_read_done(key, block, data);
    }

    pub(super) fn piece_verified(&mut self, piece: PieceIndex) {
        self.core.handle_verified(piece);
        self.stream_piece_verified(piece.get());
        self.webseed_piece_checked(piece, true);
        self.resume_dirty = true;
        if self.core.picker().is_complete() {
            self.on_complete(true);
        }
    }

    pub(super) fn piece_failed(&mut self, piece: PieceIndex) {
        tracing::warn!("piece {} failed its hash check", piece.get());
        self.core.handle_failed(piece);
        self.webseed_piece_checked(piece, false);
    }
}

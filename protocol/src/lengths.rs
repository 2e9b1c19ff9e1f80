//! Piece and block arithmetic of one torrent, with indices that are valid by construction.
//!
//! A [`PieceIndex`] or [`ValidBlock`] only comes out of [`Lengths::validate_piece`] /
//! [`Lengths::validate_block`], so code holding one never re-checks bounds and never indexes
//! past the torrent with a number a peer sent.

use crate::wire::BlockRef;

/// The block size everyone requests (BEP 3 practice; larger requests are refused by peers).
pub const BLOCK_LEN: u32 = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LengthsError {
    #[error("piece length must be 1..=4 GiB, got {0}")]
    PieceLength(u64),
    #[error("{pieces} pieces of {piece_len} bytes cannot hold {total} bytes exactly")]
    Mismatch {
        total: u64,
        piece_len: u64,
        pieces: usize,
    },
}

/// A piece index checked against the torrent's piece count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PieceIndex(u32);

impl PieceIndex {
    pub fn get(self) -> u32 {
        self.0
    }

    /// For indices this crate validated earlier and stored as plain numbers (map keys).
    pub(crate) fn trusted(i: u32) -> Self {
        PieceIndex(i)
    }
}

/// A block checked to lie inside its piece, 1..=16 KiB long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValidBlock {
    pub piece: PieceIndex,
    pub begin: u32,
    pub length: u32,
}

impl ValidBlock {
    pub fn as_ref(&self) -> BlockRef {
        BlockRef {
            piece: self.piece.0,
            begin: self.begin,
            length: self.length,
        }
    }

    /// Index of this block inside its piece (blocks are aligned to 16 KiB).
    pub fn index_in_piece(&self) -> u32 {
        self.begin / BLOCK_LEN
    }
}

/// Total length, piece length and piece count of a torrent, consistent with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lengths {
    total: u64,
    piece_len: u32,
    piece_count: u32,
}

impl Lengths {
    pub fn new(total: u64, piece_len: u64, piece_count: usize) -> Result<Self, LengthsError> {
        let piece_len32 = u32::try_from(piece_len)
            .ok()
            .filter(|&l| l > 0)
            .ok_or(LengthsError::PieceLength(piece_len))?;
        let mismatch = LengthsError::Mismatch {
            total,
            piece_len,
            pieces: piece_count,
        };
        let count = u32::try_from(piece_count).map_err(|_| mismatch.clone())?;
        if total.div_ceil(piece_len) != u64::from(count) {
            return Err(mismatch);
        }
        Ok(Lengths {
            total,
            piece_len: piece_len32,
            piece_count: count,
        })
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn piece_count(&self) -> u32 {
        self.piece_count
    }

    /// The nominal piece length (every piece but possibly the last).
    pub fn default_piece_len(&self) -> u32 {
        self.piece_len
    }

    pub fn validate_piece(&self, index: u32) -> Option<PieceIndex> {
        (index < self.piece_count).then_some(PieceIndex(index))
    }

    pub fn pieces(&self) -> impl Iterator<Item = PieceIndex> {
        (0..self.piece_count).map(PieceIndex)
    }

    pub fn piece_offset(&self, piece: PieceIndex) -> u64 {
        u64::from(piece.0) * u64::from(self.piece_len)
    }

    pub fn piece_len(&self, piece: PieceIndex) -> u32 {
        let rest = self.total - self.piece_offset(piece);
        rest.min(u64::from(self.piece_len)) as u32
    }

    pub fn blocks_in_piece(&self, piece: PieceIndex) -> u32 {
        self.piece_len(piece).div_ceil(BLOCK_LEN)
    }

    /// Block `i` of `piece`; `None` past the piece's last block.
    pub fn block(&self, piece: PieceIndex, i: u32) -> Option<ValidBlock> {
        let len = self.piece_len(piece);
        let begin = i.checked_mul(BLOCK_LEN).filter(|&b| b < len)?;
        Some(ValidBlock {
            piece,
            begin,
            length: (len - begin).min(BLOCK_LEN),
        })
    }

    /// Accepts exactly the blocks we would request: 16 KiB aligned, full length except at the
    /// end of a piece. Anything else from a peer is refused.
    pub fn validate_block(&self, b: BlockRef) -> Option<ValidBlock> {
        let piece = self.validate_piece(b.piece)?;
        if !b.begin.is_multiple_of(BLOCK_LEN) {
            return None;
        }
        let block = self.block(piece, b.begin / BLOCK_LEN)?;
        (block.length == b.length).then_some(block)
    }

    /// Accepts any in-bounds range of 1..=16 KiB inside a piece: what peers may *request*.
    pub fn validate_request(&self, b: BlockRef) -> Option<ValidBlock> {
        let piece = self.validate_piece(b.piece)?;
        let end = b.begin.checked_add(b.length)?;
        if b.length == 0 || b.length > BLOCK_LEN || end > self.piece_len(piece) {
            return None;
        }
        Some(ValidBlock {
            piece,
            begin: b.begin,
            length: b.length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn last_piece_and_block_are_short() {
        let l = Lengths::new(100_000, 32768, 4).unwrap();
        let last = l.validate_piece(3).unwrap();
        assert_eq!(l.piece_len(last), 100_000 - 3 * 32768);
        assert_eq!(l.blocks_in_piece(last), 1);
        assert_eq!(l.block(last, 0).unwrap().length, 1696);
        assert!(l.validate_piece(4).is_none());
        assert!(Lengths::new(100_000, 32768, 5).is_err());
        assert!(Lengths::new(1, 0, 1).is_err());
    }

    #[test]
    fn blocks_from_peers_must_match_ours() {
        let l = Lengths::new(65536, 32768, 2).unwrap();
        let ok = BlockRef {
            piece: 1,
            begin: 16384,
            length: 16384,
        };
        assert!(l.validate_block(ok).is_some());
        assert!(l.validate_block(BlockRef { begin: 1, ..ok }).is_none());
        assert!(l.validate_block(BlockRef { length: 100, ..ok }).is_none());
        assert!(l.validate_block(BlockRef { piece: 2, ..ok }).is_none());
        assert!(l
            .validate_request(BlockRef { begin: 16385, ..ok })
            .is_none());
        assert!(l
            .validate_request(BlockRef {
                begin: u32::MAX,
                ..ok
            })
            .is_none());
        assert!(l
            .validate_request(BlockRef {
                begin: 1,
                length: 10,
                ..ok
            })
            .is_some());
    }

    proptest! {
        #[test]
        fn blocks_tile_every_piece(total in 1u64..1_000_000, plen in 1u64..100_000) {
            let count = total.div_ceil(plen) as usize;
            let l = Lengths::new(total, plen, count).unwrap();
            let mut sum = 0u64;
            for p in l.pieces() {
                let mut in_piece = 0;
                for i in 0..l.blocks_in_piece(p) {
                    let b = l.block(p, i).unwrap();
                    prop_assert_eq!(b.begin, in_piece);
                    prop_assert_eq!(l.validate_block(b.as_ref()), Some(b));
                    in_piece += b.length;
                }
                prop_assert_eq!(in_piece, l.piece_len(p));
                sum += u64::from(in_piece);
            }
            prop_assert_eq!(sum, total);
        }

        #[test]
        fn any_block_ref_never_panics(piece: u32, begin: u32, length: u32) {
            let l = Lengths::new(1_000_000, 65536, 16).unwrap();
            let b = BlockRef { piece, begin, length };
            let _ = l.validate_block(b);
            let _ = l.validate_request(b);
        }
    }
}

//! Which blocks to request from which peer: rarest first with random first pieces, strict
//! completion of started pieces, endgame, sequential order and per-piece priorities.
//!
//! The picker knows pieces and blocks, not peers: the engine keeps each peer's own in-flight set
//! and tells the picker when a request is withdrawn (`release`), answered (`on_block`) or when a
//! piece passed or failed its hash check.

use std::collections::BTreeMap;

use rand::Rng;

use crate::bitfield::Bitfield;
use crate::lengths::{Lengths, PieceIndex, ValidBlock};

/// Pieces picked at random before switching to rarest first, so a fresh peer quickly has
/// something to trade.
const RANDOM_FIRST_PIECES: u32 = 4;

/// Candidates examined when choosing a new piece (see `choose_new_piece`).
const MAX_SCAN: usize = 256;

/// Priority of a piece: 0 = skip, higher first.
pub type Priority = u8;
pub const PRIORITY_SKIP: Priority = 0;
pub const PRIORITY_NORMAL: Priority = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    Free,
    /// Requested from this many peers (more than one only in endgame).
    Requested(u16),
    Received,
}

#[derive(Debug, Clone)]
struct Partial {
    blocks: Vec<BlockState>,
    free: u32,
    received: u32,
}

/// What a received block means for its piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockOutcome {
    /// New data; `piece_complete` when it was the piece's last missing block (hash it now).
    Accepted { piece_complete: bool },
    /// Already received (endgame twin or a repeat): drop it.
    Duplicate,
    /// For a piece we have or never started: drop it.
    Unexpected,
}

#[derive(Debug, Clone)]
pub struct Picker {
    lengths: Lengths,
    have: Bitfield,
    availability: Vec<u32>,
    priority: Vec<Priority>,
    partial: BTreeMap<u32, Partial>,
    sequential: bool,
    /// Wanted pieces neither had nor started: 0 (and no free blocks) means endgame.
    unstarted_wanted: u32,
    /// Wanted pieces not yet verified (started or not): 0 means complete. Kept as a count so
    /// completion is O(1) per verified piece even for torrents of 100k pieces.
    wanted_missing: u32,
    /// Pieces streaming readers need next, most urgent first (`stream_window.rs`): requested
    /// before anything else.
    urgent: Vec<u32>,
    /// Pieces a reader has waited for too long (the shell decides): their requested blocks are
    /// also asked of a second peer, endgame fashion. At most `MAX_LATE`.
    late: Vec<u32>,
}

/// Late pieces twinned at once: a reader waits for one piece at a time, so a few suffice.
const MAX_LATE: usize = 4;

impl Picker {
    /// A picker for a torrent of which `have` is already verified.
    pub fn new(lengths: Lengths, have: Bitfield) -> Self {
        let n = lengths.piece_count();
        let mut p = Picker {
            lengths,
            have,
            availability: vec![0; n as usize],
            priority: vec![PRIORITY_NORMAL; n as usize],
            partial: BTreeMap::new(),
            sequential: false,
            unstarted_wanted: 0,
            wanted_missing: 0,
            urgent: Vec::new(),
            late: Vec::new(),
        };
        p.recount();
        p
    }

    pub fn lengths(&self) -> &Lengths {
        &self.lengths
    }

    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    pub fn set_sequential(&mut self, on: bool) {
        self.sequential = on;
    }

    /// The pieces readers need next, most urgent first (out-of-range indices are ignored).
    pub fn set_urgent(&mut self, pieces: Vec<u32>) {
        self.urgent = pieces;
        self.urgent.retain(|&i| i < self.lengths.piece_count());
    }

    /// Pieces readers have waited for too long; their blocks get a twin at a second peer.
    pub fn set_late(&mut self, mut pieces: Vec<u32>) {
        pieces.retain(|&i| i < self.lengths.piece_count());
        pieces.truncate(MAX_LATE);
        self.late = pieces;
    }

    /// Whether `piece`'s blocks may have twins at other peers (so an arriving block should
    /// cancel them, as in endgame).
    pub fn may_have_twins(&self, piece: u32) -> bool {
        self.in_endgame() || self.late.contains(&piece)
    }

    /// One priority per piece; a wrong-length vector is ignored (the engine builds it).
    pub fn set_priorities(&mut self, priority: Vec<Priority>) {
        if priority.len() == self.priority.len() {
            self.priority = priority;
            self.recount();
        }
    }

    fn recount(&mut self) {
        self.unstarted_wanted = (0..self.lengths.piece_count())
            .filter(|&i| self.wanted(i) && !self.partial.contains_key(&i))
            .count() as u32;
        self.wanted_missing = (0..self.lengths.piece_count())
            .filter(|&i| self.wanted(i))
            .count() as u32;
    }

    fn wanted(&self, i: u32) -> bool {
        !self.have.get(i)
            && self
                .priority
                .get(i as usize)
                .is_some_and(|&p| p > PRIORITY_SKIP)
    }

    /// Every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.wanted_missing == 0
    }

    /// Bytes of wanted pieces not yet verified.
    pub fn wanted_left(&self) -> u64 {
        self.lengths
            .pieces()
            .filter(|p| self.wanted(p.get()))
            .map(|p| u64::from(self.lengths.piece_len(p)))
            .sum()
    }

    /// Total bytes of wanted pieces, had or not.
    pub fn wanted_total(&self) -> u64 {
        self.lengths
            .pieces()
            .filter(|p| self.priority[p.get() as usize] > PRIORITY_SKIP)
            .map(|p| u64::from(self.lengths.piece_len(p)))
            .sum()
    }

    pub fn add_peer_pieces(&mut self, peer: &Bitfield) {
        for i in peer.iter_ones() {
            if let Some(a) = self.availability.get_mut(i as usize) {
                *a += 1;
            }
        }
    }

    pub fn remove_peer_pieces(&mut self, peer: &Bitfield) {
        for i in peer.iter_ones() {
            if let Some(a) = self.availability.get_mut(i as usize) {
                *a = a.saturating_sub(1);
            }
        }
    }

    pub fn add_peer_have(&mut self, piece: PieceIndex) {
        self.availability[piece.get() as usize] += 1;
    }

    /// How many connected peers have `piece` (0 for an index out of range).
    pub fn availability(&self, piece: u32) -> u32 {
        self.availability.get(piece as usize).copied().unwrap_or(0)
    }

    /// Whether `peer` has any piece we still want.
    pub fn is_interesting(&self, peer: &Bitfield) -> bool {
        peer.iter_ones().any(|i| self.wanted(i))
    }

    /// Endgame: nothing left that nobody has been asked for.
    pub fn in_endgame(&self) -> bool {
        self.unstarted_wanted == 0 && self.partial.values().all(|p| p.free == 0)
    }

    /// Up to `max` blocks to request from a peer that has `peer_has`, marked as requested.
    /// `in_flight` says whether this peer already has a block outstanding (for endgame twins).
    pub fn next_blocks<R: Rng + ?Sized>(
        &mut self,
        peer_has: &Bitfield,
        max: usize,
        rng: &mut R,
        in_flight: &dyn Fn(ValidBlock) -> bool,
    ) -> Vec<ValidBlock> {
        let mut out = Vec::new();
        if max == 0 {
            return out;
        }
        self.take_urgent(peer_has, max, in_flight, &mut out);
        if out.len() >= max {
            return out;
        }
        // Strict completion: finish started pieces before starting new ones.
        let started: Vec<u32> = self
            .partial
            .iter()
            .filter(|(&i, p)| p.free > 0 && peer_has.get(i) && self.wanted(i))
            .map(|(&i, _)| i)
            .collect();
        for i in started {
            self.take_free(i, max, &mut out);
            if out.len() >= max {
                return out;
            }
        }
        while out.len() < max {
            let Some(i) = self.choose_new_piece(peer_has, rng) else {
                break;
            };
            self.start(i);
            self.take_free(i, max, &mut out);
        }
        if out.is_empty() && self.in_endgame() {
            self.take_endgame(peer_has, max, in_flight, &mut out);
        }
        out
    }

    /// The readers' pieces first, in their order; then, while this peer has room, twins of the
    /// blocks of the late ones that another peer is slow to send.
    fn take_urgent(
        &mut self,
        peer_has: &Bitfield,
        max: usize,
        in_flight: &dyn Fn(ValidBlock) -> bool,
        out: &mut Vec<ValidBlock>,
    ) {
        if self.urgent.is_empty() && self.late.is_empty() {
            return;
        }
        let urgent = std::mem::take(&mut self.urgent);
        for &i in &urgent {
            if out.len() >= max {
                break;
            }
            if !peer_has.get(i) || !self.wanted(i) {
                continue;
            }
            if !self.partial.contains_key(&i) {
                self.start(i);
            }
            self.take_free(i, max, out);
        }
        let late = std::mem::take(&mut self.late);
        for &i in late.iter().filter(|&&i| !self.have.get(i)) {
            if out.len() >= max || !peer_has.get(i) {
                continue;
            }
            let piece = PieceIndex::trusted(i);
            let Some(p) = self.partial.get_mut(&i) else {
                continue;
            };
            for (bi, state) in p.blocks.iter_mut().enumerate() {
                if out.len() >= max {
                    break;
                }
                if let BlockState::Requested(n @ 1) = state {
                    if let Some(b) = self.lengths.block(piece, bi as u32) {
                        if !in_flight(b) && !out.contains(&b) {
                            *n += 1;
                            out.push(b);
                        }
                    }
                }
            }
        }
        self.urgent = urgent;
        self.late = late;
    }

    fn start(&mut self, i: u32) {
        let piece = PieceIndex::trusted(i);
        let n = self.lengths.blocks_in_piece(piece);
        self.partial.insert(
            i,
            Partial {
                blocks: vec![BlockState::Free; n as usize],
                free: n,
                received: 0,
            },
        );
        self.unstarted_wanted = self.unstarted_wanted.saturating_sub(1);
    }

    fn take_free(&mut self, i: u32, max: usize, out: &mut Vec<ValidBlock>) {
        let piece = PieceIndex::trusted(i);
        let Some(p) = self.partial.get_mut(&i) else {
            return;
        };
        for (bi, state) in p.blocks.iter_mut().enumerate() {
            if out.len() >= max {
                break;
            }
            if *state == BlockState::Free {
                if let Some(b) = self.lengths.block(piece, bi as u32) {
                    *state = BlockState::Requested(1);
                    p.free -= 1;
                    out.push(b);
                }
            }
        }
    }

    fn take_endgame(
        &mut self,
        peer_has: &Bitfield,
        max: usize,
        in_flight: &dyn Fn(ValidBlock) -> bool,
        out: &mut Vec<ValidBlock>,
    ) {
        for (&i, p) in self.partial.iter_mut() {
            if !peer_has.get(i) {
                continue;
            }
            let piece = PieceIndex::trusted(i);
            for (bi, state) in p.blocks.iter_mut().enumerate() {
                if out.len() >= max {
                    return;
                }
                if let BlockState::Requested(n) = state {
                    if let Some(b) = self.lengths.block(piece, bi as u32) {
                        if !in_flight(b) {
                            *n = n.saturating_add(1);
                            out.push(b);
                        }
                    }
                }
            }
        }
    }

    fn choose_new_piece<R: Rng + ?Sized>(&self, peer_has: &Bitfield, rng: &mut R) -> Option<u32> {
        if self.unstarted_wanted == 0 {
            return None;
        }
        let candidates = peer_has
            .iter_ones()
            .filter(|&i| self.wanted(i) && !self.partial.contains_key(&i));
        // `peer_has` comes from the engine sized to this torrent; `get` keeps a mismatch harmless.
        let top = |i: u32| {
            self.priority
                .get(i as usize)
                .copied()
                .unwrap_or(PRIORITY_SKIP)
        };
        if self.sequential {
            // Highest priority first, then lowest index.
            return candidates.max_by_key(|&i| (top(i), std::cmp::Reverse(i)));
        }
        let random_phase =
            self.have.count_ones() + (self.partial.len() as u32) < RANDOM_FIRST_PIECES;
        // Look at no more than MAX_SCAN candidates, from a random place on: picking stays
        // O(MAX_SCAN) rather than O(pieces) per new piece (which is O(pieces^2) per download),
        // and rarest-first holds within that window.
        let n = self.lengths.piece_count();
        let start = if n == 0 { 0 } else { rng.random_range(0..n) };
        let window = (start..n)
            .chain(0..start)
            .filter(|&i| peer_has.get(i) && self.wanted(i) && !self.partial.contains_key(&i))
            .take(MAX_SCAN);
        // Reservoir sampling among the best (priority, rarity) candidates.
        let mut best: Option<(u32, (u8, std::cmp::Reverse<u32>))> = None;
        let mut ties = 0u32;
        for i in window {
            let key = if random_phase {
                (top(i), std::cmp::Reverse(0))
            } else {
                (
                    top(i),
                    std::cmp::Reverse(self.availability.get(i as usize).copied().unwrap_or(0)),
                )
            };
            match best {
                Some((_, k)) if key < k => {}
                Some((_, k)) if key == k => {
                    ties += 1;
                    if rng.random_range(0..ties) == 0 {
                        best = Some((i, key));
                    }
                }
                _ => {
                    best = Some((i, key));
                    ties = 1;
                }
            }
        }
        best.map(|(i, _)| i)
    }

    /// Records a block's arrival. The engine has already checked the peer asked for it.
    pub fn on_block(&mut self, block: ValidBlock) -> BlockOutcome {
        let i = block.piece.get();
        let Some(p) = self.partial.get_mut(&i) else {
            return BlockOutcome::Unexpected;
        };
        let Some(state) = p.blocks.get_mut(block.index_in_piece() as usize) else {
            return BlockOutcome::Unexpected;
        };
        match *state {
            BlockState::Received => BlockOutcome::Duplicate,
            BlockState::Free => {
                p.free -= 1;
                *state = BlockState::Received;
                p.received += 1;
                BlockOutcome::Accepted {
                    piece_complete: p.received as usize == p.blocks.len(),
                }
            }
            BlockState::Requested(_) => {
                *state = BlockState::Received;
                p.received += 1;
                BlockOutcome::Accepted {
                    piece_complete: p.received as usize == p.blocks.len(),
                }
            }
        }
    }

    /// A request will not be answered (choke, reject, peer gone, timeout): let others take it.
    pub fn release(&mut self, block: ValidBlock) {
        let Some(p) = self.partial.get_mut(&block.piece.get()) else {
            return;
        };
        if let Some(state) = p.blocks.get_mut(block.index_in_piece() as usize) {
            if let BlockState::Requested(n) = *state {
                if n <= 1 {
                    *state = BlockState::Free;
                    p.free += 1;
                } else {
                    *state = BlockState::Requested(n - 1);
                }
            }
        }
    }

    /// The piece's hash matched and its data is on disk.
    pub fn piece_verified(&mut self, piece: PieceIndex) {
        let was_wanted = self.wanted(piece.get());
        if self.partial.remove(&piece.get()).is_none() && was_wanted {
            // Verified without having been started here (should not happen, but keep counts true).
            self.unstarted_wanted = self.unstarted_wanted.saturating_sub(1);
        }
        if self.have.set(piece.get()) && was_wanted {
            self.wanted_missing -= 1;
        }
    }

    /// The piece's hash did not match: fetch every block again.
    pub fn piece_failed(&mut self, piece: PieceIndex) {
        if self.partial.remove(&piece.get()).is_some() && self.wanted(piece.get()) {
            self.unstarted_wanted += 1;
        }
    }
}

#[cfg(test)]
#[path = "picker_tests.rs"]
mod tests;

#[path = "picker_runs.rs"]
mod runs;

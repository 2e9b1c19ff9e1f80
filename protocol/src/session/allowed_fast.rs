//! BEP 6 allowed-fast, both ways.
//!
//! Granting: a fast-extension peer that says it is interested while it has almost nothing gets
//! our canonical allowed-fast set (`wire::allowed_fast_set` over its address), minus the pieces
//! it has; we then serve requests for those pieces even while we choke it, so a new peer has
//! something to trade before any unchoke. The bytes served so are capped per peer.
//!
//! Using: the pieces a peer allows us are remembered (bounded), and while it chokes us the
//! picker is offered only those of them the peer has; those requests also survive its choke
//! (BEP 6: a choke no longer cancels requests; a fast peer answers each with a block or a
//! reject).

use super::core::TorrentCore;
use super::error::PeerError;
use super::outputs::{PeerKey, Transmit};
use super::peer::PeerSession;
use crate::wire::{allowed_fast_set, Message};
use crate::Bitfield;

/// Pieces in the set we grant (the size BEP 6 suggests).
pub(super) const ALLOWED_FAST_K: u32 = 10;
/// A peer with fewer pieces than this is starting out and gets our set.
const STARTING_PEER_PIECES: u32 = ALLOWED_FAST_K;
/// Allowed-fast pieces remembered per peer; more are ignored. Above the usual 10 because
/// libtorrent grants every piece of a torrent that has fewer pieces than its set size.
pub(super) const MAX_ALLOWED_IN: usize = 256;
/// Times each granted piece may be served to a choked peer: once, and once more should the
/// first copy fail its hash check there.
const SERVES_PER_PIECE: u32 = 2;

impl PeerSession {
    /// What a choked peer can be asked for: the pieces it allowed us fast that it has. `None`
    /// when there are none (nothing to request until it unchokes us).
    pub(super) fn choked_mask(&self) -> Option<Bitfield> {
        if !self.fast || self.allowed_in.is_empty() {
            return None;
        }
        let mut mask = Bitfield::new(self.has.len());
        let mut any = false;
        for &i in &self.allowed_in {
            if self.has.get(i) {
                mask.set(i);
                any = true;
            }
        }
        any.then_some(mask)
    }

    /// Whether a request for `piece` from a peer we choke may be served, counting it if so.
    /// `blocks_per_piece` is the most blocks a piece of this torrent has.
    pub(super) fn grant_choked(&mut self, piece: u32, blocks_per_piece: u32) -> bool {
        let budget = (self.allowed_out.len() as u32)
            .saturating_mul(blocks_per_piece)
            .saturating_mul(SERVES_PER_PIECE);
        if !self.fast || !self.allowed_out.contains(&piece) || self.fast_served >= budget {
            return false;
        }
        self.fast_served += 1;
        true
    }
}

impl TorrentCore {
    /// Blocks in the largest piece (every piece but a short last one).
    pub(super) fn max_blocks_per_piece(&self) -> u32 {
        (self.lengths.validate_piece(0)).map_or(0, |p| self.lengths.blocks_in_piece(p))
    }

    /// The peer said it is interested: a starting fast peer gets our allowed-fast set, once.
    pub(super) fn grant_allowed_fast(&mut self, key: PeerKey) {
        let info_hash = self.config.info_hash;
        let piece_count = self.lengths.piece_count();
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        if !p.fast || p.sent_allowed_fast || p.has.count_ones() >= STARTING_PEER_PIECES {
            return;
        }
        p.sent_allowed_fast = true;
        let set = allowed_fast_set(p.addr.ip(), &info_hash, piece_count, ALLOWED_FAST_K);
        let mut frame = Vec::new();
        for i in set.into_iter().filter(|&i| !p.has.get(i)) {
            Message::AllowedFast(i).encode(&mut frame);
            p.allowed_out.push(i);
        }
        if !frame.is_empty() {
            self.send(key, Transmit::Frame(frame));
        }
    }

    /// The peer allows us `index` while it chokes us.
    pub(super) fn on_allowed_fast(&mut self, key: PeerKey, index: u32) {
        if self.lengths.validate_piece(index).is_none() {
            return self.close_peer(key, PeerError::Protocol("allowed-fast piece out of range"));
        }
        let we_have = self.picker.have().get(index);
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        // Without the fast extension the message has no meaning; pieces we have need nothing.
        if !p.fast
            || we_have
            || p.allowed_in.contains(&index)
            || p.allowed_in.len() >= MAX_ALLOWED_IN
        {
            return;
        }
        p.allowed_in.push(index);
        if p.peer_choking {
            self.update_interest(key);
            self.fill_requests(key);
        }
    }
}

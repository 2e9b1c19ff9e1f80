//! What peers say: each message's effect on the core.

use std::time::Instant;

use bytes::Bytes;

use super::core::TorrentCore;
use super::error::PeerError;
use super::message::PeerMessage;
use super::outputs::PeerKey;
use super::peer::MAX_IN_REQUESTS;
use crate::wire::{BlockRef, Message};
use crate::{Bitfield, BlockOutcome};

/// Blocks nobody asked for that we tolerate (late answers after a choke or cancel) before
/// treating the peer as hostile.
const MAX_UNREQUESTED: u32 = 64;
/// Invalid requests (out of range, pieces we lack) tolerated before disconnecting.
const MAX_BAD_REQUESTS: u32 = 64;
/// Valid requests we refused (queue full, or choked) since we last unchoked the peer, before
/// it is dropped and banned: an honest peer keeps at most our `reqq` (`MAX_IN_REQUESTS`)
/// requests queued, and sends at most that many more before it hears of a choke.
const MAX_REFUSED: u32 = 2 * MAX_IN_REQUESTS as u32;

impl TorrentCore {
    /// A message from a connected peer, extension messages (BEP 10) included.
    pub fn handle_message(&mut self, key: PeerKey, msg: PeerMessage, now: Instant) {
        self.now = now;
        if !self.peers.contains_key(&key) {
            return;
        }
        match msg {
            PeerMessage::Choke => self.on_choke(key),
            PeerMessage::Unchoke => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_choking = false;
                }
                self.fill_requests(key);
            }
            PeerMessage::Interested | PeerMessage::NotInterested => {
                let interested = msg == PeerMessage::Interested;
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_interested = interested;
                }
                if interested {
                    self.grant_allowed_fast(key);
                }
                self.choker.force();
                self.rechoke(now);
            }
            PeerMessage::Have(i) => {
                let Some(piece) = self.lengths.validate_piece(i) else {
                    return self.close_peer(key, PeerError::Protocol("have: piece out of range"));
                };
                let Some(p) = self.peers.get_mut(&key) else {
                    return;
                };
                if p.has.set(piece.get()) {
                    self.picker.add_peer_have(piece);
                }
                self.peer_pieces_changed(key);
            }
            PeerMessage::Bitfield(bytes) => {
                match Bitfield::from_wire(&bytes, self.lengths.piece_count()) {
                    Ok(bits) => self.set_peer_pieces(key, bits),
                    Err(_) => self.close_peer(key, PeerError::Protocol("bitfield does not fit")),
                }
            }
            PeerMessage::HaveAll => {
                self.set_peer_pieces(key, Bitfield::full(self.lengths.piece_count()))
            }
            PeerMessage::HaveNone => {
                self.set_peer_pieces(key, Bitfield::new(self.lengths.piece_count()))
            }
            PeerMessage::Request(b) => self.on_request(key, b),
            PeerMessage::Cancel(b) => {
                if self.uploads.cancel(key, b) {
                    return;
                }
                if let Some(p) = self.peers.get_mut(&key) {
                    if p.cancelled.len() < MAX_IN_REQUESTS {
                        p.cancelled.insert(b);
                    }
                }
            }
            PeerMessage::Reject(b) => {
                let Some(block) = self.lengths.validate_block(b) else {
                    return;
                };
                if let Some(p) = self.peers.get_mut(&key) {
                    if p.outstanding.remove(&block) {
                        self.picker.release(block);
                    }
                }
                self.request_from_all();
            }
            PeerMessage::Piece { index, begin, data } => self.on_block(key, index, begin, data),
            PeerMessage::AllowedFast(i) => self.on_allowed_fast(key, i),
            PeerMessage::Extended { id, payload } => self.on_extended(key, id, &payload, now),
            PeerMessage::Other => {}
        }
    }

    fn on_choke(&mut self, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.peer_choking = true;
        self.strikes.let_go(p.addr);
        // BEP 6: a fast peer still answers requests for pieces it allowed us fast; the others
        // it rejects, and may be given to other peers now.
        let keep: Vec<_> = (p.outstanding.iter().copied())
            .filter(|b| p.fast && p.allowed_in.contains(&b.piece.get()))
            .collect();
        for b in p.withdraw_all() {
            if !keep.contains(&b) {
                self.picker.release(b);
            }
        }
        for b in keep {
            p.take_withdrawn(&b);
            p.outstanding.insert(b);
        }
        self.request_from_all();
    }

    fn set_peer_pieces(&mut self, key: PeerKey, bits: Bitfield) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        self.picker.remove_peer_pieces(&p.has);
        self.picker.add_peer_pieces(&bits);
        p.has = bits;
        self.peer_pieces_changed(key);
    }

    fn peer_pieces_changed(&mut self, key: PeerKey) {
        if self.seeding && self.peers.get(&key).is_some_and(|p| p.has.is_full()) {
            return self.close_peer(key, PeerError::Done("both seeding"));
        }
        self.update_interest(key);
        self.fill_requests(key);
    }

    fn on_request(&mut self, key: PeerKey, b: BlockRef) {
        let valid =
            (self.lengths.validate_request(b)).filter(|v| self.picker.have().get(v.piece.get()));
        let blocks_per_piece = self.max_blocks_per_piece();
        let waiting = self.uploads.pending_len(key);
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        // Requests queued here, being read, or read and waiting for the socket: bounded, as
        // libtorrent's `max_allowed_in_request_queue` (our extended handshake says `reqq`).
        let full = p.owed_blocks() + waiting >= MAX_IN_REQUESTS;
        // A choked peer is served only pieces we allowed it fast (BEP 6), within a budget.
        let choked_refused = p.am_choking
            && !(valid.is_some() && !full && p.grant_choked(b.piece, blocks_per_piece));
        if let (Some(block), false, false) = (valid, choked_refused, full) {
            return self.queue_upload(key, block);
        }
        if valid.is_none() {
            p.bad_requests += 1;
        } else {
            p.refused += 1;
        }
        let (bad, refused, fast, am_choking) = (p.bad_requests, p.refused, p.fast, p.am_choking);
        if fast {
            self.send_frame(key, Message::RejectRequest(b));
        } else if full && !am_choking {
            // It cannot be told (no fast extension) and must not be silently ignored.
            return self.close_peer(key, PeerError::Protocol("request queue full"));
        }
        if bad > MAX_BAD_REQUESTS {
            self.close_peer(key, PeerError::Protocol("too many invalid requests"));
        } else if refused > MAX_REFUSED {
            self.ban(key, "kept requesting past its queue limit or while choked");
        }
    }

    fn on_block(&mut self, key: PeerKey, index: u32, begin: u32, data: Bytes) {
        let Ok(length) = u32::try_from(data.len()) else {
            return;
        };
        let ask = BlockRef {
            piece: index,
            begin,
            length,
        };
        let Some(block) = self.lengths.validate_block(ask) else {
            return self.close_peer(key, PeerError::Protocol("a block that does not fit"));
        };
        let now = self.now;
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let addr = p.addr;
        if !p.outstanding.remove(&block) {
            if !p.take_withdrawn(&block) {
                p.unrequested += 1;
            }
            if p.unrequested > MAX_UNREQUESTED {
                return self.ban(key, "too many unrequested blocks");
            }
            // A late answer to a request we withdrew is still good data if nobody else sent it.
            if matches!(self.picker.on_block(block), BlockOutcome::Accepted { .. }) {
                self.store(block, addr, data);
            }
            return self.fill_requests(key);
        }
        p.last_block = now;
        if let BlockOutcome::Accepted { .. } = self.picker.on_block(block) {
            self.store(block, addr, data);
            if self.picker.may_have_twins(block.piece.get()) {
                self.cancel_elsewhere(Some(key), block);
            }
        }
        self.fill_requests(key);
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;

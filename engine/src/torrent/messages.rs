//! The torrent actor's handling of what peers say and what the disk thread reports.

use bytes::Bytes;
use protocol::wire::{BlockRef, ExtendedHandshake, Message};
use protocol::{Bitfield, BlockOutcome, PieceIndex, ValidBlock};

use super::peers::MAX_IN_REQUESTS;
use super::Torrent;
use crate::disk::DiskJob;
use crate::peer::{Outgoing, PeerKey, PeerMessage};
use crate::types::TorrentState;

/// Blocks nobody asked for that we tolerate (late answers after a choke or cancel) before
/// treating the peer as hostile.
const MAX_UNREQUESTED: u32 = 64;
/// Invalid requests (out of range, pieces we lack) tolerated before disconnecting.
const MAX_BAD_REQUESTS: u32 = 64;
/// Hash failures a host may take part in before it is banned.
const MAX_STRIKES: u32 = 2;
/// Valid requests we refused (queue full, or choked) since we last unchoked the peer, before
/// it is dropped and banned: an honest peer keeps at most our `reqq` (`MAX_IN_REQUESTS`)
/// requests queued, and sends at most that many more before it hears of a choke.
const MAX_REFUSED: u32 = 2 * MAX_IN_REQUESTS as u32;

impl Torrent {
    pub(super) fn on_message(&mut self, key: PeerKey, msg: PeerMessage) {
        if !self.peers.contains_key(&key) {
            return;
        }
        match msg {
            PeerMessage::Choke => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_choking = true;
                    // BEP 6: a fast peer still answers requests for pieces it allowed us fast;
                    // the others it rejects, and may be given to other peers now.
                    let keep: Vec<_> = p
                        .outstanding
                        .iter()
                        .copied()
                        .filter(|b| p.fast && p.allowed_in.contains(&b.piece.get()))
                        .collect();
                    for b in p.withdraw_all() {
                        if !keep.contains(&b) {
                            self.picker.release(b);
                        }
                    }
                    for b in keep {
                        p.withdrawn.remove(&b);
                        p.outstanding.insert(b);
                    }
                }
                self.request_from_all();
            }
            PeerMessage::Unchoke => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_choking = false;
                }
                self.fill_requests(key);
            }
            PeerMessage::Interested | PeerMessage::NotInterested => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_interested = msg == PeerMessage::Interested;
                }
                if msg == PeerMessage::Interested {
                    self.grant_allowed_fast(key);
                }
                self.choker.force();
                self.rechoke(std::time::Instant::now());
            }
            PeerMessage::Have(i) => {
                let Some(piece) = self.lengths.validate_piece(i) else {
                    return self.close_peer(key, "have: piece index out of range");
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
                    Err(e) => self.close_peer(key, &format!("bitfield: {e}")),
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
            PeerMessage::Extended { id: 0, payload } => {
                if let Ok(hs) = ExtendedHandshake::decode(&payload) {
                    if let Some(p) = self.peers.get_mut(&key) {
                        p.ext.learn(&hs, std::time::Instant::now());
                        if let Some(v) = hs.v {
                            p.client = v.chars().take(64).collect();
                        }
                        p.reqq = hs.reqq;
                    }
                }
            }
            PeerMessage::Extended { id, payload } => self.on_extension_message(key, id, &payload),
            PeerMessage::AllowedFast(i) => self.on_allowed_fast(key, i),
            PeerMessage::Other => {}
        }
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
        if self.state == TorrentState::Seeding
            && self.peers.get(&key).is_some_and(|p| p.has.is_full())
        {
            return self.close_peer(key, "both seeding");
        }
        self.update_interest(key);
        self.fill_requests(key);
    }

    fn on_request(&mut self, key: PeerKey, b: BlockRef) {
        let valid = self
            .lengths
            .validate_request(b)
            .filter(|v| self.picker.have().get(v.piece.get()));
        let blocks_per_piece = self.max_blocks_per_piece();
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let waiting = self.uploads.pending_len(key);
        // Requests queued here, being read, or read and waiting for the socket: bounded, as
        // libtorrent's `max_allowed_in_request_queue` (our extended handshake says `reqq`).
        let full = p.owed_blocks() + waiting >= MAX_IN_REQUESTS;
        // A choked peer is served only pieces we allowed it fast (BEP 6), within a budget.
        let choked_refused = p.am_choking
            && !(valid.is_some()
                && !full
                && super::allowed_fast::grant_choked(p, b.piece, blocks_per_piece));
        let refuse = valid.is_none() || choked_refused || full;
        if refuse {
            if valid.is_none() {
                p.bad_requests += 1;
            } else {
                p.refused += 1;
            }
            if p.fast {
                let mut frame = Vec::new();
                Message::RejectRequest(b).encode(&mut frame);
                let _ = p.writer.send(Outgoing::Frame(frame));
            } else if full && !p.am_choking {
                // It cannot be told (no fast extension) and must not be silently ignored.
                return self.close_peer(key, "request queue full");
            }
            if p.bad_requests > MAX_BAD_REQUESTS {
                self.close_peer(key, "too many invalid requests");
            } else if p.refused > MAX_REFUSED {
                self.ban(key, "kept requesting past its queue limit or while choked");
            }
            return;
        }
        if let Some(block) = valid {
            self.queue_upload(key, block);
        }
    }

    pub(super) fn read_done(&mut self, key: PeerKey, block: ValidBlock, data: Bytes) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.serving = p.serving.saturating_sub(1);
        if p.cancelled.remove(&block.as_ref()) {
            return;
        }
        if p.am_choking && !p.allowed_out.contains(&block.piece.get()) {
            // BEP 6: a choke no longer drops requests implicitly; fast peers are told.
            if p.fast {
                let mut frame = Vec::new();
                Message::RejectRequest(block.as_ref()).encode(&mut frame);
                let _ = p.writer.send(Outgoing::Frame(frame));
            }
            return;
        }
        p.send_block(block.as_ref(), data);
    }

    fn on_block(&mut self, key: PeerKey, index: u32, begin: u32, data: Bytes) {
        let Ok(length) = u32::try_from(data.len()) else {
            return;
        };
        let Some(block) = self.lengths.validate_block(BlockRef {
            piece: index,
            begin,
            length,
        }) else {
            return self.close_peer(key, "sent a block that does not fit the torrent");
        };
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let addr = p.addr;
        if !p.outstanding.remove(&block) {
            if !p.withdrawn.remove(&block) {
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
        p.last_block = std::time::Instant::now();
        match self.picker.on_block(block) {
            BlockOutcome::Accepted { .. } => {
                self.store(block, addr, data);
                if self.picker.may_have_twins(block.piece.get()) {
                    self.cancel_elsewhere(key, block);
                }
            }
            BlockOutcome::Duplicate | BlockOutcome::Unexpected => {}
        }
        self.fill_requests(key);
    }

    fn store(&mut self, block: ValidBlock, addr: std::net::SocketAddr, data: Bytes) {
        let who = self.contributors.entry(block.piece.get()).or_default();
        if !who.contains(&addr) {
            who.push(addr);
        }
        self.backlog
            .pending
            .fetch_add(data.len() as u64, std::sync::atomic::Ordering::AcqRel);
        let _ = self.disk.send(DiskJob::Write { block, data });
    }

    /// Endgame: the block came; withdraw its twins from the other peers.
    fn cancel_elsewhere(&mut self, from: PeerKey, block: ValidBlock) {
        for (&key, p) in self.peers.iter_mut() {
            if key != from && p.withdraw(block) {
                let mut frame = Vec::new();
                Message::Cancel(block.as_ref()).encode(&mut frame);
                let _ = p.writer.send(Outgoing::Frame(frame));
            }
        }
    }

    pub(super) fn piece_verified(&mut self, piece: PieceIndex) {
        self.picker.piece_verified(piece);
        self.stream_piece_verified(piece.get());
        self.webseed_piece_checked(piece, true);
        self.webseed_touched.remove(&piece.get());
        for addr in self.contributors.remove(&piece.get()).unwrap_or_default() {
            self.strikes
                .entry_or_insert_with(addr.into(), Default::default)
                .passed += 1;
        }
        self.resume_dirty = true;
        let mut frame = Vec::new();
        Message::Have(piece.get()).encode(&mut frame);
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for &key in &keys {
            if self
                .peers
                .get(&key)
                .is_some_and(|p| !p.has.get(piece.get()))
            {
                self.send(key, Outgoing::Frame(frame.clone()));
            }
        }
        if self.picker.is_complete() {
            self.on_complete(true);
        }
        // Interest that this piece may have ended is re-evaluated on the next tick: doing it
        // here would scan every peer's pieces once per verified piece.
    }

    pub(super) fn piece_failed(&mut self, piece: PieceIndex) {
        tracing::warn!("piece {} failed its hash check", piece.get());
        self.picker.piece_failed(piece);
        self.webseed_piece_checked(piece, false);
        let culprits = self.contributors.remove(&piece.get()).unwrap_or_default();
        // A piece that also holds a web seed's blocks says nothing about its peers: a lying web
        // seed's partial run, finished by an honest peer, made that peer the sole culprit and
        // got it banned (the web seed is judged on its own, by `webseed_piece_checked`).
        let culprits = if self.webseed_touched.remove(&piece.get()) {
            Vec::new()
        } else {
            culprits
        };
        let sole = culprits.len() == 1;
        for addr in culprits {
            let record = self
                .strikes
                .entry_or_insert_with(addr.into(), Default::default);
            record.failed += 1;
            // A peer that alone sent two bad pieces is banned; one that shared bad pieces with
            // others is banned once bad pieces are a large share of all it took part in, so an
            // honest peer that happened to share a piece with a liar is not.
            let ban = (sole && record.failed >= MAX_STRIKES)
                || (record.failed >= 2 * MAX_STRIKES && record.failed * 4 > record.passed);
            if ban {
                self.ban_host(addr, "sent data that failed hash checks");
            }
        }
        self.request_from_all();
    }
}

//! Asking: interest, the request pipeline to each peer, stalls, endgame cancels, and what a
//! timeout does.

use std::collections::HashSet;
use std::time::Instant;

use super::core::TorrentCore;
use super::error::PeerError;
use super::outputs::PeerKey;
use super::outputs::Transmit;
use super::peer::STALL_TIMEOUT;
use crate::wire::Message;
use crate::ValidBlock;

impl TorrentCore {
    /// The periodic work: stalled peers dropped, interest and pipelines brought up to date,
    /// the choker's turn, dials that are due. The driver calls it at `poll_timeout` and at
    /// least every second or so (rates change the choker's view).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.check_stalls(now);
        self.pump_uploads();
        self.update_interest_all();
        self.request_from_all();
        self.rechoke(now);
        self.connect_due(now);
        self.pex_tick(now);
    }

    /// Interested exactly when the peer has a piece we want.
    pub(super) fn update_interest(&mut self, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        let want = !self.seeding && self.picker.is_interesting(&p.has);
        if want != p.am_interested {
            p.am_interested = want;
            let msg = if want {
                Message::Interested
            } else {
                Message::NotInterested
            };
            self.send_frame(key, msg);
        }
    }

    /// Re-evaluates interest in every peer (after the wanted pieces changed).
    pub fn refresh_interest(&mut self) {
        self.update_interest_all();
    }

    pub(super) fn update_interest_all(&mut self) {
        for key in self.keys() {
            self.update_interest(key);
        }
    }

    /// Tops up the peer's request pipeline.
    pub(super) fn fill_requests(&mut self, key: PeerKey) {
        if !self.active || self.seeding || !self.disk_room {
            return; // a full disk queue: the driver says when it has room again
        }
        let TorrentCore {
            peers,
            picker,
            rng,
            now,
            strikes,
            ..
        } = self;
        let Some(p) = peers.get_mut(&key) else { return };
        if !p.am_interested {
            return;
        }
        // Choked, only the pieces it allowed fast (BEP 6) that it has can be asked for.
        let choked_mask = if p.peer_choking {
            match p.choked_mask() {
                Some(mask) => Some(mask),
                None => return,
            }
        } else {
            None
        };
        let target = p.queue_target();
        // Refill in batches of a quarter of the pipeline: one write of many requests costs both
        // sides far fewer syscalls and wake-ups than a request per received block.
        if p.outstanding.len() + (target / 2).max(1) > target && !p.outstanding.is_empty() {
            return;
        }
        let room = target.saturating_sub(p.outstanding.len());
        let (outstanding, addr) = (&p.outstanding, p.addr);
        let offered = choked_mask.as_ref().unwrap_or(&p.has);
        // A piece being fetched again from one peer alone (after it failed with blocks from
        // several, see `strikes`) is not asked of anyone else.
        let hidden = strikes.hide_held_by_others(offered, addr);
        let offered = hidden.as_ref().unwrap_or(offered);
        let blocks = picker.next_blocks(offered, room, rng, &|b| outstanding.contains(&b));
        if blocks.is_empty() {
            return;
        }
        for b in &blocks {
            strikes.asked(b.piece.get(), addr);
        }
        if p.outstanding.is_empty() {
            p.last_block = *now;
        }
        p.outstanding.extend(blocks.iter().copied());
        let requests = blocks.iter().map(|b| b.as_ref()).collect();
        self.send(key, Transmit::Requests(requests));
    }

    /// Tops up every pipeline: after anything that may have freed blocks or made room.
    pub fn request_from_all(&mut self) {
        for key in self.keys() {
            self.fill_requests(key);
        }
    }

    /// Drops peers that sit on our requests without answering.
    fn check_stalls(&mut self, now: Instant) {
        let stalled: Vec<PeerKey> = (self.peers.iter())
            .filter(|(_, p)| {
                !p.outstanding.is_empty() && now.duration_since(p.last_block) > STALL_TIMEOUT
            })
            .map(|(k, _)| *k)
            .collect();
        for key in stalled {
            self.close_peer(key, PeerError::Timeout("requests unanswered"));
        }
    }

    pub(super) fn stall_deadline(&self) -> Option<Instant> {
        (self.peers.values())
            .filter(|p| !p.outstanding.is_empty())
            .map(|p| p.last_block + STALL_TIMEOUT)
            .min()
    }

    /// Endgame: `block` arrived (from peer `from`, or from a web seed when `None`); its twins
    /// requested from the others are cancelled.
    pub fn cancel_elsewhere(&mut self, from: Option<PeerKey>, block: ValidBlock) {
        let mut cancelled = Vec::new();
        for (&key, p) in self.peers.iter_mut() {
            if Some(key) != from && p.withdraw(block) {
                cancelled.push(key);
            }
        }
        for key in cancelled {
            self.send_frame(key, Message::Cancel(block.as_ref()));
        }
    }

    /// Cancels every request outstanding for a piece outside `keep` (a streaming reader
    /// jumped): those blocks go back to the picker, so what the reader needs goes first. A
    /// block already on its way is still taken when it comes. A block asked again after an
    /// earlier withdrawal is left alone: cancelling it twice tells the peer nothing new, and a
    /// capped seeder that ignores cancels (its reads already done) sends every copy asked.
    pub fn withdraw_except(&mut self, keep: &HashSet<u32>) {
        let TorrentCore { peers, picker, .. } = self;
        let mut frames_for = Vec::new();
        for (&key, p) in peers.iter_mut() {
            let stale: Vec<ValidBlock> = (p.outstanding.iter())
                .filter(|b| !keep.contains(&b.piece.get()) && !p.is_withdrawn(b))
                .copied()
                .collect();
            let mut frames = Vec::new();
            for b in stale {
                if p.withdraw(b) {
                    picker.release(b);
                    Message::Cancel(b.as_ref()).encode(&mut frames);
                }
            }
            if !frames.is_empty() {
                frames_for.push((key, frames));
            }
        }
        for (key, frames) in frames_for {
            self.send(key, Transmit::Frame(frames));
        }
    }
}

//! Serving peers' requests.
//!
//! Without an upload limit every accepted request is read at once and queued at the peer's
//! socket (deep queues are what fast peers need), but never more than [`READ_AHEAD_UNCAPPED`]
//! blocks ahead of it: the rest wait here, so a peer that requests and never reads holds at
//! most that much of our memory in blocks.
//!
//! With a limit, the first-come-first-served queue is how a capped publisher wastes its few
//! bytes: requests wait for seconds, and by the time a block goes out another leecher has spread
//! that piece already. So when capped, requests wait here, only [`READ_AHEAD`] blocks per peer
//! are read ahead of its socket (the driver reports the drain with `set_unsent` and
//! `handle_upload_room`), and `crate::upload_order` picks what goes next: the rarest requested
//! piece, and nothing for a peer asking only for pieces others hold while someone needs a piece
//! nobody has. A peer is served anyway after [`MAX_WAIT`], well within its stall timeout.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::core::TorrentCore;
use super::outputs::{DiskOp, PeerKey, Transmit};
use crate::wire::{BlockRef, Message};
use crate::{choose_upload, Spread, UploadChoice, ValidBlock};

/// Blocks per peer read ahead of its socket when the upload is capped.
const READ_AHEAD: usize = 4;
/// ...and when it is not: enough to keep a fast loopback socket busy (2 MiB), and what bounds
/// the block bytes a peer that stops reading can make us hold.
pub const READ_AHEAD_UNCAPPED: usize = 128;
/// Longest a peer with requests waits for a block while others are preferred.
const MAX_WAIT: Duration = Duration::from_secs(4);

impl TorrentCore {
    /// A valid request from a peer we serve: read it now, or queue it.
    pub(super) fn queue_upload(&mut self, key: PeerKey, block: ValidBlock) {
        let now = self.now;
        if !self.up_limited
            && self.uploads.pending_len(key) == 0
            && (self.peers.get(&key)).is_some_and(|p| p.owed_blocks() < READ_AHEAD_UNCAPPED)
        {
            self.dispatch_read(key, block);
            return;
        }
        (self.uploads.pending.entry(key).or_default()).push_back(block);
        self.uploads.last_served.entry(key).or_insert(now);
        self.pump_uploads();
    }

    fn dispatch_read(&mut self, key: PeerKey, block: ValidBlock) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.serving += 1;
        p.cancelled.remove(&block.as_ref());
        if self.up_limited {
            // What a capped uploader has sent decides what it sends next (see `spread`).
            let n = self.lengths.piece_count() as usize;
            if self.uploads.sent.len() < n {
                self.uploads.sent.resize(n, 0);
            }
            if let Some(sent) = self.uploads.sent.get_mut(block.piece.get() as usize) {
                *sent = sent.saturating_add(1);
            }
        }
        self.disk.push_back(DiskOp::Read { key, block });
    }

    /// How widely the piece of `block` is already spread among our peers.
    fn spread(&self, block: ValidBlock) -> Spread {
        let i = block.piece.get();
        Spread {
            holders: self.picker.availability(i),
            blocks_sent: self.uploads.sent.get(i as usize).copied().unwrap_or(0),
            blocks_in_piece: self.lengths.blocks_in_piece(block.piece),
        }
    }

    /// The connections drained some of what they owed (the driver updated `set_unsent`):
    /// read what there is room for now.
    pub fn handle_upload_room(&mut self, now: Instant) {
        self.now = now;
        self.pump_uploads();
    }

    /// Reads what the sockets have room for, rarest pieces first when capped.
    pub(super) fn pump_uploads(&mut self) {
        if self.uploads.pending.is_empty() {
            return;
        }
        self.refuse_choked();
        let limited = self.up_limited;
        let now = self.now;
        let rare_demand =
            limited && (self.uploads.pending.values().flatten()).any(|&b| self.spread(b).is_rare());
        let keys: Vec<PeerKey> = self.uploads.pending.keys().copied().collect();
        for key in keys {
            while let Some(p) = self.peers.get(&key) {
                let ahead = if limited {
                    READ_AHEAD
                } else {
                    READ_AHEAD_UNCAPPED
                };
                if p.owed_blocks() >= ahead {
                    break;
                }
                let Some(q) = self.uploads.pending.get(&key) else {
                    break;
                };
                let choice = if limited {
                    let overdue = (self.uploads.last_served.get(&key))
                        .is_some_and(|t| now.duration_since(*t) >= MAX_WAIT);
                    choose_upload(q.iter().map(|&b| self.spread(b)), rare_demand, overdue)
                } else if q.is_empty() {
                    UploadChoice::Wait
                } else {
                    UploadChoice::Send(0)
                };
                let UploadChoice::Send(at) = choice else {
                    break; // others need our bytes more; this peer can trade for its pieces
                };
                let Some(block) = (self.uploads.pending.get_mut(&key)).and_then(|q| q.remove(at))
                else {
                    break;
                };
                self.uploads.last_served.insert(key, now);
                self.dispatch_read(key, block);
            }
            if (self.uploads.pending.get(&key)).is_some_and(VecDeque::is_empty) {
                self.uploads.forget(key);
            }
        }
    }

    /// Forgets peers that left; refuses what choked peers asked for, except the pieces we
    /// allowed them fast (BEP 6), which still wait their turn.
    fn refuse_choked(&mut self) {
        let keys: Vec<PeerKey> = self.uploads.pending.keys().copied().collect();
        for key in keys {
            match self.peers.get(&key) {
                None => self.uploads.forget(key),
                Some(p) if p.am_choking => {
                    let waiting = self.uploads.pending.remove(&key).unwrap_or_default();
                    let (kept, refused): (VecDeque<ValidBlock>, VecDeque<ValidBlock>) = waiting
                        .into_iter()
                        .partition(|b| p.allowed_out.contains(&b.piece.get()));
                    let fast = p.fast;
                    if kept.is_empty() {
                        self.uploads.last_served.remove(&key);
                    } else {
                        self.uploads.pending.insert(key, kept);
                    }
                    if fast && !refused.is_empty() {
                        let mut frame = Vec::new();
                        for b in refused {
                            Message::RejectRequest(b.as_ref()).encode(&mut frame);
                        }
                        self.send(key, Transmit::Frame(frame));
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// The disk read a block for `key`: it goes out unless the peer cancelled it or we choked
    /// it meanwhile (a fast peer is told with a reject).
    pub fn handle_read_done(&mut self, key: PeerKey, block: ValidBlock, data: Bytes) {
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
                self.send_frame(key, Message::RejectRequest(block.as_ref()));
            }
            return;
        }
        p.unsent += 1; // until the driver's next `set_unsent`
        let block = block.as_ref();
        self.send(key, Transmit::Block { block, data });
    }

    /// A read we asked for will not be answered (its file was withdrawn): a fast peer hears a
    /// reject.
    pub fn handle_read_refused(&mut self, key: PeerKey, block: BlockRef) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.serving = p.serving.saturating_sub(1);
        if p.cancelled.remove(&block) {
            return;
        }
        if p.fast {
            self.send_frame(key, Message::RejectRequest(block));
        }
    }
}

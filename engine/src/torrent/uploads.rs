//! Serving peers' requests.
//!
//! Without an upload limit every accepted request is read at once and queued at the peer's socket
//! (deep queues are what fast peers need). With a limit, that first-come-first-served queue is
//! how a capped publisher wastes its few bytes: requests wait for seconds, and by the time a block
//! goes out another leecher has spread that piece already, or the requester got it elsewhere and
//! its `cancel` came too late. So when capped, requests wait here, only [`READ_AHEAD`] blocks per
//! peer are read ahead of its socket (the writer's drain wakes the actor for more), and
//! `protocol::upload_order` picks what goes next: the rarest requested piece, and nothing for a
//! peer asking only for pieces others hold while someone needs a piece nobody has (the leechers
//! trade those; their endgame fetches them elsewhere and cancels them here). A peer is served
//! anyway after [`MAX_WAIT`], well within its stall timeout.
//!
//! Uncapped, requests are read at once too, but never more than [`READ_AHEAD_UNCAPPED`] blocks
//! ahead of a peer's socket: the rest wait here, so a peer that requests and never reads holds
//! at most that much of our memory in blocks.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use protocol::wire::{BlockRef, Message};
use protocol::{choose_upload, Spread, UploadChoice, ValidBlock};

use super::Torrent;
use crate::disk::DiskJob;
use crate::peer::{Outgoing, PeerKey};

/// Blocks per peer read ahead of its socket when the upload is capped.
const READ_AHEAD: usize = 4;
/// ...and when it is not: enough to keep a fast loopback socket busy (2 MiB), and what bounds
/// the block bytes a peer that stops reading can make us hold (see `peer::MAX_QUEUED_BYTES`).
/// Further accepted requests wait in `pending` (16 bytes each, at most `MAX_IN_REQUESTS`).
const READ_AHEAD_UNCAPPED: usize = 128;
/// Longest a peer with requests waits for a block while others are preferred (well below the
/// requester's stall timeout).
const MAX_WAIT: Duration = Duration::from_secs(4);

#[derive(Default)]
pub(super) struct Uploads {
    /// Requests accepted and not yet read, per peer (only while capped).
    pending: HashMap<PeerKey, VecDeque<ValidBlock>>,
    /// Blocks of each piece sent (read for sending) so far, per piece.
    sent: Vec<u32>,
    /// When each waiting peer was last given a block.
    last_served: HashMap<PeerKey, Instant>,
}

impl Uploads {
    /// Requests waiting for `key`.
    pub(super) fn pending_len(&self, key: PeerKey) -> usize {
        self.pending.get(&key).map_or(0, VecDeque::len)
    }

    /// Withdraws a waiting request; false if it was not waiting (it may be on its way).
    pub(super) fn cancel(&mut self, key: PeerKey, block: BlockRef) -> bool {
        let Some(q) = self.pending.get_mut(&key) else {
            return false;
        };
        let before = q.len();
        q.retain(|b| b.as_ref() != block);
        q.len() != before
    }
}

impl Torrent {
    /// A valid request from a peer we unchoke: read it now, or queue it when capped.
    pub(super) fn queue_upload(&mut self, key: PeerKey, block: ValidBlock) {
        if !self.shared.up_limit.is_limited()
            && self.uploads.pending_len(key) == 0
            && self
                .peers
                .get(&key)
                .is_some_and(|p| p.owed_blocks() < READ_AHEAD_UNCAPPED)
        {
            self.dispatch_read(key, block);
            return;
        }
        self.uploads
            .pending
            .entry(key)
            .or_default()
            .push_back(block);
        self.uploads
            .last_served
            .entry(key)
            .or_insert_with(Instant::now);
        self.pump_uploads();
    }

    fn dispatch_read(&mut self, key: PeerKey, block: ValidBlock) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.serving += 1;
        p.cancelled.remove(&block.as_ref());
        if self.shared.up_limit.is_limited() {
            // What a capped uploader has sent decides what it sends next (see `spread`).
            let n = self.lengths.piece_count() as usize;
            if self.uploads.sent.len() < n {
                self.uploads.sent.resize(n, 0);
            }
            if let Some(sent) = self.uploads.sent.get_mut(block.piece.get() as usize) {
                *sent = sent.saturating_add(1);
            }
        }
        let _ = self.disk.send(DiskJob::Read { key, block });
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

    /// Reads what the socket has room for, rarest pieces first (see the module doc). Called on
    /// every new request, every writer drain and every tick.
    pub(super) fn pump_uploads(&mut self) {
        if self.uploads.pending.is_empty() {
            return;
        }
        // Forget peers that left; refuse what choked peers asked for.
        let keys: Vec<PeerKey> = self.uploads.pending.keys().copied().collect();
        for key in keys {
            match self.peers.get(&key) {
                None => {
                    self.uploads.pending.remove(&key);
                    self.uploads.last_served.remove(&key);
                }
                Some(p) if p.am_choking => {
                    // Requests for pieces we allowed it fast (BEP 6) still wait their turn.
                    let waiting = self.uploads.pending.remove(&key).unwrap_or_default();
                    let (kept, refused): (VecDeque<ValidBlock>, VecDeque<ValidBlock>) = waiting
                        .into_iter()
                        .partition(|b| p.allowed_out.contains(&b.piece.get()));
                    if kept.is_empty() {
                        self.uploads.last_served.remove(&key);
                    } else {
                        self.uploads.pending.insert(key, kept);
                    }
                    if p.fast && !refused.is_empty() {
                        let mut frame = Vec::new();
                        for b in refused {
                            Message::RejectRequest(b.as_ref()).encode(&mut frame);
                        }
                        let _ = p.writer.send(Outgoing::Frame(frame));
                    }
                }
                Some(_) => {}
            }
        }
        let limited = self.shared.up_limit.is_limited();
        let now = Instant::now();
        let rare_demand = limited
            && self
                .uploads
                .pending
                .values()
                .flatten()
                .any(|&b| self.spread(b).is_rare());
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
                    let overdue = self
                        .uploads
                        .last_served
                        .get(&key)
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
                let Some(block) = self
                    .uploads
                    .pending
                    .get_mut(&key)
                    .and_then(|q| q.remove(at))
                else {
                    break;
                };
                self.uploads.last_served.insert(key, now);
                self.dispatch_read(key, block);
            }
            if self
                .uploads
                .pending
                .get(&key)
                .is_some_and(VecDeque::is_empty)
            {
                self.uploads.pending.remove(&key);
                self.uploads.last_served.remove(&key);
            }
        }
    }
}

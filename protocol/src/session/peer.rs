//! One connection's protocol state: who chokes whom, who wants what, the requests both ways
//! and the counters that bound what a hostile peer can make us do.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::wire::BlockRef;
use crate::{Bitfield, PeerId, ValidBlock, BLOCK_LEN};

/// A peer with requests outstanding that sends no block for this long is dropped, and its
/// requests go to others.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests we queue at a peer: at least this many...
const MIN_QUEUE: usize = 128;
/// ...and at most this many (or the peer's `reqq`, if lower).
const MAX_QUEUE: usize = 500;
/// Requests from one peer we hold at once (waiting, being read, or read and not yet sent);
/// more are rejected, and a peer that keeps sending them is dropped. Our extended handshake
/// says so as `reqq`.
pub const MAX_IN_REQUESTS: usize = 500;

pub struct PeerSession {
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    /// We dialed it (rather than it us).
    pub outgoing: bool,
    /// It speaks BEP 6.
    pub fast: bool,
    pub has: Bitfield,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// Blocks requested from this peer and not yet received.
    pub outstanding: BTreeSet<ValidBlock>,
    /// Requests we withdrew (choke, cancel), counted: an answer may still be on its way for
    /// each, and is not a sign of a hostile peer. A block asked, withdrawn, asked again and
    /// withdrawn again may come twice from a seeder that ignores cancels.
    withdrawn: BTreeMap<ValidBlock, u32>,
    /// Reads queued on the disk for this peer.
    pub(super) serving: usize,
    /// Blocks handed to the connection and not yet on its socket (the driver keeps it current
    /// with [`super::TorrentCore::set_unsent`]).
    pub(super) unsent: usize,
    /// Requests it cancelled while their reads were under way.
    pub(super) cancelled: BTreeSet<BlockRef>,
    /// The queue depth it asked for in its extended handshake.
    pub reqq: Option<u32>,
    pub(super) last_block: Instant,
    pub(super) unrequested: u32,
    pub(super) bad_requests: u32,
    /// Valid requests refused since we last unchoked it.
    pub(super) refused: u32,
    /// Payload rates, measured by the driver (`set_rates`): the choker and the request queue
    /// depth go by them.
    pub down_rate: u64,
    pub up_rate: u64,
    /// BEP 6: pieces this peer lets us fetch while it chokes us (bounded).
    pub(super) allowed_in: Vec<u32>,
    /// BEP 6: pieces we let this peer fetch while we choke it, once we sent them.
    pub(super) allowed_out: Vec<u32>,
    pub(super) sent_allowed_fast: bool,
    /// Blocks served while choking it: capped so allowed-fast cannot become a free ride.
    pub(super) fast_served: u32,
    /// BEP 10: what it said in its extended handshake, and our PEX and metadata exchanges.
    pub ext: super::ext_state::PeerExt,
}

impl PeerSession {
    pub(super) fn new(
        addr: SocketAddr,
        peer_id: PeerId,
        piece_count: u32,
        outgoing: bool,
        fast: bool,
        now: Instant,
    ) -> PeerSession {
        PeerSession {
            addr,
            peer_id,
            outgoing,
            fast,
            has: Bitfield::new(piece_count),
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            outstanding: BTreeSet::new(),
            withdrawn: BTreeMap::new(),
            serving: 0,
            unsent: 0,
            cancelled: BTreeSet::new(),
            reqq: None,
            last_block: now,
            unrequested: 0,
            bad_requests: 0,
            refused: 0,
            down_rate: 0,
            up_rate: 0,
            allowed_in: Vec::new(),
            allowed_out: Vec::new(),
            sent_allowed_fast: false,
            fast_served: 0,
            ext: Default::default(),
        }
    }

    /// How many requests to keep queued: about a second of data at the measured rate.
    pub(super) fn queue_target(&self) -> usize {
        let by_rate = (self.down_rate / u64::from(BLOCK_LEN)) as usize;
        let cap = self
            .reqq
            .map_or(MAX_QUEUE, |q| (q as usize).clamp(1, MAX_QUEUE));
        by_rate
            .clamp(MIN_QUEUE, MAX_QUEUE)
            .min(cap)
            .max(MIN_QUEUE.min(cap))
    }

    /// Forgets a request we no longer want answered, remembering it as withdrawn.
    pub(super) fn withdraw(&mut self, block: ValidBlock) -> bool {
        if !self.outstanding.remove(&block) {
            return false;
        }
        if self.withdrawn.len() >= 4 * MAX_QUEUE {
            self.withdrawn.clear();
        }
        *self.withdrawn.entry(block).or_default() += 1;
        true
    }

    /// A block came that we had withdrawn: true if one withdrawal accounts for it.
    pub(super) fn take_withdrawn(&mut self, block: &ValidBlock) -> bool {
        let Some(n) = self.withdrawn.get_mut(block) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.withdrawn.remove(block);
        }
        true
    }

    /// Whether a withdrawal of `block` is still waiting for its answer.
    pub(super) fn is_withdrawn(&self, block: &ValidBlock) -> bool {
        self.withdrawn.contains_key(block)
    }

    /// Withdraws every outstanding request, returning them.
    pub(super) fn withdraw_all(&mut self) -> Vec<ValidBlock> {
        let all: Vec<ValidBlock> = self.outstanding.iter().copied().collect();
        for b in &all {
            self.withdraw(*b);
        }
        all
    }

    /// Blocks we owe this peer: reads in progress plus blocks waiting for its socket.
    pub fn owed_blocks(&self) -> usize {
        self.serving + self.unsent
    }

    /// Progress as a fraction of the torrent's pieces.
    pub fn progress(&self) -> f64 {
        f64::from(self.has.count_ones()) / f64::from(self.has.len().max(1))
    }
}

//! Requests accepted and waiting to be read, and what has been sent of each piece: the state
//! `serving` decides on.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use super::outputs::PeerKey;
use crate::wire::BlockRef;
use crate::ValidBlock;

#[derive(Default)]
pub(super) struct Uploads {
    /// Requests accepted and not yet read, per peer.
    pub(super) pending: BTreeMap<PeerKey, VecDeque<ValidBlock>>,
    /// Blocks of each piece sent (read for sending) so far, per piece.
    pub(super) sent: Vec<u32>,
    /// When each waiting peer was last given a block.
    pub(super) last_served: BTreeMap<PeerKey, Instant>,
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

    pub(super) fn forget(&mut self, key: PeerKey) {
        self.pending.remove(&key);
        self.last_served.remove(&key);
    }
}

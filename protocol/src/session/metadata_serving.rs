//! BEP 9 from the serving side: a peer's `ut_metadata` request gets the piece of our info
//! dictionary it names, or a reject for a piece that does not exist (or while we have no
//! metadata), within a budget per peer.

use super::core::TorrentCore;
use super::ext_state::extended_frame;
use super::outputs::{PeerKey, Transmit};
use crate::wire::{self, metadata_reply, MetadataMessage};

/// Requests one peer may make: each piece a few times over is plenty for an honest peer; more
/// is a loop or abuse, and counts as an unusable message.
pub(super) fn request_budget(info_len: usize) -> u32 {
    4 * info_len.div_ceil(wire::METADATA_PIECE_LEN) as u32 + 8
}

impl TorrentCore {
    /// Answers a `ut_metadata` message. Returns false for a message we could not use.
    pub(super) fn serve_metadata(&mut self, key: PeerKey, payload: &[u8]) -> bool {
        let Ok(msg) = MetadataMessage::decode(payload) else {
            return false;
        };
        let MetadataMessage::Request { piece } = msg else {
            // Data or reject: we asked for nothing, we have the metadata.
            return true;
        };
        let metadata = self.extensions.metadata.clone();
        let info: &[u8] = metadata.as_deref().map_or(&[], |m| m.info_bytes());
        let Some(p) = self.peers.get_mut(&key) else {
            return true;
        };
        let Some(their_id) = p.ext.ut_metadata else {
            return false; // it never told us which id to answer under
        };
        p.ext.metadata_requests += 1;
        if p.ext.metadata_requests > request_budget(info.len()) {
            return false;
        }
        let mut reply = Vec::new();
        // No metadata, or a piece past its end: a reject.
        metadata_reply(info, piece).encode(&mut reply);
        self.send(key, Transmit::Frame(extended_frame(their_id, &reply)));
        true
    }
}

#[cfg(test)]
#[path = "metadata_serving_tests.rs"]
mod tests;

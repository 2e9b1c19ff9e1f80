//! The metadata phase's exchange proper (BEP 9): which peer to ask for which 16 KiB piece, what
//! to make of its answers, and what to do when the assembled whole does not hash to the
//! info-hash, or a peer offers a size we refuse to allocate.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use super::error::PeerError;
use super::ext_state::extended_frame;
use super::metadata_core::{MetadataCore, MetadataEvent, METADATA_REQUEST_TIMEOUT};
use super::outputs::PeerKey;
use crate::wire::{MetadataDownload, MetadataError, MetadataMessage};

/// Metadata pieces asked of one peer at once.
const PER_PEER_REQUESTS: usize = 4;

impl MetadataCore {
    pub(super) fn on_metadata_message(&mut self, key: PeerKey, payload: &[u8], now: Instant) {
        let msg = match MetadataMessage::decode(payload) {
            Ok(m) => m,
            // An oversized total_size or piece lands here too: never allocated.
            Err(_) => return self.close(key, PeerError::Protocol("bad ut_metadata message"), now),
        };
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        match msg {
            MetadataMessage::Request { piece } => {
                let their_id =
                    (p.handshake.as_ref()).and_then(|h| h.id_of(crate::wire::UT_METADATA));
                if let Some(id) = their_id {
                    let mut reply = Vec::new();
                    MetadataMessage::Reject { piece }.encode(&mut reply);
                    self.send(key, extended_frame(id, &reply));
                }
            }
            MetadataMessage::Reject { piece } => {
                p.asked.remove(&piece);
                p.rejected.insert(piece);
                if self.requested.get(&piece).is_some_and(|(k, _)| *k == key) {
                    self.requested.remove(&piece);
                }
                self.request_metadata(now);
            }
            MetadataMessage::Data {
                piece,
                total_size,
                data,
            } => {
                if !p.asked.remove(&piece) {
                    return; // late or unsolicited: only pieces we asked this peer for count
                }
                let addr = p.addr;
                self.requested.remove(&piece);
                let Some(download) = self.download.as_mut() else {
                    return;
                };
                if download.on_data(piece, total_size, data).is_err() {
                    return self.close(key, PeerError::Protocol("bad metadata piece"), now);
                }
                self.contributors.insert(piece, addr);
                if !download.is_complete() {
                    return self.request_metadata(now);
                }
                match download.finish() {
                    Ok(info) => {
                        self.done = true;
                        self.requested.clear();
                        self.events.push_back(MetadataEvent::Complete(info));
                    }
                    Err(MetadataError::HashMismatch(_)) => self.hash_failed(now),
                    Err(_) => {
                        self.download = None;
                        self.request_metadata(now);
                    }
                }
            }
        }
    }

    /// The assembled metadata is not what the info-hash names: everyone who sent a piece of it
    /// is distrusted and dropped, and the fetch starts over from the others (with the size one
    /// of them announces, in case the liar also lied about the size).
    fn hash_failed(&mut self, now: Instant) {
        let liars: HashSet<SocketAddr> = self.contributors.drain().map(|(_, a)| a).collect();
        self.download = None;
        self.requested.clear();
        let why = "sent metadata that does not match the info-hash";
        self.distrust(liars.into_iter().collect(), why, now);
        self.request_metadata(now);
    }

    /// Forbids `addrs` and closes their connections.
    fn distrust(&mut self, mut addrs: Vec<SocketAddr>, why: &'static str, now: Instant) {
        addrs.sort();
        let keys: Vec<PeerKey> = (self.peers.iter())
            .filter(|(_, p)| addrs.contains(&p.addr))
            .map(|(k, _)| *k)
            .collect();
        for &addr in &addrs {
            self.pool.forbid(addr);
        }
        for key in keys {
            self.close(key, PeerError::Banned(why), now);
        }
        (self.events).push_back(MetadataEvent::Distrusted { addrs, why });
    }

    /// Starts the download from the size most peers announce if needed, then sends requests
    /// for missing pieces to peers that offer that size, a few per peer.
    pub(super) fn request_metadata(&mut self, now: Instant) {
        if !self.active || self.done {
            return;
        }
        if self.download.is_none() {
            let mut sizes: Vec<u64> = (self.peers.values())
                .filter(|p| !self.pool.is_banned(p.addr))
                .filter_map(|p| p.offer().map(|(_, size)| size))
                .collect();
            sizes.sort_unstable();
            // The most common size among peers; ties go to the smallest.
            let size = (sizes.chunk_by(|a, b| a == b))
                .max_by_key(|run| (run.len(), std::cmp::Reverse(run[0])))
                .map(|run| run[0]);
            let Some(size) = size else { return };
            match MetadataDownload::new(self.info_hash, size) {
                Ok(d) => self.download = Some(d),
                Err(_) => {
                    // Oversized (or zero): refuse every peer claiming it, allocate nothing.
                    let liars: Vec<SocketAddr> = (self.peers.values())
                        .filter(|p| p.offer().is_some_and(|(_, s)| s == size))
                        .map(|p| p.addr)
                        .collect();
                    return self.distrust(liars, "metadata size refused", now);
                }
            }
        }
        let Some(download) = &self.download else {
            return;
        };
        let size = download.total_size();
        let missing: Vec<u32> = (download.missing())
            .filter(|piece| !self.requested.contains_key(piece))
            .collect();
        for piece in missing {
            let choice = (self.peers.iter())
                .filter(|(_, p)| {
                    !self.pool.is_banned(p.addr)
                        && p.offer().is_some_and(|(_, s)| s == size)
                        && !p.rejected.contains(&piece)
                        && p.asked.len() < PER_PEER_REQUESTS
                })
                .min_by_key(|(k, p)| (p.asked.len(), **k))
                .map(|(k, _)| *k);
            let Some(key) = choice else { break };
            let Some(p) = self.peers.get_mut(&key) else {
                break;
            };
            let Some((id, _)) = p.offer() else { break };
            p.asked.insert(piece);
            let mut payload = Vec::new();
            MetadataMessage::Request { piece }.encode(&mut payload);
            self.send(key, extended_frame(id, &payload));
            self.requested
                .insert(piece, (key, now + METADATA_REQUEST_TIMEOUT));
        }
    }
}

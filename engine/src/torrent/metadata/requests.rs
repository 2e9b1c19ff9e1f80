//! The metadata phase's exchange proper: which peer to ask for which 16 KiB piece, what to
//! make of its answers, and what to do when the assembled whole does not hash to the
//! info-hash.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use protocol::wire::{MetadataDownload, MetadataError, MetadataMessage};

use super::{wire_ut_metadata, MagnetPhase, PendingPeer, PER_PEER_REQUESTS, REQUEST_TIMEOUT};
use crate::peer::{Outgoing, PeerKey};
use protocol::session::extended_frame;

impl MagnetPhase {
    pub(super) fn on_metadata_message(&mut self, key: PeerKey, payload: &[u8]) -> Option<Vec<u8>> {
        let msg = match MetadataMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                // An oversized total_size or piece lands here too: never allocated.
                self.close(key, &format!("bad ut_metadata message: {e}"));
                return None;
            }
        };
        let p = self.peers.get_mut(&key)?;
        match msg {
            MetadataMessage::Request { piece } => {
                if let Some(id) = p
                    .handshake
                    .as_ref()
                    .and_then(|h| h.id_of(wire_ut_metadata()))
                {
                    let mut reply = Vec::new();
                    MetadataMessage::Reject { piece }.encode(&mut reply);
                    let _ = p.writer.send(Outgoing::Frame(extended_frame(id, &reply)));
                }
                None
            }
            MetadataMessage::Reject { piece } => {
                p.asked.remove(&piece);
                p.rejected.insert(piece);
                if self.requested.get(&piece).is_some_and(|(k, _)| *k == key) {
                    self.requested.remove(&piece);
                }
                self.request_metadata(Instant::now());
                None
            }
            MetadataMessage::Data {
                piece,
                total_size,
                data,
            } => {
                let asked = p.asked.remove(&piece);
                let addr = p.addr;
                if !asked {
                    return None; // late or unsolicited: only pieces we asked this peer for count
                }
                self.requested.remove(&piece);
                let download = self.download.as_mut()?;
                if let Err(e) = download.on_data(piece, total_size, data) {
                    self.close(key, &format!("bad metadata piece: {e}"));
                    return None;
                }
                self.contributors.insert(piece, addr);
                if !download.is_complete() {
                    self.request_metadata(Instant::now());
                    return None;
                }
                match download.finish() {
                    Ok(info) => Some(info),
                    Err(MetadataError::HashMismatch(_)) => {
                        self.hash_failed();
                        None
                    }
                    Err(e) => {
                        tracing::warn!("metadata: {e}");
                        self.download = None;
                        None
                    }
                }
            }
        }
    }

    /// The assembled metadata is not what the info-hash names: everyone who sent a piece of it
    /// is distrusted and dropped, and the fetch starts over from the others (with the size one
    /// of them announces, in case the liar also lied about the size).
    fn hash_failed(&mut self) {
        let liars: HashSet<SocketAddr> = self.contributors.drain().map(|(_, a)| a).collect();
        tracing::warn!(
            "magnet {}: metadata from {liars:?} does not match the info-hash",
            self.magnet.info_hash
        );
        self.download = None;
        self.requested.clear();
        let keys: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| liars.contains(&p.addr))
            .map(|(k, _)| *k)
            .collect();
        for addr in liars {
            self.pool.forbid(addr);
        }
        for key in keys {
            self.close(key, "sent metadata that does not match the info-hash");
        }
        self.request_metadata(Instant::now());
    }

    /// Whether a peer can be asked for metadata (and its announced size, if so).
    fn offer(&self, p: &PendingPeer) -> Option<(u8, u64)> {
        if self.pool.is_banned(p.addr) {
            return None;
        }
        let hs = p.handshake.as_ref()?;
        Some((hs.id_of(wire_ut_metadata())?, hs.metadata_size?))
    }

    /// Starts the download from a peer's announced size if needed, then sends requests for
    /// missing pieces to peers that offer the same size, a few per peer.
    pub(super) fn request_metadata(&mut self, now: Instant) {
        if self.paused || self.error.is_some() {
            return;
        }
        if self.download.is_none() {
            let mut sizes: Vec<u64> = self
                .peers
                .values()
                .filter_map(|p| self.offer(p).map(|(_, size)| size))
                .collect();
            sizes.sort_unstable();
            // The most common size among peers; ties go to the smallest.
            let size = sizes
                .chunk_by(|a, b| a == b)
                .max_by_key(|run| (run.len(), std::cmp::Reverse(run[0])))
                .map(|run| run[0]);
            let Some(size) = size else { return };
            match MetadataDownload::new(self.magnet.info_hash, size) {
                Ok(d) => self.download = Some(d),
                Err(e) => {
                    // Oversized (or zero): refuse every peer claiming it, allocate nothing.
                    tracing::warn!("magnet {}: refusing metadata: {e}", self.magnet.info_hash);
                    let liars: Vec<PeerKey> = self
                        .peers
                        .iter()
                        .filter(|(_, p)| self.offer(p).is_some_and(|(_, s)| s == size))
                        .map(|(k, _)| *k)
                        .collect();
                    for key in liars {
                        if let Some(p) = self.peers.get(&key) {
                            self.pool.forbid(p.addr);
                        }
                        self.close(key, "metadata size refused");
                    }
                    return;
                }
            }
        }
        let Some(download) = &self.download else {
            return;
        };
        let size = download.total_size();
        let missing: Vec<u32> = download
            .missing()
            .filter(|piece| !self.requested.contains_key(piece))
            .collect();
        for piece in missing {
            let choice = self
                .peers
                .iter()
                .filter(|(_, p)| {
                    self.offer(p).is_some_and(|(_, s)| s == size)
                        && !p.rejected.contains(&piece)
                        && p.asked.len() < PER_PEER_REQUESTS
                })
                .min_by_key(|(k, p)| (p.asked.len(), **k))
                .map(|(k, _)| *k);
            let Some(key) = choice else { break };
            let Some(p) = self.peers.get_mut(&key) else {
                break;
            };
            let Some(id) = p
                .handshake
                .as_ref()
                .and_then(|h| h.id_of(wire_ut_metadata()))
            else {
                break;
            };
            let mut payload = Vec::new();
            MetadataMessage::Request { piece }.encode(&mut payload);
            let _ = p.writer.send(Outgoing::Frame(extended_frame(id, &payload)));
            p.asked.insert(piece);
            self.requested.insert(piece, (key, now + REQUEST_TIMEOUT));
        }
    }
}

//! BEP 10, the extension protocol, as the torrent's core runs it: our extended handshake to a
//! peer that set the bit, what it says in its own, and where its extended messages go: `pex`
//! (BEP 11) and `metadata_serving` (BEP 9). The state is in `ext_state`.

use std::net::SocketAddr;
use std::time::Instant;

use super::core::TorrentCore;
use super::error::PeerError;
use super::ext_state::extended_frame;
use super::ext_state::{decode_handshake, Extensions, OUR_UT_METADATA, OUR_UT_PEX};
use super::outputs::PeerKey;
use super::peer::MAX_IN_REQUESTS;
use crate::wire::{self, ExtendedHandshake, UT_METADATA, UT_PEX};

/// Extended messages we could not use (malformed, oversized, or more than a peer may send)
/// tolerated from one peer before it is disconnected: an occasional odd message is a quirk, a
/// stream is abuse.
pub(super) const MAX_BAD_EXTENSION_MESSAGES: u32 = 16;
impl Extensions {
    /// Our extended handshake as a whole frame, for a connection to `peer`. `metadata_size` is
    /// what we can serve (none before a magnet's metadata is in).
    pub fn handshake_frame(&self, peer: SocketAddr, metadata_size: Option<u64>) -> Vec<u8> {
        let mut hs = ExtendedHandshake {
            v: (!self.client.is_empty()).then(|| self.client.clone()),
            p: (self.listen_port != 0).then_some(self.listen_port),
            reqq: Some(MAX_IN_REQUESTS as u32),
            yourip: Some(peer.ip()),
            metadata_size,
            ..Default::default()
        };
        hs.m.insert(UT_METADATA.to_owned(), OUR_UT_METADATA);
        // Id 0 tells a peer that saw an earlier handshake from us that PEX is now off.
        hs.m.insert(UT_PEX.to_owned(), if self.pex { OUR_UT_PEX } else { 0 });
        let mut payload = Vec::new();
        hs.encode(&mut payload);
        extended_frame(wire::HANDSHAKE_ID, &payload)
    }
}

impl TorrentCore {
    /// The torrent's BEP 10 settings; without them a peer hears a handshake with no port, no
    /// name and no metadata, and PEX is off.
    pub fn set_extensions(&mut self, ext: Extensions) {
        self.extensions = ext;
    }

    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// The peer set BEP 10's reserved bit: it hears our extended handshake (after the opening
    /// message `handle_connected` queued).
    pub fn handle_extension_bit(&mut self, key: PeerKey) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.ext.speaks = true;
        let addr = p.addr;
        self.send_extended_handshake(key, addr);
    }

    pub(super) fn send_extended_handshake(&mut self, key: PeerKey, addr: SocketAddr) {
        let size = (self.extensions.metadata.as_ref()).map(|m| m.info_bytes().len() as u64);
        let frame = self.extensions.handshake_frame(addr, size);
        self.send(key, super::outputs::Transmit::Frame(frame));
    }

    /// An extended message (BEP 10) from a connected peer.
    pub(super) fn on_extended(&mut self, key: PeerKey, id: u8, payload: &[u8], now: Instant) {
        let ok = match id {
            wire::HANDSHAKE_ID => self.on_extended_handshake(key, payload, now),
            OUR_UT_METADATA => self.serve_metadata(key, payload),
            OUR_UT_PEX => self.on_pex(key, payload, now),
            // An id we never assigned: the peer ignored our handshake. Harmless.
            _ => true,
        };
        if ok {
            return;
        }
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        p.ext.bad_messages += 1;
        if p.ext.bad_messages > MAX_BAD_EXTENSION_MESSAGES {
            let why = PeerError::Protocol("too many unusable extension messages");
            self.close_peer(key, why);
        }
    }

    fn on_extended_handshake(&mut self, key: PeerKey, payload: &[u8], now: Instant) -> bool {
        let Some(hs) = decode_handshake(payload) else {
            return false;
        };
        let Some(p) = self.peers.get_mut(&key) else {
            return true;
        };
        p.ext.learn(&hs, now);
        p.reqq = hs.reqq;
        true
    }
}

#[cfg(test)]
#[path = "extended_tests.rs"]
mod tests;

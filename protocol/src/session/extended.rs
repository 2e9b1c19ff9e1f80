//! BEP 10, the extension protocol: our extended handshake, what each peer says in its own, and
//! where its extended messages go: `pex` (BEP 11) and `metadata_serving` (BEP 9). A magnet's
//! metadata phase (`metadata_core`) speaks the same handshake with the same ids.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use super::core::TorrentCore;
use super::error::PeerError;
use super::outputs::PeerKey;
use super::peer::MAX_IN_REQUESTS;
use crate::lan::Origin;
use crate::wire::{self, ExtendedHandshake, Message, PexDiff, UT_METADATA, UT_PEX};
use crate::Metainfo;

/// The extended message id peers must use to send us `ut_metadata` messages.
pub const OUR_UT_METADATA: u8 = 1;
/// ... and `ut_pex` messages.
pub const OUR_UT_PEX: u8 = 2;

/// Extended messages we could not use (malformed, oversized, or more than a peer may send)
/// tolerated from one peer before it is disconnected: an occasional odd message is a quirk, a
/// stream is abuse.
pub(super) const MAX_BAD_EXTENSION_MESSAGES: u32 = 16;
/// Largest extended handshake we decode. Real ones are a few hundred bytes; the frame limit
/// alone would let a peer make us parse megabytes of dictionary on every handshake.
pub const MAX_HANDSHAKE_LEN: usize = 16 * 1024;
/// Longest client name (`v`) kept from a handshake, in characters.
const MAX_CLIENT_LEN: usize = 64;

/// A torrent's BEP 10 settings, from its driver ([`TorrentCore::set_extensions`]).
#[derive(Debug, Clone, Default)]
pub struct Extensions {
    /// Our listen port (`p`): what a peer that we dialed may pass on over PEX.
    pub listen_port: u16,
    /// Our client name and version (`v`).
    pub client: String,
    /// The torrent whose info dictionary we serve over `ut_metadata` (none: we have none yet).
    pub metadata: Option<Arc<Metainfo>>,
    /// Whether we speak PEX: not for private torrents (BEP 27).
    pub pex: bool,
    /// The LAN rule for the peers PEX names (`crate::lan`): a public page's torrent learns no
    /// LAN peers this way unless the user allows it.
    pub origin: Origin,
    pub allow_lan: bool,
}

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

    /// Whether PEX may add `ip` to the pool.
    pub(super) fn may_learn(&self, ip: IpAddr) -> bool {
        crate::lan::may_contact(self.origin, self.allow_lan, ip)
    }
}

/// An extended message frame under the id the peer chose.
pub fn extended_frame(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    Message::Extended { id, payload }.encode(&mut frame);
    frame
}

/// Decodes an extended handshake within [`MAX_HANDSHAKE_LEN`].
pub fn decode_handshake(payload: &[u8]) -> Option<ExtendedHandshake> {
    if payload.len() > MAX_HANDSHAKE_LEN {
        return None;
    }
    ExtendedHandshake::decode(payload).ok()
}

/// What a peer told us in its extended handshake, and our BEP 10 exchanges with it since.
#[derive(Debug, Default)]
pub struct PeerExt {
    /// It set BEP 10's reserved bit: it has heard our handshake.
    pub speaks: bool,
    /// The id it wants `ut_metadata` messages under, if it speaks it.
    pub ut_metadata: Option<u8>,
    pub ut_pex: Option<u8>,
    /// The size of the info dictionary it offers (BEP 9), unchecked.
    pub metadata_size: Option<u64>,
    /// The port it accepts connections on (`p`): for a peer that dialed us, the address PEX
    /// may pass on.
    pub listen_port: Option<u16>,
    /// Its client name (`v`), cut to a sane length.
    pub client: Option<String>,
    /// Our address as it sees us.
    pub yourip: Option<IpAddr>,
    /// BEP 21: it does not download.
    pub upload_only: bool,
    /// What we have told it over PEX so far.
    pub(super) pex_sent: PexDiff,
    /// When we may next send it a PEX message (`None` before its handshake).
    pub(super) pex_due: Option<Instant>,
    /// When its last PEX message that we used arrived.
    pub(super) pex_received: Option<Instant>,
    /// Metadata pieces it asked us for.
    pub(super) metadata_requests: u32,
    pub(super) bad_messages: u32,
}

impl PeerExt {
    /// Records a (possibly repeated: BEP 10 allows updates) extended handshake.
    pub fn learn(&mut self, hs: &ExtendedHandshake, now: Instant) {
        self.ut_metadata = hs.id_of(UT_METADATA);
        self.ut_pex = hs.id_of(UT_PEX);
        self.metadata_size = hs.metadata_size;
        self.listen_port = hs.p.filter(|&p| p != 0);
        if let Some(v) = &hs.v {
            self.client = Some(v.chars().take(MAX_CLIENT_LEN).collect());
        }
        self.yourip = hs.yourip;
        self.upload_only = hs.upload_only;
        if self.ut_pex.is_some() && self.pex_due.is_none() {
            // The first message names everyone we are connected to; it goes at the next tick.
            self.pex_due = Some(now);
        }
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

//! BEP 10 extensions of a torrent with metadata: the ids we assign, what each peer said in its
//! extended handshake, and serving our info dictionary over BEP 9 `ut_metadata`. PEX lives in
//! `pex.rs`; fetching metadata for a magnet link in `metadata.rs`.

use std::net::SocketAddr;
use std::time::Instant;

use protocol::wire::{
    self, metadata_reply, ExtendedHandshake, Message, MetadataMessage, PexDiff, UT_METADATA, UT_PEX,
};

use super::Torrent;
use crate::peer::{Outgoing, PeerKey};
use protocol::session::{PeerError, MAX_IN_REQUESTS};

/// The extended message id peers must use to send us `ut_metadata` messages.
pub(crate) const OUR_UT_METADATA: u8 = 1;
/// ... and `ut_pex` messages.
pub(crate) const OUR_UT_PEX: u8 = 2;

/// Extended messages we could not use (malformed, or more than a peer may send) tolerated from
/// one peer before it is disconnected: an occasional odd message is a quirk, a stream is abuse.
const MAX_BAD_EXTENSION_MESSAGES: u32 = 16;

/// What a peer told us in its extended handshake, and our exchanges with it since.
#[derive(Debug, Default)]
pub(crate) struct PeerExt {
    /// The id the peer wants `ut_metadata` messages under, if it speaks it.
    pub ut_metadata: Option<u8>,
    pub ut_pex: Option<u8>,
    /// The size of the info dictionary the peer offers (BEP 9), unchecked.
    pub metadata_size: Option<u64>,
    /// The port the peer accepts connections on (`p`): for a peer that dialed us, the address
    /// PEX may pass on.
    pub listen_port: Option<u16>,
    /// What we have told this peer over PEX so far.
    pub pex_sent: PexDiff,
    /// When we may next send it a PEX message (`None` before its handshake).
    pub pex_due: Option<Instant>,
    /// When its last PEX message arrived (messages closer together are ignored).
    pub pex_received: Option<Instant>,
    /// Metadata pieces it asked us for.
    pub metadata_requests: u32,
    pub bad_messages: u32,
}

impl PeerExt {
    /// Records a (possibly repeated: BEP 10 allows updates) extended handshake.
    pub fn learn(&mut self, hs: &ExtendedHandshake, now: Instant) {
        self.ut_metadata = hs.id_of(UT_METADATA);
        self.ut_pex = hs.id_of(UT_PEX);
        self.metadata_size = hs.metadata_size;
        self.listen_port = hs.p.filter(|&p| p != 0);
        if self.ut_pex.is_some() && self.pex_due.is_none() {
            // The first message names everyone we are connected to; it goes at the next tick.
            self.pex_due = Some(now);
        }
    }
}

/// Our extended handshake frame: what we speak, our listen port, and (once we have it) the size
/// of the metadata we can serve. `pex` is false for private torrents (BEP 27).
pub(crate) fn extended_handshake_frame(
    listen_port: u16,
    peer: SocketAddr,
    metadata_size: Option<u64>,
    pex: bool,
) -> Vec<u8> {
    let mut hs = ExtendedHandshake {
        v: Some(format!("Swarmlink {}", env!("CARGO_PKG_VERSION"))),
        p: Some(listen_port),
        reqq: Some(MAX_IN_REQUESTS as u32),
        yourip: Some(peer.ip()),
        metadata_size,
        ..Default::default()
    };
    hs.m.insert(UT_METADATA.to_owned(), OUR_UT_METADATA);
    // Id 0 tells a peer that saw an earlier handshake from us that PEX is now off.
    hs.m.insert(UT_PEX.to_owned(), if pex { OUR_UT_PEX } else { 0 });
    let mut payload = Vec::new();
    hs.encode(&mut payload);
    let mut frame = Vec::new();
    Message::Extended {
        id: wire::HANDSHAKE_ID,
        payload: &payload,
    }
    .encode(&mut frame);
    frame
}

/// An extended message frame with the id the peer chose.
pub(crate) fn extended_frame(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    Message::Extended { id, payload }.encode(&mut frame);
    frame
}

impl Torrent {
    pub(super) fn our_extended_handshake(&self, peer: SocketAddr) -> Vec<u8> {
        extended_handshake_frame(
            self.shared.listen_port,
            peer,
            Some(self.metainfo.info_bytes().len() as u64),
            !self.metainfo.info.private,
        )
    }

    /// An extended message other than the handshake, under one of our ids.
    pub(super) fn on_extension_message(&mut self, key: PeerKey, id: u8, payload: &[u8]) {
        let ok = match id {
            OUR_UT_METADATA => self.serve_metadata(key, payload),
            OUR_UT_PEX => self.on_pex(key, payload),
            // An id we never assigned: the peer ignored our handshake. Harmless.
            _ => true,
        };
        if !ok {
            let Some(c) = self.conns.get_mut(&key) else {
                return;
            };
            c.ext.bad_messages += 1;
            if c.ext.bad_messages > MAX_BAD_EXTENSION_MESSAGES {
                let why = PeerError::Protocol("too many unusable extension messages");
                self.close_peer(key, why);
            }
        }
    }

    /// Answers a `ut_metadata` request with a piece of our info dictionary (BEP 9). Returns
    /// false for a message we could not use.
    fn serve_metadata(&mut self, key: PeerKey, payload: &[u8]) -> bool {
        let Ok(msg) = MetadataMessage::decode(payload) else {
            return false;
        };
        let MetadataMessage::Request { piece } = msg else {
            // Data or reject: we asked for nothing, we have the metadata.
            return true;
        };
        let info = self.metainfo.info_bytes();
        // Each piece a few times over is plenty for an honest peer; more is a loop or abuse.
        let allowed = 4 * info.len().div_ceil(wire::METADATA_PIECE_LEN) as u32 + 8;
        let Some(p) = self.conns.get_mut(&key) else {
            return true;
        };
        let Some(their_id) = p.ext.ut_metadata else {
            return false; // it never told us which id to answer under
        };
        p.ext.metadata_requests += 1;
        if p.ext.metadata_requests > allowed {
            return false;
        }
        let mut reply = Vec::new();
        metadata_reply(info, piece).encode(&mut reply);
        let _ = p
            .writer
            .send(Outgoing::Frame(extended_frame(their_id, &reply)));
        true
    }
}

//! BEP 10 state: a torrent's extension settings and our extended handshake ([`Extensions`]),
//! what each peer said in its own ([`PeerExt`]), and the frames both cores send. The rules that
//! use them are in `extended`, `pex`, `metadata_serving` and the metadata phase's files.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::lan::Origin;
use crate::wire::{ExtendedHandshake, Message, PexDiff, UT_METADATA, UT_PEX};
use crate::Metainfo;

/// The extended message id peers must use to send us `ut_metadata` messages.
pub const OUR_UT_METADATA: u8 = 1;
/// ... and `ut_pex` messages.
pub const OUR_UT_PEX: u8 = 2;

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

//! One torrent's BitTorrent rules as a state machine, in the manner of quinn-proto: the peer
//! wire (choke and interest, requests both ways, BEP 6 allowed-fast, endgame), the strike and
//! ban rules, BEP 10 extensions (`extended`, PEX in `pex`, serving metadata in
//! `metadata_serving`), and the pool of addresses to dial. A magnet's phase before its metadata
//! is [`MetadataCore`] (`metadata_core`, `metadata_requests`), which the torrent's core adopts. It reads no clock, opens no socket and spawns
//! nothing; a driver (the engine's torrent task) feeds it what happened and carries out what it
//! asks for.
//!
//! Inputs are calls on [`TorrentCore`]: `handle_connected`, `handle_message`, `handle_closed`,
//! `handle_read_done`, `handle_verified`, `handle_failed`, `handle_timeout(now)`, ...
//! Outputs are polled: [`TorrentCore::poll_transmit`] (what to send to which peer, or to close
//! it), [`TorrentCore::poll_disk`] (blocks to write, blocks to read), [`TorrentCore::poll_connect`]
//! (addresses to dial), [`TorrentCore::poll_event`] (bans, for the log and the user).
//! Time comes in as `now`; randomness from a seed given to [`TorrentCore::new`].

mod adopt;
mod allowed_fast;
mod choke;
mod core;
mod dialing;
mod error;
mod ext_state;
mod extended;
mod inbound;
mod message;
mod metadata_core;
mod metadata_requests;
mod metadata_serving;
mod outputs;
mod peer;
mod pex;
mod pool;
mod requests;
mod serving;
mod strikes;
#[cfg(test)]
mod test_peers;
mod uploads;
mod verdicts;
mod web_seeds;

pub use self::core::TorrentCore;
pub use adopt::Adopted;
pub use error::PeerError;
pub use ext_state::{
    decode_handshake, extended_frame, Extensions, PeerExt, MAX_HANDSHAKE_LEN, OUR_UT_METADATA,
    OUR_UT_PEX,
};
pub use message::PeerMessage;
pub use metadata_core::{EarlyPeer, MetadataCore, MetadataEvent, METADATA_REQUEST_TIMEOUT};
pub use outputs::{CoreConfig, CoreEvent, DiskOp, PeerKey, Transmit};
pub use peer::{PeerSession, MAX_IN_REQUESTS, STALL_TIMEOUT};
pub use pex::{added_peers, dialable, MIN_RECEIVE_GAP, PEX_INTERVAL};
pub use pool::{Dial, DialPool, MAX_CANDIDATES};
pub use serving::READ_AHEAD_UNCAPPED;
pub use web_seeds::{WebSeedAsk, WebSeedJob};

//! The core's vocabulary with its driver: its settings, a connection's key, and what it asks
//! the driver to do.

use std::net::SocketAddr;

use bytes::Bytes;

use super::error::PeerError;
use crate::wire::BlockRef;
use crate::{InfoHash, PeerId, ValidBlock};

/// A connection's name inside one torrent, handed out by the core (`poll_connect`,
/// `admit_incoming`). Never reused within a torrent.
pub type PeerKey = u64;

/// What the core needs to know of its session.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub our_id: PeerId,
    pub info_hash: InfoHash,
    /// Peers unchoked at once (0: nobody, only allowed-fast pieces are served).
    pub upload_slots: usize,
    /// Connections of this torrent, handshaking ones included.
    pub max_peers: usize,
    /// Connections to or from one host (`IpKey`).
    pub max_peers_per_ip: usize,
}

/// What to do with a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Encoded messages, in order.
    Frame(Vec<u8>),
    /// Requests (the connection encodes and batches them).
    Requests(Vec<BlockRef>),
    /// A block we read for it.
    Block { block: BlockRef, data: Bytes },
    /// Close it now. The core has already forgotten it.
    Close(PeerError),
}

/// Work for the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskOp {
    Write {
        block: ValidBlock,
        data: Bytes,
    },
    /// Read a block for a peer; answer with [`TorrentCore::handle_read_done`] (or
    /// [`TorrentCore::handle_read_refused`]).
    Read {
        key: PeerKey,
        block: ValidBlock,
    },
}

/// Things worth telling the user or the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreEvent {
    /// A host (or, on this machine, one address) is banned from this torrent.
    Banned { addr: SocketAddr, why: &'static str },
}

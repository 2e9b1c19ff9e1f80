//! The channels and shared context of one torrent, made before its actor runs: the magnet's
//! metadata phase and the torrent after it use the same ones.

use std::sync::{Arc, Mutex};

use protocol::Metainfo;
use tokio::sync::mpsc;

use super::{SessionShared, TorrentCmd, TorrentHandle};
use crate::disk::DiskEvent;
use crate::peer::{PeerContext, PeerEvent};
use crate::status_feed::StatusCell;
use crate::types::{PeerStatus, TorrentState, TorrentStatus};

/// The receiving ends a torrent actor runs on.
pub(crate) type Channels = (
    mpsc::UnboundedReceiver<TorrentCmd>,
    mpsc::Receiver<PeerEvent>,
    mpsc::UnboundedReceiver<DiskEvent>,
);

/// The channels and published snapshots of one torrent, made before its actor: a magnet's
/// metadata phase and the torrent that follows it share them, so the session's handle and the
/// peer connections stay valid across the change.
pub(crate) struct Wiring {
    pub cmd_tx: mpsc::UnboundedSender<TorrentCmd>,
    pub cmd_rx: mpsc::UnboundedReceiver<TorrentCmd>,
    pub peer_tx: mpsc::Sender<PeerEvent>,
    pub peer_rx: mpsc::Receiver<PeerEvent>,
    pub status_out: Arc<StatusCell>,
    pub peers_out: Arc<Mutex<Vec<PeerStatus>>>,
    /// Peer writers' "my queue drained" signal: the actor's, whichever phase made the peer.
    pub upload_room: Arc<tokio::sync::Notify>,
}

impl Wiring {
    pub(crate) fn new() -> Wiring {
        // Small: a slow actor makes peer readers wait, leaving data in kernel socket buffers.
        let (peer_tx, peer_rx) = mpsc::channel(128);
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        Wiring {
            cmd_tx,
            cmd_rx,
            peer_tx,
            peer_rx,
            status_out: Arc::new(StatusCell::new(TorrentStatus::empty(
                protocol::InfoHash::default(),
                TorrentState::Checking,
            ))),
            peers_out: Arc::new(Mutex::new(Vec::new())),
            upload_room: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub(crate) fn handle(&self) -> TorrentHandle {
        TorrentHandle {
            cmd: self.cmd_tx.clone(),
            status: self.status_out.clone(),
            peers: self.peers_out.clone(),
        }
    }
}

/// The torrent's BEP 10 settings for its core (`metadata` none during a magnet's fetch).
pub(crate) fn extensions(
    shared: &SessionShared,
    metadata: Option<Arc<Metainfo>>,
) -> protocol::session::Extensions {
    let private = metadata.as_ref().is_some_and(|m| m.info.private);
    protocol::session::Extensions {
        listen_port: shared.listen_port,
        client: format!("Swarmlink {}", env!("CARGO_PKG_VERSION")),
        metadata,
        pex: !private,
        origin: shared.targets.origin,
        allow_lan: shared.targets.allow_lan,
    }
}

/// What every connection of a torrent shares (`piece_count` 0 while the metadata is unknown).
pub(crate) fn peer_context(
    shared: &SessionShared,
    info_hash: protocol::InfoHash,
    piece_count: u32,
    events: mpsc::Sender<PeerEvent>,
    upload_room: Arc<tokio::sync::Notify>,
) -> PeerContext {
    PeerContext {
        info_hash,
        our_id: shared.our_id,
        piece_count,
        events,
        down_limit: shared.down_limit.clone(),
        up_limit: shared.up_limit.clone(),
        connector: shared.connector.clone(),
        dht: shared.dht.clone(),
        upload_room,
        write_timeout: shared.write_timeout,
        max_queued_bytes: crate::peer::MAX_QUEUED_BYTES,
    }
}

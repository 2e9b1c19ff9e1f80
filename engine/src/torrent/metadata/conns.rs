//! The metadata phase's connections: it spawns the dials and handshakes its core asks for,
//! feeds the core what peers say, and carries out what the core polls (frames, closes).

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;
use protocol::session::{MetadataEvent, Transmit};
use protocol::wire::Extension;

use super::{MagnetPhase, PendingConn};
use crate::peer::{self, Outgoing, PeerEvent};

impl MagnetPhase {
    pub(super) fn add_candidates(&mut self, addrs: Vec<SocketAddr>) {
        self.core.add_candidates(addrs, Instant::now());
    }

    pub(super) fn accept(&mut self, stream: crate::mse_stream::PeerStream, buf: BytesMut) {
        let Ok(addr) = stream.peer_addr() else {
            return;
        };
        let Some(key) = self.core.admit_incoming(addr) else {
            return; // dropping the stream closes it
        };
        tokio::spawn(peer::run_incoming(self.ctx.clone(), key, stream, buf));
    }

    pub(super) fn on_peer_event(&mut self, ev: PeerEvent) {
        let now = Instant::now();
        match ev {
            PeerEvent::Connected(c) => {
                let peer::Connected {
                    key,
                    addr,
                    peer_id,
                    reserved,
                    writer,
                    stats,
                } = *c;
                let caps = (
                    reserved.has(Extension::Fast),
                    reserved.has(Extension::ExtensionProtocol),
                );
                match self.core.handle_connected(key, addr, peer_id, caps, now) {
                    Ok(()) => {
                        tracing::debug!("{addr}: connected (fetching metadata)");
                        let conn = PendingConn {
                            writer,
                            stats,
                            peer_id,
                        };
                        self.conns.insert(key, conn);
                    }
                    Err(why) => {
                        tracing::debug!("{addr}: {why}");
                        let _ = writer.send(Outgoing::Close);
                    }
                }
            }
            PeerEvent::Message { key, msg } => self.core.handle_message(key, msg, now),
            PeerEvent::Closed { key, .. } => {
                self.core.handle_closed(key, now);
                self.conns.remove(&key);
            }
        }
    }

    /// Closes every connection (paused, stopped, or failed).
    pub(super) fn close_all(&mut self) {
        self.core.set_active(false, Instant::now());
        self.flush();
    }

    /// Carries out what the core asked for; returns the verified info dictionary once the
    /// core hands it out.
    pub(super) fn flush(&mut self) -> Option<Vec<u8>> {
        while let Some((key, t)) = self.core.poll_transmit() {
            match t {
                Transmit::Frame(frame) => {
                    if let Some(c) = self.conns.get(&key) {
                        let _ = c.writer.send(Outgoing::Frame(frame));
                    }
                }
                Transmit::Close(why) => {
                    if let Some(c) = self.conns.remove(&key) {
                        tracing::debug!("peer {key}: closing: {why}");
                        let _ = c.writer.send(Outgoing::Close);
                    }
                }
                // Nothing is requested or served before the metadata.
                Transmit::Requests(_) | Transmit::Block { .. } => {}
            }
        }
        while let Some(dial) = self.core.poll_connect() {
            tokio::spawn(peer::run_outgoing(self.ctx.clone(), dial.key, dial.addr));
        }
        let mut info = None;
        while let Some(ev) = self.core.poll_event() {
            match ev {
                MetadataEvent::Complete(bytes) => info = Some(bytes),
                MetadataEvent::Distrusted { addrs, why } => {
                    let ih = self.magnet.info_hash;
                    tracing::warn!("magnet {ih}: {addrs:?} {why}");
                }
            }
        }
        info
    }
}

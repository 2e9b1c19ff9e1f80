//! The metadata phase's connections: whom to dial, what a new connection is told, and what
//! peers say before we know the torrent (remembered for the torrent to use, or acted on: the
//! extended handshake, `ut_metadata`, `ut_pex`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::wire::{ExtendedHandshake, Extension, Message};

use super::super::ext::{extended_handshake_frame, OUR_UT_METADATA, OUR_UT_PEX};
use super::super::pex::added_peers;
use super::{MagnetPhase, PendingPeer, MAX_EARLY_HAVES, MAX_NONSENSE};
use crate::peer::{self, Outgoing, PeerEvent, PeerKey, PeerMessage};

impl MagnetPhase {
    pub(super) fn add_candidates(&mut self, addrs: Vec<SocketAddr>) {
        let now = Instant::now();
        self.pool.add(addrs, now);
        self.maybe_connect(now);
    }

    pub(super) fn maybe_connect(&mut self, now: Instant) {
        if self.paused || self.error.is_some() {
            return;
        }
        self.pool.connect_due(now);
        while let Some(dial) = self.pool.poll_dial() {
            tokio::spawn(peer::run_outgoing(self.ctx.clone(), dial.key, dial.addr));
        }
    }

    pub(super) fn accept(&mut self, stream: crate::mse_stream::PeerStream, buf: BytesMut) {
        let Ok(addr) = stream.peer_addr() else {
            return;
        };
        if self.paused || self.error.is_some() {
            return;
        }
        let Some(key) = self.pool.admit(addr) else {
            return;
        };
        tokio::spawn(peer::run_incoming(self.ctx.clone(), key, stream, buf));
    }

    /// Returns the verified info dictionary once it is complete.
    pub(super) fn on_peer_event(&mut self, ev: PeerEvent) -> Option<Vec<u8>> {
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
                let (addr, outgoing) = self.pool.handshook(key, addr);
                let peer = PendingPeer {
                    addr,
                    peer_id,
                    outgoing,
                    reserved,
                    writer,
                    stats,
                    handshake: None,
                    bitfield: None,
                    have_all: false,
                    haves: Vec::new(),
                    peer_choking: true,
                    peer_interested: false,
                    asked: HashSet::new(),
                    rejected: HashSet::new(),
                    last_pex: None,
                    nonsense: 0,
                };
                self.connected(key, peer);
                None
            }
            PeerEvent::Message { key, msg } => self.on_message(key, msg),
            PeerEvent::Closed { key, .. } => {
                self.forget(key);
                None
            }
        }
    }

    pub(super) fn connected(&mut self, key: PeerKey, peer: PendingPeer) {
        let refuse = if peer.peer_id == self.shared.our_id {
            self.pool.forbid(peer.addr); // ourselves: never dial it again
            Some("connected to ourselves")
        } else if self.peers.values().any(|p| p.peer_id == peer.peer_id) {
            Some("already connected")
        } else if self.paused || self.pool.is_banned(peer.addr) {
            Some("not wanted")
        } else {
            None
        };
        if let Some(why) = refuse {
            tracing::debug!("{}: {why}", peer.addr);
            let _ = peer.writer.send(Outgoing::Close);
            self.pool.ended(key, false, Instant::now());
            return;
        }
        let mut hello = Vec::new();
        if peer.reserved.has(Extension::Fast) {
            Message::HaveNone.encode(&mut hello);
        }
        if peer.reserved.has(Extension::ExtensionProtocol) {
            hello.extend_from_slice(&extended_handshake_frame(
                self.shared.listen_port,
                peer.addr,
                None,
                true,
            ));
        }
        if !hello.is_empty() {
            let _ = peer.writer.send(Outgoing::Frame(hello));
        }
        tracing::debug!("{}: connected (fetching metadata)", peer.addr);
        self.peers.insert(key, peer);
    }

    pub(super) fn forget(&mut self, key: PeerKey) {
        let now = Instant::now();
        if !self.pool.ended(key, false, now) {
            return;
        }
        let Some(peer) = self.peers.remove(&key) else {
            return;
        };
        for piece in peer.asked {
            self.requested.remove(&piece);
        }
        self.request_metadata(now);
    }

    pub(super) fn close(&mut self, key: PeerKey, why: &str) {
        if let Some(p) = self.peers.get(&key) {
            tracing::debug!("{}: closing: {why}", p.addr);
            let _ = p.writer.send(Outgoing::Close);
        }
        self.forget(key);
    }

    pub(super) fn close_all(&mut self, why: &str) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.close(key, why);
        }
    }

    pub(super) fn on_message(&mut self, key: PeerKey, msg: PeerMessage) -> Option<Vec<u8>> {
        let p = self.peers.get_mut(&key)?;
        match msg {
            PeerMessage::Choke => p.peer_choking = true,
            PeerMessage::Unchoke => p.peer_choking = false,
            PeerMessage::Interested => p.peer_interested = true,
            PeerMessage::NotInterested => p.peer_interested = false,
            PeerMessage::Bitfield(bits) => {
                p.bitfield = Some(bits);
                p.have_all = false;
            }
            PeerMessage::HaveAll => p.have_all = true,
            PeerMessage::HaveNone => {
                p.have_all = false;
                p.bitfield = None;
                p.haves.clear();
            }
            PeerMessage::Have(i) => {
                if p.haves.len() >= MAX_EARLY_HAVES {
                    self.close(key, "too many have messages");
                    return None;
                }
                p.haves.push(i);
            }
            PeerMessage::Request(b) => {
                // We have nothing yet; a fast peer is told so, as BEP 6 asks.
                if p.reserved.has(Extension::Fast) {
                    let mut frame = Vec::new();
                    Message::RejectRequest(b).encode(&mut frame);
                    let _ = p.writer.send(Outgoing::Frame(frame));
                }
            }
            PeerMessage::Piece { .. } => {
                p.nonsense += 1;
                if p.nonsense > MAX_NONSENSE {
                    self.close(key, "blocks we never asked for");
                }
            }
            PeerMessage::Extended { id: 0, payload } => {
                if let Ok(hs) = ExtendedHandshake::decode(&payload) {
                    p.rejected.clear();
                    p.handshake = Some(hs);
                }
                self.request_metadata(Instant::now());
            }
            PeerMessage::Extended { id, payload } if id == OUR_UT_METADATA => {
                return self.on_metadata_message(key, &payload);
            }
            PeerMessage::Extended { id, payload } if id == OUR_UT_PEX => {
                let now = Instant::now();
                // One message in twenty seconds is plenty (BEP 11 says one a minute).
                if p.last_pex
                    .is_some_and(|t| now.duration_since(t) < Duration::from_secs(20))
                {
                    return None;
                }
                p.last_pex = Some(now);
                if let Ok(added) = added_peers(&payload) {
                    self.add_candidates(added);
                }
            }
            PeerMessage::Cancel(_)
            | PeerMessage::Reject(_)
            | PeerMessage::AllowedFast(_)
            | PeerMessage::Extended { .. }
            | PeerMessage::Other => {}
        }
        None
    }
}

//! Connections made before the torrent's metadata was known (a magnet's first phase): the
//! core takes them over as they are, and they hear which pieces we have once the check says.

use std::net::SocketAddr;
use std::time::Instant;

use super::core::TorrentCore;
use super::error::PeerError;
use super::metadata_core::MetadataCore;
use super::outputs::PeerKey;
use super::outputs::Transmit;
use super::peer::PeerSession;
use crate::wire::{ExtendedHandshake, Message};
use crate::{Bitfield, PeerId};

/// What the metadata phase learnt of a connection.
pub struct Adopted {
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    pub outgoing: bool,
    pub fast: bool,
    pub has: Bitfield,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// It set BEP 10's reserved bit.
    pub extended: bool,
    /// Its latest extended handshake.
    pub handshake: Option<ExtendedHandshake>,
}

impl TorrentCore {
    /// Takes over a magnet's metadata phase once its metadata is in: its pool (candidates,
    /// bans, the connections of every stage) and its peers. A peer whose early `have`s or
    /// bitfield do not fit the torrent is closed.
    pub fn adopt_phase(&mut self, phase: MetadataCore, now: Instant) {
        let (pool, peers) = phase.into_parts();
        self.adopt_pool(pool);
        for (key, early) in peers {
            let Some(has) = early.pieces(self.lengths.piece_count()) else {
                let why = PeerError::Protocol("its pieces do not fit the torrent");
                self.send(key, Transmit::Close(why));
                self.pool.ended(key, false, now);
                continue;
            };
            let adopted = Adopted {
                addr: early.addr,
                peer_id: early.peer_id,
                outgoing: early.outgoing,
                fast: early.fast,
                has,
                peer_choking: early.peer_choking,
                peer_interested: early.peer_interested,
                extended: early.extended,
                handshake: early.handshake,
            };
            self.adopt_peer(key, adopted, now);
        }
    }

    /// Takes over a connection of the metadata phase, whose pool (`adopt_pool`) knows it.
    /// A peer that speaks BEP 10 hears our extended handshake again (now with the metadata we
    /// serve, and PEX withdrawn for a private torrent); no bitfield, which may only open a
    /// connection: [`TorrentCore::tell_have_all`] follows the check.
    pub fn adopt_peer(&mut self, key: PeerKey, a: Adopted, now: Instant) {
        self.now = now;
        let mut peer = PeerSession::new(a.addr, a.peer_id, a.has.len(), a.outgoing, a.fast, now);
        self.picker.add_peer_pieces(&a.has);
        peer.has = a.has;
        peer.peer_choking = a.peer_choking;
        peer.peer_interested = a.peer_interested;
        peer.ext.speaks = a.extended;
        if let Some(hs) = &a.handshake {
            peer.ext.learn(hs, now);
            peer.reqq = hs.reqq;
        }
        self.peers.insert(key, peer);
        if a.extended {
            self.send_extended_handshake(key, a.addr);
        }
    }

    /// Every connected peer hears each piece we have as a `have`, and interest is set.
    pub fn tell_have_all(&mut self) {
        let mut frame = Vec::new();
        for i in self.picker.have().iter_ones() {
            Message::Have(i).encode(&mut frame);
        }
        for key in self.keys() {
            if !frame.is_empty() {
                self.send(key, Transmit::Frame(frame.clone()));
            }
            self.update_interest(key);
        }
    }
}

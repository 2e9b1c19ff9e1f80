//! Connections made before the torrent's metadata was known (a magnet's first phase): the
//! core takes them over as they are, and they hear which pieces we have once the check says.

use std::net::SocketAddr;
use std::time::Instant;

use super::core::TorrentCore;
use super::outputs::PeerKey;
use super::outputs::Transmit;
use super::peer::PeerSession;
use crate::wire::Message;
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
    pub reqq: Option<u32>,
}

impl TorrentCore {
    /// Takes over a connection of the metadata phase, whose pool (`adopt_pool`) knows it.
    /// Nothing is sent: a bitfield may only open a connection, so
    /// [`TorrentCore::tell_have_all`] follows the check.
    pub fn adopt_peer(&mut self, key: PeerKey, a: Adopted, now: Instant) {
        self.now = now;
        let mut peer = PeerSession::new(a.addr, a.peer_id, a.has.len(), a.outgoing, a.fast, now);
        self.picker.add_peer_pieces(&a.has);
        peer.has = a.has;
        peer.peer_choking = a.peer_choking;
        peer.peer_interested = a.peer_interested;
        peer.reqq = a.reqq;
        self.peers.insert(key, peer);
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

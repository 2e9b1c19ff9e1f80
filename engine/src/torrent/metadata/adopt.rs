//! The handoff from the metadata phase to the torrent: connections, candidates, distrusted
//! addresses and the announcer carry over, so nobody has to reconnect.

use std::time::Instant;

use protocol::session::Adopted;
use protocol::wire::Extension;
use protocol::Bitfield;

use super::super::conns::Conn;
use super::super::Torrent;
use super::{Handoff, PendingPeer};
use crate::peer::Outgoing;

/// What the peer has, from what it said before we knew the piece count; `None` if that does
/// not fit the torrent.
fn pieces_of(pending: &PendingPeer, piece_count: u32) -> Option<Bitfield> {
    let mut has = if pending.have_all {
        Bitfield::full(piece_count)
    } else if let Some(bits) = &pending.bitfield {
        Bitfield::from_wire(bits, piece_count).ok()?
    } else {
        Bitfield::new(piece_count)
    };
    for &i in &pending.haves {
        if i >= piece_count {
            return None;
        }
        has.set(i);
    }
    Some(has)
}

impl Torrent {
    /// Takes over the connections, candidates and announcer of the metadata phase. Returns
    /// whether an announcer came with them.
    pub(in crate::torrent) fn adopt(&mut self, h: Handoff) -> bool {
        let now = Instant::now();
        let piece_count = self.lengths.piece_count();
        self.core.adopt_pool(h.pool);
        for (key, pending) in h.peers {
            let Some(has) = pieces_of(&pending, piece_count) else {
                let _ = pending.writer.send(Outgoing::Close);
                self.core.handle_closed(key, now);
                continue;
            };
            let conn = Conn::new(pending.writer, pending.stats, &pending.peer_id);
            let adopted = Adopted {
                addr: pending.addr,
                peer_id: pending.peer_id,
                outgoing: pending.outgoing,
                fast: pending.reserved.has(Extension::Fast),
                has,
                peer_choking: pending.peer_choking,
                peer_interested: pending.peer_interested,
                extended: pending.reserved.has(Extension::ExtensionProtocol),
                handshake: pending.handshake,
            };
            // The core says our extended handshake again: now we serve the metadata too (and
            // withdraw PEX for a private torrent).
            self.conns.insert(key, conn);
            self.core.adopt_peer(key, adopted, now);
        }
        let web_seeds = self.added.adopt(h.added);
        self.add_phase_web_seeds(web_seeds);
        match h.announce {
            Some(announce) => {
                let _ = announce.0.send(self.announce_stats(false));
                self.announce = Some(announce);
                true
            }
            None => false,
        }
    }

    /// After the initial check: peers adopted from the metadata phase hear (as `have`s, since
    /// a bitfield may only open a connection) which pieces we already hold.
    pub(in crate::torrent) fn announce_to_adopted(&mut self) {
        self.core.tell_have_all();
        self.flush();
    }
}

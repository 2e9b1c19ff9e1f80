//! The handoff from the metadata phase to the torrent: connections, candidates, distrusted
//! addresses and the announcer carry over, so nobody has to reconnect.

use std::time::Instant;

use super::super::conns::Conn;
use super::super::Torrent;
use super::Handoff;

impl Torrent {
    /// Takes over the connections, candidates and announcer of the metadata phase. Returns
    /// whether an announcer came with them.
    pub(in crate::torrent) fn adopt(&mut self, h: Handoff) -> bool {
        for (key, c) in h.conns {
            self.conns
                .insert(key, Conn::new(c.writer, c.stats, &c.peer_id));
        }
        // The core adopts the peers that fit the torrent (they hear our extended handshake
        // again, now with the metadata we serve) and closes the others.
        self.core.adopt_phase(h.core, Instant::now());
        self.flush();
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

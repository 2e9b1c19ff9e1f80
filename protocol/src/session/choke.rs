//! Whom we unchoke: the choker decides (tit-for-tat and an optimistic slot, see
//! `crate::choker`); this carries its decision out on the connections.

use std::time::Instant;

use super::core::TorrentCore;
use crate::wire::Message;
use crate::ChokerPeer;

impl TorrentCore {
    pub(super) fn rechoke(&mut self, now: Instant) {
        if self.config.upload_slots == 0 {
            // No upload slots: everyone stays choked (they start so), and gets only the
            // allowed-fast pieces we sent them.
            return;
        }
        let list: Vec<ChokerPeer> = (self.peers.iter())
            .map(|(&key, p)| ChokerPeer {
                key,
                interested: p.peer_interested,
                down_rate: p.down_rate,
                up_rate: p.up_rate,
            })
            .collect();
        let Some(unchoked) = (self.choker).poll(now, &list, self.seeding).cloned() else {
            return;
        };
        let mut changed = Vec::new();
        for (key, p) in self.peers.iter_mut() {
            let choke = !unchoked.contains(key);
            if choke != p.am_choking {
                p.am_choking = choke;
                if !choke {
                    p.refused = 0;
                }
                changed.push((*key, choke));
            }
        }
        for (key, choke) in changed {
            self.send_frame(
                key,
                if choke {
                    Message::Choke
                } else {
                    Message::Unchoke
                },
            );
        }
    }
}

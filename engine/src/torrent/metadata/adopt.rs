//! The handoff from the metadata phase to the torrent: connections, candidates, distrusted
//! addresses and the announcer carry over, so nobody has to reconnect.

use std::time::Instant;

use protocol::wire::{Extension, Message};
use protocol::Bitfield;

use super::super::{Candidate, Torrent};
use super::Handoff;
use crate::peer::{Outgoing, PeerKey};

impl Torrent {
    /// Takes over the connections, candidates and announcer of the metadata phase. Returns
    /// whether an announcer came with them.
    pub(in crate::torrent) fn adopt(&mut self, h: Handoff) -> bool {
        let now = Instant::now();
        let piece_count = self.lengths.piece_count();
        self.next_key = self.next_key.max(h.next_key);
        self.connecting.extend(h.connecting);
        self.handshaking.extend(h.handshaking);
        self.banned_addrs.extend(h.distrusted);
        for addr in h.candidates {
            self.candidates.entry(addr).or_insert(Candidate {
                next_attempt: now,
                failures: 0,
            });
        }
        for (key, pending) in h.peers {
            let mut peer = super::super::Peer::new(
                pending.addr,
                pending.peer_id,
                pending.writer,
                pending.stats,
                piece_count,
                pending.outgoing,
                pending.reserved.has(Extension::Fast),
            );
            peer.peer_choking = pending.peer_choking;
            peer.peer_interested = pending.peer_interested;
            if let Some(hs) = &pending.handshake {
                peer.ext.learn(hs, now);
                if let Some(v) = &hs.v {
                    peer.client = v.chars().take(64).collect();
                }
                peer.reqq = hs.reqq;
            }
            let has = if pending.have_all {
                Some(Bitfield::full(piece_count))
            } else if let Some(bits) = &pending.bitfield {
                Bitfield::from_wire(bits, piece_count).ok()
            } else {
                Some(Bitfield::new(piece_count))
            };
            let Some(mut has) = has else {
                let _ = peer.writer.send(Outgoing::Close);
                continue;
            };
            if pending.haves.iter().any(|&i| i >= piece_count) {
                let _ = peer.writer.send(Outgoing::Close);
                continue;
            }
            for &i in &pending.haves {
                has.set(i);
            }
            peer.has = has;
            if pending.reserved.has(Extension::ExtensionProtocol) {
                // Now we can serve the metadata too (and withdraw PEX for a private torrent).
                let frame = self.our_extended_handshake(peer.addr);
                let _ = peer.writer.send(Outgoing::Frame(frame));
            }
            self.peers.insert(key, peer);
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

    /// After the initial check: peers adopted from the metadata phase count towards piece
    /// availability, and hear (as `have`s, since a bitfield may only open a connection) which
    /// pieces we already hold.
    pub(in crate::torrent) fn announce_to_adopted(&mut self) {
        let ours: Vec<u32> = self.picker.have().iter_ones().collect();
        let mut frame = Vec::new();
        for &i in &ours {
            Message::Have(i).encode(&mut frame);
        }
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            let Some(p) = self.peers.get(&key) else {
                continue;
            };
            self.picker.add_peer_pieces(&p.has);
            if !frame.is_empty() {
                let _ = p.writer.send(Outgoing::Frame(frame.clone()));
            }
            self.update_interest(key);
        }
    }
}

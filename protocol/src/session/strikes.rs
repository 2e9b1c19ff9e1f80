//! Who sent the blocks of each piece, and what a piece that fails its hash check costs them:
//! a peer that alone sent two bad pieces is banned; one that shared bad pieces with others is
//! banned once bad pieces are a large share of all it took part in, so an honest peer that
//! happened to share a piece with a liar is not.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use bytes::Bytes;

use super::core::{DiskOp, TorrentCore};
use crate::peer_bounds::MAX_BANS;
use crate::wire::Message;
use crate::{BoundedMap, Offender, PieceIndex, ValidBlock};

/// Hash failures a host may take part in alone before it is banned.
const MAX_STRIKES: u32 = 2;

#[derive(Debug, Default, Clone, Copy)]
struct PieceRecord {
    failed: u32,
    passed: u32,
}

pub(super) struct Strikes {
    /// Pieces each offender sent blocks of that failed / passed their check (bounded).
    records: BoundedMap<Offender, PieceRecord>,
    /// Who sent blocks of each piece being downloaded.
    contributors: HashMap<u32, Vec<SocketAddr>>,
    /// Pieces being downloaded that hold blocks from a web seed: if one fails its check, the
    /// peers who sent the rest are not to blame (a lying web seed's partial run, finished by
    /// an honest peer, would make that peer the sole culprit).
    web_touched: HashSet<u32>,
}

impl Default for Strikes {
    fn default() -> Strikes {
        Strikes {
            records: BoundedMap::new(MAX_BANS),
            contributors: HashMap::new(),
            web_touched: HashSet::new(),
        }
    }
}

impl TorrentCore {
    /// Queues a block for the disk, remembering who sent it.
    pub(super) fn store(&mut self, block: ValidBlock, from: SocketAddr, data: Bytes) {
        let who = (self.strikes.contributors)
            .entry(block.piece.get())
            .or_default();
        if !who.contains(&from) {
            who.push(from);
        }
        self.disk.push_back(DiskOp::Write { block, data });
    }

    /// A web seed's block went to the disk as part of `piece`.
    pub fn note_web_block(&mut self, piece: PieceIndex) {
        self.strikes.web_touched.insert(piece.get());
    }

    /// The disk verified `piece`: its senders earn a pass, and every peer that lacks it hears
    /// `have`.
    pub fn handle_verified(&mut self, piece: PieceIndex) {
        self.picker.piece_verified(piece);
        self.strikes.web_touched.remove(&piece.get());
        for addr in (self.strikes.contributors.remove(&piece.get())).unwrap_or_default() {
            (self.strikes.records)
                .entry_or_insert_with(addr.into(), Default::default)
                .passed += 1;
        }
        let mut frame = Vec::new();
        Message::Have(piece.get()).encode(&mut frame);
        let lacking: Vec<_> = (self.peers.iter())
            .filter(|(_, p)| !p.has.get(piece.get()))
            .map(|(&k, _)| k)
            .collect();
        for key in lacking {
            self.send(key, super::Transmit::Frame(frame.clone()));
        }
        // Interest that this piece may have ended is re-evaluated at the next timeout: doing
        // it here would scan every peer's pieces once per verified piece.
    }

    /// `piece` failed its hash check: its blocks are wanted again, and its senders charged.
    pub fn handle_failed(&mut self, piece: PieceIndex) {
        self.picker.piece_failed(piece);
        let culprits = (self.strikes.contributors.remove(&piece.get())).unwrap_or_default();
        let culprits = if self.strikes.web_touched.remove(&piece.get()) {
            Vec::new() // the web seed is judged on its own, by its driver
        } else {
            culprits
        };
        let sole = culprits.len() == 1;
        for addr in culprits {
            let record = (self.strikes.records).entry_or_insert_with(addr.into(), Default::default);
            record.failed += 1;
            let ban = (sole && record.failed >= MAX_STRIKES)
                || (record.failed >= 2 * MAX_STRIKES && record.failed * 4 > record.passed);
            if ban {
                self.ban_host(addr, "sent data that failed hash checks");
            }
        }
        self.request_from_all();
    }
}

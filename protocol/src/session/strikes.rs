//! Who sent the blocks of each piece, and what a piece that fails its hash check costs them:
//! a peer that alone sent two bad pieces is banned; one that shared bad pieces with others is
//! banned once bad pieces are a large share of all it took part in, so an honest peer that
//! happened to share a piece with a liar is not.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use crate::peer_bounds::MAX_BANS;
use crate::{BoundedMap, Offender};

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

impl Strikes {
    /// `from` sent a block of `piece`.
    pub(super) fn contributed(&mut self, piece: u32, from: SocketAddr) {
        let who = self.contributors.entry(piece).or_default();
        if !who.contains(&from) {
            who.push(from);
        }
    }

    /// A web seed sent a block of `piece`.
    pub(super) fn web_contributed(&mut self, piece: u32) {
        self.web_touched.insert(piece);
    }

    /// `piece` passed its check: everyone who sent part of it earns a pass.
    pub(super) fn passed(&mut self, piece: u32) {
        self.web_touched.remove(&piece);
        for addr in self.contributors.remove(&piece).unwrap_or_default() {
            (self.records)
                .entry_or_insert_with(addr.into(), Default::default)
                .passed += 1;
        }
    }

    /// `piece` failed its check: its senders are charged; returns those to ban now.
    pub(super) fn failed(&mut self, piece: u32) -> Vec<SocketAddr> {
        let culprits = self.contributors.remove(&piece).unwrap_or_default();
        if self.web_touched.remove(&piece) {
            return Vec::new(); // the web seed is judged on its own, by the driver
        }
        let sole = culprits.len() == 1;
        let mut ban = Vec::new();
        for addr in culprits {
            let record = (self.records).entry_or_insert_with(addr.into(), Default::default);
            record.failed += 1;
            if (sole && record.failed >= MAX_STRIKES)
                || (record.failed >= 2 * MAX_STRIKES && record.failed * 4 > record.passed)
            {
                ban.push(addr);
            }
        }
        ban
    }
}

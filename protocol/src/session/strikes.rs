//! Who sent the blocks of each piece, and what a piece that fails its hash check costs them.
//!
//! A peer that alone sent two bad pieces is banned. A bad piece that several peers sent blocks
//! of proves nothing about any one of them, so it charges nobody: it is fetched again from one
//! peer alone (a "solo" piece, as libtorrent's parole), whose verdict is then its own. Charging
//! every sender of shared bad pieces banned honest seeds beside a liar whenever a torrent has
//! few pieces (the swarm simulator found it: with three pieces both seeds of a leecher were
//! banned, and it never finished).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use crate::peer_bounds::MAX_BANS;
use crate::{Bitfield, BoundedMap, Offender};

/// Hash failures a host may take part in alone before it is banned.
const MAX_STRIKES: u32 = 2;

pub(super) struct Strikes {
    /// Bad pieces each offender sent alone (bounded).
    failures: BoundedMap<Offender, u32>,
    /// Who sent blocks of each piece being downloaded.
    contributors: HashMap<u32, Vec<SocketAddr>>,
    /// Pieces being downloaded that hold blocks from a web seed: if one fails its check, the
    /// peers who sent the rest are not to blame (a lying web seed's partial run, finished by
    /// an honest peer, would make that peer the sole culprit).
    web_touched: HashSet<u32>,
    /// Pieces to fetch from one peer alone, with the host that holds the piece now, if any.
    solo: HashMap<u32, Option<Offender>>,
}

impl Default for Strikes {
    fn default() -> Strikes {
        Strikes {
            failures: BoundedMap::new(MAX_BANS),
            contributors: HashMap::new(),
            web_touched: HashSet::new(),
            solo: HashMap::new(),
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

    /// `piece` passed its check.
    pub(super) fn passed(&mut self, piece: u32) {
        self.web_touched.remove(&piece);
        self.solo.remove(&piece);
        self.contributors.remove(&piece);
    }

    /// `piece` failed its check: its senders are charged; returns those to ban now.
    pub(super) fn failed(&mut self, piece: u32) -> Vec<SocketAddr> {
        let culprits = self.contributors.remove(&piece).unwrap_or_default();
        self.solo.remove(&piece);
        if self.web_touched.remove(&piece) {
            return Vec::new(); // the web seed is judged on its own, by the driver
        }
        let [addr] = culprits[..] else {
            // Shared (or nobody's: a block stored without a sender cannot happen): next time
            // one peer sends it all.
            if culprits.len() > 1 {
                self.solo.insert(piece, None);
            }
            return Vec::new();
        };
        let failed = (self.failures).entry_or_insert_with(addr.into(), || 0);
        *failed += 1;
        if *failed >= MAX_STRIKES {
            vec![addr]
        } else {
            Vec::new()
        }
    }

    /// `has` without the solo pieces another host than `from` holds; `None` when there are
    /// none (nearly always: only after a shared piece failed), so no copy is made then.
    pub(super) fn hide_held_by_others(&self, has: &Bitfield, from: SocketAddr) -> Option<Bitfield> {
        let mut held = (self.solo.iter())
            .filter(|(piece, holder)| {
                holder.is_some_and(|h| h != Offender::from(from)) && has.get(**piece)
            })
            .map(|(piece, _)| *piece)
            .peekable();
        held.peek()?;
        let mut has = has.clone();
        for piece in held {
            has.clear(piece);
        }
        Some(has)
    }

    /// `from` was asked for blocks of `piece`: a solo piece nobody holds is now its.
    pub(super) fn asked(&mut self, piece: u32, from: SocketAddr) {
        if let Some(holder @ None) = self.solo.get_mut(&piece) {
            *holder = Some(from.into());
        }
    }

    /// `from` no longer answers our requests (it choked us or left): the solo pieces it held
    /// are free for another peer. Blocks it already sent stay; if the piece then fails, it was
    /// shared, and is fetched solo again.
    pub(super) fn let_go(&mut self, from: SocketAddr) {
        let from = Offender::from(from);
        for holder in self.solo.values_mut() {
            if *holder == Some(from) {
                *holder = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, i], 6881))
    }

    #[test]
    fn a_shared_bad_piece_charges_nobody_and_is_fetched_from_one_peer() {
        let mut s = Strikes::default();
        for _ in 0..5 {
            s.contributed(3, addr(1));
            s.contributed(3, addr(2));
            assert_eq!(s.failed(3), vec![], "nobody is proven bad");
        }
        let all = Bitfield::full(8);
        assert!(
            s.hide_held_by_others(&all, addr(2)).is_none(),
            "nobody holds it yet"
        );
        s.asked(3, addr(1));
        let seen_by_2 = s.hide_held_by_others(&all, addr(2)).expect("hidden");
        assert!(!seen_by_2.get(3) && seen_by_2.get(2));
        assert!(
            s.hide_held_by_others(&all, addr(1)).is_none(),
            "its holder sees it"
        );
        // The holder left: another may take it.
        s.let_go(addr(1));
        assert!(s.hide_held_by_others(&all, addr(2)).is_none());
        s.asked(3, addr(2));
        // Sent by 2 alone, bad: its own first strike; a second sole bad piece bans it.
        s.contributed(3, addr(2));
        assert_eq!(s.failed(3), vec![]);
        assert!(
            s.hide_held_by_others(&all, addr(1)).is_none(),
            "no longer solo"
        );
        s.contributed(4, addr(2));
        assert_eq!(s.failed(4), vec![addr(2)]);
    }

    #[test]
    fn a_piece_that_passes_is_no_longer_solo() {
        let mut s = Strikes::default();
        s.contributed(1, addr(1));
        s.contributed(1, addr(2));
        s.failed(1);
        s.asked(1, addr(1));
        s.contributed(1, addr(1));
        s.passed(1);
        assert!(s.hide_held_by_others(&Bitfield::full(4), addr(2)).is_none());
    }
}

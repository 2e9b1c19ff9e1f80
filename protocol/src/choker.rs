//! Who we upload to: tit-for-tat every 10 s (the peers that give us the most, or when seeding
//! the peers that take the most), plus one optimistic unchoke rotated every 30 s so that new
//! peers get a chance to prove themselves.
//!
//! The optimistic slot goes round in turn, not by lot: to the interested peer that has waited
//! longest since we last unchoked it (or since it became interested, for one we never
//! unchoked). A peer that arrives later queues behind the ones already waiting, so nobody who
//! stays interested waits longer than one rotation for each peer ahead of it, plus one: with a
//! random draw, among ten peers one in three would still be waiting after five minutes. A peer
//! that loses interest or leaves gives up its place. With a single slot, that slot is the
//! optimistic one. Peers queued in the same poll go in the order the caller lists them.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

pub const RECHOKE_INTERVAL: Duration = Duration::from_secs(10);
pub const OPTIMISTIC_INTERVAL: Duration = Duration::from_secs(30);

/// What the choker needs to know about one connected peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChokerPeer {
    pub key: u64,
    pub interested: bool,
    /// Bytes per second they send us.
    pub down_rate: u64,
    /// Bytes per second we send them.
    pub up_rate: u64,
}

#[derive(Debug, Clone)]
pub struct Choker {
    slots: usize,
    next_rechoke: Option<Instant>,
    next_optimistic: Option<Instant>,
    optimistic: Option<u64>,
    unchoked: BTreeSet<u64>,
    /// Interested peers we keep choked, each with its ticket (its place in the optimistic
    /// slot's queue: lower waited longer). Holds only peers of the last `poll`'s list, so it is
    /// bounded by the connections.
    waiting: HashMap<u64, u64>,
    next_ticket: u64,
}

impl Choker {
    /// `slots` peers are unchoked at once, one of them optimistically (at least 1 slot).
    pub fn new(slots: usize) -> Self {
        Choker {
            slots: slots.max(1),
            next_rechoke: None,
            next_optimistic: None,
            optimistic: None,
            unchoked: BTreeSet::new(),
            waiting: HashMap::new(),
            next_ticket: 0,
        }
    }

    pub fn set_slots(&mut self, slots: usize) {
        self.slots = slots.max(1);
        self.next_rechoke = None;
    }

    /// Recompute at the next `poll` (a peer came, went, or changed its interest).
    pub fn force(&mut self) {
        self.next_rechoke = None;
    }

    pub fn is_unchoked(&self, key: u64) -> bool {
        self.unchoked.contains(&key)
    }

    /// When `poll` next wants to run.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_rechoke
    }

    /// Returns the new unchoked set when a rechoke is due (its timer ran out or `force` was
    /// called), `None` otherwise. The engine sends choke/unchoke for the difference.
    pub fn poll(
        &mut self,
        now: Instant,
        peers: &[ChokerPeer],
        seeding: bool,
    ) -> Option<&BTreeSet<u64>> {
        if self.next_rechoke.is_some_and(|t| now < t) {
            return None;
        }
        self.next_rechoke = Some(now + RECHOKE_INTERVAL);
        let mut interested: Vec<&ChokerPeer> = peers.iter().filter(|p| p.interested).collect();
        // Everyone interested and choked queues for the optimistic slot from now on; who left
        // or lost interest drops out of the queue.
        self.waiting
            .retain(|k, _| interested.iter().any(|p| p.key == *k));
        for p in &interested {
            if !self.unchoked.contains(&p.key) {
                self.queue_up(p.key);
            }
        }
        let rate = |p: &ChokerPeer| if seeding { p.up_rate } else { p.down_rate };
        interested.sort_by_key(|p| std::cmp::Reverse(rate(p)));

        let regular = (self.slots - 1).min(interested.len());
        let mut chosen: BTreeSet<u64> = interested[..regular].iter().map(|p| p.key).collect();
        let rest: Vec<u64> = interested[regular..].iter().map(|p| p.key).collect();

        let optimistic_due = self.next_optimistic.is_none_or(|t| now >= t)
            || self.optimistic.is_none_or(|k| !rest.contains(&k));
        if optimistic_due {
            self.optimistic = self.longest_waiting(&rest);
            self.next_optimistic = Some(now + OPTIMISTIC_INTERVAL);
        }
        if let Some(k) = self.optimistic {
            chosen.insert(k);
        }
        // Free slots beyond that go to the next best: no reason to leave bandwidth unused.
        for k in rest {
            if chosen.len() >= self.slots {
                break;
            }
            chosen.insert(k);
        }
        for k in &chosen {
            self.waiting.remove(k);
        }
        // Who we choke now (or keep choked) waits from now, behind those already waiting.
        for p in &interested {
            if !chosen.contains(&p.key) {
                self.queue_up(p.key);
            }
        }
        self.unchoked = chosen;
        Some(&self.unchoked)
    }

    /// Puts `key` at the back of the optimistic slot's queue, unless it is in it already.
    fn queue_up(&mut self, key: u64) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.waiting.entry(key) {
            e.insert(self.next_ticket);
            self.next_ticket += 1;
        }
    }

    /// The head of the optimistic slot's queue among `rest`.
    fn longest_waiting(&self, rest: &[u64]) -> Option<u64> {
        (rest.iter().copied())
            .filter_map(|k| self.waiting.get(&k).map(|t| (*t, k)))
            .min()
            .map(|(_, k)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(key: u64, interested: bool, down: u64, up: u64) -> ChokerPeer {
        ChokerPeer {
            key,
            interested,
            down_rate: down,
            up_rate: up,
        }
    }

    #[test]
    fn best_uploaders_win_and_one_is_optimistic() {
        let mut c = Choker::new(3);
        let now = Instant::now();
        let peers: Vec<_> = (0..6).map(|k| peer(k, true, k * 100, 0)).collect();
        let set = c.poll(now, &peers, false).unwrap().clone();
        assert_eq!(set.len(), 3);
        assert!(set.contains(&5) && set.contains(&4), "{set:?}");
        // Not due again until 10 s pass.
        assert!(c
            .poll(now + Duration::from_secs(5), &peers, false)
            .is_none());
        assert!(c.poll(now + RECHOKE_INTERVAL, &peers, false).is_some());
    }

    #[test]
    fn seeding_prefers_upload_rate_and_uninterested_stay_choked() {
        let mut c = Choker::new(2);
        let peers = [
            peer(1, true, 0, 10),
            peer(2, true, 0, 500),
            peer(3, false, 900, 900),
        ];
        let set = c.poll(Instant::now(), &peers, true).unwrap().clone();
        assert!(set.contains(&2));
        assert!(!set.contains(&3));
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn optimistic_rotates_every_30_seconds() {
        let mut c = Choker::new(2);
        let peers: Vec<_> = (0..20)
            .map(|k| peer(k, true, if k == 0 { 1000 } else { 0 }, 0))
            .collect();
        let t0 = Instant::now();
        let mut seen = BTreeSet::new();
        for step in 0..10u32 {
            let set = c
                .poll(t0 + OPTIMISTIC_INTERVAL * step, &peers, false)
                .unwrap();
            assert!(set.contains(&0));
            seen.extend(set.iter().copied().filter(|&k| k != 0));
        }
        assert!(seen.len() > 3, "optimistic slot rotated: {seen:?}");
    }
}

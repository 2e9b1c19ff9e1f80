//! Who we upload to: tit-for-tat every 10 s (the peers that give us the most, or when seeding
//! the peers that take the most), plus one optimistic unchoke rotated every 30 s so that new
//! peers get a chance to prove themselves.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::Rng;

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
    pub fn poll<R: Rng + ?Sized>(
        &mut self,
        now: Instant,
        peers: &[ChokerPeer],
        seeding: bool,
        rng: &mut R,
    ) -> Option<&BTreeSet<u64>> {
        if self.next_rechoke.is_some_and(|t| now < t) {
            return None;
        }
        self.next_rechoke = Some(now + RECHOKE_INTERVAL);
        let mut interested: Vec<&ChokerPeer> = peers.iter().filter(|p| p.interested).collect();
        let rate = |p: &ChokerPeer| if seeding { p.up_rate } else { p.down_rate };
        interested.sort_by_key(|p| std::cmp::Reverse(rate(p)));

        let regular = self.slots.saturating_sub(1).max(1).min(interested.len());
        let mut chosen: BTreeSet<u64> = interested[..regular].iter().map(|p| p.key).collect();
        let rest: Vec<u64> = interested[regular..].iter().map(|p| p.key).collect();

        let optimistic_due = self.next_optimistic.is_none_or(|t| now >= t)
            || self.optimistic.is_none_or(|k| !rest.contains(&k));
        if optimistic_due {
            self.optimistic = (!rest.is_empty()).then(|| rest[rng.random_range(0..rest.len())]);
            self.next_optimistic = Some(now + OPTIMISTIC_INTERVAL);
        }
        if chosen.len() < self.slots {
            if let Some(k) = self.optimistic {
                chosen.insert(k);
            }
        }
        // Free slots beyond that go to the next best: no reason to leave bandwidth unused.
        for k in rest {
            if chosen.len() >= self.slots {
                break;
            }
            chosen.insert(k);
        }
        self.unchoked = chosen;
        Some(&self.unchoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

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
        let mut r = rand::rngs::StdRng::seed_from_u64(1);
        let mut c = Choker::new(3);
        let now = Instant::now();
        let peers: Vec<_> = (0..6).map(|k| peer(k, true, k * 100, 0)).collect();
        let set = c.poll(now, &peers, false, &mut r).unwrap().clone();
        assert_eq!(set.len(), 3);
        assert!(set.contains(&5) && set.contains(&4), "{set:?}");
        // Not due again until 10 s pass.
        assert!(c
            .poll(now + Duration::from_secs(5), &peers, false, &mut r)
            .is_none());
        assert!(c
            .poll(now + RECHOKE_INTERVAL, &peers, false, &mut r)
            .is_some());
    }

    #[test]
    fn seeding_prefers_upload_rate_and_uninterested_stay_choked() {
        let mut r = rand::rngs::StdRng::seed_from_u64(1);
        let mut c = Choker::new(2);
        let peers = [
            peer(1, true, 0, 10),
            peer(2, true, 0, 500),
            peer(3, false, 900, 900),
        ];
        let set = c
            .poll(Instant::now(), &peers, true, &mut r)
            .unwrap()
            .clone();
        assert!(set.contains(&2));
        assert!(!set.contains(&3));
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn optimistic_rotates_every_30_seconds() {
        let mut r = rand::rngs::StdRng::seed_from_u64(3);
        let mut c = Choker::new(2);
        let peers: Vec<_> = (0..20)
            .map(|k| peer(k, true, if k == 0 { 1000 } else { 0 }, 0))
            .collect();
        let t0 = Instant::now();
        let mut seen = BTreeSet::new();
        for step in 0..10u32 {
            let set = c
                .poll(t0 + OPTIMISTIC_INTERVAL * step, &peers, false, &mut r)
                .unwrap();
            assert!(set.contains(&0));
            seen.extend(set.iter().copied().filter(|&k| k != 0));
        }
        assert!(seen.len() > 3, "optimistic slot rotated: {seen:?}");
    }
}

//! The choker's rules as properties, over random peers coming, going, changing interest and
//! rates, polled at random moments no more than a rechoke interval apart (as the core's
//! clock does):
//! - never more unchoked than the slots, and never an uninterested peer;
//! - the best `slots - 1` by rate (download rate while leeching, upload rate while seeding)
//!   are unchoked: tit-for-tat;
//! - fairness: an interested peer kept choked is unchoked within one optimistic rotation for
//!   each peer that was waiting when it began to wait, plus one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use protocol::choker::{OPTIMISTIC_INTERVAL, RECHOKE_INTERVAL};
use protocol::{Choker, ChokerPeer};

/// One step of the world between two polls.
#[derive(Debug, Clone)]
enum Step {
    Join {
        interested: bool,
        rate: u64,
    },
    Leave(usize),
    Toggle(usize),
    Rate(usize, u64),
    /// Time passes, then the choker is polled.
    Poll {
        secs: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (any::<bool>(), 0u64..1000).prop_map(|(interested, rate)| Step::Join { interested, rate }),
        1 => (0usize..64).prop_map(Step::Leave),
        1 => (0usize..64).prop_map(Step::Toggle),
        2 => ((0usize..64), 0u64..1000).prop_map(|(i, r)| Step::Rate(i, r)),
        6 => (1u64..=RECHOKE_INTERVAL.as_secs()).prop_map(|secs| Step::Poll { secs }),
    ]
}

/// A peer the test sees waiting: since when, and how many were waiting then (itself not
/// counted; those that began in the same poll counted, as the choker may put them first).
struct Wait {
    since: Duration,
    ahead: usize,
}

/// The peers, the choker, and what the test has seen of them.
struct World {
    slots: usize,
    seeding: bool,
    choker: Choker,
    t0: Instant,
    now: Duration,
    peers: Vec<ChokerPeer>,
    unchoked: BTreeSet<u64>,
    waits: BTreeMap<u64, Wait>,
}

impl World {
    /// Polls the choker at `now` and checks the rules against what it decided.
    fn poll(&mut self) -> Result<(), TestCaseError> {
        let at = self.t0 + self.now;
        if let Some(set) = (self.choker).poll(at, &self.peers, self.seeding) {
            self.unchoked = set.clone();
            // Rates change between polls; the choice is judged by those it was made on.
            check(self.slots, self.seeding, &self.peers, &self.unchoked)?;
        }
        // Who waits, as seen from outside.
        let interested: BTreeSet<u64> = (self.peers.iter().filter(|p| p.interested))
            .map(|p| p.key)
            .collect();
        let unchoked = &self.unchoked;
        (self.waits).retain(|k, _| interested.contains(k) && !unchoked.contains(k));
        let before = self.waits.len();
        let new: Vec<u64> = (interested.iter().copied())
            .filter(|k| !unchoked.contains(k) && !self.waits.contains_key(k))
            .collect();
        for k in &new {
            let ahead = before + new.len() - 1;
            let since = self.now;
            self.waits.insert(*k, Wait { since, ahead });
        }
        let rotation = OPTIMISTIC_INTERVAL + RECHOKE_INTERVAL;
        for (k, w) in &self.waits {
            let bound = rotation * (w.ahead as u32 + 1);
            let waited = self.now - w.since;
            prop_assert!(
                waited <= bound,
                "peer {k} waited {waited:?} with {} ahead (bound {bound:?}), slots {}",
                w.ahead,
                self.slots
            );
        }
        Ok(())
    }
}

fn run(slots: usize, seeding: bool, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut w = World {
        slots,
        seeding,
        choker: Choker::new(slots),
        t0: Instant::now(),
        now: Duration::ZERO,
        peers: Vec::new(),
        unchoked: BTreeSet::new(),
        waits: BTreeMap::new(),
    };
    let mut next_key = 0u64;
    for s in steps {
        let n = w.peers.len().max(1);
        match *s {
            Step::Join { interested, rate } => {
                next_key += 1;
                w.peers.push(ChokerPeer {
                    key: next_key,
                    interested,
                    down_rate: rate,
                    up_rate: rate / 2 + 7,
                });
                // The core forces a rechoke when a peer comes, goes or changes interest.
                w.choker.force();
            }
            Step::Leave(i) if !w.peers.is_empty() => {
                w.peers.remove(i % n);
                w.choker.force();
            }
            Step::Toggle(i) if !w.peers.is_empty() => {
                w.peers[i % n].interested ^= true;
                w.choker.force();
            }
            Step::Rate(i, r) if !w.peers.is_empty() => {
                w.peers[i % n].down_rate = r;
                w.peers[i % n].up_rate = 999 - r;
            }
            Step::Poll { secs } => {
                // The core's clock wakes at the choker's deadline: the polls due on the way.
                let until = w.now + Duration::from_secs(secs);
                while let Some(due) = (w.choker.next_deadline())
                    .map(|d| d - w.t0)
                    .filter(|d| *d < until)
                {
                    w.now = due.max(w.now);
                    w.poll()?;
                }
                w.now = until;
            }
            _ => {}
        }
        w.poll()?;
    }
    Ok(())
}

fn check(
    slots: usize,
    seeding: bool,
    peers: &[ChokerPeer],
    unchoked: &BTreeSet<u64>,
) -> Result<(), TestCaseError> {
    let present: BTreeMap<u64, &ChokerPeer> = peers.iter().map(|p| (p.key, p)).collect();
    for k in unchoked {
        let p = present.get(k);
        prop_assert!(
            p.is_some_and(|p| p.interested),
            "{k} unchoked: gone or uninterested"
        );
    }
    let rate = |p: &ChokerPeer| if seeding { p.up_rate } else { p.down_rate };
    let mut interested: Vec<&ChokerPeer> = peers.iter().filter(|p| p.interested).collect();
    interested.sort_by_key(|p| std::cmp::Reverse(rate(p)));
    let regular = (slots.max(1) - 1).min(interested.len());
    if let Some(cut) = regular.checked_sub(1).map(|i| rate(interested[i])) {
        // Every peer strictly better than the last regular slot's holder is unchoked (ties at
        // the cut may go either way).
        for p in interested.iter().filter(|p| rate(p) > cut) {
            prop_assert!(unchoked.contains(&p.key), "a top peer {} is choked", p.key);
        }
    }
    let want = interested.len().min(slots.max(1));
    prop_assert_eq!(unchoked.len(), want, "slots left empty or overfilled");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_choker_is_fair_within_its_rules(
        slots in 1usize..6,
        seeding in any::<bool>(),
        steps in prop::collection::vec(step(), 1..400),
    ) {
        run(slots, seeding, &steps)?;
    }
}

/// Twelve peers that never send us anything and never lose interest, one slot besides
/// tit-for-tat's: each is unchoked within twelve rotations (a random draw would leave about
/// one in three of them waiting after ten).
#[test]
fn every_interested_peer_gets_its_turn() {
    let mut choker = Choker::new(2);
    let t0 = Instant::now();
    let mut peers: Vec<ChokerPeer> = (0..13)
        .map(|k| ChokerPeer {
            key: k,
            interested: true,
            down_rate: 0,
            up_rate: 0,
        })
        .collect();
    peers[0].down_rate = 1000; // holds the regular slot
    let mut seen = BTreeSet::new();
    for i in 0..12u32 {
        let set = choker
            .poll(t0 + OPTIMISTIC_INTERVAL * i, &peers, false)
            .expect("due")
            .clone();
        assert!(set.contains(&0));
        seen.extend(set.into_iter().filter(|&k| k != 0));
    }
    assert_eq!(seen.len(), 12, "turns: {seen:?}");
}

//! BEP 12 multitracker order: tiers are tried in order, trackers within a tier in a shuffled
//! order, and a tracker that answers moves to the front of its tier so it is asked first next time.

use rand::seq::SliceRandom;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tiers {
    tiers: Vec<Vec<String>>,
}

impl Tiers {
    /// Shuffles each tier once, as BEP 12 asks, and drops empty tiers and duplicate URLs.
    pub(crate) fn new<R: rand::Rng + ?Sized>(tiers: Vec<Vec<String>>, rng: &mut R) -> Self {
        let mut seen = std::collections::HashSet::new();
        let tiers = tiers
            .into_iter()
            .map(|tier| {
                let mut tier: Vec<String> = tier
                    .into_iter()
                    .filter(|url| seen.insert(url.clone()))
                    .collect();
                tier.shuffle(rng);
                tier
            })
            .filter(|tier| !tier.is_empty())
            .collect();
        Tiers { tiers }
    }

    /// Every tracker in the order to try them: (tier, position within tier, url).
    pub(crate) fn order(&self) -> Vec<(usize, usize, String)> {
        self.tiers
            .iter()
            .enumerate()
            .flat_map(|(t, tier)| {
                tier.iter()
                    .enumerate()
                    .map(move |(i, url)| (t, i, url.clone()))
            })
            .collect()
    }

    /// Moves the tracker that answered to the front of its tier.
    pub(crate) fn promote(&mut self, tier: usize, index: usize) {
        if let Some(tier) = self.tiers.get_mut(tier) {
            if index < tier.len() {
                let url = tier.remove(index);
                tier.insert(0, url);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tiers.is_empty()
    }

    pub(crate) fn as_vec(&self) -> &[Vec<String>] {
        &self.tiers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn urls(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tiers_keep_their_order_and_members() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let tiers = Tiers::new(
            vec![urls(&["a", "b", "c"]), vec![], urls(&["d", "a"])],
            &mut rng,
        );
        let order = tiers.order();
        let first: Vec<_> = order
            .iter()
            .filter(|o| o.0 == 0)
            .map(|o| o.2.as_str())
            .collect();
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, ["a", "b", "c"]);
        // The empty tier is gone and the duplicate "a" only appears once.
        assert_eq!(tiers.as_vec().len(), 2);
        assert_eq!(tiers.as_vec()[1], urls(&["d"]));
    }

    #[test]
    fn shuffling_varies_between_lists() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let names: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
        let orders: std::collections::HashSet<_> = (0..20)
            .map(|_| Tiers::new(vec![names.clone()], &mut rng).as_vec()[0].clone())
            .collect();
        assert!(orders.len() > 1, "every list got the same order");
    }

    #[test]
    fn the_tracker_that_answered_moves_to_the_front() {
        let mut tiers = Tiers {
            tiers: vec![urls(&["a", "b", "c"]), urls(&["d"])],
        };
        tiers.promote(0, 2);
        assert_eq!(tiers.as_vec()[0], urls(&["c", "a", "b"]));
        tiers.promote(1, 0);
        tiers.promote(5, 0);
        tiers.promote(0, 9);
        assert_eq!(tiers.as_vec(), &[urls(&["c", "a", "b"]), urls(&["d"])]);
    }
}

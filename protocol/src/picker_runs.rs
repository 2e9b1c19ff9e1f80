//! Picking for web seeds (BEP 19): whole pieces, in runs of consecutive ones, because one HTTP
//! range request for several megabytes costs far less than many small ones.
//!
//! A web seed takes only pieces nobody has started (or whose every block was given back), so it
//! never competes with peers for a piece they are fetching; only in endgame does it twin a
//! started piece, like peers do.

use super::{BlockState, Picker};
use crate::lengths::{PieceIndex, ValidBlock};

impl Picker {
    /// Up to `max` consecutive wanted pieces that no one is fetching, the first at or after
    /// `from` (wrapping around), with every block marked requested. Empty when there are none.
    pub fn next_run(&mut self, from: u32, max: u32) -> Vec<PieceIndex> {
        let n = self.lengths.piece_count();
        let mut out = Vec::new();
        if n == 0 || max == 0 {
            return out;
        }
        let from = from % n;
        let Some(first) = (from..n).chain(0..from).find(|&i| self.free_whole(i)) else {
            return out;
        };
        let mut i = first;
        while i < n && (out.len() as u32) < max && self.free_whole(i) {
            self.take_whole(i);
            out.push(PieceIndex::trusted(i));
            i += 1;
        }
        out
    }

    /// Endgame only: a started piece not yet complete (and not excluded by `skip`), with its
    /// blocks not yet received marked requested once more. Returns those blocks; the caller
    /// fetches the whole piece and hands every block to [`Picker::on_block`].
    pub fn endgame_piece(
        &mut self,
        skip: &dyn Fn(u32) -> bool,
    ) -> Option<(PieceIndex, Vec<ValidBlock>)> {
        if !self.in_endgame() {
            return None;
        }
        // The piece with the fewest blocks in, so the twin saves the most waiting.
        let (&i, _) = self
            .partial
            .iter()
            .filter(|(&i, p)| !skip(i) && p.received < p.blocks.len() as u32)
            .min_by_key(|(_, p)| p.received)?;
        let piece = PieceIndex::trusted(i);
        let p = self.partial.get_mut(&i)?;
        let mut marked = Vec::new();
        for (bi, state) in p.blocks.iter_mut().enumerate() {
            if let BlockState::Requested(n) = state {
                if let Some(b) = self.lengths.block(piece, bi as u32) {
                    *n = n.saturating_add(1);
                    marked.push(b);
                }
            }
        }
        Some((piece, marked))
    }

    /// Wanted pieces nobody has started.
    pub fn unstarted(&self) -> u32 {
        self.unstarted_wanted
    }

    /// Wanted, not had, and either not started or started with every block given back.
    /// Where a web seed's next run should start while streaming readers wait: the first of
    /// their pieces nobody has started (a run goes on in order from there, as readers read).
    pub fn first_free_urgent(&self) -> Option<u32> {
        self.urgent.iter().copied().find(|&i| self.free_whole(i))
    }

    fn free_whole(&self, i: u32) -> bool {
        self.wanted(i)
            && self
                .partial
                .get(&i)
                .is_none_or(|p| p.received == 0 && p.free as usize == p.blocks.len())
    }

    fn take_whole(&mut self, i: u32) {
        if !self.partial.contains_key(&i) {
            self.start(i);
        }
        if let Some(p) = self.partial.get_mut(&i) {
            for s in p.blocks.iter_mut() {
                *s = BlockState::Requested(1);
            }
            p.free = 0;
        }
    }

    /// Gives back blocks a web seed held and did not deliver (see [`Picker::release`]).
    pub fn release_all(&mut self, blocks: &[ValidBlock]) {
        for b in blocks {
            self.release(*b);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::bitfield::Bitfield;

    use crate::lengths::Lengths;
    use crate::picker::{BlockOutcome, Picker};
    use rand::SeedableRng;

    fn picker(pieces: u32, piece_len: u64) -> Picker {
        let total = u64::from(pieces) * piece_len;
        let l = Lengths::new(total, piece_len, pieces as usize).unwrap();
        Picker::new(l, Bitfield::new(pieces))
    }

    #[test]
    fn runs_are_consecutive_and_skip_what_peers_fetch() {
        let mut p = picker(10, 32768);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        // A peer starts some piece; the web seed must go around it.
        let peer = p.next_blocks(&Bitfield::full(10), 1, &mut rng, &|_| false);
        let taken = peer[0].piece.get();
        let run = p.next_run(0, 100);
        let got: Vec<u32> = run.iter().map(|x| x.get()).collect();
        assert!(!got.contains(&taken), "{got:?} includes {taken}");
        assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
        assert!(!got.is_empty());
        // Pieces of a run are not handed to peers (no free blocks), only in endgame.
        let run2 = p.next_run(0, 100);
        for x in &run2 {
            assert!(!got.contains(&x.get()));
        }
    }

    #[test]
    fn run_respects_max_and_wraps() {
        let mut p = picker(10, 16384);
        let r: Vec<u32> = p.next_run(8, 3).iter().map(|x| x.get()).collect();
        assert_eq!(r, [8, 9], "a run stops at the end of the torrent");
        let r: Vec<u32> = p.next_run(8, 3).iter().map(|x| x.get()).collect();
        assert_eq!(r, [0, 1, 2], "the search wraps around");
    }

    #[test]
    fn released_run_is_taken_again_and_endgame_twins() {
        let mut p = picker(2, 32768);
        let run = p.next_run(0, 2);
        assert_eq!(run.len(), 2);
        let blocks: Vec<_> = (0..2)
            .map(|i| p.lengths().block(run[0], i).unwrap())
            .collect();
        p.release_all(&blocks);
        let again = p.next_run(0, 5);
        assert_eq!(
            again,
            vec![run[0]],
            "a fully given-back piece is free again"
        );
        // Everything is requested now: endgame. A twin of piece 1 with one block in.
        let b = p.lengths().block(run[1], 0).unwrap();
        assert!(matches!(p.on_block(b), BlockOutcome::Accepted { .. }));
        assert!(p.in_endgame());
        let (piece, marked) = p.endgame_piece(&|i| i == run[0].get()).unwrap();
        assert_eq!(piece, run[1]);
        assert_eq!(marked.len(), 1, "only blocks not yet received");
        assert!(p.endgame_piece(&|_| true).is_none());
    }

    #[test]
    fn web_seed_runs_start_at_the_first_urgent_piece_nobody_started() {
        let l = Lengths::new(8 * 16384, 16384, 8).unwrap();
        let mut p = Picker::new(l, Bitfield::new(8));
        assert_eq!(p.first_free_urgent(), None);
        p.set_urgent(vec![5, 6]);
        assert_eq!(p.first_free_urgent(), Some(5));
        assert_eq!(p.next_run(5, 1).len(), 1);
        assert_eq!(p.first_free_urgent(), Some(6), "5 is taken by the run");
    }
}

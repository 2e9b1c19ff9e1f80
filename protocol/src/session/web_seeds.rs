//! What to ask a web seed (BEP 19) for, and taking its blocks. The fetching is the driver's; the
//! choice of pieces and the bookkeeping of what arrives are the core's, so web seeds and peers
//! share one picker, one endgame and one strike book.

use bytes::Bytes;
use rand::Rng;

use super::core::TorrentCore;
use super::outputs::DiskOp;
use crate::{BlockOutcome, PieceIndex, ValidBlock};

/// An idle web seed, as the driver sees it.
#[derive(Debug, Clone, Copy)]
pub struct WebSeedAsk {
    /// Where its last run ended (runs continue there: one long read beats many short ones).
    pub next_from: Option<u32>,
    /// The server ignores `Range`: it sends each file from its start.
    pub ignores_range: bool,
    /// Web seeds usable now, this one included.
    pub usable_seeds: u32,
    /// The most pieces one request may cover (by the seed's measured speed).
    pub max_run: u32,
    /// The torrent downloads in order.
    pub sequential: bool,
}

/// What an idle web seed fetches next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebSeedJob {
    /// A run of whole free pieces, each with its blocks.
    Run(Vec<(PieceIndex, Vec<ValidBlock>)>),
    /// Endgame: a started piece's missing blocks, fetched beside whoever has them.
    Twin(PieceIndex, Vec<ValidBlock>),
}

impl TorrentCore {
    /// What an idle web seed fetches next; `None` when there is nothing for it.
    pub fn plan_web_seed(&mut self, ask: WebSeedAsk) -> Option<WebSeedJob> {
        let n = self.lengths.piece_count();
        // Streaming readers first: a run starts at the first of their pieces not started (a
        // server that ignores Range would send everything before it anyway).
        let urgent = (!ask.ignores_range)
            .then(|| self.picker.first_free_urgent())
            .flatten();
        let from = match (urgent, ask.next_from) {
            (Some(u), _) => u,
            _ if ask.sequential || ask.ignores_range => 0,
            (None, Some(f)) => f,
            (None, None) if n == 0 => 0,
            (None, None) => self.rng.random_range(0..n),
        };
        // Leave a share for the other web seeds and peers: one web seed that grabbed
        // everything (and then hung, or crawled) would hold the rest back. A server that
        // ignores Range and is the only source gets everything in one pass.
        let sources = ask.usable_seeds + self.peers.len() as u32;
        let share = self.picker.unstarted().div_ceil(sources.max(1)).max(1);
        let max = if ask.ignores_range && sources <= 1 {
            n
        } else {
            ask.max_run.min(share)
        };
        let run = self.picker.next_run(from, max);
        if !run.is_empty() {
            let lengths = self.lengths;
            let whole = |piece: PieceIndex| {
                (0..lengths.blocks_in_piece(piece))
                    .filter_map(|i| lengths.block(piece, i))
                    .collect()
            };
            return Some(WebSeedJob::Run(
                run.into_iter().map(|p| (p, whole(p))).collect(),
            ));
        }
        // An idle seed holds nothing: any started piece may be twinned, including one a
        // stalled web seed sits on.
        let (piece, blocks) = self.picker.endgame_piece(&|_| false)?;
        Some(WebSeedJob::Twin(piece, blocks))
    }

    /// A web seed delivered `block`: true if it was wanted (it goes to the disk, and its
    /// endgame twins at peers are cancelled). A piece holding a web seed's blocks blames none
    /// of its peers if it fails its check: the web seed is judged on its own, by its driver.
    pub fn handle_web_block(&mut self, block: ValidBlock, data: Bytes) -> bool {
        if !matches!(self.picker.on_block(block), BlockOutcome::Accepted { .. }) {
            return false;
        }
        self.disk.push_back(DiskOp::Write { block, data });
        self.strikes.web_contributed(block.piece.get());
        if self.picker.in_endgame() {
            self.cancel_elsewhere(None, block);
        }
        true
    }
}

#[cfg(test)]
#[path = "web_seeds_tests.rs"]
mod tests;

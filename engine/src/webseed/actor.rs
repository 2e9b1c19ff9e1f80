//! The torrent actor's side of its web seeds (BEP 19): handing idle web seeds runs of pieces
//! from the picker (at most `MAX_JOBS` at once), taking their blocks as they arrive into the
//! same write-and-verify path as peer blocks, and backing off or disabling web seeds that fail
//! or send bad data.
//!
//! Compiled as a child of the torrent module (see `torrent/mod.rs`) so it reaches the actor's
//! state directly; the web seed bookkeeping itself is `crate::webseed::WebSeeds`.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use protocol::session::{WebSeedAsk, WebSeedJob};
use protocol::{PieceIndex, ValidBlock};

use super::Torrent;
use crate::types::TorrentState;
use crate::webseed::{describe_wait, WebSeedEvent, MAX_JOBS};

impl Torrent {
    fn webseeds_may_fetch(&self) -> bool {
        !self.paused
            && matches!(
                self.state,
                TorrentState::Connecting | TorrentState::Downloading
            )
    }

    /// Gives every idle, healthy web seed a run of pieces (or, in endgame, one piece to twin).
    pub(super) fn fill_webseeds(&mut self) {
        if self.webseeds.ctx.is_none() {
            return;
        }
        if !self.webseeds_may_fetch() {
            self.stop_webseeds();
            return;
        }
        if !self.backlog.has_room() {
            return; // the disk thread's `Drained` brings us back via the next tick
        }
        let now = Instant::now();
        let piece_len = self.metainfo.info.piece_length;
        let usable = self
            .webseeds
            .seeds
            .iter()
            .filter(|s| s.health.usable(now))
            .count() as u32;
        for seed in 0..self.webseeds.seeds.len() {
            if self.webseeds.fetching() >= MAX_JOBS {
                break;
            }
            let s = &self.webseeds.seeds[seed];
            if s.job.is_some() || !s.health.usable(now) {
                continue;
            }
            // Not before its last pieces passed their hash check: a finished request says the
            // network worked, not that the data was right, and a liar must not get a new run
            // (and its back-off reset) every time the disk lags behind.
            if self.webseeds.sent_by.values().any(|&(s, _)| s == seed) {
                continue;
            }
            let ask = WebSeedAsk {
                next_from: s.next_from,
                ignores_range: s.ignores_range(),
                usable_seeds: usable,
                max_run: self.webseeds.run_pieces(seed, piece_len),
                sequential: self.sequential,
            };
            let held: BTreeMap<u32, Vec<ValidBlock>> = match self.core.plan_web_seed(ask) {
                None => continue,
                Some(WebSeedJob::Twin(piece, blocks)) => BTreeMap::from([(piece.get(), blocks)]),
                Some(WebSeedJob::Run(run)) => {
                    if let Some((last, _)) = run.last() {
                        self.webseeds.seeds[seed].next_from = Some(last.get() + 1);
                    }
                    run.into_iter().map(|(p, b)| (p.get(), b)).collect()
                }
            };
            self.webseeds.start(seed, held);
        }
    }

    /// Aborts every web seed job and gives its pieces back to the picker.
    pub(super) fn stop_webseeds(&mut self) {
        for seed in 0..self.webseeds.seeds.len() {
            let blocks = self.webseeds.stop(seed);
            self.core.picker_mut().release_all(&blocks);
        }
    }

    pub(super) fn on_webseed(&mut self, ev: WebSeedEvent) {
        match ev {
            WebSeedEvent::Block {
                seed,
                job,
                block,
                data,
            } => self.webseed_block(seed, job, block, data),
            WebSeedEvent::Done { seed, job, result } => {
                let current = self.webseeds.seeds.get(seed).and_then(|s| s.job.as_ref());
                if current.is_none_or(|j| j.id != job) {
                    return; // a job we stopped
                }
                let blocks = self.webseeds.stop(seed);
                self.core.picker_mut().release_all(&blocks);
                let s = &mut self.webseeds.seeds[seed];
                match result {
                    Ok(()) => {
                        s.health.succeeded();
                        s.last_error = None;
                    }
                    Err(e) => {
                        let wait = s.health.failed(Instant::now(), &e.to_string());
                        s.last_error = Some(e.to_string());
                        tracing::warn!("web seed {}: {e}; {}", s.url, describe_wait(wait));
                        if let Some(reason) = s.health.disabled() {
                            tracing::warn!("web seed {} disabled: {reason}", s.url);
                        }
                        // A failed run starts afresh elsewhere rather than where it broke.
                        s.next_from = None;
                    }
                }
                self.fill_webseeds();
                self.core.request_from_all();
            }
        }
    }

    fn webseed_block(&mut self, seed: usize, job: u64, block: ValidBlock, data: Bytes) {
        let Some(j) = self
            .webseeds
            .seeds
            .get_mut(seed)
            .and_then(|s| s.job.as_mut())
            .filter(|j| j.id == job)
        else {
            return;
        };
        let piece = block.piece;
        let Some(left) = j.held.get_mut(&piece.get()) else {
            return;
        };
        if data.len() != block.length as usize {
            return; // the assembler cuts exact blocks: cannot happen
        }
        // An endgame twin holds only the blocks still missing; the rest of the piece it fetches
        // is already in.
        let Some(at) = left.iter().position(|b| *b == block) else {
            return;
        };
        left.swap_remove(at);
        if left.is_empty() {
            j.held.remove(&piece.get());
        }
        let job_done = j.held.is_empty();
        // Judged by the piece's hash check; if this job stops before the piece is whole, the
        // piece is finished by others (`WebSeeds::stop` forgets the piece), and a failure then
        // blames none of them: the web seed's blocks may be the bad ones (the core's rule).
        if self.core.handle_web_block(block, data) {
            self.webseeds.sent_by.insert(piece.get(), (seed, job));
        }
        if job_done {
            // Everything it held is in: the job is over now, not when its task says so (the
            // torrent may be complete already, and the status must not show it fetching).
            self.on_webseed(WebSeedEvent::Done {
                seed,
                job,
                result: Ok(()),
            });
        }
    }

    /// A piece passed (`ok`) or failed its hash check: judge the web seed that sent it.
    pub(super) fn webseed_piece_checked(&mut self, piece: PieceIndex, ok: bool) {
        let Some((seed, job)) = self.webseeds.sent_by.remove(&piece.get()) else {
            return;
        };
        if ok {
            // Its last piece in: the web seed may have its next run at once.
            if !self.webseeds.sent_by.values().any(|&(s, _)| s == seed) {
                self.fill_webseeds();
            }
            return;
        }
        if self.webseeds.seeds[seed].struck_job >= job {
            return;
        }
        if self.webseeds.seeds[seed]
            .job
            .as_ref()
            .is_some_and(|j| j.id == job)
        {
            let blocks = self.webseeds.stop(seed);
            self.core.picker_mut().release_all(&blocks);
        }
        let s = &mut self.webseeds.seeds[seed];
        s.struck_job = job;
        s.next_from = None;
        let wait = s.health.bad_piece(Instant::now());
        s.last_error = Some(format!("piece {} failed its hash check", piece.get()));
        tracing::warn!(
            "web seed {}: piece {} failed its hash check; {}",
            s.url,
            piece.get(),
            describe_wait(wait)
        );
        if let Some(reason) = s.health.disabled() {
            tracing::warn!("web seed {} disabled: {reason}", s.url);
        }
    }

    /// Per tick: rates, and new runs for idle web seeds.
    pub(super) fn webseeds_tick(&mut self, secs: f64) {
        self.webseeds.update_rates(secs);
        self.fill_webseeds();
    }
}

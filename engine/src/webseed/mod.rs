//! BEP 19 web seeds: the torrent actor's bookkeeping of its `url-list` servers (health, the job
//! in flight and the pieces it holds, rates) and the HTTP fetch tasks (`fetch.rs`). The actor
//! side that talks to the picker lives in `actor.rs`, a child of the torrent module.
//!
//! Bounds: a torrent uses at most [`MAX_WEB_SEEDS`] of its `url-list` entries and runs at most
//! [`MAX_JOBS`] fetches at once; a job holds at most one 16 KiB block (see `assemble.rs`).

mod assemble;
mod context;
mod decode;
mod fetch;
mod response;
mod status;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use protocol::webseed::Health;
use protocol::{Lengths, Metainfo, ValidBlock};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::disk::WriteBacklog;
use crate::http::Client;
use crate::ratelimit::RateLimiter;
use crate::tracker::targets::Targets;

pub(crate) use context::{FetchContext, SeedCounters, WebSeedEvent};
pub use status::{WebSeedState, WebSeedStatus};

/// A run is sized to about this much of the web seed's measured rate...
const RUN_SECONDS: u64 = 4;
/// ...within these bounds (bytes).
const MIN_RUN: u64 = 4 << 20;
const MAX_RUN: u64 = 64 << 20;
/// `url-list` entries used per torrent (the first ones, in the torrent's order): a torrent
/// with 50 mirrors must not open 50 connections or hold 50 jobs.
pub const MAX_WEB_SEEDS: usize = 8;
/// Fetches in flight per torrent at once.
pub const MAX_JOBS: usize = 4;
/// Blocks a torrent's jobs may have sent that the actor has not taken yet (1 MiB).
const EVENT_QUEUE: usize = 64;

/// One `url-list` entry.
pub(crate) struct Seed {
    pub url: String,
    pub health: Health,
    pub job: Option<Job>,
    /// Where the next run starts looking: just past the last one, so a server streams the file
    /// mostly in order.
    pub next_from: Option<u32>,
    /// The last job judged for bad data: one job's bad pieces count once (it is stopped at the
    /// first), so a web seed is backed off before it is disabled.
    pub struck_job: u64,
    /// The last failure, shown while the web seed backs off; cleared by a success.
    pub last_error: Option<String>,
    /// A web seed added while the torrent runs by an `add` of another origin: its own LAN rule
    /// (its client resolves names under it), not the torrent's.
    own_rule: Option<Client>,
    counters: Arc<SeedCounters>,
    prev: u64,
    pub rate: u64,
}

impl Seed {
    /// Payload bytes received from this web seed.
    pub fn downloaded(&self) -> u64 {
        self.counters.bytes.load(Ordering::Relaxed)
    }

    /// The server answered a range request with the whole file.
    pub fn ignores_range(&self) -> bool {
        self.counters.ignores_range.load(Ordering::Relaxed)
    }
}

/// A fetch in flight.
pub(crate) struct Job {
    pub id: u64,
    /// Pieces not yet wholly delivered, with the blocks this job marked requested in the
    /// picker and has not delivered yet.
    pub held: BTreeMap<u32, Vec<ValidBlock>>,
    pub task: AbortHandle,
}

/// What a fetch context is made of, kept so that the first usable web seed, even one added
/// while the torrent runs, can make it.
struct Parts {
    metainfo: Arc<Metainfo>,
    lengths: Lengths,
    timeout: Duration,
    down_limit: Arc<RateLimiter>,
    backlog: Arc<WriteBacklog>,
    targets: Targets,
}

impl Parts {
    /// A client for web seeds contacted under `targets`: pooled, since a web seed is asked
    /// again and again.
    fn client(&self, targets: Targets) -> Client {
        Client::new(self.timeout, targets, &[], true)
    }
}

pub(crate) struct WebSeeds {
    pub seeds: Vec<Seed>,
    pub ctx: Option<FetchContext>,
    parts: Parts,
    /// Made with the fetch context, by the first usable web seed: a channel holds a block of
    /// slots from the start, and most of a daemon's torrents have no web seed.
    rx: Option<mpsc::Receiver<WebSeedEvent>>,
    /// Which web seed (and job) sent each piece awaiting its hash check.
    pub sent_by: HashMap<u32, (usize, u64)>,
    next_job: u64,
}

impl WebSeeds {
    /// The torrent's web seeds. URLs that are not http(s) are kept, disabled, so the log shows
    /// why; the HTTP client is only built when some web seed is usable.
    pub fn new(
        metainfo: Arc<Metainfo>,
        lengths: Lengths,
        timeout: Duration,
        down_limit: Arc<RateLimiter>,
        backlog: Arc<WriteBacklog>,
        targets: Targets,
    ) -> Self {
        let urls = metainfo.url_list.clone();
        let mut seeds = WebSeeds {
            seeds: Vec::new(),
            ctx: None,
            parts: Parts {
                metainfo,
                lengths,
                timeout,
                down_limit,
                backlog,
                targets,
            },
            rx: None,
            sent_by: HashMap::new(),
            next_job: 1,
        };
        let skipped = urls
            .into_iter()
            .filter(|url| !seeds.add(url, targets))
            .count();
        if skipped > 0 {
            tracing::info!(
                "{skipped} web seeds ignored: a repeat, or more than the {MAX_WEB_SEEDS} used per torrent"
            );
        }
        seeds
    }

    /// Adds a web seed to be contacted under `targets` (the LAN rule of whoever brought it);
    /// `false` for a URL already here under a rule that covers `targets`, or past
    /// [`MAX_WEB_SEEDS`]. A URL here under a stricter rule takes this one and is tried at once.
    pub fn add(&mut self, url: &str, targets: Targets) -> bool {
        if let Some(s) = self.seeds.iter_mut().find(|s| s.url == url) {
            let rule = s
                .own_rule
                .as_ref()
                .map_or(self.parts.targets, Client::targets);
            if rule.covers(&targets) || !is_http(url) {
                return false;
            }
            s.own_rule = (targets != self.parts.targets).then(|| self.parts.client(targets));
            // Its failures were the stricter rule's refusals.
            s.health = Health::default();
            s.last_error = None;
            return true;
        }
        if self.seeds.len() >= MAX_WEB_SEEDS {
            return false;
        }
        let mut health = Health::default();
        if !is_http(url) {
            tracing::info!("web seed {url} ignored: only http:// and https:// are supported");
            health.disable("only http:// and https:// web seeds are supported".into());
        }
        let p = &self.parts;
        let usable = health.disabled().is_none();
        if usable && self.ctx.is_none() {
            let (events, rx) = mpsc::channel(EVENT_QUEUE);
            self.rx = Some(rx);
            self.ctx = Some(FetchContext {
                client: p.client(p.targets),
                metainfo: p.metainfo.clone(),
                lengths: p.lengths,
                down_limit: p.down_limit.clone(),
                backlog: p.backlog.clone(),
                events,
            });
        }
        let own_rule = (usable && targets != p.targets).then(|| p.client(targets));
        self.seeds.push(Seed {
            url: url.to_owned(),
            health,
            job: None,
            next_from: None,
            struck_job: 0,
            last_error: None,
            own_rule,
            counters: Arc::default(),
            prev: 0,
            rate: 0,
        });
        true
    }

    /// The next event from a fetch task; never ready when there are no usable web seeds.
    pub async fn recv(&mut self) -> Option<WebSeedEvent> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Payload bytes received from all web seeds.
    pub fn downloaded(&self) -> u64 {
        self.seeds.iter().map(Seed::downloaded).sum()
    }

    /// Sum of the smoothed rates, refreshed by [`WebSeeds::update_rates`].
    pub fn rate(&self) -> u64 {
        self.seeds.iter().map(|s| s.rate).sum()
    }

    pub fn update_rates(&mut self, secs: f64) {
        for s in &mut self.seeds {
            let now = s.downloaded();
            let r = ((now - s.prev) as f64 / secs) as u64;
            s.rate = (s.rate + 3 * r) / 4;
            s.prev = now;
        }
    }

    /// A web seed is fetching right now.
    pub fn busy(&self) -> bool {
        self.fetching() > 0
    }

    /// When the first web seed backing off may be asked again (a quiet torrent's clock must
    /// wake for it: `fill_webseeds` runs on the clock).
    pub fn next_retry(&self) -> Option<std::time::Instant> {
        (self.seeds.iter())
            .filter(|s| s.job.is_none())
            .filter_map(|s| s.health.retry_at())
            .min()
    }

    /// How many web seeds are fetching right now.
    pub fn fetching(&self) -> usize {
        self.seeds.iter().filter(|s| s.job.is_some()).count()
    }

    /// How many pieces the next run of `seed` should take.
    pub fn run_pieces(&self, seed: usize, piece_len: u64) -> u32 {
        let rate = self.seeds.get(seed).map_or(0, |s| s.rate);
        let bytes = rate.saturating_mul(RUN_SECONDS).clamp(MIN_RUN, MAX_RUN);
        (bytes / piece_len.max(1)).clamp(1, u64::from(u32::MAX)) as u32
    }

    /// Starts a fetch of `pieces` (which the caller marked in the picker as `held`).
    pub fn start(&mut self, seed: usize, held: BTreeMap<u32, Vec<ValidBlock>>) {
        let Some(mut ctx) = self.ctx.clone() else {
            return;
        };
        let Some(s) = self.seeds.get_mut(seed) else {
            return;
        };
        if let Some(client) = &s.own_rule {
            ctx.client = client.clone();
        }
        let id = self.next_job;
        self.next_job += 1;
        let pieces = held
            .keys()
            .filter_map(|&i| ctx.lengths.validate_piece(i))
            .collect();
        let task = tokio::spawn(fetch::run(
            ctx,
            seed,
            id,
            s.url.clone(),
            pieces,
            s.counters.clone(),
        ));
        s.job = Some(Job {
            id,
            held,
            task: task.abort_handle(),
        });
    }

    /// Ends `seed`'s job (if any), returning the blocks it still held for the picker.
    pub fn stop(&mut self, seed: usize) -> Vec<ValidBlock> {
        let Some(job) = self.seeds.get_mut(seed).and_then(|s| s.job.take()) else {
            return Vec::new();
        };
        job.task.abort();
        // Pieces it left half done are no longer its to answer for.
        self.sent_by.retain(|piece, &mut (s, j)| {
            !(s == seed && j == job.id && job.held.contains_key(piece))
        });
        job.held.into_values().flatten().collect()
    }
}

fn is_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Back-off waits are short enough to print in whole seconds.
pub(crate) fn describe_wait(wait: Option<Duration>) -> String {
    match wait {
        Some(w) => format!("retrying in {:.0}s", w.as_secs_f64().ceil()),
        None => "disabled".into(),
    }
}

#[cfg(test)]
mod tests;

//! Tracker clients: HTTP announce and scrape (BEP 3, 23, 7, 48), UDP trackers (BEP 15), and the
//! multitracker tiers of BEP 12 that a torrent announces through.
//!
//! # How a torrent uses this
//!
//! ```no_run
//! # async fn demo(info_hash: protocol::InfoHash, peer_id: protocol::PeerId) -> Result<(), engine::tracker::TrackerError> {
//! use engine::tracker::{AnnounceParams, Event, TrackerList};
//! // Tiers from the metainfo: `announce-list` if present, else `[[announce]]`.
//! let mut trackers = TrackerList::new(vec![vec!["http://127.0.0.1:6969/announce".into()]]);
//! let key = rand::random(); // one key per torrent and session, sent with every announce
//! let mut params = AnnounceParams::new(info_hash, peer_id, 6881, key);
//! params.left = 1 << 20;
//! params.event = Some(Event::Started);
//! let outcome = trackers.announce(&params).await?;
//! // Connect to outcome.peers; announce again (event None) after outcome.interval, never
//! // sooner than outcome.min_interval; send Event::Completed once, and Event::Stopped on
//! // shutdown (bounded by a short timeout: the tracker may be gone).
//! # let _ = outcome; Ok(()) }
//! ```
//!
//! [`AnnounceSchedule`] is the timetable to go with it: which event the next announce carries
//! (`started` until a tracker heard it, `completed` once), when it is due (the tracker's
//! `interval`, or earlier via `on_completed`/`want_peers` but never before `min interval`), and
//! the backoff after failures. Feed it `on_success(&outcome, now)` / `on_failure(now)`.
//!
//! `TrackerList` is owned by one torrent actor (`&mut self`, no locks). Each call tries the tiers
//! in order and the trackers within a tier in their shuffled order, stops at the first answer and
//! moves that tracker to the front of its tier. A failing announce costs at most the per-tracker
//! timeouts in [`TrackerConfig`] times the number of trackers, so run it in its own task (or
//! `select!` it against the actor's other work) rather than inline in the peer loop.
//!
//! `http://`, `https://` (rustls, system roots) and `udp://` URLs are spoken; anything else
//! (`wss://` WebTorrent trackers, say) fails with [`TrackerError::UnsupportedScheme`] and the
//! next tracker is tried.

mod http;
mod http_wire;
mod schedule;
pub mod targets;
mod tiers;
mod udp;
mod udp_packets;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use protocol::{InfoHash, PeerId};

pub use self::http::HttpClient;
pub use self::schedule::AnnounceSchedule;

/// The announce events of BEP 3 (`None` in [`AnnounceParams::event`] is a regular re-announce).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Started,
    Completed,
    Stopped,
}

/// What a torrent tells its trackers on each announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceParams {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    /// Our listening port.
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Option<Event>,
    /// Peers wanted; `None` lets the tracker choose (usually 50).
    pub numwant: Option<u32>,
    /// Random per-torrent key so the tracker can recognise us across IP changes.
    pub key: u32,
    /// Our address if we know better than the tracker (sent as `ip=` over HTTP only).
    pub ip: Option<String>,
}

impl AnnounceParams {
    /// Parameters with zero transfer counters, no event and the tracker's default `numwant`.
    pub fn new(info_hash: InfoHash, peer_id: PeerId, port: u16, key: u32) -> Self {
        AnnounceParams {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: None,
            numwant: None,
            key,
            ip: None,
        }
    }
}

/// A tracker's answer to an announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceOutcome {
    /// IPv4 and IPv6 peers, in the tracker's order. May include ourselves: filter by peer id or
    /// by our own listen address before dialling.
    pub peers: Vec<SocketAddr>,
    /// When to announce next.
    pub interval: Duration,
    /// Never announce sooner than this (HTTP `min interval`).
    pub min_interval: Option<Duration>,
    pub seeders: Option<u32>,
    pub leechers: Option<u32>,
    /// `warning message`: the announce worked, but the tracker wants it shown.
    pub warning: Option<String>,
    /// The tracker URL that answered.
    pub tracker: String,
}

/// Swarm counts from a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrapeCounts {
    pub seeders: u32,
    /// Number of completed downloads the tracker has seen (`downloaded` in HTTP scrapes).
    pub completed: u32,
    pub leechers: u32,
}

/// Why an announce or scrape failed. `Failure` is the tracker's own `failure reason`; the others
/// are transport or format problems. All name the tracker URL they concern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error("{url}: tracker refused: {reason}")]
    Failure { url: String, reason: String },
    #[error("{url}: unsupported tracker URL scheme")]
    UnsupportedScheme { url: String },
    #[error("{url}: invalid tracker URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{url}: no answer within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url}: {reason}")]
    Io { url: String, reason: String },
    #[error("{url}: HTTP status {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: malformed response: {reason}")]
    BadResponse { url: String, reason: String },
    #[error("{url}: this tracker does not support scrape")]
    ScrapeUnsupported { url: String },
    #[error("no trackers to announce to")]
    NoTrackers,
    #[error("all {tried} trackers failed; last: {last}")]
    AllFailed {
        tried: usize,
        last: Box<TrackerError>,
    },
}

/// Limits and timeouts. The defaults suit real trackers; tests shrink the UDP timeouts.
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Whole HTTP request, connect to last body byte.
    pub http_timeout: Duration,
    /// Largest HTTP response body read (a compact reply with 200 peers is ~1.3 KB).
    pub max_body: usize,
    /// First UDP wait; BEP 15 says 15 s, doubled after every retransmission.
    pub udp_initial_timeout: Duration,
    /// Retransmissions after the first UDP attempt (BEP 15 allows up to 8, an hour in all; we
    /// give up sooner so that a dead tracker does not hold back the next tier).
    pub udp_retries: u32,
    /// How long a UDP connection id is reused (BEP 15: one minute).
    pub udp_connection_ttl: Duration,
    /// DER certificates trusted for `https://` trackers besides the system's roots (a private
    /// tracker's own CA; tests use a self-signed one).
    pub extra_root_certs: Vec<Vec<u8>>,
    /// Which tracker addresses this torrent may contact (the LAN rule, `targets.rs`).
    pub targets: targets::Targets,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            http_timeout: Duration::from_secs(20),
            max_body: 2 * 1024 * 1024,
            udp_initial_timeout: Duration::from_secs(15),
            udp_retries: 2,
            udp_connection_ttl: Duration::from_secs(60),
            extra_root_certs: Vec::new(),
            targets: targets::Targets::default(),
        }
    }
}

/// The trackers of one torrent, in BEP 12 tiers. See the module docs for how to drive it.
pub struct TrackerList {
    tiers: tiers::Tiers,
    config: TrackerConfig,
    http: HttpClient,
    udp: udp::UdpClient,
    /// `tracker id` values that HTTP trackers asked us to send back, by URL.
    tracker_ids: HashMap<String, String>,
}

impl TrackerList {
    pub fn new(tiers: Vec<Vec<String>>) -> Self {
        Self::with_config(tiers, TrackerConfig::default())
    }

    pub fn with_config(tiers: Vec<Vec<String>>, config: TrackerConfig) -> Self {
        TrackerList {
            tiers: tiers::Tiers::new(tiers, &mut rand::rng()),
            http: HttpClient::new(&config),
            udp: udp::UdpClient::new(&config),
            config,
            tracker_ids: HashMap::new(),
        }
    }

    /// The tiers in their current order (shuffled within tiers, answering trackers first).
    pub fn tiers(&self) -> &[Vec<String>] {
        self.tiers.as_vec()
    }

    /// Announces to the first tracker that answers, in BEP 12 order.
    pub async fn announce(&mut self, p: &AnnounceParams) -> Result<AnnounceOutcome, TrackerError> {
        let mut failures = Failures::start(&self.tiers)?;
        for (tier, index, url) in self.tiers.order() {
            match self.announce_one(&url, p).await {
                Ok(outcome) => {
                    self.tiers.promote(tier, index);
                    return Ok(outcome);
                }
                Err(e) => failures.record(&url, e),
            }
        }
        Err(failures.finish())
    }

    /// Scrapes one info-hash from the first tracker that answers, in BEP 12 order.
    pub async fn scrape(&mut self, info_hash: InfoHash) -> Result<ScrapeCounts, TrackerError> {
        let mut failures = Failures::start(&self.tiers)?;
        for (tier, index, url) in self.tiers.order() {
            match self.scrape_one(&url, info_hash).await {
                Ok(counts) => {
                    self.tiers.promote(tier, index);
                    return Ok(counts);
                }
                Err(e) => failures.record(&url, e),
            }
        }
        Err(failures.finish())
    }

    /// Announces to one tracker URL, outside the tier order.
    pub async fn announce_one(
        &mut self,
        url: &str,
        p: &AnnounceParams,
    ) -> Result<AnnounceOutcome, TrackerError> {
        match scheme(url)? {
            Scheme::Http => {
                let tracker_id = self.tracker_ids.get(url).cloned();
                let (outcome, new_id) = self.http.announce(url, p, tracker_id.as_deref()).await?;
                if let Some(id) = new_id {
                    self.tracker_ids.insert(url.to_owned(), id);
                }
                Ok(outcome)
            }
            Scheme::Udp => self.udp.announce(url, p).await,
        }
    }

    /// Scrapes one tracker URL, outside the tier order.
    pub async fn scrape_one(
        &mut self,
        url: &str,
        info_hash: InfoHash,
    ) -> Result<ScrapeCounts, TrackerError> {
        match scheme(url)? {
            Scheme::Http => self.http.scrape(url, info_hash).await,
            Scheme::Udp => self.udp.scrape(url, info_hash).await,
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }
}

/// The failures of one pass over the tiers, for the error that names the last of them.
struct Failures {
    tried: usize,
    last: Option<TrackerError>,
}

impl Failures {
    fn start(tiers: &tiers::Tiers) -> Result<Self, TrackerError> {
        if tiers.is_empty() {
            return Err(TrackerError::NoTrackers);
        }
        Ok(Failures {
            tried: 0,
            last: None,
        })
    }

    fn record(&mut self, url: &str, error: TrackerError) {
        tracing::debug!(tracker = %url, error = %error, "tracker failed, trying the next");
        self.tried += 1;
        self.last = Some(error);
    }

    fn finish(self) -> TrackerError {
        TrackerError::AllFailed {
            tried: self.tried,
            last: Box::new(self.last.unwrap_or(TrackerError::NoTrackers)),
        }
    }
}

enum Scheme {
    Http,
    Udp,
}

fn scheme(url: &str) -> Result<Scheme, TrackerError> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(Scheme::Http)
    } else if lower.starts_with("udp://") {
        Ok(Scheme::Udp)
    } else {
        Err(TrackerError::UnsupportedScheme {
            url: url.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;

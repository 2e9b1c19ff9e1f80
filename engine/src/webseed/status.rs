//! What a torrent's status says about each of its web seeds: the aggregate `peers`/`seeds`
//! counts hide which server works, which one is backing off and why one was given up, and a
//! user with three mirrors in `url-list` wants to know exactly that.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::WebSeeds;

/// Where one web seed is in its life. `Idle` -> `Fetching` -> `Idle` while it answers well;
/// a failure or a bad piece makes it `BackingOff` until its retry time, then `Idle` again;
/// too many of them (or a URL we cannot fetch) make it `Failed` for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebSeedState {
    Fetching,
    Idle,
    BackingOff,
    Failed,
}

/// One `url-list` entry of a torrent, as the status stream shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebSeedStatus {
    pub url: String,
    pub state: WebSeedState,
    /// Bytes per second, averaged over a few seconds.
    pub down_rate: u64,
    /// Payload bytes received from this web seed in this session (before their hash check).
    pub downloaded: u64,
    /// Why it is backing off (the last failure) or why it was given up; `None` while healthy.
    pub error: Option<String>,
    /// Seconds until it is tried again, while backing off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_secs: Option<u64>,
}

impl WebSeeds {
    /// Every web seed's status at `now`, in `url-list` order.
    pub fn statuses(&self, now: Instant) -> Vec<WebSeedStatus> {
        self.seeds
            .iter()
            .map(|s| {
                let retry_at = s.health.retry_at().filter(|&t| t > now);
                let (state, error) = if let Some(reason) = s.health.disabled() {
                    (WebSeedState::Failed, Some(reason.to_owned()))
                } else if s.job.is_some() {
                    (WebSeedState::Fetching, None)
                } else if retry_at.is_some() {
                    (WebSeedState::BackingOff, s.last_error.clone())
                } else {
                    (WebSeedState::Idle, None)
                };
                WebSeedStatus {
                    url: s.url.clone(),
                    state,
                    down_rate: s.rate,
                    downloaded: s.downloaded(),
                    error,
                    // Rounded up: "retrying in 0 s" while it still waits would be wrong.
                    retry_in_secs: retry_at
                        .map(|t| (t - now).as_secs_f64().ceil() as u64)
                        .filter(|_| state == WebSeedState::BackingOff),
                }
            })
            .collect()
    }
}

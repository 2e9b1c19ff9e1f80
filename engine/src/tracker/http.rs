//! HTTP(S) tracker transport: one GET per announce or scrape over the shared client
//! (`crate::http`), one timeout for the whole request and a cap on the body read. Redirects are
//! not followed.

use protocol::InfoHash;

use super::http_wire::{self, Reply};
use super::{AnnounceOutcome, AnnounceParams, ScrapeCounts, TrackerConfig, TrackerError};
use crate::http::{self as client, Client};

/// A small HTTP/1.1 client for tracker requests, `http://` and `https://`. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Client,
    max_body: usize,
}

impl HttpClient {
    pub fn new(config: &TrackerConfig) -> Self {
        HttpClient {
            client: Client::new(
                config.http_timeout,
                config.targets,
                &config.extra_root_certs,
                false,
            ),
            max_body: config.max_body,
        }
    }

    /// Announces; returns the outcome and a new `tracker id` if the tracker sent one.
    pub async fn announce(
        &self,
        url: &str,
        p: &AnnounceParams,
        tracker_id: Option<&str>,
    ) -> Result<(AnnounceOutcome, Option<String>), TrackerError> {
        let full = http_wire::announce_url(url, p, tracker_id);
        let body = self.get(url, &full).await?;
        match http_wire::decode_announce(&body, url) {
            Ok(Reply::Ok(answer)) => Ok(answer),
            Ok(Reply::Failure(reason)) => Err(failure(url, reason)),
            Err(reason) => Err(bad_response(url, reason)),
        }
    }

    pub async fn scrape(
        &self,
        url: &str,
        info_hash: InfoHash,
    ) -> Result<ScrapeCounts, TrackerError> {
        let Some(full) = http_wire::scrape_url(url, &info_hash) else {
            return Err(TrackerError::ScrapeUnsupported {
                url: url.to_owned(),
            });
        };
        let body = self.get(url, &full).await?;
        match http_wire::decode_scrape(&body, &info_hash) {
            Ok(Reply::Ok(counts)) => Ok(counts),
            Ok(Reply::Failure(reason)) => Err(failure(url, reason)),
            Err(reason) => Err(bad_response(url, reason)),
        }
    }

    /// GETs `full` (with our User-Agent: private trackers often admit clients by it as well as
    /// by peer id prefix) and returns the body of a 200 reply; `url` (the tracker's own URL,
    /// without our query) is what errors name.
    async fn get(&self, url: &str, full: &str) -> Result<bytes::Bytes, TrackerError> {
        let request = client::get(full, &[]).map_err(|e| tracker_error(url, e))?;
        let (status, body) = (self.client.exchange(request, self.max_body).await)
            .map_err(|e| tracker_error(url, e))?;
        // Trackers report failures in a 200 body; other statuses may still carry one.
        if !status.is_success() {
            if let Ok(Reply::Failure(reason)) = http_wire::decode_announce(&body, url) {
                return Err(failure(url, reason));
            }
            return Err(TrackerError::HttpStatus {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        Ok(body)
    }
}

/// `e` naming the tracker's own `url`.
fn tracker_error(url: &str, e: client::Error) -> TrackerError {
    let url = url.to_owned();
    match e {
        client::Error::InvalidUrl { reason, .. } => TrackerError::InvalidUrl { url, reason },
        client::Error::Timeout { after, .. } => TrackerError::Timeout { url, after },
        client::Error::TooLarge { limit, .. } => TrackerError::TooLarge { url, limit },
        client::Error::Io { reason, .. } => TrackerError::Io { url, reason },
        // Redirects are not followed: these do not happen.
        e => TrackerError::Io {
            url,
            reason: e.to_string(),
        },
    }
}

fn failure(url: &str, reason: String) -> TrackerError {
    TrackerError::Failure {
        url: url.to_owned(),
        reason,
    }
}

fn bad_response(url: &str, reason: String) -> TrackerError {
    TrackerError::BadResponse {
        url: url.to_owned(),
        reason,
    }
}

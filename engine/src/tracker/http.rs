//! HTTP(S) tracker transport: one GET per announce or scrape over hyper's client (rustls for
//! `https://`), with a whole-request timeout and a cap on the body read.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use protocol::InfoHash;

use super::http_wire::{self, Reply};
use super::targets::{TargetResolver, Targets};
use super::{AnnounceOutcome, AnnounceParams, ScrapeCounts, TrackerConfig, TrackerError};

/// What we call ourselves to trackers, matching the `-SL0100-` peer id prefix.
pub const USER_AGENT: &str = concat!("Swarmlink/", env!("CARGO_PKG_VERSION"));

/// A small HTTP/1.1 client for tracker requests, `http://` and `https://`. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector<TargetResolver>>, Empty<Bytes>>,
    targets: Targets,
    timeout: Duration,
    max_body: usize,
}

impl HttpClient {
    pub fn new(config: &TrackerConfig) -> Self {
        let resolver = super::targets::TargetResolver {
            targets: config.targets,
        };
        let mut connector = HttpConnector::new_with_resolver(resolver);
        connector.set_connect_timeout(Some(config.http_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config((*super::tls::client_config(config)).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        // No connection pool: announces are minutes apart, and trackers like opentracker close
        // the connection after each reply, so a pooled connection would only be reset under us.
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        HttpClient {
            client,
            targets: config.targets,
            timeout: config.http_timeout,
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

    /// GETs `full` and returns the body of a 200 reply; `url` (the tracker's own URL, without
    /// our query) is what errors name.
    async fn get(&self, url: &str, full: &str) -> Result<Bytes, TrackerError> {
        self.targets
            .check_url(full)
            .map_err(|reason| TrackerError::Io {
                url: url.to_owned(),
                reason,
            })?;
        let uri: http::Uri =
            full.parse()
                .map_err(|e: http::uri::InvalidUri| TrackerError::InvalidUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
        // Private trackers often admit clients by user agent as well as by peer id prefix.
        let request = http::Request::get(uri)
            .header(http::header::USER_AGENT, USER_AGENT)
            .body(Empty::new())
            .map_err(|e| TrackerError::InvalidUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let request = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| TrackerError::Io {
                    url: url.to_owned(),
                    reason: error_chain(&e),
                })?;
            let status = response.status();
            // Trackers report failures in a 200 body; other statuses may still carry one.
            let body = Limited::new(response.into_body(), self.max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        TrackerError::TooLarge {
                            url: url.to_owned(),
                            limit: self.max_body,
                        }
                    } else {
                        TrackerError::Io {
                            url: url.to_owned(),
                            reason: e.to_string(),
                        }
                    }
                })?
                .to_bytes();
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
        };
        tokio::time::timeout(self.timeout, request)
            .await
            .unwrap_or_else(|_| {
                Err(TrackerError::Timeout {
                    url: url.to_owned(),
                    after: self.timeout,
                })
            })
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

/// `error: cause: cause`, because hyper's top-level message alone ("client error (Connect)")
/// hides what happened.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

//! Registering a torrent at the tracker: `PUT` the `.torrent` bytes to its `/publish/` URL with
//! our `port` (and `ip`) in the query and the publish key in `X-Publish-Key`. The tracker answers
//! a bencoded dictionary: `url` (the listing entry people click), `torrent_url`, `your ip`; or
//! `failure reason` with a 4xx status.

use std::time::Duration;

use bytes::Bytes;
use engine::http::{self as client, Client};
use http::header::{CONTENT_TYPE, USER_AGENT};
use protocol::bencode;

/// The largest tracker reply read (a reply is a few hundred bytes; a `.torrent` a few MiB).
const MAX_REPLY: usize = 16 << 20;

/// Why registering failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{0:?} is not an http:// publish URL ending in publish/")]
    BadLocation(String),
    #[error("the tracker at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the tracker at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("the tracker at {url} failed with HTTP {status}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Server {
        url: String,
        status: u16,
        reason: Option<String>,
    },
    #[error("the tracker refused: {reason} (HTTP {status})")]
    Refused { status: u16, reason: String },
    #[error("the tracker at {url} sent a reply that is not a publish answer: {reason}")]
    BadReply { url: String, reason: String },
}

impl RegisterError {
    /// Worth trying again later: the tracker is down, slow or failing, rather than saying no.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            RegisterError::Unreachable { .. }
                | RegisterError::Timeout { .. }
                | RegisterError::Server { .. }
        )
    }
}

/// The tracker's answer to a successful publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The listing entry: the link people click.
    pub url: String,
    /// Where the tracker serves the `.torrent`.
    pub torrent_url: Option<String>,
    /// The address the tracker saw us from (or the `ip` we gave).
    pub your_ip: Option<String>,
}

/// The announce URL of a publish location: its trailing `publish/` replaced by `announce`.
pub fn announce_url(location: &str) -> Result<String, RegisterError> {
    let bad = || RegisterError::BadLocation(location.to_owned());
    let url = url::Url::parse(location).map_err(|_| bad())?;
    if url.scheme() != "http" || url.host_str().is_none() {
        return Err(bad());
    }
    let path = url.path();
    let prefix = path
        .strip_suffix("publish/")
        .or_else(|| path.strip_suffix("publish"))
        .ok_or_else(bad)?;
    let mut announce = url.clone();
    announce.set_path(&format!("{prefix}announce"));
    announce.set_query(None);
    announce.set_fragment(None);
    Ok(announce.into())
}

/// A client for one tracker's publish URL.
#[derive(Clone)]
pub struct Registrar {
    location: url::Url,
    client: Client,
}

impl Registrar {
    pub fn new(location: &str, timeout: Duration) -> Result<Registrar, RegisterError> {
        announce_url(location)?;
        let location =
            url::Url::parse(location).map_err(|_| RegisterError::BadLocation(location.into()))?;
        // Each request on a connection of its own, within `timeout` from connect to last byte.
        let client = Client::new(timeout, Default::default(), &[], false);
        Ok(Registrar { location, client })
    }

    pub fn location(&self) -> &str {
        self.location.as_str()
    }

    /// `PUT`s `torrent` announcing that we seed it on `port` (reachable at `ip`, if given).
    pub async fn publish(
        &self,
        torrent: &[u8],
        port: u16,
        ip: Option<&str>,
        key: Option<&str>,
    ) -> Result<Publication, RegisterError> {
        let mut url = self.location.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("port", &port.to_string());
            if let Some(ip) = ip {
                query.append_pair("ip", ip);
            }
        }
        let mut request = http::Request::put(url.as_str())
            .header(CONTENT_TYPE, "application/x-bittorrent")
            .header(USER_AGENT, crate::run_make::CREATED_BY);
        if let Some(key) = key {
            request = request.header("X-Publish-Key", key);
        }
        let request = request
            .body(Bytes::copy_from_slice(torrent))
            .map_err(|e| RegisterError::BadLocation(format!("{url}: {e}")))?;
        let (status, body) = self.send(request).await?;
        decode_reply(self.location.as_str(), status, &body)
    }

    /// `GET`s `url` (a listing page or `.torrent` on the tracker): status and body.
    pub async fn get(&self, url: &str) -> Result<(u16, Vec<u8>), RegisterError> {
        let headers = [(USER_AGENT, crate::run_make::CREATED_BY.to_owned())];
        self.send(client::get(url, &headers).map_err(register_error)?)
            .await
    }

    /// The status and body (at most [`MAX_REPLY`] bytes) of the answer to `request`.
    async fn send(&self, request: http::Request<Bytes>) -> Result<(u16, Vec<u8>), RegisterError> {
        let (status, body) =
            (self.client.exchange(request, MAX_REPLY).await).map_err(register_error)?;
        Ok((status.as_u16(), body.to_vec()))
    }
}

fn register_error(e: client::Error) -> RegisterError {
    match e {
        client::Error::Timeout { url, after } => RegisterError::Timeout {
            url,
            secs: after.as_secs(),
        },
        client::Error::InvalidUrl { url, reason } => {
            RegisterError::BadLocation(format!("{url}: {reason}"))
        }
        client::Error::Io { url, reason } => RegisterError::Unreachable { url, reason },
        client::Error::TooLarge { url, limit } => RegisterError::Unreachable {
            url,
            reason: format!("the reply broke off after {limit} bytes"),
        },
        // Redirects are not followed: these do not happen.
        e => RegisterError::Unreachable {
            url: String::new(),
            reason: e.to_string(),
        },
    }
}

fn decode_reply(url: &str, status: u16, body: &[u8]) -> Result<Publication, RegisterError> {
    let value = bencode::decode(body).ok();
    let text = |key: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(|v| v.as_bytes())
            // The tracker's words end up on the user's terminal: escapes are spelled out.
            .map(|b| protocol::text::printable(&String::from_utf8_lossy(b)).into_owned())
    };
    if let Some(reason) = text("failure reason") {
        return Err(if status >= 500 {
            RegisterError::Server {
                url: url.to_owned(),
                status,
                reason: Some(reason),
            }
        } else {
            RegisterError::Refused { status, reason }
        });
    }
    if status >= 500 {
        return Err(RegisterError::Server {
            url: url.to_owned(),
            status,
            reason: None,
        });
    }
    if !(200..300).contains(&status) {
        let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
        return Err(RegisterError::Refused {
            status,
            reason: if snippet.trim().is_empty() {
                "no reason given".into()
            } else {
                snippet
            },
        });
    }
    let bad = |reason: &str| RegisterError::BadReply {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if value.is_none() {
        return Err(bad("not bencode"));
    }
    Ok(Publication {
        url: text("url").ok_or_else(|| bad("no url"))?,
        torrent_url: text("torrent_url"),
        your_ip: text("your ip"),
    })
}

#[cfg(test)]
#[path = "register_tests.rs"]
mod tests;

//! [`Client`]: connects (with a timeout, over TLS for `https://`), sends, follows redirects and
//! reads bodies, each step bounded.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, LOCATION, USER_AGENT};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client as Hyper};
use hyper_util::rt::TokioExecutor;

use super::{tls, Error, MAX_REDIRECTS};
use crate::tracker::targets::{TargetResolver, Targets};

/// An HTTP/1.1 client for `http://` and `https://`, reaching only the addresses its LAN rule
/// allows. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    hyper: Hyper<HttpsConnector<HttpConnector<TargetResolver>>, Full<Bytes>>,
    targets: Targets,
    timeout: Duration,
}

impl Client {
    /// A client that connects to, and waits for, a server at most `timeout` each time (see each
    /// method), resolves names to the addresses `targets` allows, and trusts `extra_roots` (DER)
    /// besides the system's roots. With `keep_alive`, idle connections wait for the next request
    /// (a web seed is asked again and again: a handshake saved each time); without, each request
    /// has its own (trackers like opentracker close it after each reply, so a pooled one would
    /// only be reset under us; a fetch is a one-off).
    pub fn new(
        timeout: Duration,
        targets: Targets,
        extra_roots: &[Vec<u8>],
        keep_alive: bool,
    ) -> Client {
        let mut connector = HttpConnector::new_with_resolver(TargetResolver { targets });
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let connector = HttpsConnector::from((connector, tls::config(extra_roots)));
        let mut builder = Hyper::builder(TokioExecutor::new());
        if !keep_alive {
            builder.pool_max_idle_per_host(0);
        }
        Client {
            hyper: builder.build(connector),
            targets,
            timeout,
        }
    }

    /// The LAN rule this client contacts servers under.
    pub fn targets(&self) -> Targets {
        self.targets
    }

    /// Sends `request` (with our User-Agent unless it names its own) and waits at most the
    /// timeout for the answer's head; the body is the caller's to read ([`Client::read`],
    /// [`Client::frame`]).
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Incoming>, Error> {
        let url = request.uri().to_string();
        // Names are checked by what they resolve to (`TargetResolver`), IP literals here.
        self.targets.check_url(&url).map_err(|e| io(&url, e))?;
        let mut request = request.map(Full::new);
        request
            .headers_mut()
            .entry(USER_AGENT)
            .or_insert(HeaderValue::from_static(super::USER_AGENT));
        match tokio::time::timeout(self.timeout, self.hyper.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(io(&url, error_chain(&e))),
            Err(_) => Err(self.timed_out(&url)),
        }
    }

    /// [`Client::send`], then [`Client::read`] of at most `limit` bytes, all within one timeout
    /// (connect to last body byte): the status and the body, whatever the status.
    pub async fn exchange(
        &self,
        request: http::Request<Bytes>,
        limit: usize,
    ) -> Result<(http::StatusCode, Bytes), Error> {
        let url = request.uri().to_string();
        let exchange = async {
            let response = self.send(request).await?;
            let status = response.status();
            Ok((status, self.read(&url, response.into_body(), limit).await?))
        };
        let result = tokio::time::timeout(self.timeout, exchange).await;
        result.unwrap_or_else(|_| Err(self.timed_out(&url)))
    }

    /// GETs `url` with `headers`, following up to [`MAX_REDIRECTS`] redirects, each hop checked
    /// and timed like the first: the final URL and the answer's head.
    pub async fn follow(
        &self,
        url: &str,
        headers: &[(HeaderName, String)],
    ) -> Result<(String, http::Response<Incoming>), Error> {
        let mut target = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let response = self.send(get(&target, headers)?).await?;
            let status = response.status();
            if !status.is_redirection() {
                return Ok((target, response));
            }
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url::Url::parse(&target).ok()?.join(loc).ok())
                .ok_or_else(|| Error::BadRedirect {
                    url: target.clone(),
                    status: status.as_u16(),
                })?;
            target = next.into();
        }
        Err(Error::Redirects {
            url: url.to_owned(),
        })
    }

    /// All of `body`, read within the timeout: one longer than `limit` is [`Error::TooLarge`],
    /// refused unread when its `Content-Length` says so, else once a frame crosses the limit.
    pub async fn read(&self, url: &str, body: Incoming, limit: usize) -> Result<Bytes, Error> {
        let too_large = || Error::TooLarge {
            url: url.to_owned(),
            limit,
        };
        if body.size_hint().lower() > limit as u64 {
            return Err(too_large());
        }
        match tokio::time::timeout(self.timeout, Limited::new(body, limit).collect()).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large()),
            Ok(Err(e)) => Err(io(url, error_chain(&*e))),
            Err(_) => Err(self.timed_out(url)),
        }
    }

    /// The next data frame of `body` as it came over the wire, waiting at most the timeout;
    /// `None` at its end.
    pub async fn frame(&self, url: &str, body: &mut Incoming) -> Result<Option<Bytes>, Error> {
        loop {
            let frame = tokio::time::timeout(self.timeout, body.frame())
                .await
                .map_err(|_| self.timed_out(url))?;
            let Some(frame) = frame.transpose().map_err(|e| io(url, error_chain(&e)))? else {
                return Ok(None);
            };
            if let Ok(data) = frame.into_data() {
                return Ok(Some(data));
            } // else trailers
        }
    }

    fn timed_out(&self, url: &str) -> Error {
        Error::Timeout {
            url: url.to_owned(),
            after: self.timeout,
        }
    }
}

fn io(url: &str, reason: String) -> Error {
    Error::Io {
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

/// A GET of `url` (http or https) with `headers`, for [`Client::send`] or [`Client::exchange`].
pub fn get(url: &str, headers: &[(HeaderName, String)]) -> Result<http::Request<Bytes>, Error> {
    let invalid = |reason: String| Error::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid("only http:// and https:// are supported".into()));
    }
    let mut request = http::Request::get(uri);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request
        .body(Bytes::new())
        .map_err(|e| invalid(e.to_string()))
}

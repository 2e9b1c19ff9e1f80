//! One web seed job: HTTP(S) range requests for a run of consecutive pieces, streamed into whole
//! pieces that go to the torrent actor as soon as each is complete (the actor verifies them like
//! peer data). A piece that spans files takes one request per file; pad files are zeros and are
//! never requested. Nothing past the asked range is ever read: a longer body is an error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use protocol::webseed::{file_ranges, file_url};
use protocol::{Lengths, Metainfo, PieceIndex};
use tokio::sync::mpsc;

use crate::ratelimit::RateLimiter;

/// What we call ourselves to web servers, as to trackers.
const USER_AGENT: &str = concat!("Swarmlink/", env!("CARGO_PKG_VERSION"));
/// Redirects followed per request (mirrors like archive.org redirect to a storage node).
const MAX_REDIRECTS: u32 = 5;
/// Zeros handed over at once for a pad file.
const PAD_CHUNK: u64 = 256 * 1024;

pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Why a web seed request failed; the web seed is backed off, then disabled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{url}: invalid URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{url}: {reason}")]
    Io { url: String, reason: String },
    #[error("{url}: no answer within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url}: HTTP status {status} to a range request (206 expected)")]
    Status { url: String, status: u16 },
    #[error("{url}: {reason}")]
    BadRange { url: String, reason: String },
    #[error("{url}: more than {MAX_REDIRECTS} redirects")]
    Redirects { url: String },
}

/// What the fetch task tells the torrent actor.
#[derive(Debug)]
pub(crate) enum WebSeedEvent {
    /// All bytes of `piece` (not yet verified).
    Piece {
        seed: usize,
        job: u64,
        piece: PieceIndex,
        data: Bytes,
    },
    /// The job ended: every piece delivered, or the error that stopped it.
    Done {
        seed: usize,
        job: u64,
        result: Result<(), FetchError>,
    },
}

/// Everything a fetch task needs; cheap to clone.
#[derive(Clone)]
pub(crate) struct FetchContext {
    pub client: HttpClient,
    pub metainfo: Arc<Metainfo>,
    pub lengths: Lengths,
    pub timeout: Duration,
    pub down_limit: Arc<RateLimiter>,
    pub events: mpsc::UnboundedSender<WebSeedEvent>,
}

pub(crate) fn client(timeout: Duration) -> HttpClient {
    client_trusting(timeout, &[])
}

/// A client that also trusts `extra_roots` (DER), besides the system's roots.
pub(crate) fn client_trusting(timeout: Duration, extra_roots: &[Vec<u8>]) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    connector.set_nodelay(true);
    connector.enforce_http(false);
    // The tracker client's TLS setup (rustls on ring, system roots).
    let tls = crate::tracker::tls::client_config(&crate::tracker::TrackerConfig {
        extra_root_certs: extra_roots.to_vec(),
        ..Default::default()
    });
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config((*tls).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    // Pooled: a web seed is asked again and again, and keep-alive saves a handshake each time.
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Fetches `pieces` (consecutive) from the web seed at `base`, sending each as it completes.
pub(crate) async fn run(
    ctx: FetchContext,
    seed: usize,
    job: u64,
    base: String,
    pieces: Vec<PieceIndex>,
    counter: Arc<AtomicU64>,
) {
    let result = fetch(&ctx, seed, job, &base, &pieces, &counter).await;
    let _ = ctx.events.send(WebSeedEvent::Done { seed, job, result });
}

async fn fetch(
    ctx: &FetchContext,
    seed: usize,
    job: u64,
    base: &str,
    pieces: &[PieceIndex],
    counter: &AtomicU64,
) -> Result<(), FetchError> {
    let (Some(&first), Some(&last)) = (pieces.first(), pieces.last()) else {
        return Ok(());
    };
    let start = ctx.lengths.piece_offset(first);
    let end = ctx.lengths.piece_offset(last) + u64::from(ctx.lengths.piece_len(last));
    let mut out = Assembler {
        ctx,
        seed,
        job,
        pieces,
        next: 0,
        buf: BytesMut::new(),
    };
    let info = &ctx.metainfo.info;
    for range in file_ranges(info, start, end - start) {
        if range.pad {
            let mut left = range.length;
            while left > 0 {
                let n = left.min(PAD_CHUNK);
                out.push(Bytes::from(vec![0u8; n as usize]))?;
                left -= n;
            }
            continue;
        }
        let file = &info.files[range.file];
        let url = file_url(base, info, file);
        let whole_file = range.offset == 0 && range.length == file.length;
        get_range(
            ctx,
            &url,
            range.offset,
            range.length,
            whole_file,
            &mut out,
            counter,
        )
        .await?;
    }
    Ok(())
}

/// Cuts the byte stream of a run into pieces and sends each whole one.
struct Assembler<'a> {
    ctx: &'a FetchContext,
    seed: usize,
    job: u64,
    pieces: &'a [PieceIndex],
    next: usize,
    buf: BytesMut,
}

impl Assembler<'_> {
    fn push(&mut self, mut data: Bytes) -> Result<(), FetchError> {
        while !data.is_empty() {
            let Some(&piece) = self.pieces.get(self.next) else {
                // `get_range` never reads past what the run covers: unreachable by construction.
                return Ok(());
            };
            let len = self.ctx.lengths.piece_len(piece) as usize;
            if self.buf.capacity() == 0 {
                self.buf.reserve(len);
            }
            let take = (len - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data.split_to(take));
            if self.buf.len() == len {
                let whole = std::mem::take(&mut self.buf).freeze();
                self.next += 1;
                let sent = self.ctx.events.send(WebSeedEvent::Piece {
                    seed: self.seed,
                    job: self.job,
                    piece,
                    data: whole,
                });
                if sent.is_err() {
                    return Err(FetchError::Io {
                        url: String::new(),
                        reason: "the torrent is gone".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// GETs bytes `offset..offset+length` of the file at `url`, following redirects, feeding the body
/// to `out` as it arrives.
async fn get_range(
    ctx: &FetchContext,
    url: &str,
    offset: u64,
    length: u64,
    whole_file: bool,
    out: &mut Assembler<'_>,
    counter: &AtomicU64,
) -> Result<(), FetchError> {
    let mut target = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let uri: http::Uri =
            target
                .parse()
                .map_err(|e: http::uri::InvalidUri| FetchError::InvalidUrl {
                    url: target.clone(),
                    reason: e.to_string(),
                })?;
        let last = offset + length - 1;
        let request = http::Request::get(uri)
            .header(http::header::USER_AGENT, USER_AGENT)
            .header(http::header::RANGE, format!("bytes={offset}-{last}"))
            .body(Empty::new())
            .map_err(|e| FetchError::InvalidUrl {
                url: target.clone(),
                reason: e.to_string(),
            })?;
        let response = tokio::time::timeout(ctx.timeout, ctx.client.request(request))
            .await
            .map_err(|_| FetchError::Timeout {
                url: target.clone(),
                after: ctx.timeout,
            })?
            .map_err(|e| FetchError::Io {
                url: target.clone(),
                reason: error_chain(&e),
            })?;
        let status = response.status();
        if status.is_redirection() {
            let next = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| url::Url::parse(&target).ok()?.join(loc).ok())
                .ok_or_else(|| FetchError::Status {
                    url: target.clone(),
                    status: status.as_u16(),
                })?;
            target = next.to_string();
            continue;
        }
        check_headers(&target, &response, offset, length, whole_file)?;
        return read_body(ctx, &target, response.into_body(), length, out, counter).await;
    }
    Err(FetchError::Redirects {
        url: url.to_owned(),
    })
}

/// A 206 whose Content-Range is exactly what we asked for, or a 200 when we asked for the whole
/// file (a server that ignores Range then sends just that).
fn check_headers<B>(
    url: &str,
    response: &http::Response<B>,
    offset: u64,
    length: u64,
    whole_file: bool,
) -> Result<(), FetchError> {
    let bad = |reason: String| FetchError::BadRange {
        url: url.to_owned(),
        reason,
    };
    let headers = response.headers();
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match response.status().as_u16() {
        206 => {
            let Some(range) = header(http::header::CONTENT_RANGE) else {
                return Err(bad("206 without Content-Range".into()));
            };
            let want = format!("bytes {}-{}/", offset, offset + length - 1);
            if !range.starts_with(&want) {
                return Err(bad(format!(
                    "Content-Range {range:?}, asked for {offset}+{length}"
                )));
            }
        }
        200 if whole_file => {}
        status => {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status,
            })
        }
    }
    if let Some(len) = header(http::header::CONTENT_LENGTH) {
        if len.trim().parse::<u64>().ok() != Some(length) {
            return Err(bad(format!(
                "Content-Length {len}, asked for {length} bytes"
            )));
        }
    }
    Ok(())
}

async fn read_body(
    ctx: &FetchContext,
    url: &str,
    mut body: hyper::body::Incoming,
    length: u64,
    out: &mut Assembler<'_>,
    counter: &AtomicU64,
) -> Result<(), FetchError> {
    let mut got = 0u64;
    while got < length {
        let frame = tokio::time::timeout(ctx.timeout, body.frame())
            .await
            .map_err(|_| FetchError::Timeout {
                url: url.to_owned(),
                after: ctx.timeout,
            })?;
        let frame = match frame {
            None => break,
            Some(Err(e)) => {
                return Err(FetchError::Io {
                    url: url.to_owned(),
                    reason: error_chain(&e),
                })
            }
            Some(Ok(frame)) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let n = data.len() as u64;
        if got + n > length {
            return Err(FetchError::BadRange {
                url: url.to_owned(),
                reason: format!("body longer than the {length} bytes asked for"),
            });
        }
        got += n;
        counter.fetch_add(n, Ordering::Relaxed);
        ctx.down_limit.consume(data.len()).await;
        out.push(data)?;
    }
    if got < length {
        return Err(FetchError::BadRange {
            url: url.to_owned(),
            reason: format!("body ended after {got} of {length} bytes"),
        });
    }
    Ok(())
}

/// `error: cause: cause`: hyper's top-level message alone ("client error (Connect)") hides what
/// happened.
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

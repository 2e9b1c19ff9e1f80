//! One web seed job: HTTP(S) range requests for a run of consecutive pieces, streamed as 16 KiB
//! blocks to the torrent actor (which writes and verifies them like peer blocks, see
//! `assemble.rs`). A piece that spans files takes one request per file; pad files are zeros and
//! are never requested. What a server answers is judged in `response.rs`: an exact `206`, a `206`
//! for a range that starts earlier or ends sooner, or a `200` with the whole file are all used
//! from the byte we need, and the rest is asked for again; chunked and close-delimited bodies
//! come out of hyper as plain bytes, and gzip or deflate ones are decoded (`decode.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use protocol::webseed::{file_ranges, file_url};
use protocol::{Lengths, Metainfo, PieceIndex, ValidBlock};
use tokio::sync::mpsc;

use super::assemble::Assembler;
use super::decode::{Decoder, Encoding};
use super::response::body_span;
use crate::disk::WriteBacklog;
use crate::ratelimit::RateLimiter;
use crate::tracker::targets::{TargetResolver, Targets};

/// What we call ourselves to web servers, as to trackers.
const USER_AGENT: &str = concat!("Swarmlink/", env!("CARGO_PKG_VERSION"));
/// Redirects followed per request (mirrors like archive.org redirect to a storage node).
const MAX_REDIRECTS: u32 = 5;
/// Requests for one file range: a server that answers a little at a time (a capped `206`, a
/// close-delimited body cut short) is asked again from where it stopped, this many times.
const MAX_REQUESTS_PER_RANGE: u32 = 64;
/// Zeros handed over at once for a pad file.
const PAD_CHUNK: u64 = 256 * 1024;

pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector<TargetResolver>>, Empty<Bytes>>;

/// Why a web seed request failed; the web seed is backed off, then disabled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{url}: invalid URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{url}: {reason}")]
    Io { url: String, reason: String },
    #[error("{url}: no answer within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url}: HTTP status {status} to a range request (206 or 200 expected)")]
    Status { url: String, status: u16 },
    #[error("{url}: {reason}")]
    BadRange { url: String, reason: String },
    #[error("{url}: more than {MAX_REDIRECTS} redirects")]
    Redirects { url: String },
}

/// What the fetch task tells the torrent actor.
#[derive(Debug)]
pub(crate) enum WebSeedEvent {
    /// The bytes of one block (not yet verified), in the run's order.
    Block {
        seed: usize,
        job: u64,
        block: ValidBlock,
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
    /// The LAN rule for this torrent (checked again at every redirect hop).
    pub targets: Targets,
    /// The torrent's disk write backlog: jobs wait while it is above its high-water mark.
    pub backlog: Arc<WriteBacklog>,
    /// Bounded: a job whose blocks the actor has not taken yet waits (and so does its server).
    pub events: mpsc::Sender<WebSeedEvent>,
}

/// What a job reports about its web seed besides events.
#[derive(Default)]
pub(crate) struct SeedCounters {
    /// Body bytes received (including any skipped before the range we needed).
    pub bytes: AtomicU64,
    /// The server answered a range request with `200` and the whole file.
    pub ignores_range: AtomicBool,
}

pub(crate) fn client(timeout: Duration, targets: Targets) -> HttpClient {
    client_trusting(timeout, &[], targets)
}

/// A client that also trusts `extra_roots` (DER), besides the system's roots, and resolves
/// names to the addresses `targets` allows.
pub(crate) fn client_trusting(
    timeout: Duration,
    extra_roots: &[Vec<u8>],
    targets: Targets,
) -> HttpClient {
    let mut connector = HttpConnector::new_with_resolver(TargetResolver { targets });
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

/// Fetches `pieces` (consecutive) from the web seed at `base`, sending each block as it arrives.
pub(crate) async fn run(
    ctx: FetchContext,
    seed: usize,
    job: u64,
    base: String,
    pieces: Vec<PieceIndex>,
    counters: Arc<SeedCounters>,
) {
    let result = fetch(&ctx, seed, job, &base, &pieces, &counters).await;
    let _ = ctx
        .events
        .send(WebSeedEvent::Done { seed, job, result })
        .await;
}

async fn fetch(
    ctx: &FetchContext,
    seed: usize,
    job: u64,
    base: &str,
    pieces: &[PieceIndex],
    counters: &SeedCounters,
) -> Result<(), FetchError> {
    let (Some(&first), Some(&last)) = (pieces.first(), pieces.last()) else {
        return Ok(());
    };
    let start = ctx.lengths.piece_offset(first);
    let end = ctx.lengths.piece_offset(last) + u64::from(ctx.lengths.piece_len(last));
    let mut out = Assembler::new(ctx, seed, job, pieces);
    let info = &ctx.metainfo.info;
    for range in file_ranges(info, start, end - start) {
        if range.pad {
            let mut left = range.length;
            while left > 0 {
                let n = left.min(PAD_CHUNK);
                out.push(Bytes::from(vec![0u8; n as usize])).await?;
                left -= n;
            }
            continue;
        }
        let file = &info.files[range.file];
        let url = file_url(base, info, file);
        get_range(ctx, &url, range.offset, range.length, &mut out, counters).await?;
    }
    Ok(())
}

/// Gets bytes `offset..offset+length` of the file at `url` into `out`, in as many requests as
/// the server needs.
async fn get_range(
    ctx: &FetchContext,
    url: &str,
    offset: u64,
    length: u64,
    out: &mut Assembler<'_>,
    counters: &SeedCounters,
) -> Result<(), FetchError> {
    let end = offset + length;
    let mut pos = offset;
    for _ in 0..MAX_REQUESTS_PER_RANGE {
        if pos >= end {
            return Ok(());
        }
        let (target, response) = request(ctx, url, pos, end).await?;
        let span = body_span(&target, &response, pos, end)?;
        if span.whole_file {
            counters.ignores_range.store(true, Ordering::Relaxed);
        }
        let before = pos;
        pos = read_body(
            ctx,
            &target,
            response.into_body(),
            span,
            pos,
            end,
            out,
            counters,
        )
        .await?;
        if pos == before {
            return Err(FetchError::BadRange {
                url: target,
                reason: format!("body ended before byte {pos}"),
            });
        }
    }
    if pos >= end {
        return Ok(());
    }
    Err(FetchError::BadRange {
        url: url.to_owned(),
        reason: format!("{MAX_REQUESTS_PER_RANGE} requests and still short of byte {end}"),
    })
}

/// GETs `Range: bytes=pos-(end-1)` of `url`, following redirects; returns the final URL and the
/// answer (headers only: the body is read by the caller).
async fn request(
    ctx: &FetchContext,
    url: &str,
    pos: u64,
    end: u64,
) -> Result<(String, http::Response<hyper::body::Incoming>), FetchError> {
    let mut target = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        ctx.targets
            .check_url(&target)
            .map_err(|reason| FetchError::Io {
                url: target.clone(),
                reason,
            })?;
        let uri: http::Uri =
            target
                .parse()
                .map_err(|e: http::uri::InvalidUri| FetchError::InvalidUrl {
                    url: target.clone(),
                    reason: e.to_string(),
                })?;
        let request = http::Request::get(uri)
            .header(http::header::USER_AGENT, USER_AGENT)
            .header(http::header::RANGE, format!("bytes={pos}-{}", end - 1))
            .header(http::header::ACCEPT_ENCODING, "identity")
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
        return Ok((target, response));
    }
    Err(FetchError::Redirects {
        url: url.to_owned(),
    })
}

/// Reads a body that holds the file from `span.start`, handing bytes `pos..end` to `out`;
/// returns how far it got. Stops reading (dropping the connection) once `end` is reached, so a
/// `200` with a big file is not read to its end, nor a compressed body decoded past it.
#[allow(clippy::too_many_arguments)]
async fn read_body(
    ctx: &FetchContext,
    url: &str,
    mut body: hyper::body::Incoming,
    span: super::response::BodySpan,
    mut pos: u64,
    end: u64,
    out: &mut Assembler<'_>,
    counters: &SeedCounters,
) -> Result<u64, FetchError> {
    let failed = |reason: String| FetchError::BadRange {
        url: url.to_owned(),
        reason,
    };
    let mut decoder = Decoder::new(span.encoding);
    let mut ended = false;
    // File offset of the next (decoded) body byte.
    let mut at = span.start;
    let stop = span.end.map_or(end, |e| e.min(end));
    while pos < stop {
        let mut data = match decoder.next_chunk().map_err(failed)? {
            Some(data) => data,
            None if ended => break,
            None => {
                match next_frame(ctx, url, &mut body, counters).await? {
                    Some(frame) => decoder.feed(frame),
                    None => {
                        // A close-delimited or short body: the caller asks for the rest.
                        ended = true;
                        if let Some(rest) = decoder.finish().map_err(failed)? {
                            decoder = Decoder::new(Encoding::Identity);
                            decoder.feed(rest);
                        }
                    }
                }
                continue;
            }
        };
        let n = data.len() as u64;
        if span.end.is_some_and(|e| at + n > e) {
            return Err(failed("body longer than its Content-Range".into()));
        }
        let from = at;
        at += n;
        if at <= pos {
            continue; // before the bytes we need: skipped
        }
        data = data.slice(pos.saturating_sub(from) as usize..);
        data.truncate((stop - pos) as usize);
        pos += data.len() as u64;
        out.push(data).await?;
    }
    // A compressed body that decodes to more than its Content-Range said, from bytes already
    // here (a longer decoded chunk was caught above).
    if span.encoding != Encoding::Identity && span.end.is_some_and(|e| at >= e) && !ended {
        if let Ok(Some(_)) = decoder.next_chunk() {
            return Err(failed("decoded body longer than its Content-Range".into()));
        }
    }
    Ok(pos)
}

/// The next data frame of `body` as it came over the wire (counted, and paid for under the
/// download limit); `None` at its end.
async fn next_frame(
    ctx: &FetchContext,
    url: &str,
    body: &mut hyper::body::Incoming,
    counters: &SeedCounters,
) -> Result<Option<Bytes>, FetchError> {
    loop {
        let frame = tokio::time::timeout(ctx.timeout, body.frame())
            .await
            .map_err(|_| FetchError::Timeout {
                url: url.to_owned(),
                after: ctx.timeout,
            })?;
        let frame = match frame {
            None => return Ok(None),
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
        counters
            .bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        ctx.down_limit.consume(data.len()).await;
        return Ok(Some(data));
    }
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

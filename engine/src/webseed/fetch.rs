//! One web seed job: HTTP(S) range requests for a run of consecutive pieces, streamed as 16 KiB
//! blocks to the torrent actor (which writes and verifies them like peer blocks, see
//! `assemble.rs`). A piece that spans files takes one request per file; pad files are zeros and
//! are never requested. What a server answers is judged in `response.rs`: an exact `206`, a `206`
//! for a range that starts earlier or ends sooner, or a `200` with the whole file are all used
//! from the byte we need, and the rest is asked for again; chunked and close-delimited bodies
//! come out of hyper as plain bytes, and gzip or deflate ones are decoded (`decode.rs`). Requests,
//! redirects and timeouts are the shared client's (`crate::http`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, RANGE};
use protocol::webseed::{file_ranges, file_url};
use protocol::PieceIndex;

use super::assemble::Assembler;
use super::context::{FetchContext, FetchError, SeedCounters, WebSeedEvent};
use super::decode::{Decoder, Encoding};
use super::response::{body_span, BodySpan};

/// Requests for one file range: a server that answers a little at a time (a capped `206`, a
/// close-delimited body cut short) is asked again from where it stopped, this many times.
const MAX_REQUESTS_PER_RANGE: u32 = 64;
/// Zeros handed over at once for a pad file.
const PAD_CHUNK: u64 = 256 * 1024;

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
        // Asked for `identity`: a server that compresses anyway is decoded (`decode.rs`).
        let headers = [
            (RANGE, format!("bytes={pos}-{}", end - 1)),
            (ACCEPT_ENCODING, "identity".to_owned()),
        ];
        let (target, response) = ctx.client.follow(url, &headers).await?;
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

/// Reads a body that holds the file from `span.start`, handing bytes `pos..end` to `out`;
/// returns how far it got. Stops reading (dropping the connection) once `end` is reached, so a
/// `200` with a big file is not read to its end, nor a compressed body decoded past it.
#[allow(clippy::too_many_arguments)]
async fn read_body(
    ctx: &FetchContext,
    url: &str,
    mut body: hyper::body::Incoming,
    span: BodySpan,
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

/// The next data frame of `body` (counted, and paid for under the download limit); `None` at
/// its end.
async fn next_frame(
    ctx: &FetchContext,
    url: &str,
    body: &mut hyper::body::Incoming,
    counters: &SeedCounters,
) -> Result<Option<Bytes>, FetchError> {
    let Some(data) = ctx.client.frame(url, body).await? else {
        return Ok(None);
    };
    counters
        .bytes
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    ctx.down_limit.consume(data.len()).await;
    Ok(Some(data))
}

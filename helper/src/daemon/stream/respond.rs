//! One streaming request: the checks (method, `Host`, token, torrent, file index), then the
//! headers for the range asked, then a body read from the engine as pieces get verified.

use std::sync::Arc;

use base64::Engine as _;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use protocol::InfoHash;
use tokio::sync::mpsc;

use super::body::{ChannelBody, Chunk};
use super::range::{self, Want};
use super::{mime, StreamAddr, PIECE_WAIT};
use crate::daemon::state::Core;

type Reply = Response<BoxBody<Bytes, std::io::Error>>;

/// Bytes asked of the engine per read (it never returns more than one piece's worth).
const CHUNK: u32 = 256 * 1024;

fn plain(status: StatusCode, text: &'static str) -> Reply {
    let mut r = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Equal without an early exit, so the time taken does not tell how much of a guess matched.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A DNS-rebinding page reaches us under its own name: only loopback names of this port pass.
fn host_allowed(host: Option<&HeaderValue>, port: u16) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    [
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("localhost:{port}"),
    ]
    .contains(&host)
}

pub async fn respond<B>(core: &Arc<Core>, addr: &StreamAddr, req: Request<B>) -> Reply {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if !host_allowed(req.headers().get(header::HOST), addr.port) {
        return plain(
            StatusCode::FORBIDDEN,
            "this server answers only to its loopback address\n",
        );
    }
    // /stream/TOKEN/INFOHASH/FILEINDEX[/NAME] or /pieces/TOKEN/INFOHASH/FILEINDEX
    let mut parts = req.uri().path().split('/').skip(1);
    let (Some(kind @ ("stream" | "pieces")), Some(token), Some(hash), Some(index)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if !same_secret(token.as_bytes(), addr.token.as_bytes()) {
        return plain(StatusCode::FORBIDDEN, "wrong token\n");
    }
    let (Ok(ih), Ok(index)) = (InfoHash::from_hex(hash), index.parse::<usize>()) else {
        return plain(StatusCode::NOT_FOUND, "no such torrent or file\n");
    };
    if kind == "pieces" {
        return pieces(core, ih, index, head).await;
    }
    let files = match core.session().files(ih).await {
        Ok(Some(files)) => files,
        Ok(None) => {
            let mut r = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the torrent's metadata has not arrived yet\n",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            return r;
        }
        Err(_) => return plain(StatusCode::NOT_FOUND, "no such torrent or file\n"),
    };
    let Some(file) = files.get(index).filter(|f| !f.pad) else {
        return plain(StatusCode::NOT_FOUND, "no such torrent or file\n");
    };
    let name = file.path.last().map(String::as_str).unwrap_or_default();
    let len = file.length;
    let etag = format!("\"{}-{index}\"", ih.to_hex());
    let range_header = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    // If-Range with another validator: the client's copy is stale, send it all.
    let if_range_ok = req
        .headers()
        .get(header::IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let want = if if_range_ok {
        range::parse(range_header, len)
    } else {
        Want::Whole
    };
    let mut builder = Response::builder()
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, &etag)
        .header(header::CONTENT_TYPE, mime::content_type(name))
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, "sandbox")
        .header(header::CACHE_CONTROL, "no-store");
    let (start, end) = match want {
        Want::Unsatisfiable => {
            let r = builder
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .header(header::CONTENT_LENGTH, 0)
                .body(Empty::new().map_err(|e| match e {}).boxed());
            return r.unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error\n"));
        }
        Want::Whole => {
            builder = builder.status(StatusCode::OK);
            (0, len)
        }
        Want::Part { start, end } => {
            builder = builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
            (start, end + 1)
        }
    };
    builder = builder.header(header::CONTENT_LENGTH, end - start);
    if head || start == end {
        let r = builder.body(Empty::new().map_err(|e| match e {}).boxed());
        return r.unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error\n"));
    }
    // Reading it is the user's wish to have it: a skipped file is selected, a paused torrent
    // resumed.
    core.prepare_stream(ih, index).await;
    let reader = match core.session().open_file(ih, index, start).await {
        Ok(reader) => reader,
        Err(error) => {
            tracing::debug!(%error, "streaming: cannot open a reader");
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot read this file now\n",
            );
        }
    };
    let (tx, rx) = mpsc::channel::<Chunk>(2);
    tokio::spawn(pump(reader, start, end, tx));
    let r = builder.body(ChannelBody(rx).boxed());
    r.unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error\n"))
}

/// `/pieces/...`: which pieces of the file are verified, as JSON (a player draws them along its
/// seek bar): `{"length", "piece_length", "first_offset", "pieces", "have_b64"}`, where piece
/// `i` of `have_b64` (MSB first) holds the file's bytes from `i * piece_length - first_offset`.
async fn pieces(core: &Arc<Core>, ih: InfoHash, index: usize, head: bool) -> Reply {
    let map = match core.session().file_pieces(ih, index).await {
        Ok(map) => map,
        Err(engine::EngineError::UnknownTorrent(_)) => {
            return plain(StatusCode::NOT_FOUND, "no such torrent or file\n")
        }
        Err(error) => {
            tracing::debug!(%error, "streaming: no piece map");
            return plain(StatusCode::NOT_FOUND, "no such file, or no metadata yet\n");
        }
    };
    let body = serde_json::json!({
        "length": map.length,
        "piece_length": map.piece_len,
        "first_offset": map.first_offset,
        "pieces": map.count,
        "have_b64": base64::engine::general_purpose::STANDARD.encode(&map.have),
    })
    .to_string();
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, "sandbox")
        .header(header::CACHE_CONTROL, "no-store");
    let r = if head {
        builder.body(Empty::new().map_err(|e| match e {}).boxed())
    } else {
        builder.body(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed())
    };
    r.unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error\n"))
}

/// Sends bytes `start..end` of the file as they get verified. Ends when the client goes away
/// (the receiver is dropped) or a piece does not come within `PIECE_WAIT`, then with an error
/// chunk so the response is cut off rather than ended short as if complete.
async fn pump(reader: engine::FileReader, start: u64, end: u64, tx: mpsc::Sender<Chunk>) {
    let mut at = start;
    while at < end {
        let want = (end - at).min(u64::from(CHUNK)) as u32;
        let read = tokio::select! {
            read = tokio::time::timeout(PIECE_WAIT, reader.read(at, want)) => read,
            () = tx.closed() => return,
        };
        let failure = match read {
            Ok(Ok(bytes)) if !bytes.is_empty() => {
                at += bytes.len() as u64;
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
                continue;
            }
            Ok(Ok(_)) => "the file ended early".to_owned(),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no piece arrived in time".to_owned(),
        };
        tracing::debug!(failure, at, "streaming response cut off");
        let _ = tx.send(Err(std::io::Error::other(failure))).await;
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_of_our_port_are_a_host() {
        let h = |s: &'static str| Some(HeaderValue::from_static(s));
        assert!(host_allowed(h("127.0.0.1:8080").as_ref(), 8080));
        assert!(host_allowed(h("[::1]:8080").as_ref(), 8080));
        assert!(host_allowed(h("LocalHost:8080").as_ref(), 8080));
        assert!(!host_allowed(h("127.0.0.1:8081").as_ref(), 8080));
        assert!(!host_allowed(h("127.0.0.1").as_ref(), 8080));
        assert!(!host_allowed(h("evil.example:8080").as_ref(), 8080));
        assert!(!host_allowed(
            h("localhost.evil.example:8080").as_ref(),
            8080
        ));
        assert!(!host_allowed(None, 8080));
    }

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret(b"abcd", b"abcd"));
        assert!(!same_secret(b"abcd", b"abce"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"abcd"));
    }
}

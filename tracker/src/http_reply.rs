//! The pieces every HTTP reply is built from (hyper's side), and who asked: shared by the
//! router (`server`), registration and the listing, which the router calls.

use std::net::IpAddr;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use protocol::tracker::{AnnounceResponse, PeerFormat};

pub type Reply = Response<Full<Bytes>>;

pub(crate) fn reply(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

pub(crate) fn bencoded(status: StatusCode, body: Vec<u8>) -> Reply {
    reply(status, "text/plain", body)
}

pub(crate) fn failure(status: StatusCode, reason: &str) -> Reply {
    let (status, body) = failure_body(status, reason);
    bencoded(status, body)
}

pub(crate) fn failure_body(status: StatusCode, reason: &str) -> (StatusCode, Vec<u8>) {
    (
        status,
        AnnounceResponse::failure(reason).to_bytes(PeerFormat::Compact),
    )
}

/// Who asked, as far as the tracker believes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub ip: IpAddr,
    /// Came through a proxy (see [`is_forwarded`]).
    pub proxied: bool,
    pub host: Option<&'a str>,
}

/// Strict percent-decoding of one path segment into text; `None` for bad escapes or non-UTF-8.
pub(crate) fn decode_segment(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_decode_strictly() {
        assert_eq!(decode_segment("a%20b").as_deref(), Some("a b"));
        assert_eq!(decode_segment("a%2"), None);
        assert_eq!(decode_segment("%FF"), None);
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%+1"), None);
    }
}

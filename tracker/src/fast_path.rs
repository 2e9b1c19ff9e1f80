//! The connection-per-request announce without hyper: most clients send one `GET /announce`,
//! read the reply and close. When the whole request is already in the first read, it is
//! parsed here (httparse, the parser hyper uses), answered with the bytes hyper would send
//! (same status line, headers and body), and the connection closed: accept, recv, send, close
//! and nothing else (no task, no reactor registration, no per-connection hyper state).
//!
//! Anything else (keep-alive, a body, pipelined bytes, another path, a trusted proxy whose
//! X-Forwarded-For must be read, a head split over several reads) returns `None` and goes to
//! hyper with the bytes already read, so behaviour never depends on which path served it.

use std::cell::RefCell;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use http::StatusCode;

use crate::server::announce_into;
use crate::state::{now_secs, Tracker};
use crate::swarm::canonical;
use crate::weblog::{write_http_date, Entry};

/// Most headers a fast-path request may carry (clients send 3 to 8).
const MAX_HEADERS: usize = 32;

/// The reply to send before closing, or `None` for hyper to serve the connection.
pub fn answer(t: &Tracker, head: &[u8], remote: SocketAddr) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    answer_into(t, head, remote, &mut out).then_some(out)
}

/// [`answer`] into `out` (cleared first), which the caller reuses: with the web log off, a
/// successful announce allocates nothing (tests/alloc_free.rs). `false`: hyper's connection.
pub fn answer_into(t: &Tracker, head: &[u8], remote: SocketAddr, out: &mut Vec<u8>) -> bool {
    out.clear();
    answer_inner(t, head, remote, out).is_some()
}

fn answer_inner(t: &Tracker, head: &[u8], remote: SocketAddr, out: &mut Vec<u8>) -> Option<()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(len) = req.parse(head).ok()? else {
        return None;
    };
    // Bytes after the head would be a body or a pipelined request: hyper's job.
    if len != head.len() || req.method? != "GET" {
        return None;
    }
    let target = req.path?;
    // Only what every URI parser accepts (RFC 3986 path and query characters), so hyper's
    // stricter or looser corners never decide differently from ours.
    if !target.bytes().all(uri_char) {
        return None;
    }
    let query = match target.strip_prefix("/announce") {
        Some("") => None,
        Some(q) => Some(q.strip_prefix('?')?),
        None => return None,
    };
    let http10 = match req.version? {
        0 => true,
        1 => false,
        _ => return None,
    };
    let mut closes = http10;
    let mut proxied = false;
    let (mut referer, mut agent) = ("", "");
    for h in req.headers.iter() {
        let v = h.value;
        if h.name.eq_ignore_ascii_case("connection") {
            // Compared in place, case-insensitively (a lowercased copy was an allocation on
            // every request).
            let has = |word: &[u8]| v.windows(word.len()).any(|w| w.eq_ignore_ascii_case(word));
            if has(b"keep-alive") || (http10 && !v.is_empty()) {
                return None;
            }
            closes |= has(b"close");
        } else if h.name.eq_ignore_ascii_case("content-length")
            || h.name.eq_ignore_ascii_case("transfer-encoding")
            || h.name.eq_ignore_ascii_case("upgrade")
            || h.name.eq_ignore_ascii_case("expect")
        {
            return None;
        } else if h.name.eq_ignore_ascii_case("x-forwarded-for")
            || h.name.eq_ignore_ascii_case("forwarded")
        {
            proxied = true;
        } else if h.name.eq_ignore_ascii_case("referer") {
            referer = std::str::from_utf8(v).unwrap_or("");
        } else if h.name.eq_ignore_ascii_case("user-agent") {
            agent = std::str::from_utf8(v).unwrap_or("");
        }
    }
    let ip = canonical(remote).ip();
    if !closes || t.config.trust_proxy.contains(&ip) {
        return None;
    }
    let (status, len) = BODY.with(|b| {
        let mut body = b.try_borrow_mut().ok()?;
        body.clear();
        let status = announce_into(t, query, ip, proxied, &mut body);
        write_head(out, status, http10, body.len(), now_secs());
        out.extend_from_slice(&body);
        Some((status, body.len()))
    })?;
    if t.weblog.enabled() {
        log(t, ip, target, http10, status, len, referer, agent);
    }
    Some(())
}

fn uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b)
}

/// hyper's response head for a bencoded body, byte for byte (its header order and case).
fn write_head(out: &mut Vec<u8>, status: StatusCode, http10: bool, len: usize, now: u64) {
    let _ = write!(
        out,
        "HTTP/1.{} {} {}\r\ncontent-type: text/plain\r\nx-content-type-options: nosniff\r\n{}content-length: {len}\r\ndate: ",
        u8::from(!http10),
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        if http10 { "" } else { "connection: close\r\n" },
    );
    DATE.with(|d| {
        let mut d = d.borrow_mut();
        if d.0 != now {
            // Rewritten in place: no allocation once a second either.
            d.0 = now;
            d.1.clear();
            write_http_date(&mut d.1, now);
        }
        out.extend_from_slice(d.1.as_bytes());
    });
    out.extend_from_slice(b"\r\n\r\n");
}

thread_local! {
    /// The reply body, reused (the head, written first, needs its length).
    static BODY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The Date header of the current second (hyper caches it the same way).
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

#[allow(clippy::too_many_arguments)]
fn log(
    t: &Tracker,
    ip: IpAddr,
    target: &str,
    http10: bool,
    status: StatusCode,
    bytes: usize,
    referer: &str,
    agent: &str,
) {
    t.weblog.log(
        &Entry {
            remote: ip,
            method: "GET",
            target,
            version: if http10 { "HTTP/1.0" } else { "HTTP/1.1" },
            status: status.as_u16(),
            bytes,
            referer,
            user_agent: agent,
        },
        now_secs(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_matches_hyper() {
        let mut out = Vec::new();
        write_head(&mut out, StatusCode::OK, false, 76, 1_796_185_185);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-content-type-options: nosniff\r\n\
             connection: close\r\ncontent-length: 76\r\ndate: Wed, 02 Dec 2026 04:19:45 GMT\r\n\r\n"
        );
        let mut out = Vec::new();
        write_head(&mut out, StatusCode::BAD_REQUEST, true, 5, 1_796_185_185);
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("HTTP/1.0 400 Bad Request\r\ncontent-type: text/plain\r\n"));
    }
}

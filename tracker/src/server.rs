//! The HTTP front end (hyper 1): routing, announce/scrape, publish, the listing, torrent files,
//! metrics, the web log. Every failure is an answer (bencoded `failure reason` or a 4xx), never a panic.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use protocol::tracker::{
    AnnounceRequest, AnnounceResponse, PeerFormat, ScrapeRequest, ScrapeResponse,
};
use tokio::net::TcpStream;

use crate::conn_io::{ConnIo, ConnState};
use crate::http_reply::{bencoded, decode_segment, failure, reply, Origin, Reply};
use crate::listing::{self, encode_segment};
use crate::metrics::bump;
use crate::state::{now_secs, Tracker};
use crate::swarm::canonical;
use crate::weblog::Entry;

/// Serves one connection with hyper until it closes. `prefix`: bytes already read from it (the
/// fast path's first read), served before the socket's own.
pub(crate) async fn serve_connection(
    t: Arc<Tracker>,
    stream: TcpStream,
    remote: SocketAddr,
    local: Option<SocketAddr>,
    prefix: Vec<u8>,
) {
    let timeout = t.config.header_timeout;
    let state = Arc::new(ConnState::new(t.weblog.enabled()));
    let io = ConnIo::new(TokioIo::new(stream), state.clone(), prefix);
    let svc = {
        let (t, state) = (t.clone(), state.clone());
        service_fn(move |req: Request<Incoming>| {
            state.on_request(&req);
            let (t, state) = (t.clone(), state.clone());
            async move {
                let r = handle(&t, req, remote, local).await;
                state.on_answered();
                Ok::<_, Infallible>(r)
            }
        })
    };
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(16 * 1024)
        .serve_connection(io, svc);
    // A client that sends requests but never reads the replies would hold the connection (and
    // its buffers) forever: dropped once a reply made no progress for `--write-timeout`.
    tokio::select! {
        r = conn => if let Err(e) = r {
            tracing::debug!("connection from {remote}: {e}");
            refused(&t, &e, &state, remote);
        },
        () = state.write_stalled(t.config.write_timeout) => {
            bump(&t.metrics.write_timeouts);
            tracing::debug!("connection from {remote}: reads no replies; dropped");
        }
    }
}

/// The status hyper answered (or, for a timeout, would have) a request it refused before our
/// service saw it; `None` for errors that are not a refused request (a reset connection).
fn refused_status(e: &hyper::Error, state: &ConnState) -> Option<u16> {
    if e.is_timeout() {
        // A header timeout on an idle keep-alive connection is no request.
        return state.unanswered_bytes().then_some(408);
    }
    if e.is_parse_too_large() {
        // hyper's one error kind for both; its message tells them apart.
        return Some(if e.to_string().starts_with("URI too long") {
            414
        } else {
            431
        });
    }
    (e.is_parse() || e.is_incomplete_message()).then_some(400)
}

/// Counts a refused request and writes its web log line: the request line as the client sent
/// it when known (the connection's first), else `-`, as Apache logs such requests.
fn refused(t: &Tracker, e: &hyper::Error, state: &ConnState, remote: SocketAddr) {
    let Some(status) = refused_status(e, state) else {
        return;
    };
    bump(&t.metrics.http_refused);
    t.weblog.log(
        &Entry {
            remote: canonical(remote).ip(),
            method: state.refused_line().unwrap_or("-"),
            target: "",
            version: "",
            status,
            bytes: 0,
            referer: "",
            user_agent: "",
        },
        now_secs(),
    );
}

/// The client's address: the socket peer, or the last X-Forwarded-For hop when the socket peer
/// is a trusted proxy (and the header parses; otherwise the proxy itself).
pub fn client_ip(remote: SocketAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let ip = canonical(remote).ip();
    if !trusted.contains(&ip) {
        return ip;
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map(|ip| canonical(SocketAddr::new(ip, 0)).ip())
        .unwrap_or(ip)
}

async fn handle(
    t: &Tracker,
    req: Request<Incoming>,
    remote: SocketAddr,
    local: Option<SocketAddr>,
) -> Reply {
    let ip = client_ip(remote, req.headers(), &t.config.trust_proxy);
    let proxied = is_forwarded(req.headers());
    let logging = t.weblog.enabled();
    let (method, target, version, referer, agent) = if logging {
        let h = req.headers();
        let text = |n: header::HeaderName| {
            h.get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        (
            req.method().to_string(),
            req.uri().to_string(),
            format!("{:?}", req.version()),
            text(header::REFERER),
            text(header::USER_AGENT),
        )
    } else {
        Default::default()
    };
    let r = route(t, req, ip, proxied, local).await;
    if logging {
        let bytes = hyper::body::Body::size_hint(r.body()).exact().unwrap_or(0) as usize;
        t.weblog.log(
            &Entry {
                remote: ip,
                method: &method,
                target: &target,
                version: &version,
                status: r.status().as_u16(),
                bytes,
                referer: &referer,
                user_agent: &agent,
            },
            now_secs(),
        );
    }
    r
}

/// Whether a proxy forwarded the request: such a request is never treated as this host's own,
/// whatever the socket peer (a same-host reverse proxy makes every visitor loopback).
pub fn is_forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key("x-forwarded-for") || headers.contains_key(header::FORWARDED)
}

/// The request's `Host`, when it is a plain host[:port] (it goes into absolute URLs).
fn host_header(headers: &HeaderMap) -> Option<&str> {
    let h = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    plain.then_some(h)
}

async fn route(
    t: &Tracker,
    req: Request<Incoming>,
    ip: IpAddr,
    proxied: bool,
    local: Option<SocketAddr>,
) -> Reply {
    match (req.method(), req.uri().path()) {
        (&Method::PUT | &Method::POST, "/publish/" | "/publish") => {
            crate::registration::register(t, req, ip, proxied, local).await
        }
        (&Method::GET, path) => {
            let from = Origin {
                ip,
                proxied,
                host: host_header(req.headers()),
            };
            get(t, path, req.uri().query(), from)
        }
        _ => {
            bump(&t.metrics.not_found);
            reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "method not allowed\n",
            )
        }
    }
}

/// Every GET: announce, scrape, the listing (page, stylesheet, feed), metrics, a published
/// .torrent.
pub(crate) fn get(t: &Tracker, path: &str, query: Option<&str>, from: Origin<'_>) -> Reply {
    match path {
        "/announce" => announce(t, query, from.ip, from.proxied),
        "/scrape" => scrape(t, query),
        "/" | listing::FEED_PATH | listing::CSS_PATH => {
            crate::listing_http::serve(t, path, query, from)
        }
        "/metrics" => {
            let body = t.metrics.render(&t.store.totals(), t.registry().len());
            reply(StatusCode::OK, "text/plain; version=0.0.4", body)
        }
        _ => torrent_file(t, path),
    }
}

fn announce(t: &Tracker, query: Option<&str>, ip: IpAddr, proxied: bool) -> Reply {
    let (status, body) = announce_reply(t, query, ip, proxied);
    bencoded(status, body)
}

/// An announce's status and bencoded body (hyper's path).
pub(crate) fn announce_reply(
    t: &Tracker,
    query: Option<&str>,
    ip: IpAddr,
    proxied: bool,
) -> (StatusCode, Vec<u8>) {
    let mut body = Vec::new();
    let status = announce_into(t, query, ip, proxied, &mut body);
    (status, body)
}

/// The peer lists an announce fills, kept per thread so that a successful announce allocates
/// nothing (the fast path's user time was ~15% allocator before; tests/alloc_free.rs checks).
#[derive(Default)]
struct Scratch {
    peers: Vec<SocketAddr>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Appends an announce's bencoded reply to `body` and returns its status.
/// `proxied`: the request came through a proxy (its `ip=` is never believed).
pub(crate) fn announce_into(
    t: &Tracker,
    query: Option<&str>,
    ip: IpAddr,
    proxied: bool,
    body: &mut Vec<u8>,
) -> StatusCode {
    SCRATCH.with(|s| {
        // Never re-entered (an announce calls no announce); a fresh one if it ever were.
        match s.try_borrow_mut() {
            Ok(mut s) => announce_with(t, query, ip, proxied, body, &mut s),
            Err(_) => announce_with(t, query, ip, proxied, body, &mut Scratch::default()),
        }
    })
}

fn announce_with(
    t: &Tracker,
    query: Option<&str>,
    ip: IpAddr,
    proxied: bool,
    body: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> StatusCode {
    let fail = |status: StatusCode, reason: &str, body: &mut Vec<u8>| {
        bump(&t.metrics.http_announce_failed);
        AnnounceResponse::failure(reason).encode(PeerFormat::Compact, body);
        status
    };
    let req = match AnnounceRequest::parse_query(query.unwrap_or("").as_bytes()) {
        Ok(r) => r,
        Err(e) => return fail(StatusCode::BAD_REQUEST, &e.to_string(), body),
    };
    // A claimed `ip` is believed only from this host, not through a proxy: from anywhere else
    // it would let one client point the swarm at a victim.
    let ip = match req.ip.as_deref().map(str::parse::<IpAddr>) {
        Some(Ok(claimed)) if ip.is_loopback() && !proxied => claimed,
        _ => ip,
    };
    let addr = SocketAddr::new(ip, req.port);
    let peers = &mut scratch.peers;
    peers.clear();
    let counts = match t.announce(
        req.info_hash,
        addr,
        req.event,
        req.left,
        req.numwant.map(|n| n as usize),
        peers,
    ) {
        Ok(c) => c,
        Err(reason) => return fail(StatusCode::OK, reason, body),
    };
    bump(&t.metrics.http_announce_ok);
    let format = if req.compact {
        PeerFormat::Compact
    } else {
        PeerFormat::Dict {
            with_peer_id: !req.no_peer_id,
        }
    };
    let (interval, min_interval) = (t.config.interval, t.config.min_interval);
    crate::reply::encode_announce(body, counts, interval, min_interval, peers, format);
    StatusCode::OK
}

fn scrape(t: &Tracker, query: Option<&str>) -> Reply {
    let req = match ScrapeRequest::parse_query(query.unwrap_or("").as_bytes()) {
        Ok(r) if r.info_hashes.is_empty() => {
            bump(&t.metrics.http_scrape_failed);
            return failure(
                StatusCode::BAD_REQUEST,
                "full scrape is not offered: name info_hash values",
            );
        }
        Ok(r) => r,
        Err(e) => {
            bump(&t.metrics.http_scrape_failed);
            return failure(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    bump(&t.metrics.http_scrape_ok);
    let mut resp = ScrapeResponse::default();
    for h in req.info_hashes {
        resp.files.insert(h, t.store.scrape(&h));
    }
    bencoded(StatusCode::OK, resp.to_bytes())
}

fn torrent_file(t: &Tracker, path: &str) -> Reply {
    let not_found = |what: &str| {
        bump(&t.metrics.not_found);
        reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            format!("{what}\nThe list of published torrents is at /\n"),
        )
    };
    let Some(name) = path.strip_prefix('/').and_then(decode_segment) else {
        return not_found("that path is not a valid torrent name");
    };
    let reg = t.registry();
    let found = reg.get_by_name(&name).or_else(|| {
        name.strip_suffix(".torrent")
            .and_then(|n| reg.get_by_name(n))
    });
    let Some(p) = found else {
        return not_found(&format!("no torrent named {name:?} is published here"));
    };
    bump(&t.metrics.pages);
    let mut r = reply(
        StatusCode::OK,
        "application/x-bittorrent",
        p.torrent.clone(),
    );
    let file = format!("{}.torrent", encode_segment(&p.name));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{file}")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let mut h = HeaderMap::new();
        let proxy: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let trusted = ["10.0.0.1".parse().unwrap()];
        assert_eq!(client_ip(proxy, &h, &trusted).to_string(), "10.0.0.1");
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 2.2.2.2"),
        );
        assert_eq!(client_ip(proxy, &h, &trusted).to_string(), "2.2.2.2");
        assert_eq!(client_ip(proxy, &h, &[]).to_string(), "10.0.0.1");
        h.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_ip(proxy, &h, &trusted).to_string(), "10.0.0.1");
    }
}

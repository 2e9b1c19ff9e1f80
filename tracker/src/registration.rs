//! Registration, `PUT /publish/`: what btpublish sends (the .torrent as the body, `port` and optional `ip` as
//! query parameters, `X-Publish-Key`), checked, recorded in `--file` before the reply, and the
//! publisher made a permanent seeder of its swarm.

use std::net::{IpAddr, SocketAddr};

use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use protocol::bencode::Value;
use protocol::tracker::Event;

use crate::atomic_file::write_atomically;
use crate::http_reply::{bencoded, decode_segment, failure, Reply};
use crate::listing::encode_segment;
use crate::metrics::bump;
use crate::registry::RegistryError;
use crate::state::{now_secs, Tracker};
use crate::swarm::canonical;

fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The publisher's `ip`: an address, or (as the original allowed) a DNS name, resolved once
/// now, within a few seconds, since the swarm store holds addresses.
async fn resolve(name: &str, port: u16) -> Option<IpAddr> {
    if let Ok(ip) = name.parse() {
        return Some(ip);
    }
    if name.len() > 253
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return None;
    }
    let lookup = tokio::net::lookup_host((name, port));
    let mut addrs = tokio::time::timeout(std::time::Duration::from_secs(5), lookup)
        .await
        .ok()?
        .ok()?;
    addrs.next().map(|a| a.ip())
}

/// Compares without an early exit, so the key cannot be guessed byte by byte from timings.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A publisher registers a torrent (`PUT /publish/`).
pub async fn register(
    t: &Tracker,
    req: Request<Incoming>,
    ip: IpAddr,
    proxied: bool,
    local: Option<SocketAddr>,
) -> Reply {
    let refuse = |status: StatusCode, why: &str| {
        bump(&t.metrics.publish_refused);
        tracing::info!("publish from {ip} refused: {why}");
        failure(status, why)
    };
    match &t.config.publish_key {
        Some(key) => {
            let sent = req
                .headers()
                .get("x-publish-key")
                .map(HeaderValue::as_bytes)
                .unwrap_or(b"");
            if !same_secret(sent, key.as_bytes()) {
                return refuse(StatusCode::FORBIDDEN, "wrong or missing X-Publish-Key");
            }
        }
        None => {
            // A proxied request is never this host's own: behind a same-host reverse proxy
            // every visitor would be loopback.
            let same_host =
                !proxied && (ip.is_loopback() || local.is_some_and(|l| canonical(l).ip() == ip));
            if !same_host {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "this tracker has no publish key: only its own host may publish",
                );
            }
        }
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let port = match query_value(&query, "port").map(str::parse::<u16>) {
        Some(Ok(p)) if p != 0 => p,
        _ => return refuse(StatusCode::BAD_REQUEST, "missing or invalid port"),
    };
    let publisher_ip = match query_value(&query, "ip") {
        None | Some("") => ip,
        Some(v) => match decode_segment(v) {
            Some(name) => match resolve(&name, port).await {
                Some(claimed) => claimed,
                None => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        "ip is not an address or a resolvable name",
                    )
                }
            },
            None => return refuse(StatusCode::BAD_REQUEST, "invalid ip"),
        },
    };
    let host = t
        .config
        .public_host
        .clone()
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .or_else(|| local.map(|l| l.to_string()))
        .unwrap_or_else(|| "localhost".into());
    let max = t.config.max_publish_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "torrent too large");
    }
    let body = match Limited::new(req.into_body(), max).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "torrent too large or body unreadable",
            )
        }
    };
    let publisher = SocketAddr::new(publisher_ip, port);
    let _guard = t.registration_lock.lock().await;
    let (published, previous, state) = {
        let mut reg = t.registry.write().unwrap_or_else(|p| p.into_inner());
        match reg.add(body, publisher, now_secs()) {
            // The image is built only when there is a `--file` to write (it is the whole
            // registry: building it per publish without one made a bulk publish quadratic).
            Ok((p, previous)) => {
                let state = t.config.state_file.is_some().then(|| reg.to_state_bytes());
                (p, previous, state)
            }
            Err(e) => {
                drop(reg);
                let status = match e {
                    RegistryError::NameTaken(_) => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_REQUEST,
                };
                return refuse(status, &e.to_string());
            }
        }
    };
    if let (Some(path), Some(state)) = (t.config.state_file.clone(), state) {
        let written = tokio::task::spawn_blocking(move || write_atomically(&path, &state)).await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::error!("writing the state file failed: {written:?}");
            // Not on disk, so not published: what we serve never runs ahead of `--file`.
            t.registry
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .undo_add(&published, previous);
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the tracker could not save its state; try again",
            );
        }
    }
    // The publisher is a seeder of its swarm from now on.
    let _ = t.announce(
        published.info_hash,
        publisher,
        Event::Started,
        0,
        Some(0),
        &mut Vec::new(),
    );
    bump(&t.metrics.publish_ok);
    tracing::info!(
        "published {} ({}) for {publisher}",
        published.name,
        published.info_hash
    );
    let name = encode_segment(&published.name);
    let mut d = Value::dict();
    d.insert("url", Value::bytes(format!("http://{host}/{name}")))
        .insert(
            "torrent_url",
            Value::bytes(format!("http://{host}/{name}.torrent")),
        )
        .insert("your ip", Value::bytes(publisher_ip.to_string()));
    bencoded(StatusCode::OK, d.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"a", b"ab"));
        assert_eq!(query_value("port=1&ip=x", "ip"), Some("x"));
        assert_eq!(query_value("port", "port"), None);
    }
}

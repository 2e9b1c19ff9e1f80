//! The daemon's streaming server: a torrent's files over HTTP on loopback, for the browser's
//! `<video>` and desktop players, while they download (issue 17).
//!
//! `http://127.0.0.1:PORT/stream/TOKEN/INFOHASH/FILEINDEX/NAME`: the token is 128 random bits
//! made at daemon start, so a web page cannot guess a URL; `Host` must name loopback and this
//! port, so a DNS-rebinding page cannot read it either; no CORS headers are sent. Files are
//! named by index into the torrent (NAME is decoration for players), never by a path.
//!
//! Bounded: `MAX_CONNECTIONS` at once (more are closed at accept), a connection idle either way
//! for `IDLE` is closed, a response waits at most `PIECE_WAIT` for one piece.

pub mod addr;
mod body;
mod idle_io;
pub mod mime;
mod range;
mod respond;
mod url;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use self::addr::StreamAddr;
use super::state::Core;

const MAX_CONNECTIONS: usize = 32;
const IDLE: Duration = Duration::from_secs(60);
/// Less than `IDLE`: a response waiting for a piece ends before its connection is called idle.
const PIECE_WAIT: Duration = Duration::from_secs(45);
const HEADER_TIMEOUT: Duration = Duration::from_secs(20);

/// Binds 127.0.0.1 and [::1] on `port` (0 = a free one, the same for both) and serves until
/// the runtime ends. A missing IPv6 loopback is logged, not fatal.
pub async fn start(core: Arc<Core>, port: u16) -> anyhow::Result<StreamAddr> {
    let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .with_context(|| format!("binding the streaming server to 127.0.0.1:{port}"))?;
    let port = v4.local_addr()?.port();
    let addr = StreamAddr {
        port,
        token: addr::new_token(),
    };
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut listeners = vec![v4];
    match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
        Ok(v6) => listeners.push(v6),
        Err(error) => tracing::warn!(%error, port, "streaming server: no [::1] listener"),
    }
    for listener in listeners {
        let (core, addr, slots) = (Arc::clone(&core), addr.clone(), Arc::clone(&slots));
        tokio::spawn(accept_loop(listener, core, addr, slots));
    }
    tracing::info!(port, "streaming server listening on loopback");
    Ok(addr)
}

async fn accept_loop(
    listener: TcpListener,
    core: Arc<Core>,
    addr: StreamAddr,
    slots: Arc<Semaphore>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "streaming server: accept failed");
                // E.g. out of descriptors: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Only loopback is bound; checked anyway in case that ever changes.
        if !peer.ip().to_canonical().is_loopback() {
            continue;
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!("streaming server: connection limit reached");
            continue;
        };
        let (core, addr) = (Arc::clone(&core), addr.clone());
        tokio::spawn(async move {
            let io = TokioIo::new(idle_io::IdleIo::new(stream, IDLE));
            let service = hyper::service::service_fn(move |req| {
                let (core, addr) = (Arc::clone(&core), addr.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(respond::respond(&core, &addr, req).await)
                }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(io, service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "streaming connection ended");
            }
            drop(slot);
        });
    }
}

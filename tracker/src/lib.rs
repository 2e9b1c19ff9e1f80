//! bttrack: Swarmlink's tracker as a library, so tests run it on port 0 in-process.
//!
//! Layout: `peer_list`/`swarm`/`shard`/`store` are the pure peer store (time is an argument, no
//! IO); `server` is the hyper front end (with `http_reply`, `registration` for `/publish/`,
//! `listing_http`) and `udp` the BEP 15 one, both calling `state::Tracker::announce`;
//! `registry` holds the published torrents and their `--file`; `persist` snapshots peers to
//! `--dfile`; `weblog` writes Combined Log Format; `metrics` counts for `/metrics`.
//!
//! The public surface is what the binary and the tests need: [`run`], the configuration, the
//! [`Tracker`] state and its [`SwarmStore`] and [`Registry`]; `hooks` and `fuzz` are for the
//! crate's own tests, examples and fuzz targets.
//!
//! Invariant: nothing touches the disk in the announce path (only publish writes, and the
//! background snapshot task).

mod accept;
mod atomic_file;
mod civil;
mod config;
mod conn_io;
mod fast_path;
/// Arbitrary bytes through the tracker's request handling, for the fuzz targets (feature
/// `fuzzing`) and this crate's own property test.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
mod http_reply;
mod listing;
mod listing_http;
mod metrics;
mod peer_list;
mod persist;
mod registration;
mod registry;
mod reply;
mod server;
mod shard;
mod sockopt;
mod state;
mod store;
mod swarm;
mod udp;
mod udp_batch;
mod udp_conn;
mod weblog;

/// Entry points below the sockets, for the allocation test and the announce-cost example.
#[doc(hidden)]
pub mod hooks {
    pub use crate::fast_path::answer_into;
    pub use crate::udp::{handle, Scratch};
}

use std::future::Future;
use std::io;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

use std::sync::Arc;
use tokio::sync::oneshot;

pub use config::{Args, Config, LogTarget};
pub use registry::Registry;
pub use state::{now_secs, Tracker};
pub use store::{Announce, SwarmStore};
pub use weblog::WebLog;

/// Serves HTTP on `listener` and BEP 15 on `udp` until `shutdown` completes, then writes a last
/// peer snapshot and flushes the web log. State files are read before serving, and created when
/// missing; a state file that exists but cannot be read, or cannot be created, is an error
/// (better to stop than to overwrite it, or to lose the first publish).
pub async fn run(
    listener: TcpListener,
    udp: UdpSocket,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let registry = match &config.state_file {
        Some(p) => registry::Registry::load(p).map_err(io::Error::other)?,
        None => Default::default(),
    };
    let weblog = weblog::WebLog::open(&config.log)?;
    let t = Tracker::new(config, registry, weblog);
    if let Some(p) = &t.config.peer_file {
        persist::restore(&t, p)?;
    }
    create_missing(&t)?;
    tracing::info!(
        "bttrack serving http://{} and udp://{} ({} published torrents)",
        listener.local_addr()?,
        udp.local_addr()?,
        t.registry().len()
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let http = http_threads(listener, &t, &stop_rx)?;
    let udp = {
        let (socket, t, stop) = (udp.into_std()?, t.clone(), stop_rx.clone());
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("bttrack-udp".into())
            .spawn(move || {
                if let Err(e) = udp_batch::serve_blocking(socket, t, stop) {
                    tracing::error!("udp tracker: {e}");
                }
                let _ = tx.send(());
            })?;
        rx
    };
    let housekeeping = tokio::spawn(persist::housekeeping(t.clone(), stop_rx));
    shutdown.await;
    let _ = stop_tx.send(true);
    for done in http {
        let _ = done.await;
    }
    let _ = udp.await;
    let _ = housekeeping.await;
    if let Some(p) = &t.config.peer_file {
        persist::snapshot(&t, p).await?;
    }
    t.weblog.flush();
    tracing::info!("bttrack stopped");
    Ok(())
}

/// Writes `--file` and `--dfile` now when they do not exist yet (as the original created them at
/// start): a path the tracker cannot write is an error at start, not at the first publish.
fn create_missing(t: &Tracker) -> io::Result<()> {
    let files = [
        (&t.config.state_file, t.registry().to_state_bytes()),
        (&t.config.peer_file, t.store.snapshot(state::now_secs())),
    ];
    for (path, bytes) in files {
        let Some(path) = path else { continue };
        if !path.exists() {
            atomic_file::write_atomically(path, &bytes).map_err(|e| {
                io::Error::new(e.kind(), format!("creating {}: {e}", path.display()))
            })?;
        }
    }
    Ok(())
}

/// HTTP runs thread-per-core: each thread has its own single-threaded runtime accepting from the
/// shared listening socket, and a connection lives and dies on the thread that accepted it. No
/// work stealing or cross-thread wake-ups per request: that is most of the CPU a
/// connection-per-request client costs beyond the kernel's own accept/close work.
fn http_threads(
    listener: TcpListener,
    t: &Arc<Tracker>,
    stop: &watch::Receiver<bool>,
) -> io::Result<Vec<oneshot::Receiver<()>>> {
    let listener = listener.into_std()?;
    // Accept a connection only once its request is there (see `sockopt`); an error only costs
    // that optimisation.
    let defer = t.config.header_timeout.as_secs().max(1) as u32;
    if let Err(e) = sockopt::defer_accept(&listener, defer) {
        tracing::debug!("TCP_DEFER_ACCEPT: {e}");
    }
    let n = t.config.http_threads.max(1);
    let mut done = Vec::with_capacity(n);
    for i in 0..n {
        let l = listener.try_clone()?;
        let (t, stop) = (t.clone(), stop.clone());
        let (tx, rx) = oneshot::channel();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(format!("bttrack-http-{i}"))
            .spawn(move || {
                rt.block_on(async move {
                    match TcpListener::from_std(l) {
                        Ok(l) => accept::serve(l, t, stop).await,
                        Err(e) => tracing::error!("http thread {i}: {e}"),
                    }
                });
                let _ = tx.send(());
            })?;
        done.push(rx);
    }
    Ok(done)
}

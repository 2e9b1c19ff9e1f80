//! bttrack: Swarmlink's tracker as a library, so tests run it on port 0 in-process.
//!
//! Layout: `swarm`/`store` are the pure peer store (time is an argument, no IO); `server` is the
//! hyper front end and `udp` the BEP 15 one, both calling `state::Tracker::announce`;
//! `published` is the registry of published torrents and its `--file`; `persist` snapshots
//! peers to `--dfile`; `weblog` writes Combined Log Format; `metrics` counts for `/metrics`.
//!
//! Invariant: nothing touches the disk in the announce path (only publish writes, and the
//! background snapshot task).

pub mod config;
pub mod listing;
pub mod metrics;
pub mod persist;
pub mod published;
pub mod server;
pub mod state;
pub mod store;
pub mod swarm;
pub mod udp;
pub mod udp_conn;
pub mod weblog;

use std::future::Future;
use std::io;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

pub use config::{Args, Config, LogTarget};
pub use state::Tracker;
pub use store::{Announce, SwarmStore};

/// Serves HTTP on `listener` and BEP 15 on `udp` until `shutdown` completes, then writes a last
/// peer snapshot and flushes the web log. State files are read before serving; a state file
/// that exists but cannot be read is an error (better to stop than to overwrite it).
pub async fn run(
    listener: TcpListener,
    udp: UdpSocket,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let registry = match &config.state_file {
        Some(p) => published::Registry::load(p).map_err(io::Error::other)?,
        None => Default::default(),
    };
    let weblog = weblog::WebLog::open(&config.log)?;
    let t = Tracker::new(config, registry, weblog);
    if let Some(p) = &t.config.peer_file {
        persist::restore(&t, p)?;
    }
    tracing::info!(
        "bttrack serving http://{} and udp://{} ({} published torrents)",
        listener.local_addr()?,
        udp.local_addr()?,
        t.registry().len()
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let http = tokio::spawn(server::serve(listener, t.clone(), stop_rx.clone()));
    let udp = tokio::spawn(udp::serve(udp, t.clone(), stop_rx.clone()));
    let housekeeping = tokio::spawn(persist::housekeeping(t.clone(), stop_rx));
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = http.await;
    let _ = udp.await;
    let _ = housekeeping.await;
    if let Some(p) = &t.config.peer_file {
        persist::snapshot(&t, p).await?;
    }
    t.weblog.flush();
    tracing::info!("bttrack stopped");
    Ok(())
}

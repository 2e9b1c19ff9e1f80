//! `--dfile`: peers restored at start, snapshotted in the background and at shutdown; plus the
//! periodic sweep of expired peers and the web log flush.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::atomic_file::write_atomically;
use crate::state::{now_secs, Tracker};

pub fn restore(t: &Tracker, path: &Path) -> io::Result<()> {
    match std::fs::read(path) {
        Ok(bytes) => match t.store.restore(&bytes, now_secs()) {
            Ok(n) => tracing::info!("restored {n} peers from {}", path.display()),
            // Peers are soft state: a damaged snapshot costs one announce interval, not a start.
            Err(e) => tracing::warn!("ignoring {}: {e}", path.display()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Takes the image under the shard locks (a memory copy) and writes it off the reactor.
pub async fn snapshot(t: &Arc<Tracker>, path: &Path) -> io::Result<()> {
    let t2 = t.clone();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let bytes = t2.store.snapshot(now_secs());
        write_atomically(&path, &bytes)
    })
    .await
    .map_err(io::Error::other)?
}

pub async fn housekeeping(t: Arc<Tracker>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = t.config.snapshot_every.as_secs().max(1);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        n += 1;
        t.weblog.flush();
        if n.is_multiple_of(every) {
            if let Some(p) = &t.config.peer_file {
                if let Err(e) = snapshot(&t, p).await {
                    tracing::warn!("snapshot to {}: {e}", p.display());
                }
            }
        }
        if n.is_multiple_of(60) {
            let t2 = t.clone();
            let _ = tokio::task::spawn_blocking(move || t2.store.sweep(now_secs())).await;
        }
    }
}

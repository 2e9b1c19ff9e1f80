//! Status changes pushed rather than polled. Each torrent publishes its status into a
//! [`StatusCell`]; a publish that differs from the previous status marks the torrent changed for
//! every [`StatusChanges`] of its session, which a consumer awaits and drains. So a program that
//! shows many torrents does work only for those that changed, and none while nothing does.
//!
//! The seconds of seeding alone do not count as a change: a seeding torrent's clock moves every
//! second, and re-sending thousands of idle torrents for it is what this avoids. The stored status
//! is always the latest (`Session::status` reads an exact `seeding_secs`); a consumer sees the new
//! clock with the torrent's next real change.

use std::collections::HashSet;
use std::sync::{Arc, LockResult, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use protocol::InfoHash;
use tokio::sync::Notify;

use crate::types::TorrentStatus;

/// One torrent's latest status, and where to say that it changed.
pub(crate) struct StatusCell {
    status: Mutex<TorrentStatus>,
    /// When `status` was stored: a seeding torrent's `seeding_secs` has moved on since.
    published: Mutex<Instant>,
    /// Set once, when the session lists the torrent (before that nobody can watch it).
    feed: OnceLock<(Weak<Feed>, InfoHash)>,
}

impl StatusCell {
    pub(crate) fn new(status: TorrentStatus) -> StatusCell {
        StatusCell {
            status: Mutex::new(status),
            published: Mutex::new(Instant::now()),
            feed: OnceLock::new(),
        }
    }

    /// The latest status, to read.
    pub(crate) fn lock(&self) -> LockResult<MutexGuard<'_, TorrentStatus>> {
        self.status.lock()
    }

    /// Stores `status`; if it differs from the previous one (besides `seeding_secs`), the
    /// session's watchers hear that this torrent changed.
    pub(crate) fn publish(&self, status: TorrentStatus) {
        if let Ok(mut at) = self.published.lock() {
            *at = Instant::now();
        }
        let changed = {
            let mut current = self.status.lock().unwrap_or_else(|e| e.into_inner());
            let changed = !same_but_the_clock(&current, &status);
            *current = status;
            changed
        };
        if changed {
            if let Some((feed, ih)) = self.feed.get() {
                if let Some(feed) = feed.upgrade() {
                    feed.mark(*ih);
                }
            }
        }
    }

    /// A copy of the latest status with its seeding clock brought up to now (a quiet torrent
    /// publishes seldom; the seconds it seeds since still count).
    pub(crate) fn snapshot(&self) -> Option<TorrentStatus> {
        let mut s = self.status.lock().ok()?.clone();
        if s.state == crate::types::TorrentState::Seeding {
            let since = self.published.lock().map_or(0, |at| at.elapsed().as_secs());
            s.seeding_secs += since;
        }
        Some(s)
    }

    /// Reports this torrent's changes to `feed` from now on (the first call wins), and marks
    /// it changed once: it is new to the watchers.
    pub(crate) fn attach(&self, feed: &Arc<Feed>, ih: InfoHash) {
        if self.feed.set((Arc::downgrade(feed), ih)).is_ok() {
            feed.mark(ih);
        }
    }
}

/// Equal in everything but `seeding_secs` (every field named, so a new one cannot be missed).
fn same_but_the_clock(a: &TorrentStatus, b: &TorrentStatus) -> bool {
    let TorrentStatus {
        info_hash,
        name,
        state,
        progress,
        total_bytes,
        have_bytes,
        downloaded,
        uploaded,
        down_rate,
        up_rate,
        peers,
        seeds,
        eta_secs,
        error,
        save_path,
        seeding_secs: _,
        web_seeds,
        moving,
    } = a;
    *info_hash == b.info_hash
        && *state == b.state
        && *progress == b.progress
        && *total_bytes == b.total_bytes
        && *have_bytes == b.have_bytes
        && *downloaded == b.downloaded
        && *uploaded == b.uploaded
        && *down_rate == b.down_rate
        && *up_rate == b.up_rate
        && *peers == b.peers
        && *seeds == b.seeds
        && *eta_secs == b.eta_secs
        && *error == b.error
        && *web_seeds == b.web_seeds
        && *name == b.name
        && *save_path == b.save_path
        && *moving == b.moving
}

/// A session's watchers. Marking costs one lock of an empty list when nobody watches.
#[derive(Default)]
pub(crate) struct Feed {
    watchers: Mutex<Vec<Weak<Watcher>>>,
}

#[derive(Default)]
struct Watcher {
    changed: Mutex<HashSet<InfoHash>>,
    wake: Notify,
}

impl Feed {
    /// Torrent `ih` changed (its status, or it was added or removed).
    pub(crate) fn mark(&self, ih: InfoHash) {
        let mut watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if watchers.is_empty() {
            return;
        }
        watchers.retain(|w| {
            let Some(w) = w.upgrade() else {
                return false;
            };
            w.changed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ih);
            w.wake.notify_one();
            true
        });
    }

    pub(crate) fn watch(&self) -> StatusChanges {
        let watcher = Arc::new(Watcher::default());
        (self.watchers.lock().unwrap_or_else(|e| e.into_inner())).push(Arc::downgrade(&watcher));
        StatusChanges { watcher }
    }
}

/// The torrents of a session whose status changed (`Session::status_changes`): each torrent at
/// most once per [`StatusChanges::changed`], however often it changed in between, so a slow
/// consumer never falls behind by more than one entry per torrent. Dropping it stops the
/// session's bookkeeping for it.
pub struct StatusChanges {
    watcher: Arc<Watcher>,
}

impl StatusChanges {
    /// Waits until some torrent changed since the previous call (or since this was made), and
    /// returns those torrents. A torrent the session no longer has was removed.
    pub async fn changed(&mut self) -> HashSet<InfoHash> {
        loop {
            let now = self.take();
            if !now.is_empty() {
                return now;
            }
            self.watcher.wake.notified().await;
        }
    }

    /// The torrents that changed since the previous call, without waiting (maybe none).
    pub fn take(&mut self) -> HashSet<InfoHash> {
        std::mem::take(
            &mut *self
                .watcher
                .changed
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TorrentState;

    fn status(ih: InfoHash) -> TorrentStatus {
        TorrentStatus {
            info_hash: ih,
            name: "x".into(),
            state: TorrentState::Seeding,
            progress: 1.0,
            total_bytes: 10,
            have_bytes: 10,
            downloaded: 0,
            uploaded: 0,
            down_rate: 0,
            up_rate: 0,
            peers: 0,
            seeds: 0,
            eta_secs: None,
            error: None,
            save_path: "/d/x".into(),
            seeding_secs: 0,
            web_seeds: Vec::new(),
            moving: None,
        }
    }

    #[test]
    fn only_real_changes_reach_the_watchers_once_per_torrent() {
        let feed = Arc::new(Feed::default());
        let (a, b) = (InfoHash([1; 20]), InfoHash([2; 20]));
        let (cell_a, cell_b) = (StatusCell::new(status(a)), StatusCell::new(status(b)));
        // Nobody watches yet: publishing is just storing.
        cell_a.publish(status(a));
        let mut changes = feed.watch();
        cell_a.attach(&feed, a);
        cell_b.attach(&feed, b);
        assert_eq!(
            changes.take(),
            HashSet::from([a, b]),
            "new torrents count as changed"
        );

        let mut idle = status(a);
        for secs in 1..100 {
            idle.seeding_secs = secs;
            cell_a.publish(idle.clone());
            cell_b.publish(status(b));
        }
        assert!(changes.take().is_empty(), "idle seeding changes nothing");
        assert_eq!(
            cell_a.lock().unwrap().seeding_secs,
            99,
            "yet the clock is stored"
        );

        let mut paused = idle.clone();
        paused.state = TorrentState::Paused;
        cell_a.publish(paused.clone());
        paused.uploaded = 5;
        cell_a.publish(paused);
        assert_eq!(changes.take(), HashSet::from([a]), "two changes, one entry");
        assert!(changes.take().is_empty());
    }

    #[tokio::test]
    async fn a_watcher_wakes_for_a_change_and_a_dropped_one_is_forgotten() {
        let feed = Arc::new(Feed::default());
        let a = InfoHash([1; 20]);
        let cell = Arc::new(StatusCell::new(status(a)));
        cell.attach(&feed, a);
        let mut changes = feed.watch();
        let writer = Arc::clone(&cell);
        tokio::spawn(async move {
            let mut s = status(a);
            s.peers = 1;
            writer.publish(s);
        });
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), changes.changed())
            .await
            .expect("woken");
        assert_eq!(got, HashSet::from([a]));
        drop(changes);
        feed.mark(a);
        assert!(feed.watchers.lock().unwrap().is_empty());
    }
}

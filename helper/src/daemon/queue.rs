//! Queueing: at most `max_active_downloads` downloads and `max_active_seeds` seeds run at once;
//! the others wait `queued` (paused in the engine) and start when a slot frees, in queue order
//! (the download list's order, which `queue` changes). A download that moved no payload for
//! `stalled_secs` keeps running but does not hold a slot, so one dead torrent cannot block the
//! queue. The user's own pauses, torrents waiting for a choice of files and broken ones stand
//! outside the queue.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{TorrentState, TorrentStatus};
use protocol::InfoHash;
use serde_json::{json, Value};

use super::state::{lock, Core};
use crate::api::{ApiError, ErrorCode};

/// The least time between two looks at the queue.
const QUEUE_TICK: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Download,
    Seed,
}

/// One torrent in queue order, as the planner sees it.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub kind: Kind,
    /// Running and without payload progress for `stalled_secs`: does not hold a slot.
    pub stalled: bool,
}

/// Which of `items` (in queue order) run; the others wait.
pub(super) fn plan(
    items: &[Item],
    max_downloads: Option<u32>,
    max_seeds: Option<u32>,
) -> Vec<bool> {
    let (mut downloads, mut seeds) = (0u32, 0u32);
    items
        .iter()
        .map(|item| {
            let (count, max) = match item.kind {
                Kind::Download => (&mut downloads, max_downloads),
                Kind::Seed => (&mut seeds, max_seeds),
            };
            let run = max.is_none_or(|m| *count < m);
            if run && !item.stalled {
                *count += 1;
            }
            run
        })
        .collect()
}

/// Moves `hash` in `order` (`up`, `down`, `top`, `bottom`); its new position, or `None` when it
/// is not there.
pub(super) fn reorder<T: PartialEq>(order: &mut Vec<T>, pos: usize, to: &str) -> Option<usize> {
    if pos >= order.len() {
        return None;
    }
    let new = match to {
        "up" => pos.saturating_sub(1),
        "down" => (pos + 1).min(order.len() - 1),
        "top" => 0,
        _ => order.len() - 1,
    };
    let item = order.remove(pos);
    order.insert(new, item);
    Some(new)
}

impl Core {
    /// Runs the queue until the daemon stops. A round runs when a torrent's status changed
    /// (the engine pushes it), when the daemon rings `queue_wake` (an order, a setting, a pause),
    /// or when a running download would turn stalled; at most one a `QUEUE_TICK`. With nothing
    /// changing, it sleeps.
    pub async fn run_queue(self: Arc<Core>) {
        let mut stop = self.shutdown_signal();
        let mut changes = self.session.status_changes();
        let mut stall_check = self.queue_round().await;
        loop {
            let stall_at = stall_check.map(tokio::time::Instant::from_std);
            tokio::select! {
                _ = stop.changed() => return,
                _ = changes.changed() => {}
                () = self.queue_wake.notified() => {}
                () = sleep_until(stall_at) => {}
            }
            changes.take();
            stall_check = self.queue_round().await;
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(QUEUE_TICK) => {}
            }
        }
    }

    /// One look at the queue; returns when the next running download would turn stalled.
    async fn queue_round(&self) -> Option<Instant> {
        let (order, max_downloads, max_seeds, stalled_after) = {
            let state = self.state.lock().await;
            let order: Vec<String> = (state.entries.iter())
                .filter(|e| !e.paused && !e.awaiting_selection)
                .map(|e| e.info_hash.clone())
                .collect();
            let s = &state.settings;
            let stalled = Duration::from_secs(s.stalled_secs);
            (order, s.max_active_downloads, s.max_active_seeds, stalled)
        };
        if max_downloads.is_none() && max_seeds.is_none() && lock(&self.queue).queued.is_empty() {
            // Nothing can wait, and nothing does: no torrent needs looking at.
            return None;
        }
        let statuses: HashMap<String, TorrentStatus> = (self.session.statuses().into_iter())
            .map(|s| (s.info_hash.to_hex(), s))
            .collect();
        let auto_paused: HashSet<String> = lock(&self.auto_paused)
            .iter()
            .map(InfoHash::to_hex)
            .collect();
        let now = Instant::now();
        let mut stall_check: Option<Instant> = None;
        let (hashes, items): (Vec<String>, Vec<Item>) = {
            let mut q = lock(&self.queue);
            let queued = q.queued.clone();
            let mut hashes = Vec::new();
            let mut items = Vec::new();
            for hash in order {
                let Some(s) = statuses.get(&hash) else {
                    continue;
                };
                if s.state == TorrentState::Error || auto_paused.contains(&hash) {
                    continue;
                }
                let kind = if s.total_bytes > 0 && s.progress >= 1.0 {
                    Kind::Seed
                } else {
                    Kind::Download
                };
                let running = !queued.contains(&hash);
                let moved = s.downloaded;
                let since = match q.progress.get(&hash) {
                    Some(&(seen, since)) if seen == moved && running => since,
                    _ => now,
                };
                q.progress.insert(hash.clone(), (moved, since));
                let stalled = running && kind == Kind::Download && now - since >= stalled_after;
                if running && kind == Kind::Download && !stalled && max_downloads.is_some() {
                    let at = since + stalled_after;
                    stall_check = Some(stall_check.map_or(at, |t| t.min(at)));
                }
                hashes.push(hash);
                items.push(Item { kind, stalled });
            }
            q.progress.retain(|h, _| statuses.contains_key(h));
            (hashes, items)
        };
        let runs = plan(&items, max_downloads, max_seeds);
        for (hash, run) in hashes.iter().zip(runs) {
            let Ok(ih) = InfoHash::from_hex(hash) else {
                continue;
            };
            let was_queued = lock(&self.queue).queued.contains(hash);
            if run && was_queued {
                if self.session.resume(ih).await.is_ok() {
                    let mut q = lock(&self.queue);
                    q.queued.remove(hash);
                    q.progress.insert(hash.clone(), (0, Instant::now()));
                    drop(q);
                    self.touch(ih);
                }
            } else if !run && !was_queued && self.session.pause(ih).await.is_ok() {
                lock(&self.queue).queued.insert(hash.clone());
                self.touch(ih);
            }
        }
        stall_check
    }

    /// Whether a download added now would be past `max_active_downloads`: it is then added
    /// paused and waits `queued`, rather than starting until the next round stops it.
    pub(super) fn starts_queued(&self, max_downloads: Option<u32>) -> bool {
        let Some(max) = max_downloads else {
            return false;
        };
        let running = (self.statuses().iter())
            .filter(|s| {
                matches!(
                    s.state,
                    TorrentState::Checking
                        | TorrentState::Allocating
                        | TorrentState::Connecting
                        | TorrentState::Downloading
                )
            })
            .count();
        running >= max as usize
    }

    /// `queue`: moves a torrent in the queue order (the download list's order).
    pub(super) async fn queue_move(&self, info_hash: &str, to: &str) -> Result<Value, ApiError> {
        if !matches!(to, "up" | "down" | "top" | "bottom") {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("`to` is up, down, top or bottom, not {to:?}"),
            ));
        }
        let ih = self.known(info_hash).await?;
        let hex = ih.to_hex();
        let mut state = self.state.lock().await;
        let pos = state.entries.iter().position(|e| e.info_hash == hex);
        let new = pos
            .and_then(|p| reorder(&mut state.entries, p, to))
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownTorrent, "no such torrent"))?;
        drop(state);
        self.save_entries().await?;
        self.queue_wake.notify_one();
        Ok(json!({"info_hash": hex, "queue_position": new}))
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(stalled: bool) -> Item {
        Item {
            kind: Kind::Download,
            stalled,
        }
    }

    fn s() -> Item {
        Item {
            kind: Kind::Seed,
            stalled: false,
        }
    }

    #[test]
    fn downloads_past_the_cap_wait_in_order() {
        assert_eq!(
            plan(&[d(false), d(false), d(false)], Some(1), None),
            [true, false, false]
        );
        assert_eq!(
            plan(&[d(false), d(false), d(false)], Some(2), None),
            [true, true, false]
        );
        assert_eq!(plan(&[d(false), d(false)], None, None), [true, true]);
    }

    #[test]
    fn a_stalled_download_holds_no_slot() {
        assert_eq!(
            plan(&[d(true), d(false), d(false)], Some(1), None),
            [true, true, false]
        );
    }

    #[test]
    fn seeds_have_their_own_cap() {
        assert_eq!(
            plan(&[s(), d(false), s(), d(false)], Some(1), Some(1)),
            [true, true, false, false]
        );
        assert_eq!(plan(&[s(), s()], Some(1), None), [true, true]);
    }

    #[test]
    fn reorder_moves_up_down_top_bottom_within_bounds() {
        let mut v = vec!['a', 'b', 'c', 'd'];
        assert_eq!(reorder(&mut v, 2, "up"), Some(1));
        assert_eq!(v, ['a', 'c', 'b', 'd']);
        assert_eq!(reorder(&mut v, 0, "up"), Some(0));
        assert_eq!(reorder(&mut v, 3, "down"), Some(3));
        assert_eq!(reorder(&mut v, 3, "top"), Some(0));
        assert_eq!(v, ['d', 'a', 'c', 'b']);
        assert_eq!(reorder(&mut v, 0, "bottom"), Some(3));
        assert_eq!(v, ['a', 'c', 'b', 'd']);
        assert_eq!(reorder(&mut v, 9, "top"), None);
    }
}

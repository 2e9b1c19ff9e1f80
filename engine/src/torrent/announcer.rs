//! A torrent's tracker announces, in their own task so a slow tracker never holds up the
//! actor: `started`, re-announces on the tracker's interval, `completed` once, `stopped` at
//! the end. Peers it learns go to the actor as `AddPeers`.
//!
//! `started` goes out at once, while the initial check may still run (a peer source never
//! waits), so it may say `left` = everything. When the check then finds the copy complete, the
//! tracker hears `left=0` right away in a plain announce (no `completed`: nothing was
//! downloaded); else a seeder would count as a leecher for a whole interval (30 minutes).

use std::time::{Duration, Instant};

use protocol::{InfoHash, PeerId};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::TorrentCmd;
use crate::tracker::{AnnounceParams, AnnounceSchedule, Event, TrackerList};

/// How long a final `stopped` may take: the tracker may be gone.
const STOPPED_TIMEOUT: Duration = Duration::from_secs(5);

/// What the actor tells the announcer, refreshed every tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AnnounceStats {
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    /// A download finished in this run and we seed: `completed` is due (never for a copy that
    /// was complete when it started).
    pub completed: bool,
    pub stopping: bool,
}

pub(crate) struct AnnouncerSetup {
    pub tiers: Vec<Vec<String>>,
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub port: u16,
    pub ip: Option<String>,
    /// The LAN rule for this torrent's trackers (`tracker/targets.rs`).
    pub targets: crate::tracker::targets::Targets,
}

pub(crate) fn spawn(
    setup: AnnouncerSetup,
    mut stats: watch::Receiver<AnnounceStats>,
    to_actor: mpsc::UnboundedSender<TorrentCmd>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let config = crate::tracker::TrackerConfig {
            targets: setup.targets,
            ..Default::default()
        };
        let mut trackers = TrackerList::with_config(setup.tiers, config);
        let mut schedule = AnnounceSchedule::new(Instant::now());
        let mut params =
            AnnounceParams::new(setup.info_hash, setup.peer_id, setup.port, rand::random());
        params.ip = setup.ip;
        let mut was_completed = stats.borrow().completed;
        // Whether an announce was ever sent. A torrent stopped before its first announce still
        // says `stopped`: the tracker may know us without one (btpublish registers its address
        // with PUT /publish/), and a tracker ignores a stop from a peer it never saw.
        let mut attempted = false;
        // `left` as the tracker last heard it (from an announce it answered).
        let mut told_left: Option<u64> = None;
        loop {
            let now = Instant::now();
            let current = *stats.borrow();
            if current.completed && !was_completed {
                was_completed = true;
                schedule.on_completed(now);
            }
            if current.stopping {
                break;
            }
            let tracker_thinks_we_leech = told_left.is_some_and(|l| l > 0);
            let found_complete = current.left == 0 && !current.completed && tracker_thinks_we_leech;
            if schedule.is_due(now) || found_complete {
                params.uploaded = current.uploaded;
                params.downloaded = current.downloaded;
                params.left = current.left;
                params.event = schedule.event();
                attempted = true;
                match trackers.announce(&params).await {
                    Ok(outcome) => {
                        told_left = Some(params.left);
                        tracing::debug!("{}: {} peers", outcome.tracker, outcome.peers.len());
                        schedule.on_success(&outcome, Instant::now());
                        if !outcome.peers.is_empty() {
                            let _ = to_actor.send(TorrentCmd::AddPeers(outcome.peers));
                        }
                    }
                    Err(e) => {
                        tracing::warn!("announce failed: {e}");
                        schedule.on_failure(Instant::now());
                        // The retry waits for the backoff, not for `found_complete` again.
                        told_left = None;
                    }
                }
                continue;
            }
            let wait = schedule.next_at().saturating_duration_since(now);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = stats.changed() => if changed.is_err() { break },
            }
        }
        if schedule.should_send_stopped() || !attempted {
            let current = *stats.borrow();
            params.uploaded = current.uploaded;
            params.downloaded = current.downloaded;
            params.left = current.left;
            let finish = async {
                // A download that finished just before we were stopped (`bthelper download`
                // exits on completion) is still counted as a completion by the tracker.
                if current.completed
                    && (!was_completed || schedule.event() == Some(Event::Completed))
                {
                    params.event = Some(Event::Completed);
                    let _ = trackers.announce(&params).await;
                }
                params.event = Some(Event::Stopped);
                let _ = trackers.announce(&params).await;
            };
            let _ = tokio::time::timeout(STOPPED_TIMEOUT, finish).await;
        }
    })
}

//! What subscribers see: engine events forwarded as protocol events, the statuses that changed
//! every tick, snapshots, and the `keep_seeding` rule that depends on whether any subscriber
//! (a browser) is connected.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use engine::{SessionEvent, TorrentState};
use protocol::InfoHash;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::core::{lock, status_json, Core};

/// What subscribers receive. Progress carries only the torrents whose status changed since the
/// previous tick (a full snapshot is sent on `subscribe` and after a subscriber lags).
#[derive(Clone, Debug)]
pub enum Outgoing {
    Event(Arc<Value>),
    Progress(Arc<Vec<Value>>),
}

/// How often progress is compared and sent: at most 4 frames (groups) per second.
pub const PROGRESS_TICK: Duration = Duration::from_millis(250);

impl Core {
    pub fn subscribed(&self) {
        self.subscribers.fetch_add(1, Ordering::SeqCst);
        let resume: Vec<InfoHash> = lock(&self.auto_paused).drain().collect();
        if resume.is_empty() {
            return;
        }
        let session = self.session.clone();
        tokio::spawn(async move {
            for ih in resume {
                let _ = session.resume(ih).await;
            }
        });
    }

    pub async fn unsubscribed(&self) {
        if self.subscribers.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        if self.state.lock().await.settings.keep_seeding {
            return;
        }
        for status in self.session.statuses() {
            if status.state != TorrentState::Seeding {
                continue;
            }
            if let Ok(ih) = InfoHash::from_hex(&status.info_hash) {
                if self.session.pause(ih).await.is_ok() {
                    lock(&self.auto_paused).insert(ih);
                }
            }
        }
    }

    /// A new subscription and the full snapshot it starts from. Taken together under the publish
    /// lock, so every progress round the receiver gets was computed after the snapshot (a stale
    /// round applied after a fresh snapshot would leave the client showing an old state).
    pub fn subscribe_with_snapshot(&self) -> (broadcast::Receiver<Outgoing>, Vec<Value>) {
        let _round = lock(&self.publish_lock);
        let rx = self.outgoing.subscribe();
        (rx, self.statuses().iter().map(status_json).collect())
    }

    /// Forwards engine events to subscribers, and every tick the statuses that changed. Runs
    /// until the session's event stream ends or the daemon stops.
    pub async fn publish(self: Arc<Core>) {
        let mut events = self.session.events();
        let mut tick = tokio::time::interval(PROGRESS_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last: HashMap<String, Value> = HashMap::new();
        let mut stop = self.shutdown_signal();
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                event = events.recv() => match event {
                    Ok(event) => {
                        if let SessionEvent::Completed(ih) = event {
                            let core = Arc::clone(&self);
                            tokio::spawn(async move { core.mark_finished(ih).await });
                        }
                        if let SessionEvent::Moved(ih, root) = &event {
                            let (core, ih, root) = (Arc::clone(&self), *ih, root.clone());
                            tokio::spawn(async move { core.moved(ih, &root).await });
                        }
                        if let SessionEvent::SeedGoalReached(ih, reason) = event {
                            // Told once the daemon acted on it (`goals.rs`).
                            tokio::spawn(Arc::clone(&self).seed_goal_reached(ih, reason));
                        } else if let Some(value) = self.event_json(event) {
                            let _ = self.outgoing.send(Outgoing::Event(Arc::new(value)));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(n, "missed engine events");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    let _round = lock(&self.publish_lock);
                    let now: HashMap<String, Value> = self
                        .statuses()
                        .iter()
                        .map(|s| (s.info_hash.clone(), status_json(s)))
                        .collect();
                    let changed: Vec<Value> = now
                        .iter()
                        .filter(|(ih, v)| last.get(*ih) != Some(*v))
                        .map(|(_, v)| v.clone())
                        .collect();
                    last = now;
                    if !changed.is_empty() && self.outgoing.receiver_count() > 0 {
                        let _ = self.outgoing.send(Outgoing::Progress(Arc::new(changed)));
                    }
                }
            }
        }
    }

    fn event_json(&self, event: SessionEvent) -> Option<Value> {
        Some(match event {
            SessionEvent::Added(ih) => {
                let status = self.session.status(ih).map(|s| status_json(&s));
                json!({"event": "added", "info_hash": ih.to_hex(), "torrent": status})
            }
            SessionEvent::Completed(ih) => {
                let status = self.session.status(ih);
                json!({
                    "event": "completed",
                    "info_hash": ih.to_hex(),
                    "name": status.as_ref().map(|s| s.name.clone()),
                    "save_path": status.as_ref().map(|s| s.save_path.clone()),
                })
            }
            SessionEvent::Removed(ih) => json!({"event": "removed", "info_hash": ih.to_hex()}),
            SessionEvent::Error(ih, message) => {
                json!({"event": "error", "info_hash": ih.to_hex(), "message": message})
            }
            SessionEvent::Moved(ih, root) => {
                json!({"event": "moved", "info_hash": ih.to_hex(), "save_path": root})
            }
            // The files stayed where they were and the torrent goes on (helper/PROTOCOL.md).
            SessionEvent::MoveFailed(ih, message) => {
                json!({"event": "error", "info_hash": ih.to_hex(), "message": message})
            }
            SessionEvent::SeedGoalReached(..) => return None,
        })
    }
}

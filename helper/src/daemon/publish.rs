//! What subscribers see: engine events forwarded as protocol events, the statuses of the torrents
//! that changed (pushed, never polled: nothing is built while nothing changes or nobody
//! subscribes), snapshots, and the `keep_seeding` rule that depends on whether any subscriber (a
//! browser) is connected.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use engine::{SessionEvent, TorrentState};
use protocol::InfoHash;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::state::{lock, Core, Outgoing};
use crate::api::status_json;
use crate::settings::SeedGoalAction;
use protocol::seed_goal::Reason;

/// The least time between two progress rounds: at most 4 a second; changes meanwhile gather.
pub const PROGRESS_TICK: Duration = Duration::from_millis(250);

impl Core {
    /// A connection subscribed. The first one starts the change stream progress rounds read,
    /// before its snapshot is taken, so no change falls between the two.
    pub fn subscribed(&self) {
        if self.subscribers.fetch_add(1, Ordering::SeqCst) == 0 {
            *lock(&self.changes) = Some(self.session.status_changes());
            lock(&self.touched).clear();
        }
        self.subscribers_changed.notify_one();
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
        self.subscribers_changed.notify_one();
        if self.state.lock().await.settings.keep_seeding {
            return;
        }
        for status in self.session.statuses() {
            if status.state != TorrentState::Seeding {
                continue;
            }
            let ih = status.info_hash;
            if self.session.pause(ih).await.is_ok() {
                lock(&self.auto_paused).insert(ih);
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

    /// Forwards engine events to subscribers until the session's event stream ends or the
    /// daemon stops.
    pub async fn forward_events(self: Arc<Core>) {
        let mut events = self.session.events();
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
                            // Told once the daemon acted on it (`seed_goal_reached`).
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
            }
        }
    }

    /// Sends subscribers the statuses of the torrents that changed, pushed by the engine
    /// (`Session::status_changes`) and by the daemon's own marks (`Core::touch`), at most one
    /// round per `PROGRESS_TICK`. While nobody subscribes it holds no change stream and does
    /// nothing at all, however many torrents there are.
    pub async fn publish_progress(self: Arc<Core>) {
        let mut stop = self.shutdown_signal();
        loop {
            while self.subscribers.load(Ordering::SeqCst) == 0 {
                tokio::select! {
                    _ = stop.changed() => return,
                    () = self.subscribers_changed.notified() => {}
                }
            }
            // Made by the first subscription, before its snapshot (`subscribed`).
            let taken = lock(&self.changes).take();
            let mut changes = taken.unwrap_or_else(|| self.session.status_changes());
            while self.subscribers.load(Ordering::SeqCst) > 0 {
                let mut changed = tokio::select! {
                    _ = stop.changed() => return,
                    () = self.subscribers_changed.notified() => {
                        // Everyone left and someone came back: the newcomer's stream is the one
                        // that started before its snapshot.
                        if let Some(fresh) = lock(&self.changes).take() {
                            changes = fresh;
                        }
                        continue;
                    }
                    changed = changes.changed() => changed,
                    () = self.touched_wake.notified() => HashSet::new(),
                };
                changed.extend(changes.take());
                changed.extend(lock(&self.touched).drain());
                self.progress_round(&changed);
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(PROGRESS_TICK) => {}
                }
            }
        }
    }

    /// One progress event (maybe split into frames by the connections) with the current status
    /// of each of `changed`; a torrent no longer listed is left out (`removed` tells of it).
    pub(super) fn progress_round(&self, changed: &HashSet<InfoHash>) {
        if changed.is_empty() {
            return;
        }
        let _round = lock(&self.publish_lock);
        let statuses = self.statuses_of(changed);
        (self.progress_built).fetch_add(statuses.len() as u64, Ordering::Relaxed);
        let values: Vec<Value> = statuses.iter().map(status_json).collect();
        if !values.is_empty() && self.outgoing.receiver_count() > 0 {
            let _ = self.outgoing.send(Outgoing::Progress(Arc::new(values)));
        }
    }

    fn event_json(&self, event: SessionEvent) -> Option<Value> {
        Some(match event {
            SessionEvent::Added(ih) => {
                // With the daemon's marks (queued, awaiting a choice), as `list` shows it: the
                // engine's own `paused` would otherwise overwrite a mark sent just before.
                let status =
                    (self.statuses_of(&std::iter::once(ih).collect()).first()).map(status_json);
                json!({"event": "added", "info_hash": ih.to_hex(), "torrent": status})
            }
            SessionEvent::Completed(ih) => {
                let status = self.session.status(ih);
                json!({
                    "event": "completed",
                    "info_hash": ih.to_hex(),
                    "name": status.as_ref().map(|s| s.name.clone()),
                    "save_path": status.as_ref().map(|s| s.save_path.to_string_lossy()),
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
            SessionEvent::MoveFailed(ih, message) if message.contains(engine::MOVE_CANCELLED) => {
                json!({"event": "move_cancelled", "info_hash": ih.to_hex()})
            }
            SessionEvent::MoveFailed(ih, message) => {
                json!({"event": "error", "info_hash": ih.to_hex(), "message": message})
            }
            SessionEvent::SeedGoalReached(..) => return None,
        })
    }

    /// The engine paused a torrent that reached a goal: pause it for good or remove it, as the
    /// settings say, then tell subscribers.
    pub(super) async fn seed_goal_reached(self: Arc<Core>, ih: InfoHash, reason: Reason) {
        let hex = ih.to_hex();
        let action = self.state.lock().await.settings.seed_goal_action;
        let event = Outgoing::Event(Arc::new(json!({
            "event": "seed_goal_reached",
            "info_hash": hex,
            "reason": reason.as_str(),
            "action": action,
        })));
        tracing::info!(info_hash = %hex, reason = reason.as_str(), ?action, "seed goal reached");
        let result = match action {
            // As if the user paused it: the list records it and the queue lets go of it.
            SeedGoalAction::Pause => self.set_paused(&hex, true).await.map(|_| ()),
            SeedGoalAction::Remove => {
                // The reason first, then `removed`.
                let _ = self.outgoing.send(event.clone());
                self.remove(&hex, false).await.map(|_| ())
            }
        };
        if let Err(error) = result {
            // Removed by the user in the meantime, most likely.
            tracing::warn!(info_hash = %hex, error = %error.message, "after its seed goal");
        }
        if action == SeedGoalAction::Pause {
            let _ = self.outgoing.send(event);
        }
    }
}

//! When a torrent announces next and with which event: `started` until a tracker has heard it,
//! `completed` once, re-announces on the tracker's `interval`, early announces (more peers,
//! completion) no sooner than `min interval`, and backoff after failures. Pure: time is an
//! argument, so the torrent actor drives it and tests need no clock.

use std::time::{Duration, Instant};

use super::{AnnounceOutcome, Event};

/// First retry after a failed announce; doubled after each further failure.
const FIRST_RETRY: Duration = Duration::from_secs(15);
/// Longest wait between retries of failing announces.
const MAX_RETRY: Duration = Duration::from_secs(30 * 60);
/// Used until a tracker tells us its interval, and as a floor against trackers asking for 0.
const MIN_INTERVAL_FLOOR: Duration = Duration::from_secs(30);
/// Longest interval honoured: a tracker cannot silence a torrent for days.
const MAX_INTERVAL: Duration = Duration::from_secs(6 * 60 * 60);

/// The announce timetable of one torrent. Drive it from the torrent actor:
///
/// ```
/// # use std::time::{Duration, Instant};
/// use engine::tracker::{AnnounceSchedule, Event};
/// let now = Instant::now();
/// let mut schedule = AnnounceSchedule::new(now);
/// assert!(schedule.is_due(now));
/// assert_eq!(schedule.event(), Some(Event::Started));
/// // ... announce with schedule.event(); then on_success(&outcome, now) or on_failure(now),
/// // and sleep until schedule.next_at().
/// ```
#[derive(Debug, Clone)]
pub struct AnnounceSchedule {
    next_at: Instant,
    started_sent: bool,
    completed_pending: bool,
    failures: u32,
    interval: Duration,
    min_interval: Duration,
    last_success: Option<Instant>,
}

impl AnnounceSchedule {
    /// A schedule whose first announce (`started`) is due at `now`.
    pub fn new(now: Instant) -> Self {
        AnnounceSchedule {
            next_at: now,
            started_sent: false,
            completed_pending: false,
            failures: 0,
            interval: MIN_INTERVAL_FLOOR,
            min_interval: MIN_INTERVAL_FLOOR,
            last_success: None,
        }
    }

    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.next_at
    }

    pub fn next_at(&self) -> Instant {
        self.next_at
    }

    /// The event the next announce carries.
    pub fn event(&self) -> Option<Event> {
        if !self.started_sent {
            Some(Event::Started)
        } else if self.completed_pending {
            Some(Event::Completed)
        } else {
            None
        }
    }

    /// A tracker answered the announce that carried [`event`](Self::event).
    pub fn on_success(&mut self, outcome: &AnnounceOutcome, now: Instant) {
        match self.event() {
            Some(Event::Started) => self.started_sent = true,
            Some(Event::Completed) => self.completed_pending = false,
            _ => {}
        }
        self.failures = 0;
        self.interval = outcome.interval.clamp(MIN_INTERVAL_FLOOR, MAX_INTERVAL);
        self.min_interval = outcome
            .min_interval
            .unwrap_or(MIN_INTERVAL_FLOOR)
            .clamp(MIN_INTERVAL_FLOOR, self.interval);
        self.last_success = Some(now);
        self.next_at = now + self.interval;
        if self.completed_pending {
            // Completed while the previous announce was in flight: tell the tracker soon.
            self.next_at = now + self.min_interval;
        }
    }

    /// Every tracker failed: retry after 15 s, 30 s, 60 s... up to 30 minutes.
    pub fn on_failure(&mut self, now: Instant) {
        let backoff = FIRST_RETRY.saturating_mul(1 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        self.next_at = now + backoff.min(MAX_RETRY);
    }

    /// The download just finished: announce `completed` now. `min interval` paces routine
    /// re-announces; a completion is a one-off event (libtorrent and Transmission send it at once
    /// too), and a client that exits soon after finishing would otherwise never be counted.
    pub fn on_completed(&mut self, now: Instant) {
        self.completed_pending = true;
        if self.failures == 0 {
            self.next_at = self.next_at.min(now);
        }
    }

    /// We want more peers: move the next announce as early as `min interval` allows.
    pub fn want_peers(&mut self, now: Instant) {
        self.announce_early(now);
    }

    fn announce_early(&mut self, now: Instant) {
        if self.failures > 0 {
            return; // backoff wins: the trackers are failing anyway
        }
        let earliest = match self.last_success {
            Some(at) => at + self.min_interval,
            None => now,
        };
        self.next_at = self.next_at.min(earliest.max(now));
    }

    /// Whether `stopped` should be sent on shutdown (only if a tracker ever heard `started`).
    pub fn should_send_stopped(&self) -> bool {
        self.started_sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(interval: u64, min: Option<u64>) -> AnnounceOutcome {
        AnnounceOutcome {
            peers: vec![],
            interval: Duration::from_secs(interval),
            min_interval: min.map(Duration::from_secs),
            seeders: None,
            leechers: None,
            warning: None,
            tracker: "t".into(),
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn started_until_heard_then_regular_intervals() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0);
        assert!(!s.should_send_stopped());
        s.on_failure(t0);
        assert_eq!(s.event(), Some(Event::Started));
        assert_eq!(s.next_at(), t0 + S(15));
        s.on_success(&outcome(1800, Some(900)), t0 + S(15));
        assert_eq!(s.event(), None);
        assert!(s.should_send_stopped());
        assert_eq!(s.next_at(), t0 + S(15 + 1800));
        assert!(!s.is_due(t0 + S(1000)));
        assert!(s.is_due(t0 + S(1815)));
    }

    #[test]
    fn failures_back_off_to_a_cap() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0);
        let waits: Vec<Duration> = (0..10)
            .map(|_| {
                s.on_failure(t0);
                s.next_at() - t0
            })
            .collect();
        assert_eq!(&waits[..4], &[S(15), S(30), S(60), S(120)]);
        assert_eq!(waits[9], MAX_RETRY);
        s.on_success(&outcome(60, None), t0);
        assert_eq!(s.next_at(), t0 + S(60));
    }

    #[test]
    fn completion_is_announced_once_and_at_once() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0);
        s.on_success(&outcome(1800, Some(120)), t0);
        s.on_completed(t0 + S(10));
        assert_eq!(s.event(), Some(Event::Completed));
        assert_eq!(s.next_at(), t0 + S(10));
        s.on_success(&outcome(1800, Some(120)), t0 + S(10));
        assert_eq!(s.event(), None);
        assert_eq!(s.next_at(), t0 + S(1810));
        // Asking for peers soon after is held to min interval; long after, it is due at once.
        s.want_peers(t0 + S(20));
        assert_eq!(s.next_at(), t0 + S(130));
        s.want_peers(t0 + S(1000));
        assert!(s.is_due(t0 + S(1000)));
    }

    #[test]
    fn hostile_intervals_are_floored() {
        let t0 = Instant::now();
        let mut s = AnnounceSchedule::new(t0);
        s.on_success(&outcome(u64::from(u32::MAX), None), t0);
        assert_eq!(s.next_at(), t0 + MAX_INTERVAL);
        s.on_success(&outcome(0, Some(0)), t0);
        assert_eq!(s.next_at(), t0 + MIN_INTERVAL_FLOOR);
        s.want_peers(t0);
        assert_eq!(s.next_at(), t0 + MIN_INTERVAL_FLOOR);
    }
}

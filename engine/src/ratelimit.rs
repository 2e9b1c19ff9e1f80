//! Token buckets, one per direction: the session's, shared by every torrent, and each torrent's
//! own, a child of the session's. Bytes are taken after they moved (a debt model): a peer that
//! overdraws sleeps until the bucket is positive again, which keeps the average at the limit
//! without splitting reads into tiny pieces. A transfer is charged to its torrent's bucket and
//! every ancestor's, and waits for the most indebted of them: each limit holds on its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    /// Bytes per second; 0 = unlimited.
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
    /// The wider limit this one sits under (a torrent's parent is its session's).
    parent: Option<Arc<RateLimiter>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    pub fn new(rate: Option<u64>) -> Self {
        RateLimiter {
            rate: AtomicU64::new(rate.unwrap_or(0)),
            bucket: Mutex::new(Bucket {
                tokens: 0.0,
                last: Instant::now(),
            }),
            parent: None,
        }
    }

    /// A limiter under `parent`: transfers charged here are charged there too.
    pub fn child(parent: Arc<RateLimiter>, rate: Option<u64>) -> Self {
        RateLimiter {
            parent: Some(parent),
            ..RateLimiter::new(rate)
        }
    }

    pub fn set_rate(&self, rate: Option<u64>) {
        self.rate.store(rate.unwrap_or(0), Ordering::Relaxed);
    }

    /// This limiter's own rate (not its parent's); `None` = unlimited.
    pub fn rate(&self) -> Option<u64> {
        Some(self.rate.load(Ordering::Relaxed)).filter(|&r| r != 0)
    }

    /// Whether a limit is set here or on any ancestor.
    pub fn is_limited(&self) -> bool {
        self.rate.load(Ordering::Relaxed) != 0
            || self.parent.as_ref().is_some_and(|p| p.is_limited())
    }

    /// How long the caller must wait after moving `n` bytes at `now`: the longest wait of
    /// this bucket and its ancestors, each of which is charged the `n` bytes.
    pub fn take(&self, n: usize, now: Instant) -> Duration {
        let own = self.take_own(n, now);
        match &self.parent {
            Some(p) => own.max(p.take(n, now)),
            None => own,
        }
    }

    fn take_own(&self, n: usize, now: Instant) -> Duration {
        let rate = self.rate.load(Ordering::Relaxed);
        if rate == 0 {
            return Duration::ZERO;
        }
        let Ok(mut b) = self.bucket.lock() else {
            return Duration::ZERO;
        };
        let rate = rate as f64;
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.last = now;
        // At most a quarter second of burst.
        b.tokens = (b.tokens + elapsed * rate).min(rate / 4.0);
        b.tokens -= n as f64;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / rate)
        }
    }

    pub async fn consume(&self, n: usize) {
        let wait = self.take(n, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debt_turns_into_wait() {
        let r = RateLimiter::new(Some(1000));
        let t = Instant::now();
        assert_eq!(r.take(0, t), Duration::ZERO);
        let w = r.take(500, t);
        assert!((w.as_secs_f64() - 0.5).abs() < 0.01, "{w:?}");
        assert!(r.take(10, t + Duration::from_secs(2)).is_zero());
        r.set_rate(None);
        assert!(r.take(1 << 30, t).is_zero());
    }

    #[test]
    fn a_child_waits_for_the_stricter_of_itself_and_its_parent() {
        let t = Instant::now();
        let session = Arc::new(RateLimiter::new(Some(500)));
        let torrent = RateLimiter::child(session.clone(), Some(1000));
        assert!(torrent.is_limited());
        // 500 bytes: 0.5 s of the torrent's rate, 1 s of the session's.
        let w = torrent.take(500, t);
        assert!((w.as_secs_f64() - 1.0).abs() < 0.01, "{w:?}");
        // The session's bucket was charged too: another peer of the session waits for it.
        let w = session.take(0, t);
        assert!((w.as_secs_f64() - 1.0).abs() < 0.01, "{w:?}");

        // A stricter torrent limit wins over a looser session limit.
        let session = Arc::new(RateLimiter::new(Some(10_000)));
        let torrent = RateLimiter::child(session.clone(), Some(100));
        let w = torrent.take(100, t);
        assert!((w.as_secs_f64() - 1.0).abs() < 0.01, "{w:?}");
        // 100 bytes of 10 000 B/s: a hundredth of a second of session debt.
        let w = session.take(0, t);
        assert!((w.as_secs_f64() - 0.01).abs() < 0.001, "{w:?}");
    }

    #[test]
    fn unlimited_levels_pass_through() {
        let t = Instant::now();
        let session = Arc::new(RateLimiter::new(None));
        let torrent = RateLimiter::child(session.clone(), None);
        assert!(!torrent.is_limited());
        assert!(torrent.take(1 << 30, t).is_zero());
        // Only the session limits: an unlimited torrent still obeys it.
        session.set_rate(Some(1000));
        assert!(torrent.is_limited());
        assert_eq!(torrent.rate(), None);
        let w = torrent.take(2000, t);
        assert!((w.as_secs_f64() - 2.0).abs() < 0.01, "{w:?}");
    }

    #[test]
    fn siblings_share_the_parent_and_keep_their_own_limits() {
        let t = Instant::now();
        let session = Arc::new(RateLimiter::new(Some(1000)));
        let a = RateLimiter::child(session.clone(), Some(400));
        let b = RateLimiter::child(session.clone(), None);
        // a alone: its own 400 B/s rules (0.5 s of the session's 1000 B/s).
        let w = a.take(400, t);
        assert!((w.as_secs_f64() - 1.0).abs() < 0.01, "{w:?}");
        // b then moves 600 more: the session now owes 1000 bytes = 1 s.
        let w = b.take(600, t);
        assert!((w.as_secs_f64() - 1.0).abs() < 0.01, "{w:?}");
        // A second later both debts are paid and only new bytes count.
        let later = t + Duration::from_secs(1);
        assert!(b.take(0, later).is_zero());
        assert!(a.take(0, later).is_zero());
    }

    #[test]
    fn changing_a_childs_rate_applies_to_the_next_transfer() {
        let t = Instant::now();
        let session = Arc::new(RateLimiter::new(None));
        let torrent = RateLimiter::child(session, Some(100));
        let w = torrent.take(100, t);
        assert!((w.as_secs_f64() - 1.0).abs() < 0.01, "{w:?}");
        torrent.set_rate(None);
        assert!(!torrent.is_limited());
        assert!(torrent.take(1 << 20, t).is_zero());
        torrent.set_rate(Some(1 << 20));
        assert_eq!(torrent.rate(), Some(1 << 20));
    }
}

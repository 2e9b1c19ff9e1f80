//! A token bucket shared by every peer of a session, one per direction. Bytes are taken after
//! they moved (a debt model): a peer that overdraws sleeps until the bucket is positive again,
//! which keeps the average at the limit without splitting reads into tiny pieces.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct RateLimiter {
    /// Bytes per second; 0 = unlimited.
    rate: AtomicU64,
    bucket: Mutex<Bucket>,
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
        }
    }

    pub fn set_rate(&self, rate: Option<u64>) {
        self.rate.store(rate.unwrap_or(0), Ordering::Relaxed);
    }

    /// Whether a limit is set.
    pub fn is_limited(&self) -> bool {
        self.rate.load(Ordering::Relaxed) != 0
    }

    /// How long the caller must wait after moving `n` bytes at `now`.
    pub fn take(&self, n: usize, now: Instant) -> Duration {
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
}

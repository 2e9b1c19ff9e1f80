//! LEDBAT congestion control as BEP 29 and libutp do it: the window grows while the queueing
//! delay we add (the one-way delay above the lowest seen) is under a 100 ms target and shrinks
//! past it, so a TCP flow sharing the bottleneck, which fills the queue, pushes us back.
//!
//! Delays come from the peer's `timestamp_difference` in its acks: its clock at receipt minus
//! ours at sending. The clocks' offset is in every sample, so only the difference to the
//! base delay (the minimum over the last minutes) means anything.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The queueing delay LEDBAT aims at (BEP 29, libutp's `CCONTROL_TARGET`).
pub const TARGET_DELAY_US: u32 = 100_000;
/// How much the window may grow in one round trip at zero delay (libutp's
/// `MAX_CWND_INCREASE_BYTES_PER_RTT`).
pub const GAIN_BYTES_PER_RTT: f64 = 3000.0;
/// The window's floor: one packet always fits.
pub const MIN_CWND: usize = 1500;
/// The window's ceiling: what one connection may have in flight.
pub const MAX_CWND: usize = 4 << 20;
/// A new connection's window (as libtorrent: a few packets).
pub const INITIAL_CWND: usize = 16 * 1400;
/// The base delay is the minimum over this many one-minute buckets (libutp keeps 13; the
/// shorter history follows a route change sooner).
const BASE_BUCKETS: usize = 10;
const BUCKET: Duration = Duration::from_secs(60);
/// The current delay is the minimum of the last few samples, which filters one late packet.
const CURRENT_SAMPLES: usize = 4;

#[derive(Debug, Clone)]
pub struct Ledbat {
    cwnd: f64,
    /// In slow start the window doubles each round trip until the delay nears the target
    /// or a packet is lost (libtorrent does the same: plain LEDBAT takes seconds to fill a
    /// fast link).
    slow_start: bool,
    base: VecDeque<(Instant, u32)>,
    current: VecDeque<u32>,
    /// When the window last shrank for a loss: once per round trip at most.
    last_cut: Option<Instant>,
}

impl Ledbat {
    pub fn new() -> Ledbat {
        Ledbat {
            cwnd: INITIAL_CWND as f64,
            slow_start: true,
            base: VecDeque::with_capacity(BASE_BUCKETS + 1),
            current: VecDeque::with_capacity(CURRENT_SAMPLES + 1),
            last_cut: None,
        }
    }

    /// Bytes that may be in flight.
    pub fn window(&self) -> usize {
        self.cwnd as usize
    }

    pub fn in_slow_start(&self) -> bool {
        self.slow_start
    }

    /// Records a one-way delay sample (a `timestamp_difference` from the peer).
    pub fn delay_sample(&mut self, now: Instant, sample_us: u32) {
        match self.base.back_mut() {
            Some((start, min)) if now.saturating_duration_since(*start) < BUCKET => {
                // Wrapping compare: the peer's clock minus ours may wrap u32.
                if (sample_us.wrapping_sub(*min) as i32) < 0 {
                    *min = sample_us;
                }
            }
            _ => {
                self.base.push_back((now, sample_us));
                if self.base.len() > BASE_BUCKETS {
                    self.base.pop_front();
                }
            }
        }
        self.current.push_back(sample_us);
        if self.current.len() > CURRENT_SAMPLES {
            self.current.pop_front();
        }
    }

    /// The queueing delay we measure now: the current delay above the base one.
    pub fn queueing_delay_us(&self) -> Option<u32> {
        let base = self.base.iter().map(|&(_, d)| d).reduce(|a, b| {
            if (b.wrapping_sub(a) as i32) < 0 {
                b
            } else {
                a
            }
        })?;
        let current = self.current.iter().copied().reduce(|a, b| {
            if (b.wrapping_sub(a) as i32) < 0 {
                b
            } else {
                a
            }
        })?;
        Some(current.wrapping_sub(base).min(i32::MAX as u32))
    }

    /// `acked` bytes were acknowledged while `flight` bytes were out (before the ack).
    pub fn on_ack(&mut self, acked: usize, flight: usize) {
        let delay = self.queueing_delay_us().unwrap_or(0);
        let before = self.cwnd;
        if self.slow_start {
            if delay > TARGET_DELAY_US / 2 {
                self.slow_start = false;
            } else {
                self.cwnd += acked as f64;
            }
        }
        if !self.slow_start {
            let off_target =
                (f64::from(TARGET_DELAY_US) - f64::from(delay)) / f64::from(TARGET_DELAY_US);
            if off_target >= 0.0 {
                // libutp: the gain scaled by how far under target the delay is and by the
                // share of the window this ack covers.
                let window_factor = acked as f64 / self.cwnd.max(acked as f64);
                self.cwnd += GAIN_BYTES_PER_RTT * off_target * window_factor;
            } else {
                // Over target the window shrinks in proportion to the excess, by at most half
                // a window per round trip (LEDBAT++'s multiplicative decrease): libutp's
                // linear one takes tens of seconds to drain a queue that slow start filled.
                self.cwnd -= acked as f64 * (-off_target).min(0.5);
            }
        }
        // A window far above what is in flight was never tested: it may not grow further
        // (RFC 6817's "cwnd-limited" rule), which keeps an idle connection from bursting.
        let limit = (flight as f64 * 2.0).max(INITIAL_CWND as f64);
        if before >= limit && self.cwnd > before {
            self.cwnd = before;
        }
        self.clamp();
    }

    /// A packet was lost (fast retransmit): halve the window, once per round trip.
    pub fn on_loss(&mut self, now: Instant, rtt: Duration) {
        if self
            .last_cut
            .is_some_and(|t| now.saturating_duration_since(t) < rtt)
        {
            return;
        }
        self.last_cut = Some(now);
        self.slow_start = false;
        self.cwnd /= 2.0;
        self.clamp();
    }

    /// The retransmission timer fired: start again from one packet (libutp).
    pub fn on_timeout(&mut self) {
        self.slow_start = false;
        self.cwnd = MIN_CWND as f64;
    }

    fn clamp(&mut self) {
        self.cwnd = self.cwnd.clamp(MIN_CWND as f64, MAX_CWND as f64);
    }
}

impl Default for Ledbat {
    fn default() -> Self {
        Ledbat::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(samples: &[u32]) -> Ledbat {
        let now = Instant::now();
        let mut l = Ledbat::new();
        for s in samples {
            l.delay_sample(now, *s);
        }
        l
    }

    #[test]
    fn grows_in_slow_start_while_the_queue_is_empty() {
        let mut l = fed(&[5000, 5000]);
        let before = l.window();
        l.on_ack(14000, before);
        assert_eq!(l.window(), before + 14000);
        assert!(l.in_slow_start());
    }

    #[test]
    fn a_delay_past_the_target_ends_slow_start_and_shrinks_the_window() {
        let now = Instant::now();
        let mut l = fed(&[1000]);
        for _ in 0..20 {
            l.on_ack(14000, l.window());
        }
        let big = l.window();
        // 150 ms above the base delay.
        for _ in 0..CURRENT_SAMPLES {
            l.delay_sample(now, 151_000);
        }
        assert_eq!(l.queueing_delay_us(), Some(150_000));
        for _ in 0..200 {
            l.on_ack(1400, l.window());
        }
        assert!(!l.in_slow_start());
        assert!(l.window() < big, "{} !< {big}", l.window());
    }

    #[test]
    fn below_target_it_grows_by_at_most_the_gain_per_window() {
        let mut l = fed(&[1000]);
        l.slow_start = false;
        let w = l.window();
        // One window's worth of acks at zero queueing delay adds about the gain.
        let mut acked = 0;
        while acked < w {
            l.on_ack(1400, w);
            acked += 1400;
        }
        let grown = l.window() - w;
        assert!((2500..=3300).contains(&grown), "grew {grown}");
    }

    #[test]
    fn loss_halves_once_per_rtt_and_timeout_collapses() {
        let now = Instant::now();
        let mut l = fed(&[0]);
        for _ in 0..50 {
            l.on_ack(14000, l.window());
        }
        let w = l.window();
        l.on_loss(now, Duration::from_millis(50));
        assert_eq!(l.window(), w / 2);
        l.on_loss(now + Duration::from_millis(10), Duration::from_millis(50));
        assert_eq!(l.window(), w / 2);
        l.on_timeout();
        assert_eq!(l.window(), MIN_CWND);
    }

    #[test]
    fn the_window_stays_in_its_bounds() {
        let now = Instant::now();
        let mut l = fed(&[0]);
        for _ in 0..10_000 {
            l.on_ack(60_000, MAX_CWND);
        }
        assert_eq!(l.window(), MAX_CWND);
        for _ in 0..CURRENT_SAMPLES {
            l.delay_sample(now, 5_000_000);
        }
        for _ in 0..100_000 {
            l.on_ack(60_000, MAX_CWND);
        }
        assert_eq!(l.window(), MIN_CWND);
    }

    #[test]
    fn base_delay_survives_clock_wrap() {
        let l = fed(&[u32::MAX - 10, 5]);
        // 5 is 16 µs after u32::MAX - 10: the base is the earlier one.
        assert_eq!(l.queueing_delay_us(), Some(0));
        let l = fed(&[u32::MAX - 10, u32::MAX - 10, u32::MAX - 10, u32::MAX - 10]);
        assert_eq!(l.queueing_delay_us(), Some(0));
    }
}

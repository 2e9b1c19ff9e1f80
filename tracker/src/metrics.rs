//! Counters for `/metrics` (Prometheus text format). Relaxed atomics: these are statistics.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::store::Totals;

#[derive(Debug, Default)]
pub struct Metrics {
    pub http_announce_ok: AtomicU64,
    pub http_announce_failed: AtomicU64,
    pub http_scrape_ok: AtomicU64,
    pub http_scrape_failed: AtomicU64,
    pub udp_connect: AtomicU64,
    pub udp_announce_ok: AtomicU64,
    pub udp_announce_failed: AtomicU64,
    pub udp_scrape: AtomicU64,
    pub udp_bad: AtomicU64,
    pub publish_ok: AtomicU64,
    pub publish_refused: AtomicU64,
    pub pages: AtomicU64,
    pub not_found: AtomicU64,
    /// Requests hyper refused before the service saw them (bad request line, oversized head,
    /// a head never finished).
    pub http_refused: AtomicU64,
    /// Announces answered by the fast path (also counted in `http_announce_*`).
    pub http_fast: AtomicU64,
    /// Connections closed at once: `--max-connections` were open.
    pub connections_refused: AtomicU64,
    /// Connections dropped because the client read no reply for `--write-timeout`.
    pub write_timeouts: AtomicU64,
}

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl Metrics {
    pub fn render(&self, totals: &Totals, published: usize) -> String {
        let mut s = String::with_capacity(2048);
        let g = |c: &AtomicU64| c.load(Relaxed);
        s.push_str("# HELP bttrack_requests_total Requests by protocol, kind and outcome.\n");
        s.push_str("# TYPE bttrack_requests_total counter\n");
        for (proto, kind, outcome, c) in [
            ("http", "announce", "ok", &self.http_announce_ok),
            ("http", "announce", "failed", &self.http_announce_failed),
            ("http", "scrape", "ok", &self.http_scrape_ok),
            ("http", "scrape", "failed", &self.http_scrape_failed),
            ("http", "publish", "ok", &self.publish_ok),
            ("http", "publish", "refused", &self.publish_refused),
            ("http", "page", "ok", &self.pages),
            ("http", "other", "not_found", &self.not_found),
            ("http", "malformed", "refused", &self.http_refused),
            ("udp", "connect", "ok", &self.udp_connect),
            ("udp", "announce", "ok", &self.udp_announce_ok),
            ("udp", "announce", "failed", &self.udp_announce_failed),
            ("udp", "scrape", "ok", &self.udp_scrape),
            ("udp", "malformed", "failed", &self.udp_bad),
        ] {
            let _ = writeln!(
                s,
                "bttrack_requests_total{{protocol=\"{proto}\",kind=\"{kind}\",outcome=\"{outcome}\"}} {}",
                g(c)
            );
        }
        let _ = writeln!(
            s,
            "# HELP bttrack_http_fast_path_total HTTP announces answered without hyper (one-shot connections whose whole request came in the first read; also counted in bttrack_requests_total).\n# TYPE bttrack_http_fast_path_total counter\nbttrack_http_fast_path_total {}",
            g(&self.http_fast)
        );
        for (name, help, c) in [
            (
                "bttrack_connections_refused_total",
                "HTTP connections closed on accept because --max-connections were open.",
                &self.connections_refused,
            ),
            (
                "bttrack_write_timeouts_total",
                "HTTP connections dropped because the client read no reply for --write-timeout.",
                &self.write_timeouts,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                g(c)
            );
        }
        for (name, help, v) in [
            (
                "bttrack_torrents",
                "Swarms with at least one peer.",
                totals.torrents as u64,
            ),
            ("bttrack_peers", "Peers held.", totals.peers as u64),
            (
                "bttrack_seeders",
                "Peers with nothing left to download.",
                totals.seeders,
            ),
            (
                "bttrack_leechers",
                "Peers still downloading.",
                totals.leechers,
            ),
            (
                "bttrack_published_torrents",
                "Torrents published through /publish/.",
                published as u64,
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        s
    }
}

//! A torrent's lifetime totals (bytes uploaded, seconds seeded): carried over from its resume
//! record at start, counted on in this run, and written back with the record, so ratio and
//! seeding-time goals span restarts.

use std::time::{Duration, Instant};

use super::Torrent;
use crate::resume::Totals;

/// Seeding time alone (no upload, no new piece) is written at most this often, so a crash costs
/// at most that much of it and an idle seed's record is not rewritten every few seconds.
const SEEDING_TIME_EVERY: Duration = Duration::from_secs(600);

impl Torrent {
    /// Bytes uploaded over the torrent's life.
    pub(super) fn lifetime_uploaded(&self) -> u64 {
        self.uploaded_before + self.uploaded()
    }

    pub(super) fn totals(&self, now: Instant) -> Totals {
        Totals {
            uploaded: self.lifetime_uploaded(),
            seeding_secs: self.seeding_now(now).as_secs(),
        }
    }

    /// Whether the totals moved on enough for the clock to write the record: any upload, or
    /// `SEEDING_TIME_EVERY` of seeding (stopping writes whatever changed).
    pub(super) fn totals_due(&self, now: Instant) -> bool {
        let t = self.totals(now);
        t.uploaded != self.saved_totals.uploaded
            || t.seeding_secs >= self.saved_totals.seeding_secs + SEEDING_TIME_EVERY.as_secs()
    }
}

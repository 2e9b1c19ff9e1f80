//! Seeding goals: when a finished torrent has shared enough. A torrent seeds until it has uploaded
//! `ratio` times its size, or until it has seeded for `time_secs` seconds, whichever comes first;
//! either may be absent (no limit). A torrent's own goal either follows the global default, is
//! lifted (`Unlimited`) or is a value of its own; [`Goal::resolve`] says which applies.
//!
//! Pure: the caller counts the bytes and the seconds and decides what reaching a goal does.

/// One of a torrent's own goals (its ratio or its seeding time), as the user set it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Goal<T> {
    /// Whatever the global setting says (the default, also after the user resets it).
    #[default]
    Follow,
    /// No limit for this torrent, whatever the global setting says.
    Unlimited,
    /// This torrent's own limit.
    Value(T),
}

impl<T: Copy> Goal<T> {
    /// The limit that applies, given the global one (`None` = no limit).
    pub fn resolve(self, global: Option<T>) -> Option<T> {
        match self {
            Goal::Follow => global,
            Goal::Unlimited => None,
            Goal::Value(v) => Some(v),
        }
    }

    pub fn is_follow(&self) -> bool {
        matches!(self, Goal::Follow)
    }
}

/// The limits that apply to one torrent (`None` = no limit of that kind).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SeedGoals {
    /// Stop once uploaded >= ratio x size.
    pub ratio: Option<f64>,
    /// Stop once it has seeded (complete, not paused) this many seconds.
    pub time_secs: Option<u64>,
}

impl SeedGoals {
    /// A torrent's own goals over the global ones.
    pub fn resolve(ratio: Goal<f64>, time_secs: Goal<u64>, global: SeedGoals) -> SeedGoals {
        SeedGoals {
            ratio: ratio.resolve(global.ratio),
            time_secs: time_secs.resolve(global.time_secs),
        }
    }
}

/// Which goal a torrent reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Ratio,
    Time,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ratio => "ratio",
            Reason::Time => "time",
        }
    }
}

/// Whether a seeding torrent of `size` bytes that uploaded `uploaded` bytes and seeded
/// `seeding_secs` seconds has reached one of `goals` (the ratio is looked at first).
///
/// The ratio is "uploaded >= ratio x size", compared without dividing, so a torrent of zero
/// bytes (only empty files) reaches any ratio at once: it has nothing to share, and seeding it
/// forever would hold a slot for nothing.
pub fn reached(goals: SeedGoals, uploaded: u64, size: u64, seeding_secs: u64) -> Option<Reason> {
    if let Some(ratio) = goals.ratio {
        if uploaded as f64 >= ratio * size as f64 {
            return Some(Reason::Ratio);
        }
    }
    if let Some(limit) = goals.time_secs {
        if seeding_secs >= limit {
            return Some(Reason::Time);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn goals(ratio: Option<f64>, time_secs: Option<u64>) -> SeedGoals {
        SeedGoals { ratio, time_secs }
    }

    #[test]
    fn the_ratio_is_reached_once_uploaded_reaches_ratio_times_size() {
        let g = goals(Some(1.0), None);
        assert_eq!(reached(g, MIB - 1, MIB, 0), None);
        assert_eq!(reached(g, MIB, MIB, 0), Some(Reason::Ratio));
        let g = goals(Some(2.5), None);
        assert_eq!(reached(g, 2 * MIB, MIB, 1_000_000), None);
        assert_eq!(reached(g, 5 * MIB / 2, MIB, 0), Some(Reason::Ratio));
        // Ratio 0: done as soon as it seeds (`bthelper download --seed-ratio 0`).
        assert_eq!(
            reached(goals(Some(0.0), None), 0, MIB, 0),
            Some(Reason::Ratio)
        );
    }

    #[test]
    fn the_time_is_reached_after_that_many_seconds_of_seeding() {
        let g = goals(None, Some(3600));
        assert_eq!(reached(g, 100 * MIB, MIB, 3599), None);
        assert_eq!(reached(g, 0, MIB, 3600), Some(Reason::Time));
        assert_eq!(reached(g, 0, MIB, 7200), Some(Reason::Time));
    }

    #[test]
    fn whichever_comes_first_and_the_ratio_is_named_when_both() {
        let g = goals(Some(1.0), Some(10));
        assert_eq!(reached(g, 0, MIB, 9), None);
        assert_eq!(reached(g, 0, MIB, 10), Some(Reason::Time));
        assert_eq!(reached(g, MIB, MIB, 1), Some(Reason::Ratio));
        assert_eq!(reached(g, MIB, MIB, 10), Some(Reason::Ratio));
    }

    #[test]
    fn unlimited_is_never_reached() {
        let g = goals(None, None);
        assert_eq!(reached(g, u64::MAX, 1, u64::MAX), None);
        assert_eq!(reached(g, u64::MAX, 0, u64::MAX), None);
    }

    #[test]
    fn a_zero_byte_torrent_reaches_any_ratio_at_once_but_not_a_time() {
        assert_eq!(
            reached(goals(Some(5.0), None), 0, 0, 0),
            Some(Reason::Ratio)
        );
        assert_eq!(reached(goals(None, Some(60)), 0, 0, 59), None);
        assert_eq!(reached(goals(None, Some(60)), 0, 0, 60), Some(Reason::Time));
    }

    #[test]
    fn a_torrents_goal_follows_is_lifted_or_overrides_the_global_one() {
        let global = goals(Some(2.0), Some(3600));
        assert_eq!(
            SeedGoals::resolve(Goal::Follow, Goal::Follow, global),
            global
        );
        assert_eq!(
            SeedGoals::resolve(Goal::Unlimited, Goal::Value(60), global),
            goals(None, Some(60))
        );
        assert_eq!(
            SeedGoals::resolve(Goal::Value(0.5), Goal::Unlimited, global),
            goals(Some(0.5), None)
        );
        // Following a global "no limit" is no limit.
        assert_eq!(
            SeedGoals::resolve(Goal::Follow, Goal::Follow, SeedGoals::default()),
            SeedGoals::default()
        );
        assert!(Goal::<u64>::default().is_follow());
    }
}

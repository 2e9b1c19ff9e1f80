//! The open file handles of one torrent, at most `max` at a time, the least recently used closed
//! first. A torrent of 10,000 files touches them all while checking and downloading; keeping a
//! descriptor per file would exhaust the process's limit (1024 by default on Linux), after which
//! every other torrent, peer socket and the daemon's accept fail too.

use std::collections::BTreeMap;
use std::fs::File;

/// Handles one torrent keeps open by default: enough for the files a few pieces span, small
/// enough that hundreds of torrents fit under a raised descriptor limit.
pub const DEFAULT_MAX_OPEN_FILES: usize = 128;

#[derive(Debug)]
struct Open {
    file: File,
    writable: bool,
    used: u64,
}

#[derive(Debug)]
pub(crate) struct Handles {
    slots: Vec<Option<Open>>,
    /// `used` stamp -> file index, oldest first.
    by_age: BTreeMap<u64, usize>,
    clock: u64,
    max: usize,
}

impl Handles {
    pub(crate) fn new(files: usize, max: usize) -> Handles {
        Handles {
            slots: (0..files).map(|_| None).collect(),
            by_age: BTreeMap::new(),
            clock: 0,
            max: max.max(1),
        }
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn set_max(&mut self, max: usize) {
        self.max = max.max(1);
        while self.by_age.len() > self.max {
            self.evict_oldest();
        }
    }

    /// The open handle of file `i`, if it is open and (when `write`) writable; marks it used.
    pub(crate) fn get(&mut self, i: usize, write: bool) -> Option<&File> {
        let clock = self.clock + 1;
        let open = self.slots.get_mut(i)?.as_mut()?;
        if write && !open.writable {
            return None;
        }
        self.by_age.remove(&open.used);
        open.used = clock;
        self.by_age.insert(clock, i);
        self.clock = clock;
        Some(&open.file)
    }

    /// Keeps `file` as file `i`'s handle (replacing any older one), closing the least recently
    /// used handle first if the limit is reached.
    pub(crate) fn insert(&mut self, i: usize, file: File, writable: bool) -> &File {
        self.close(i);
        while self.by_age.len() >= self.max {
            self.evict_oldest();
        }
        self.clock += 1;
        self.by_age.insert(self.clock, i);
        let slot = &mut self.slots[i];
        &slot
            .insert(Open {
                file,
                writable,
                used: self.clock,
            })
            .file
    }

    pub(crate) fn close(&mut self, i: usize) {
        if let Some(open) = self.slots.get_mut(i).and_then(Option::take) {
            self.by_age.remove(&open.used);
        }
    }

    pub(crate) fn close_all(&mut self) {
        for slot in &mut self.slots {
            *slot = None;
        }
        self.by_age.clear();
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn open_count(&self) -> usize {
        self.by_age.len()
    }

    fn evict_oldest(&mut self) {
        if let Some((_, i)) = self.by_age.pop_first() {
            self.slots[i] = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_max_and_closes_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let file = |n: usize| {
            let p = dir.path().join(n.to_string());
            std::fs::write(&p, b"x").unwrap();
            File::open(p).unwrap()
        };
        let mut h = Handles::new(5, 2);
        h.insert(0, file(0), false);
        h.insert(1, file(1), true);
        assert!(h.get(0, false).is_some(), "0 is now the most recent");
        h.insert(2, file(2), false);
        assert_eq!(h.open_count(), 2);
        assert!(h.get(1, false).is_none(), "1 was the least recently used");
        assert!(h.get(0, false).is_some() && h.get(2, false).is_some());
        assert!(h.get(0, true).is_none(), "opened read-only");
        h.insert(0, file(0), true);
        assert_eq!(h.open_count(), 2, "a reopen replaces, it does not add");
        assert!(h.get(0, true).is_some());
        h.set_max(1);
        assert_eq!(h.open_count(), 1);
        h.close_all();
        assert_eq!(h.open_count(), 0);
        assert!(h.get(9, false).is_none(), "out of range is just absent");
    }
}

//! The torrents `Session::add` is laying out on a blocking thread: reserved under the session's
//! `torrents` lock, so a second add of one of them is refused while the lock is not held.

use std::collections::HashSet;
use std::sync::Mutex;

use protocol::InfoHash;

pub(crate) type Adding = Mutex<HashSet<InfoHash>>;

pub(crate) fn is_reserved(set: &Adding, ih: &InfoHash) -> bool {
    set.lock().unwrap_or_else(|e| e.into_inner()).contains(ih)
}

/// A torrent in `Inner::adding` until this is dropped (also when its add fails or is cancelled).
pub(crate) struct Reservation<'a> {
    set: &'a Adding,
    ih: InfoHash,
}

impl<'a> Reservation<'a> {
    pub(crate) fn new(set: &'a Adding, ih: InfoHash) -> Self {
        set.lock().unwrap_or_else(|e| e.into_inner()).insert(ih);
        Reservation { set, ih }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        (self.set.lock().unwrap_or_else(|e| e.into_inner())).remove(&self.ih);
    }
}

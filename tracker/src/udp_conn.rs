//! BEP 15 connection ids without per-connection state: a keyed hash of the client's address and
//! the current two-minute window. An id is accepted in its window and the next one, so it lives
//! between 2 and 4 minutes (BEP 15 asks for at least 1).

use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;

const WINDOW_SECS: u64 = 120;

pub struct ConnectionIds {
    key: RandomState,
}

impl Default for ConnectionIds {
    fn default() -> Self {
        ConnectionIds {
            key: RandomState::new(),
        }
    }
}

impl ConnectionIds {
    fn id(&self, addr: SocketAddr, window: u64) -> u64 {
        self.key.hash_one((addr, window))
    }

    pub fn issue(&self, addr: SocketAddr, now_secs: u64) -> u64 {
        self.id(addr, now_secs / WINDOW_SECS)
    }

    pub fn check(&self, id: u64, addr: SocketAddr, now_secs: u64) -> bool {
        let w = now_secs / WINDOW_SECS;
        id == self.id(addr, w) || (w > 0 && id == self.id(addr, w - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bound_to_address_and_expire() {
        let ids = ConnectionIds::default();
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let t = 1_700_000_000;
        let id = ids.issue(a, t);
        assert!(ids.check(id, a, t));
        assert!(ids.check(id, a, t + WINDOW_SECS));
        assert!(!ids.check(id, a, t + 3 * WINDOW_SECS));
        assert!(!ids.check(id, b, t));
        assert!(!ids.check(id ^ 1, a, t));
        // Another process (another key) does not accept our ids.
        assert!(!ConnectionIds::default().check(id, a, t));
    }
}

//! BEP 15 connection ids without per-connection state: a keyed hash of the client's IP address
//! and the current two-minute window. An id is accepted in its window and the next one, so it lives
//! between 2 and 4 minutes (BEP 15 asks for at least 1).

use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::{IpAddr, SocketAddr};

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
    /// SipHash-1-3 (std's keyed hasher) over two or three whole words: hashing the
    /// `(SocketAddr, u64)` tuple fed it five small pieces (enum tags, octets, port), and the
    /// byte-wise tail handling of those showed as ~5% of a UDP announce's user time.
    ///
    /// The id is bound to the client's IP address, not its port, as opentracker and aquatic do:
    /// the id exists to prove the client receives at that address (no spoofed sources), which
    /// the port adds nothing to; and libtorrent caches one id per tracker for its whole process,
    /// so a second session (another source port) in the same process presents the first one's
    /// id (with the port in the hash, its announces were refused and it never found peers).
    fn id(&self, ip: IpAddr, window: u64) -> u64 {
        let mut h = self.key.build_hasher();
        match ip {
            // Bit 62 tells the families apart.
            IpAddr::V4(ip) => h.write_u64(1 << 62 | u64::from(ip.to_bits())),
            IpAddr::V6(ip) => h.write_u128(ip.to_bits()),
        }
        h.write_u64(window);
        h.finish()
    }

    pub fn issue(&self, addr: SocketAddr, now_secs: u64) -> u64 {
        self.id(addr.ip(), now_secs / WINDOW_SECS)
    }

    pub fn check(&self, id: u64, addr: SocketAddr, now_secs: u64) -> bool {
        let (ip, w) = (addr.ip(), now_secs / WINDOW_SECS);
        id == self.id(ip, w) || (w > 0 && id == self.id(ip, w - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bound_to_the_ip_and_expire() {
        let ids = ConnectionIds::default();
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let same_ip: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let other_ip: SocketAddr = "127.0.0.2:1000".parse().unwrap();
        let t = 1_700_000_000;
        let id = ids.issue(a, t);
        assert!(ids.check(id, a, t));
        assert!(ids.check(id, a, t + WINDOW_SECS));
        assert!(!ids.check(id, a, t + 3 * WINDOW_SECS));
        // Another socket of the same host (libtorrent shares one id per process) is accepted;
        // another host is not.
        assert!(ids.check(id, same_ip, t));
        assert!(!ids.check(id, other_ip, t));
        assert!(!ids.check(id ^ 1, a, t));
        // IPv6 addresses get ids of their own, and a v4 id is no v6 one.
        let c: SocketAddr = "[::1]:1000".parse().unwrap();
        let d: SocketAddr = "[::2]:1000".parse().unwrap();
        let id6 = ids.issue(c, t);
        assert!(ids.check(id6, c, t + WINDOW_SECS));
        assert!(!ids.check(id6, d, t));
        assert!(!ids.check(id, c, t) && !ids.check(id6, a, t));
        // Another process (another key) does not accept our ids.
        assert!(!ConnectionIds::default().check(id, a, t));
    }
}

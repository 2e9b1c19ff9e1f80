//! Who a misbehaving peer is, and how much we remember about it.
//!
//! A poisoner that is banned by `IP:port` or by peer id comes straight back with a new source
//! port and a fresh id, so misbehaviour is keyed by address: the whole IPv4 address, or the
//! /64 prefix of an IPv6 one (what one host or one subscriber line gets). Every map an
//! outsider can grow has a size cap: when full, the oldest entry is forgotten first, so a flood
//! of addresses costs a bounded amount of memory and evicts only other flooders' records.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};

/// One host as far as bans and caps are concerned: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpKey {
    V4([u8; 4]),
    V6([u8; 8]),
}

impl From<IpAddr> for IpKey {
    fn from(ip: IpAddr) -> IpKey {
        match ip {
            IpAddr::V4(v4) => IpKey::V4(v4.octets()),
            // An IPv4 peer on a dual-stack socket is the same host as over IPv4.
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpKey::V4(v4.octets()),
                None => {
                    let o = v6.octets();
                    IpKey::V6([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

/// This machine's own programs (127.0.0.1, ::1): not held to the per-host cap, which is about
/// remote hosts, and charged per address and port, not as a whole: tests and local clients run
/// many peers there. Other loopback addresses (127.0.0.2, ...) are treated as remote hosts.
pub fn is_own_machine(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => {
            v6 == std::net::Ipv6Addr::LOCALHOST
                || v6.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

/// Who a peer's misbehaviour (a bad piece, a strike) is charged to: its host, or on this
/// machine's own address (see [`is_own_machine`]) the one program at that address and port, so
/// an honest local peer never pays for a lying one beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Offender {
    Host(IpKey),
    Local(SocketAddr),
}

impl From<SocketAddr> for Offender {
    fn from(addr: SocketAddr) -> Offender {
        if is_own_machine(addr.ip()) {
            // An IPv4 program on a dual-stack socket is the same program as over IPv4.
            Offender::Local(SocketAddr::new(addr.ip().to_canonical(), addr.port()))
        } else {
            Offender::Host(IpKey::from(addr.ip()))
        }
    }
}

/// A map with a size cap that forgets its oldest entries (by first insertion) when full.
#[derive(Debug, Clone)]
pub struct BoundedMap<K, V> {
    cap: usize,
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Copy + Eq + Hash, V> BoundedMap<K, V> {
    /// A map holding at most `cap` entries (at least one).
    pub fn new(cap: usize) -> Self {
        BoundedMap {
            cap: cap.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.map.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entry for `key`, made with `make` (evicting the oldest entry if full) when absent.
    pub fn entry_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.cap {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                self.map.remove(&old);
            }
            self.order.push_back(key);
        }
        self.map.entry(key).or_insert_with(make)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let v = self.map.remove(key)?;
        self.order.retain(|k| k != key);
        Some(v)
    }
}

/// Hosts banned for misbehaviour: a capped set keyed by [`IpKey`].
#[derive(Debug, Clone)]
pub struct BanList {
    banned: BoundedMap<IpKey, ()>,
}

/// Banned hosts remembered per torrent; past this the oldest bans are forgotten.
pub const MAX_BANS: usize = 4096;

impl Default for BanList {
    fn default() -> Self {
        BanList::new(MAX_BANS)
    }
}

impl BanList {
    pub fn new(cap: usize) -> Self {
        BanList {
            banned: BoundedMap::new(cap),
        }
    }

    pub fn ban(&mut self, ip: IpAddr) {
        self.banned.entry_or_insert_with(IpKey::from(ip), || ());
    }

    pub fn is_banned(&self, ip: IpAddr) -> bool {
        self.banned.contains_key(&IpKey::from(ip))
    }

    pub fn len(&self) -> usize {
        self.banned.len()
    }

    pub fn is_empty(&self) -> bool {
        self.banned.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn local_programs_are_charged_apart_and_remote_hosts_as_a_whole() {
        let local = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert_ne!(Offender::from(local(6881)), Offender::from(local(6882)));
        let mapped = SocketAddr::from((Ipv4Addr::LOCALHOST.to_ipv6_mapped(), 6881));
        assert_eq!(Offender::from(mapped), Offender::from(local(6881)));
        let remote = |port| SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), port));
        assert_eq!(Offender::from(remote(6881)), Offender::from(remote(6882)));
        let other_loopback = |port| SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), port));
        assert_eq!(
            Offender::from(other_loopback(1)),
            Offender::from(other_loopback(2))
        );
    }

    #[test]
    fn ipv6_hosts_are_keyed_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(IpKey::from(a), IpKey::from(b));
        assert_ne!(IpKey::from(a), IpKey::from(c));
    }

    #[test]
    fn mapped_ipv4_is_the_same_host_as_ipv4() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped());
        assert_eq!(IpKey::from(v4), IpKey::from(mapped));
        assert_ne!(
            IpKey::from(v4),
            IpKey::from(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 4)))
        );
    }

    #[test]
    fn a_ban_covers_every_port_of_the_host() {
        let mut bans = BanList::default();
        bans.ban("192.0.2.7".parse().unwrap());
        assert!(bans.is_banned("192.0.2.7".parse().unwrap()));
        assert!(!bans.is_banned("192.0.2.8".parse().unwrap()));
        bans.ban(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1)));
        assert!(bans.is_banned(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 9, 9, 9, 9))));
    }

    #[test]
    fn maps_stay_within_their_cap_and_forget_the_oldest() {
        let mut bans = BanList::new(3);
        for i in 0..100u8 {
            bans.ban(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)));
            assert!(bans.len() <= 3);
        }
        assert!(bans.is_banned(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99))));
        assert!(!bans.is_banned(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0))));

        let mut m: BoundedMap<u32, u32> = BoundedMap::new(2);
        *m.entry_or_insert_with(1, || 0) += 5;
        *m.entry_or_insert_with(1, || 0) += 5;
        assert_eq!(m.get(&1), Some(&10));
        m.entry_or_insert_with(2, || 0);
        m.entry_or_insert_with(3, || 0);
        assert_eq!((m.len(), m.get(&1)), (2, None));
        assert_eq!(m.remove(&2), Some(0));
        assert_eq!(m.len(), 1);
    }
}

//! The peers of one swarm as flat arrays of compact entries: no per-peer heap allocation, no
//! index beside the entries. A million swarms of ten peers each is the case this is shaped for:
//! a small swarm is one exact-size array of 8-byte IPv4 entries (its length is the swarm's
//! peer count, kept by the caller, so the array needs no header); a big swarm, or one with an
//! IPv6 peer, splits its IPv4 entries into buckets by a keyed hash of the address, each bucket
//! short enough to scan, and keeps IPv6 peers (20 bytes each) in an array of their own.
//!
//! An IPv4 entry is a `u64`: bits 0..48 are `ip << 16 | port` (the compact form, and the peer's
//! identity: one IP can run many peers), bits 48..64 the peer's [`Meta`].

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

const ADDR_MASK: u64 = (1 << 48) - 1;
/// A small swarm holds at most this many IPv4 peers in its one array (a scan of 512 bytes).
pub const SMALL_MAX: usize = 64;
/// A big swarm's bucket holds about this many IPv4 peers before the buckets double.
const BUCKET_TARGET: usize = 96;

/// A peer's 16 bits of state: the coarse time it last announced (15 bits) and "seeder".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta(pub u16);

impl Meta {
    pub const SEEDER: u16 = 0x8000;
    pub fn is_seeder(self) -> bool {
        self.0 & Self::SEEDER != 0
    }
    pub fn tick(self) -> u16 {
        self.0 & !Self::SEEDER
    }
}

/// A peer's address as the lists key it (v4-mapped IPv6 already made IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    V4(u64),
    V6([u8; 16], u16),
}

impl Key {
    pub fn of(addr: SocketAddr) -> Key {
        match addr {
            SocketAddr::V4(a) => Key::V4(u64::from(u32::from(*a.ip())) << 16 | u64::from(a.port())),
            SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
                Some(v4) => Key::of(SocketAddr::V4(SocketAddrV4::new(v4, a.port()))),
                None => Key::V6(a.ip().octets(), a.port()),
            },
        }
    }
}

fn v4_addr(entry: u64) -> SocketAddr {
    let key = entry & ADDR_MASK;
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::from((key >> 16) as u32),
        key as u16,
    ))
}

fn entry(key: u64, meta: Meta) -> u64 {
    key | u64::from(meta.0) << 48
}

fn meta_of(entry: u64) -> Meta {
    Meta((entry >> 48) as u16)
}

/// An IPv6 peer: its compact 18 bytes and its meta, 20 bytes with no padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V6Peer {
    ip: [u8; 16],
    port: u16,
    meta: Meta,
}

impl V6Peer {
    fn addr(&self) -> SocketAddr {
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(self.ip), self.port, 0, 0))
    }
}

fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

/// The keyed hash that spreads a big swarm's IPv4 peers over its buckets (keyed per process
/// and swarm, so nobody can aim many addresses at one bucket).
fn bucket_hash(key: u64, seed: u64) -> u64 {
    fold(key ^ seed, 0x9E37_79B9_7F4A_7C15)
}

/// Room for one more entry in an array holding `len`: exact steps (2 at a time while small,
/// then a quarter), so a swarm of ten holds ten or twelve slots, not sixteen.
fn room_for_one(slots: &mut Box<[u64]>, len: usize) {
    if len < slots.len() {
        return;
    }
    resize(slots, len, len + (len / 4).max(2));
}

fn resize(slots: &mut Box<[u64]>, len: usize, cap: usize) {
    let mut v = Vec::with_capacity(cap);
    v.extend_from_slice(&slots[..len]);
    v.resize(cap, 0);
    *slots = v.into_boxed_slice();
}

/// Gives back the slack an array has after removals (with hysteresis against flapping).
fn trim(slots: &mut Box<[u64]>, len: usize) {
    if slots.len() > len + len / 2 + 4 {
        resize(slots, len, len + 2);
    }
}

/// Vec growth for a big swarm's arrays: by an eighth, not double.
fn reserve_one<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 8).max(4));
    }
}

/// A big swarm's peers.
#[derive(Debug, Clone)]
pub struct Large {
    seed: u64,
    /// A power of two of arrays; an entry's bucket is the top `bits` of its keyed hash.
    buckets: Vec<Vec<u64>>,
    bits: u32,
    v4_len: usize,
    v6: Vec<V6Peer>,
}

impl Large {
    fn bucket_of(&self, key: u64) -> usize {
        if self.bits == 0 {
            0
        } else {
            (bucket_hash(key, self.seed) >> (64 - self.bits)) as usize
        }
    }

    /// Rebuilds the buckets at `bits` (splitting or merging), keeping every entry.
    fn rebucket(&mut self, bits: u32) {
        let old = std::mem::take(&mut self.buckets);
        self.bits = bits;
        let n = 1usize << bits;
        let per = self.v4_len / n + self.v4_len / n / 8 + 2;
        self.buckets = (0..n).map(|_| Vec::with_capacity(per)).collect();
        for e in old.into_iter().flatten() {
            let b = self.bucket_of(e & ADDR_MASK);
            self.buckets[b].push(e);
        }
    }

    /// Doubles the buckets past [`BUCKET_TARGET`] peers a bucket, halves them below a quarter
    /// of it (the gap keeps a swarm at a boundary from rebuilding on every announce).
    fn fit_buckets(&mut self) {
        let mut bits = self.bits;
        while self.v4_len > (BUCKET_TARGET << bits) {
            bits += 1;
        }
        while bits > 0 && self.v4_len < (BUCKET_TARGET << bits) / 4 {
            bits -= 1;
        }
        if bits != self.bits {
            self.rebucket(bits);
        }
    }
}

/// The peers of one swarm. The caller keeps the count (`len`) every method takes.
#[derive(Debug, Clone)]
pub enum Peers {
    /// Only IPv4 peers, at most [`SMALL_MAX`]; the first `len` slots are used.
    Small(Box<[u64]>),
    Large(Box<Large>),
}

impl Default for Peers {
    fn default() -> Peers {
        Peers::Small(Box::default())
    }
}

impl Peers {
    /// The peer's meta, if held.
    pub fn get(&self, key: Key, len: usize) -> Option<Meta> {
        match (self, key) {
            (Peers::Small(s), Key::V4(k)) => s[..len]
                .iter()
                .find(|&&e| e & ADDR_MASK == k)
                .map(|&e| meta_of(e)),
            (Peers::Small(_), Key::V6(..)) => None,
            (Peers::Large(l), Key::V4(k)) => l.buckets[l.bucket_of(k)]
                .iter()
                .find(|&&e| e & ADDR_MASK == k)
                .map(|&e| meta_of(e)),
            (Peers::Large(l), Key::V6(ip, port)) => {
                l.v6.iter()
                    .find(|p| p.ip == ip && p.port == port)
                    .map(|p| p.meta)
            }
        }
    }

    /// Sets the peer's meta, adding it if new; returns its old meta. `seed` keys the bucket
    /// hash should the swarm become big.
    pub fn upsert(&mut self, key: Key, meta: Meta, len: usize, seed: u64) -> Option<Meta> {
        if let (Peers::Small(s), Key::V4(k)) = (&mut *self, key) {
            if let Some(e) = s[..len].iter_mut().find(|e| **e & ADDR_MASK == k) {
                let old = meta_of(*e);
                *e = entry(k, meta);
                return Some(old);
            }
            if len < SMALL_MAX {
                room_for_one(s, len);
                s[len] = entry(k, meta);
                return None;
            }
        }
        let l = self.make_large(len, seed);
        match key {
            Key::V4(k) => {
                let b = l.bucket_of(k);
                let bucket = &mut l.buckets[b];
                if let Some(e) = bucket.iter_mut().find(|e| **e & ADDR_MASK == k) {
                    let old = meta_of(*e);
                    *e = entry(k, meta);
                    return Some(old);
                }
                reserve_one(bucket);
                bucket.push(entry(k, meta));
                l.v4_len += 1;
                l.fit_buckets();
                None
            }
            Key::V6(ip, port) => {
                if let Some(p) = l.v6.iter_mut().find(|p| p.ip == ip && p.port == port) {
                    return Some(std::mem::replace(&mut p.meta, meta));
                }
                reserve_one(&mut l.v6);
                l.v6.push(V6Peer { ip, port, meta });
                None
            }
        }
    }

    fn make_large(&mut self, len: usize, seed: u64) -> &mut Large {
        if let Peers::Small(s) = self {
            let mut l = Large {
                seed,
                buckets: vec![s[..len].to_vec()],
                bits: 0,
                v4_len: len,
                v6: Vec::new(),
            };
            l.fit_buckets();
            *self = Peers::Large(Box::new(l));
        }
        match self {
            Peers::Large(l) => l,
            Peers::Small(_) => unreachable!("made large above"),
        }
    }

    /// Removes the peer; returns its meta if it was held.
    pub fn remove(&mut self, key: Key, len: usize) -> Option<Meta> {
        let old = match (&mut *self, key) {
            (Peers::Small(s), Key::V4(k)) => {
                let i = s[..len].iter().position(|&e| e & ADDR_MASK == k)?;
                let old = meta_of(s[i]);
                s[i] = s[len - 1];
                trim(s, len - 1);
                old
            }
            (Peers::Small(_), Key::V6(..)) => return None,
            (Peers::Large(l), Key::V4(k)) => {
                let b = l.bucket_of(k);
                let i = l.buckets[b].iter().position(|&e| e & ADDR_MASK == k)?;
                l.v4_len -= 1;
                meta_of(l.buckets[b].swap_remove(i))
            }
            (Peers::Large(l), Key::V6(ip, port)) => {
                let i = l.v6.iter().position(|p| p.ip == ip && p.port == port)?;
                l.v6.swap_remove(i).meta
            }
        };
        self.settle(len - 1);
        Some(old)
    }

    /// Back to one small array when a big swarm has shrunk (and has no IPv6 peer); trims slack.
    fn settle(&mut self, len: usize) {
        let Peers::Large(l) = self else { return };
        if l.v6.is_empty() && l.v4_len <= SMALL_MAX / 2 {
            let mut s: Vec<u64> = Vec::with_capacity(l.v4_len + 2);
            l.buckets.iter().for_each(|b| s.extend_from_slice(b));
            s.resize(len + 2, 0);
            *self = Peers::Small(s.into_boxed_slice());
            return;
        }
        l.fit_buckets();
    }

    /// Keeps the peers `keep` accepts; returns the metas of those dropped through `gone`.
    pub fn retain(&mut self, len: usize, mut keep: impl FnMut(Meta) -> bool) -> usize {
        let kept = match self {
            Peers::Small(s) => {
                let mut n = 0;
                for i in 0..len {
                    if keep(meta_of(s[i])) {
                        s[n] = s[i];
                        n += 1;
                    }
                }
                trim(s, n);
                n
            }
            Peers::Large(l) => {
                for b in &mut l.buckets {
                    b.retain(|&e| keep(meta_of(e)));
                    if b.capacity() > b.len() * 2 + 8 {
                        b.shrink_to(b.len() + b.len() / 8);
                    }
                }
                l.v4_len = l.buckets.iter().map(Vec::len).sum();
                l.v6.retain(|p| keep(p.meta));
                l.v6.shrink_to(l.v6.len() + l.v6.len() / 8);
                l.v4_len + l.v6.len()
            }
        };
        self.settle(kept);
        kept
    }

    /// Every peer with its meta, IPv4 first, starting at position `start` (modulo the IPv4
    /// count) and wrapping around, so any peer can come first in a reply.
    pub fn visit(&self, len: usize, start: usize, mut f: impl FnMut(SocketAddr, Meta) -> bool) {
        match self {
            Peers::Small(s) => {
                let s = &s[..len];
                let from = start % len.max(1);
                for &e in s[from..].iter().chain(&s[..from]) {
                    if !f(v4_addr(e), meta_of(e)) {
                        return;
                    }
                }
            }
            Peers::Large(l) => {
                // Find the bucket and offset of the start in the buckets laid end to end.
                let mut skip = start % l.v4_len.max(1);
                let mut first = 0;
                while first < l.buckets.len() && skip >= l.buckets[first].len() {
                    skip -= l.buckets[first].len();
                    first += 1;
                }
                let n = l.buckets.len();
                let (head, tail) = match l.buckets.get(first) {
                    Some(b) => b.split_at(skip),
                    None => (&[][..], &[][..]),
                };
                let v4 = tail
                    .iter()
                    .chain((first + 1..n).chain(0..first).flat_map(|i| &l.buckets[i]))
                    .chain(head);
                for &e in v4 {
                    if !f(v4_addr(e), meta_of(e)) {
                        return;
                    }
                }
                for p in &l.v6 {
                    if !f(p.addr(), p.meta) {
                        return;
                    }
                }
            }
        }
    }

    /// Heap bytes these peers hold (array payloads, not the allocator's own overhead).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Peers::Small(s) => s.len() * 8,
            Peers::Large(l) => {
                std::mem::size_of::<Large>()
                    + l.buckets.capacity() * std::mem::size_of::<Vec<u64>>()
                    + l.buckets.iter().map(|b| b.capacity() * 8).sum::<usize>()
                    + l.v6.capacity() * std::mem::size_of::<V6Peer>()
            }
        }
    }
}

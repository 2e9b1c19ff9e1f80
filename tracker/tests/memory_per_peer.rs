//! Memory per held peer of the swarm store itself, counted by a global allocator (live bytes
//! and live allocations), not timed: a CI-sized version of bench/tracker_million.sh's run of a
//! million swarms of ten peers. Each allocation is charged as glibc's malloc charges it (the
//! size plus an 8-byte header, rounded up to 16, at least 32), so the figure is close to what
//! the process's RSS grows by.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicIsize, Ordering};

use bttrack::{Announce, SwarmStore};
use protocol::tracker::Event;
use protocol::InfoHash;

struct Counting;

static BYTES: AtomicIsize = AtomicIsize::new(0);
static CHARGED: AtomicIsize = AtomicIsize::new(0);

fn charged(size: usize) -> isize {
    ((size + 8).div_ceil(16) * 16).max(32) as isize
}

fn note(size: usize, sign: isize) {
    BYTES.fetch_add(sign * size as isize, Ordering::Relaxed);
    CHARGED.fetch_add(sign * charged(size), Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting is two atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 1);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(layout.size(), -1);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 1);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout.size(), -1);
        note(new_size, 1);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// A spread-out info-hash for swarm `i` (real ones are SHA-1 digests).
fn hash(i: u64) -> InfoHash {
    let mut h = [0u8; 20];
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
    for chunk in h.chunks_mut(8) {
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    InfoHash(h)
}

/// Fills a fresh store with `swarms` x `per_swarm` IPv4 peers; returns (requested, charged)
/// bytes per peer, and checks the store's own account of its heap against the allocator's.
fn fill(swarms: u64, per_swarm: u32) -> (f64, f64) {
    let now = 1_700_000_000;
    let (b0, c0) = (
        BYTES.load(Ordering::Relaxed),
        CHARGED.load(Ordering::Relaxed),
    );
    let store = SwarmStore::new(3600, 42);
    let mut out = Vec::new();
    // Peers arrive interleaved across swarms, as they do on a tracker.
    for p in 0..per_swarm {
        for s in 0..swarms {
            let ip = Ipv4Addr::from(0x0a00_0000 + (s as u32).wrapping_mul(7919) + p);
            let a = Announce {
                info_hash: hash(s),
                addr: SocketAddr::new(ip.into(), 6881 + p as u16),
                event: Event::Started,
                left: 1,
                numwant: 0,
                start: 0,
                pinned: None,
            };
            store.announce(&a, now, &mut out).expect("held");
        }
    }
    let peers = store.totals().peers;
    assert_eq!(peers as u64, swarms * u64::from(per_swarm));
    let bytes = BYTES.load(Ordering::Relaxed) - b0;
    let charged = CHARGED.load(Ordering::Relaxed) - c0;
    let own = store.heap_bytes() as isize;
    // The store's account (used nowhere else) must be the allocator's, give or take the
    // shards' own small allocations.
    assert!(
        (bytes - own).abs() < 64 * 1024,
        "allocator {bytes}, store {own}"
    );
    drop(store);
    (bytes as f64 / peers as f64, charged as f64 / peers as f64)
}

/// One test: the counters are global, so two tests in parallel would count each other.
#[test]
fn bytes_per_peer_are_bounded_for_many_small_swarms_and_a_few_big_ones() {
    let (bytes, charged) = fill(10_000, 10);
    println!("10k swarms x 10 peers: {bytes:.1} bytes a peer asked for, {charged:.1} charged");
    assert!(charged <= 16.0, "10k x 10: {charged:.1} bytes a peer");
    let (bytes, charged) = fill(100, 1000);
    println!("100 swarms x 1000 peers: {bytes:.1} bytes a peer asked for, {charged:.1} charged");
    assert!(charged <= 11.0, "100 x 1000: {charged:.1} bytes a peer");
}

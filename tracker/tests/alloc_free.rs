//! A successful announce allocates nothing once its thread's buffers have grown: the HTTP fast
//! path (parse, swarm update, peer selection, bencoding, the response head) and the UDP
//! handler (decode, connection id, the same, the datagram). Peers re-announce, as they do most
//! of the time (a new peer may grow its swarm's table: amortised, in the store). Counted by a global allocator
//! that counts only on the thread that asks it to, so the runtime's threads do not interfere.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;

use bttrack::hooks::{handle, Scratch};
use bttrack::WebLog;
use bttrack::{Config, LogTarget, Tracker};
use protocol::tracker::udp::{Request, UdpAnnounce};
use protocol::tracker::Event;
use protocol::{InfoHash, PeerId};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only
// const-initialised thread-locals, which never allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

fn tracker() -> std::sync::Arc<Tracker> {
    let config = Config {
        open: true,
        ..Config::default()
    };
    Tracker::new(
        config,
        Default::default(),
        WebLog::open(&LogTarget::None).unwrap(),
    )
}

fn http_request(hash: u8, port: u16) -> Vec<u8> {
    format!(
        "GET /announce?info_hash={}&peer_id=-XX0000-{port:012}&port={port}&uploaded=0\
         &downloaded=0&left=100&compact=1&numwant=50 HTTP/1.1\r\nHost: t\r\n\
         User-Agent: wrk\r\nConnection: close\r\n\r\n",
        format!("%{hash:02x}").repeat(20)
    )
    .into_bytes()
}

#[test]
fn a_one_shot_http_announce_allocates_nothing() {
    let t = tracker();
    let remote: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let mut out = Vec::new();
    // Grow the swarms (and this thread's buffers) first: 8 swarms of 100 peers each.
    for port in 1..=800u16 {
        let req = http_request((port % 8) as u8 + 1, port);
        assert!(bttrack::hooks::answer_into(&t, &req, remote, &mut out));
    }
    // Re-announces of those peers: a new peer may grow its swarm's table (amortised, not per
    // request), which is the store's business, not the request path's.
    let requests: Vec<Vec<u8>> = (1..=200u16)
        .map(|port| http_request((port % 8) as u8 + 1, port))
        .collect();
    let mut answered = 0;
    let n = allocations(|| {
        for req in &requests {
            answered += u32::from(bttrack::hooks::answer_into(&t, req, remote, &mut out));
        }
    });
    assert_eq!(answered, 200);
    // The last reply is a real one: 50 compact peers.
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"), "{out:?}");
    assert!(out.windows(10).any(|w| w == b"5:peers300"));
    assert_eq!(n, 0, "allocations in 200 fast-path announces");
}

#[test]
fn a_udp_announce_allocates_nothing() {
    let t = tracker();
    let from: SocketAddr = "127.0.0.1:50000".parse().unwrap();
    let now = bttrack::now_secs();
    let cid = t.connection_ids.issue(from, now);
    let packet = |hash: u8, port: u16| {
        let mut p = Vec::new();
        Request::Announce(UdpAnnounce {
            connection_id: cid,
            transaction_id: u32::from(port),
            info_hash: InfoHash([hash; 20]),
            peer_id: PeerId([1; 20]),
            downloaded: 0,
            left: 100,
            uploaded: 0,
            event: Event::Started,
            ip: std::net::Ipv4Addr::UNSPECIFIED,
            key: 0,
            num_want: 50,
            port,
        })
        .encode(&mut p);
        p
    };
    let (mut out, mut scratch) = (Vec::with_capacity(1500), Scratch::default());
    for port in 1..=800u16 {
        out.clear();
        assert!(handle(
            &t,
            &packet((port % 8) as u8 + 1, port),
            from,
            now,
            &mut out,
            &mut scratch
        ));
    }
    let packets: Vec<Vec<u8>> = (1..=200u16)
        .map(|port| packet((port % 8) as u8 + 1, port))
        .collect();
    let n = allocations(|| {
        for p in &packets {
            out.clear();
            assert!(handle(&t, p, from, now, &mut out, &mut scratch));
        }
    });
    // The last reply: 20 bytes of header and 50 peers of 6 bytes.
    assert_eq!(out.len(), 20 + 50 * 6);
    assert_eq!(n, 0, "allocations in 200 UDP announces");
}

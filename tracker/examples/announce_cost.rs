//! User-space cost of one UDP announce (decode, connection id check, swarm update, peer
//! selection, reply encoding), without sockets:
//! `announce_cost [ANNOUNCES] [PEERS_PER_SWARM] [DATAGRAMS_PER_CLOCK_READ]`.
//! The store is filled like bench/tracker.sh leaves it (1000 swarms, random ports), then the
//! same kind of announces are timed; prints nanoseconds per announce (best of 5 rounds, so
//! other processes on a shared machine disturb it less). Time is this thread's CPU time
//! (/proc/thread-self/schedstat), not wall time, so being preempted does not count.

use std::net::SocketAddr;

use bttrack::hooks::{handle, Scratch};
use bttrack::{Config, LogTarget, Tracker};
use protocol::tracker::udp::{Request, UdpAnnounce};
use protocol::tracker::Event;
use protocol::{InfoHash, PeerId};

fn bench_hash(i: u32) -> InfoHash {
    let mut h = [0u8; 20];
    h[16..].copy_from_slice(&i.to_be_bytes());
    InfoHash(h)
}

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat (Linux)")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let per_swarm: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    // Datagrams per clock read (the socket loop reads it once per recvmmsg batch, up to 32).
    let batch: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(32)
        .max(1);
    let config = Config {
        open: true,
        peer_timeout_secs: 7200,
        max_numwant: 50,
        ..Config::default()
    };
    let weblog = bttrack::WebLog::open(&LogTarget::None).expect("no log");
    let t = Tracker::new(config, Default::default(), weblog);
    let from: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let now = bttrack::now_secs();
    let cid = t.connection_ids.issue(from, now);
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut packet = Vec::with_capacity(100);
    let mut make = |r: u64| {
        packet.clear();
        Request::Announce(UdpAnnounce {
            connection_id: cid,
            transaction_id: r as u32,
            info_hash: bench_hash((r % 1000) as u32 + 1),
            peer_id: PeerId([(r >> 8) as u8; 20]),
            downloaded: 0,
            left: 100,
            uploaded: 0,
            event: Event::None,
            ip: std::net::Ipv4Addr::UNSPECIFIED,
            key: 0,
            num_want: 50,
            port: (r >> 16) as u16 | 1,
        })
        .encode(&mut packet);
        packet.clone()
    };
    let mut out = Vec::with_capacity(1500);
    let mut scratch = Scratch::default();
    // Fill: announces from distinct (loopback-claimed) ports, as the bench's clients make.
    for _ in 0..per_swarm * 1000 {
        let p = make(next());
        out.clear();
        handle(&t, &p, from, now, &mut out, &mut scratch);
    }
    let packets: Vec<Vec<u8>> = (0..4096).map(|_| make(next())).collect();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = cpu_ns();
        let mut now = 0;
        for i in 0..n as usize {
            if i % batch == 0 {
                now = bttrack::now_secs();
            }
            out.clear();
            handle(
                &t,
                &packets[i % packets.len()],
                from,
                now,
                &mut out,
                &mut scratch,
            );
        }
        best = best.min((cpu_ns() - start) as f64 / f64::from(n));
    }
    println!(
        "{best:.0} ns per UDP announce (user space), {} peers held",
        t.store.totals().peers
    );
}

//! Fills a tracker over UDP (BEP 15) with many swarms, for bench/tracker_million.sh:
//!
//!   udp_fill ADDR fill SWARMS PEERS          every peer of every swarm once (numwant 0)
//!   udp_fill ADDR again SWARMS PEERS COUNT   COUNT re-announces of held peers (numwant 50)
//!   udp_fill ADDR count SWARMS               peers held, summed over scrapes of every swarm
//!
//! Swarm `s` (1-based) has the info-hash `%040x` of `s` (the bench whitelist); its peers are
//! 127.0.0.1 ports 1..=PEERS, so every tracker holds exactly SWARMS x PEERS peers after a fill.
//! Two threads, each with its own socket and up to 64 requests in flight; a request without a
//! reply after 300 ms is sent again, so a lost datagram is not a lost peer. Prints the number
//! of successful replies and of error replies.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use protocol::tracker::udp::{Request, Response, UdpAnnounce, MAX_SCRAPE};
use protocol::tracker::Event;
use protocol::{InfoHash, PeerId};

const WINDOW: usize = 64;
const THREADS: u64 = 2;
const SCRAPE_BATCH: u64 = 50;

fn bench_hash(i: u64) -> InfoHash {
    let mut h = [0u8; 20];
    h[12..].copy_from_slice(&i.to_be_bytes());
    InfoHash(h)
}

#[derive(Clone, Copy)]
enum Job {
    Fill { swarms: u64, peers: u64 },
    Again { swarms: u64, peers: u64 },
    Count { swarms: u64 },
}

impl Job {
    /// Requests this job sends in all (split between the threads by index).
    fn total(self, count: u64) -> u64 {
        match self {
            Job::Fill { swarms, peers } => swarms * peers,
            Job::Again { .. } => count,
            Job::Count { swarms } => swarms.div_ceil(SCRAPE_BATCH),
        }
    }

    /// Request number `k` of the job.
    fn request(self, k: u64, connection_id: u64) -> Request {
        let announce = |swarm: u64, peer: u64, event, num_want| {
            let mut pid = [b'-'; 20];
            pid[4..12].copy_from_slice(&swarm.to_be_bytes());
            pid[12..20].copy_from_slice(&peer.to_be_bytes());
            Request::Announce(UdpAnnounce {
                connection_id,
                transaction_id: k as u32,
                info_hash: bench_hash(swarm),
                peer_id: PeerId(pid),
                downloaded: 0,
                left: 100,
                uploaded: 0,
                event,
                ip: Ipv4Addr::UNSPECIFIED,
                key: 0,
                num_want,
                port: 1 + peer as u16,
            })
        };
        match self {
            // Peer-major order: every swarm gets its first peer, then its second...
            Job::Fill { swarms, .. } => announce(1 + k % swarms, k / swarms, Event::Started, 0),
            // A stride through the swarms (a prime, so it visits all of them), cycling peers.
            Job::Again { swarms, peers } => {
                announce(1 + (k * 1_000_003) % swarms, k % peers, Event::None, 50)
            }
            Job::Count { swarms } => {
                let from = 1 + k * SCRAPE_BATCH;
                let to = (from + SCRAPE_BATCH).min(swarms + 1);
                Request::Scrape {
                    connection_id,
                    transaction_id: k as u32,
                    info_hashes: (from..to).map(bench_hash).collect(),
                }
            }
        }
    }
}

/// A connection id. Replies to requests still in flight are read past (and lost: the caller
/// sends those requests again).
fn connect(sock: &UdpSocket) -> u64 {
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        out.clear();
        Request::Connect {
            transaction_id: 0xC0FFEE,
        }
        .encode(&mut out);
        sock.send(&out).expect("send");
        // Read until the connect reply or a quiet spell (then ask again).
        while let Ok(n) = sock.recv(&mut buf) {
            if let Ok(Response::Connect { connection_id, .. }) = Response::decode(&buf[..n], false)
            {
                return connection_id;
            }
        }
    }
    panic!("no connect reply in 30 s");
}

/// Runs the requests `k` with `k % THREADS == thread`; returns (ok, errors, peers counted).
fn worker(to: SocketAddr, job: Job, count: u64, thread: u64) -> (u64, u64, u64) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(to).expect("connect");
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut connection_id = connect(&sock);
    let mut connected_at = Instant::now();
    let total = job.total(count);
    let mut next = thread;
    let mut in_flight: HashMap<u32, u64> = HashMap::new();
    let (mut ok, mut errors, mut peers) = (0, 0, 0);
    let mut buf = [0u8; 2048];
    let mut out = Vec::with_capacity(MAX_SCRAPE * 20 + 16);
    let send = |k: u64, cid: u64, out: &mut Vec<u8>| {
        out.clear();
        job.request(k, cid).encode(out);
        let _ = sock.send(out);
    };
    loop {
        // Connection ids expire after a minute or two: take a fresh one now and then.
        if connected_at.elapsed() > Duration::from_secs(30) {
            connection_id = connect(&sock);
            connected_at = Instant::now();
            for &k in in_flight.values() {
                send(k, connection_id, &mut out);
            }
        }
        while in_flight.len() < WINDOW && next < total {
            in_flight.insert(next as u32, next);
            send(next, connection_id, &mut out);
            next += THREADS;
        }
        if in_flight.is_empty() {
            return (ok, errors, peers);
        }
        match sock.recv(&mut buf) {
            Ok(n) => match Response::decode(&buf[..n], false) {
                Ok(Response::Announce { transaction_id, .. }) => {
                    ok += u64::from(in_flight.remove(&transaction_id).is_some());
                }
                Ok(Response::Scrape {
                    transaction_id,
                    stats,
                }) if in_flight.remove(&transaction_id).is_some() => {
                    ok += 1;
                    peers += stats
                        .iter()
                        .map(|s| u64::from(s.complete) + u64::from(s.incomplete))
                        .sum::<u64>();
                }
                Ok(Response::Error { transaction_id, .. }) => {
                    errors += u64::from(in_flight.remove(&transaction_id).is_some());
                }
                _ => {}
            },
            // Nothing for a while: send what is still unanswered again.
            Err(_) => {
                for &k in in_flight.values() {
                    send(k, connection_id, &mut out);
                }
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, what: &str| -> u64 {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("argument {i}: {what}"))
    };
    let to: SocketAddr = args.get(1).expect("ADDR").parse().expect("ADDR");
    let (job, count) = match args.get(2).map(String::as_str) {
        Some("fill") => (
            Job::Fill {
                swarms: arg(3, "SWARMS"),
                peers: arg(4, "PEERS"),
            },
            0,
        ),
        Some("again") => (
            Job::Again {
                swarms: arg(3, "SWARMS"),
                peers: arg(4, "PEERS"),
            },
            arg(5, "COUNT"),
        ),
        Some("count") => (
            Job::Count {
                swarms: arg(3, "SWARMS"),
            },
            0,
        ),
        _ => panic!("usage: udp_fill ADDR fill|again|count SWARMS [PEERS [COUNT]]"),
    };
    let handles: Vec<_> = (0..THREADS)
        .map(|t| std::thread::spawn(move || worker(to, job, count, t)))
        .collect();
    let (mut ok, mut errors, mut peers) = (0, 0, 0);
    for h in handles {
        let (o, e, p) = h.join().expect("worker");
        ok += o;
        errors += e;
        peers += p;
    }
    match job {
        Job::Count { .. } => println!("{peers}"),
        _ => println!("{ok} {errors}"),
    }
}

//! UDP (BEP 15) announce load for bench/tracker.sh: `udp_load ADDR SECONDS [THREADS] [WINDOW]`.
//! Each thread connects once, then keeps WINDOW announces in flight (1000 bench hashes, random
//! port and peer id, numwant 50) and prints the number of announce replies received.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::Event;
use protocol::{InfoHash, PeerId};

fn bench_hash(i: u32) -> InfoHash {
    let mut h = [0u8; 20];
    h[16..].copy_from_slice(&i.to_be_bytes());
    InfoHash(h)
}

fn worker(to: SocketAddr, until: Instant, window: usize, seed: u64) -> u64 {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(to).expect("connect");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 2048];
    let mut out = Vec::with_capacity(128);
    let connection_id = loop {
        out.clear();
        Request::Connect { transaction_id: 1 }.encode(&mut out);
        sock.send(&out).unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            if let Ok(Response::Connect { connection_id, .. }) = Response::decode(&buf[..n], false)
            {
                break connection_id;
            }
        }
        assert!(Instant::now() < until, "no connect reply");
    };
    let mut x = seed | 1;
    let mut next = move || {
        // xorshift: cheap randomness that does not load the generator's core.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut send_one = |out: &mut Vec<u8>| {
        let r = next();
        let mut pid = [b'-'; 20];
        pid[12..20].copy_from_slice(&r.to_le_bytes());
        out.clear();
        Request::Announce(UdpAnnounce {
            connection_id,
            transaction_id: r as u32,
            info_hash: bench_hash(1 + (r >> 20) as u32 % 1000),
            peer_id: PeerId(pid),
            downloaded: 0,
            left: 100,
            uploaded: 0,
            event: Event::None,
            ip: std::net::Ipv4Addr::UNSPECIFIED,
            key: 0,
            num_want: 50,
            port: 1 + (r >> 40) as u16 % 65000,
        })
        .encode(out);
        let _ = sock.send(out);
    };
    for _ in 0..window {
        send_one(&mut out);
    }
    let mut replies = 0;
    while Instant::now() < until {
        match sock.recv(&mut buf) {
            Ok(n) => {
                if buf[..n].starts_with(&[0, 0, 0, 1]) {
                    replies += 1;
                }
                send_one(&mut out);
            }
            // Lost datagrams: refill the window.
            Err(_) => (0..window).for_each(|_| send_one(&mut out)),
        }
    }
    replies
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let to: SocketAddr = args.get(1).expect("ADDR").parse().expect("ADDR");
    let secs: u64 = args.get(2).map_or(10, |s| s.parse().expect("SECONDS"));
    let threads: usize = args.get(3).map_or(2, |s| s.parse().expect("THREADS"));
    let window: usize = args.get(4).map_or(32, |s| s.parse().expect("WINDOW"));
    let until = Instant::now() + Duration::from_secs(secs);
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            std::thread::spawn(move || worker(to, until, window, 0x9E37_79B9 * (i as u64 + 7)))
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("{total}");
}

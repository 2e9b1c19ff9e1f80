//! The bttrack binary's operator flags end to end: `--bind ::1` serves HTTP and UDP over IPv6,
//! `--interval`/`--min-interval` are what clients are told (HTTP and UDP), `--max-numwant` caps
//! both, and without `--log` the web log goes to stdout in Combined Log Format.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::{AnnounceRequest, AnnounceResponse, Event};
use protocol::{InfoHash, PeerId};
use swarmlink_tests::tracker::{port_from_log, SERVING_HTTP_V6};
use swarmlink_tests::{bin, KillOnDrop};

/// One HTTP request on a fresh connection to `[::1]:port`; the body.
fn get(port: u16, target: &str) -> Vec<u8> {
    let mut s = TcpStream::connect((Ipv6Addr::LOCALHOST, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: t\r\nUser-Agent: flags-test/1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    assert!(
        buf.starts_with(b"HTTP/1.1 200 "),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    buf.split_off(at + 4)
}

fn udp_call(c: &UdpSocket, r: &Request) -> Response {
    let mut out = Vec::new();
    r.encode(&mut out);
    c.send(&out).unwrap();
    let mut buf = [0u8; 2048];
    let n = c.recv(&mut buf).expect("a UDP reply within the timeout");
    Response::decode(&buf[..n], true).unwrap()
}

#[test]
fn bind_ipv6_interval_min_interval_max_numwant_and_the_stdout_web_log() {
    let mut child = KillOnDrop(
        Command::new(bin("bttrack"))
            .args(["--bind", "::1", "--port", "0", "--open"])
            .args([
                "--interval",
                "900",
                "--min-interval",
                "60",
                "--max-numwant",
                "3",
            ])
            .env("RUST_LOG", "bttrack=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bttrack starts"),
    );
    let port = port_from_log(&mut child, SERVING_HTTP_V6);
    // The web log on stdout, line by line, read off-thread so a silent stdout cannot hang us.
    let (log_tx, log_rx) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if log_tx.send(line).is_err() {
                return;
            }
        }
    });

    let ih = InfoHash([0x01; 20]);
    let announce = |peer_port: u16| {
        let mut r = AnnounceRequest::new(ih, PeerId([peer_port as u8; 20]), peer_port);
        r.left = 5;
        r.event = Event::Started;
        AnnounceResponse::decode(&get(port, &format!("/announce?{}", r.to_query()))).unwrap()
    };
    for p in 7001..7006 {
        announce(p);
    }
    let r = announce(7006);
    assert_eq!((r.interval, r.min_interval), (900, Some(60)));
    assert_eq!(r.incomplete, 6);
    assert_eq!(r.peers.len(), 3, "--max-numwant caps the list");
    assert!(r.peers.iter().all(|p| p.addr.ip() == Ipv6Addr::LOCALHOST));

    // UDP on the same port over IPv6: same swarm, same interval, same cap (numwant 50 asked).
    let c = UdpSocket::bind("[::1]:0").unwrap();
    c.connect(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let Response::Connect { connection_id, .. } =
        udp_call(&c, &Request::Connect { transaction_id: 3 })
    else {
        panic!("connect reply expected")
    };
    let a = Request::Announce(UdpAnnounce {
        connection_id,
        transaction_id: 4,
        info_hash: ih,
        peer_id: PeerId([9; 20]),
        downloaded: 0,
        left: 5,
        uploaded: 0,
        event: Event::Started,
        ip: std::net::Ipv4Addr::UNSPECIFIED,
        key: 0,
        num_want: 50,
        port: 7007,
    });
    match udp_call(&c, &a) {
        Response::Announce {
            transaction_id: 4,
            interval: 900,
            leechers: 7,
            seeders: 0,
            peers,
        } => {
            assert_eq!(peers.len(), 3);
            assert!(peers.iter().all(|p| p.ip() == Ipv6Addr::LOCALHOST));
        }
        other => panic!("{other:?}"),
    }

    // Six announces logged on stdout (flushed within about a second), from ::1.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut logged = Vec::new();
    while logged.len() < 6 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = log_rx.recv_timeout(left).expect("web log lines on stdout");
        logged.push(line);
    }
    for line in &logged {
        assert!(line.starts_with("::1 - - ["), "{line}");
        assert!(
            line.contains("] \"GET /announce?info_hash=%01%01"),
            "{line}"
        );
        assert!(line.contains(" HTTP/1.1\" 200 "), "{line}");
        assert!(line.ends_with(" \"-\" \"flags-test/1\""), "{line}");
    }
}

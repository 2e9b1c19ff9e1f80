//! Tracker hardening (issue 14 §4): a request that came through a proxy is never this host's own
//! (no keyless publish, no `ip=`), a client that reads no replies is dropped after the write
//! timeout, and connections past `--max-connections` are closed as they come while one-shot
//! announces are still answered.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bttrack::Config;
use protocol::tracker::Event;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::{open_config, req, torrent, Running};

/// One counter from /metrics.
async fn metric(t: &Running, name: &str) -> u64 {
    let (_, _, body) = t.get("/metrics").await;
    String::from_utf8(body)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

async fn wait_metric(t: &Running, name: &str, want: u64, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = metric(t, name).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{name} stayed {got}, not {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_requests_are_never_local() {
    let t = Running::start(open_config()).await;
    let body = torrent("proxied.bin", b"data");
    // Through a same-host reverse proxy every request comes from loopback: with any forwarding
    // header it is not ours, trusted proxy list or not.
    for header in [
        "X-Forwarded-For: 203.0.113.9\r\n",
        "Forwarded: for=203.0.113.9\r\n",
        "x-forwarded-for: 127.0.0.1\r\n",
    ] {
        let (status, _, _) = t.put("/publish/?port=6881", header, &body).await;
        assert_eq!(status, 403, "{header}");
    }
    let (status, _, _) = t.put("/publish/?port=6881", "", &body).await;
    assert_eq!(
        status, 200,
        "this host itself still publishes without a key"
    );

    // `ip=` is not believed through a proxy: on the fast path (one-shot) nor through hyper
    // (keep-alive).
    for (port, connection) in [(7001u16, "close"), (7002, "keep-alive")] {
        let mut r = req(9, port, 10, Event::Started);
        r.ip = Some("198.51.100.7".into());
        let head = format!(
            "GET /announce?{} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.7\r\nConnection: {connection}\r\n\r\n",
            r.to_query()
        );
        let mut s = TcpStream::connect(t.addr).await.unwrap();
        s.write_all(head.as_bytes()).await.unwrap();
        let mut buf = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }
    let seen = t.announce(&req(9, 7003, 10, Event::Started)).await;
    let mut peers: Vec<SocketAddr> = seen.peers.iter().map(|p| p.addr).collect();
    peers.sort();
    let want: Vec<SocketAddr> = vec![
        "127.0.0.1:7001".parse().unwrap(),
        "127.0.0.1:7002".parse().unwrap(),
    ];
    assert_eq!(peers, want);
    // Without the header, this host's claim is believed (a local test or the publisher).
    let mut r = req(9, 7004, 10, Event::Started);
    r.ip = Some("198.51.100.8".into());
    t.announce(&r).await;
    let seen = t.announce(&req(9, 7005, 10, Event::Started)).await;
    let wanted: SocketAddr = "198.51.100.8:7004".parse().unwrap();
    assert!(seen.peers.iter().any(|p| p.addr == wanted));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_no_replies_is_dropped() {
    let t = Running::start(Config {
        write_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .await;
    // Pipelined requests for the stylesheet (kilobytes each), never reading a reply: the
    // socket buffers fill and the tracker's writes stall.
    let mut s = TcpStream::connect(t.addr).await.unwrap();
    let one = b"GET /-/listing.css HTTP/1.1\r\nHost: x\r\n\r\n";
    let writer = tokio::spawn(async move {
        for _ in 0..20_000 {
            if s.write_all(one).await.is_err() {
                break;
            }
        }
        s // kept open, unread, until the tracker drops it
    });
    wait_metric(&t, "bttrack_write_timeouts_total", 1, 30).await;
    writer.abort();
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_one_shot_announces_still_answered() {
    let t = Running::start(Config {
        max_connections: 2,
        header_timeout: Duration::from_secs(60),
        ..open_config()
    })
    .await;
    // Two connections with half a request head each: both held by the tracker.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(t.addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    // A third connection that needs the full server is closed unanswered...
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut s = TcpStream::connect(t.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        if buf.is_empty() {
            break;
        }
        // (the held ones may not have been accepted yet)
        assert!(Instant::now() < deadline, "never refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...while a one-shot announce is answered on accept, as ever.
    let r = req(1, 7001, 0, Event::Started);
    let (status, _, _) = t
        .raw(format!("GET /announce?{} HTTP/1.0\r\n\r\n", r.to_query()).as_bytes())
        .await;
    assert_eq!(status, 200);
    // A held connection ends: its place is free again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut s = TcpStream::connect(t.addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        if !buf.is_empty() {
            let text = String::from_utf8_lossy(&buf);
            assert!(
                text.contains("bttrack_connections_refused_total "),
                "{text}"
            );
            assert!(
                !text.contains("bttrack_connections_refused_total 0\n"),
                "{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was never given out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    t.stop().await;
}

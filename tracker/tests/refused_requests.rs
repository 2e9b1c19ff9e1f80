//! Requests hyper refuses before the tracker's service sees them (a garbage request line, an
//! oversized head, a head never finished) still reach the web log and /metrics; an idle
//! keep-alive connection timing out, or one that sends nothing, is no request and is not logged.

use std::time::{Duration, Instant};

use bttrack::{Config, LogTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::Running;

/// Sends `bytes` on a fresh connection and reads until the tracker closes it.
async fn exchange(t: &Running, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(t.addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("the tracker closes the connection promptly")
        .unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_are_logged_and_counted_idle_connections_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("weblog");
    let t = Running::start(Config {
        open: true,
        log: LogTarget::File(log.clone()),
        header_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .await;

    let reply = exchange(&t, b"GARBAGE \"LINE\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    let big = format!(
        "GET /announce HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let reply = exchange(&t, big.as_bytes()).await;
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    // A head never finished: dropped after the header timeout, with nothing sent back.
    let started = Instant::now();
    let reply = exchange(&t, b"GET /announce?info_hash=slow HTTP/1.1\r\nHost: x\r\n").await;
    assert_eq!(reply, "");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // A keep-alive connection answered once, then idle until the timeout: one line, its request.
    let reply = exchange(&t, b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    // A connection that sends nothing at all.
    drop(TcpStream::connect(t.addr).await.unwrap());

    let (status, _, body) = t.get("/metrics").await;
    assert_eq!(status, 200);
    let metrics = String::from_utf8(body).unwrap();
    assert!(
        metrics.contains(
            "bttrack_requests_total{protocol=\"http\",kind=\"malformed\",outcome=\"refused\"} 3\n"
        ),
        "{metrics}"
    );
    t.stop().await;

    let lines = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    let with = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(with("\"GARBAGE \\\"LINE\" 400 0 "), 1, "{lines:#?}");
    assert_eq!(with("\"GET /announce HTTP/1.1\" 431 0 "), 1, "{lines:#?}");
    assert_eq!(
        with("\"GET /announce?info_hash=slow HTTP/1.1\" 408 0 "),
        1,
        "{lines:#?}"
    );
    assert_eq!(with("\"GET /nothing-here HTTP/1.1\" 404 "), 1, "{lines:#?}");
    assert_eq!(with("\"GET /metrics HTTP/1.1\" 200 "), 1, "{lines:#?}");
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert!(lines.iter().all(|l| l.starts_with("127.0.0.1 - - [")));
}

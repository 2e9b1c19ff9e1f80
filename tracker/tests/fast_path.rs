//! The fast path for one-shot announces answers byte for byte as hyper does (Date aside), logs
//! the same web log line, and leaves everything else to hyper: keep-alive, bodies, other paths,
//! requests that arrive late or in pieces.

use std::time::Duration;

use bttrack::{Config, LogTarget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::Running;

/// Writes `parts` (pausing between them), reads until close, drops the Date header.
async fn exchange(t: &Running, parts: &[&[u8]]) -> String {
    let mut s = TcpStream::connect(t.addr).await.unwrap();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s.write_all(p).await.unwrap();
    }
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("the tracker answers and closes promptly")
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    text.split("\r\n")
        .filter(|l| !l.starts_with("date: "))
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn fast_count(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("bttrack_http_fast_path_total "))
        .unwrap()
        .parse()
        .unwrap()
}

fn announce(hash: u8, extra: &str) -> String {
    format!(
        "/announce?info_hash={}&peer_id=-XX0000-000000000001&port=6881&left=5{extra}",
        format!("%{hash:02x}").repeat(20)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_announces_answer_as_hyper_does_and_everything_else_goes_to_hyper() {
    let dir = tempfile::tempdir().unwrap();
    let start = |fast: bool| {
        let log = dir.path().join(if fast { "fast.log" } else { "hyper.log" });
        Running::start(Config {
            open: true,
            log: LogTarget::File(log),
            http_fast_path: fast,
            ..Config::default()
        })
    };
    let (fast, slow) = (start(true).await, start(false).await);
    let with_body = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab",
        announce(7, "")
    );
    let cases: Vec<(Vec<String>, bool)> = vec![
        // (request parts, answered by the fast path)
        (
            vec![format!(
                "GET {} HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\nReferer: r\r\nConnection: close\r\n\r\n",
                announce(1, "&compact=1")
            )],
            true,
        ),
        (vec![format!("GET {} HTTP/1.0\r\n\r\n", announce(2, "&compact=0"))], true),
        (vec!["GET /announce?port=0 HTTP/1.1\r\nConnection: close\r\n\r\n".into()], true),
        (vec!["GET /announce HTTP/1.0\r\n\r\n".into()], true),
        // Arrives in two pieces: the first read is incomplete, hyper finishes it.
        (
            vec![
                format!("GET {} HTTP/1.1\r\nHo", announce(3, "")),
                "st: x\r\nConnection: close\r\n\r\n".into(),
            ],
            false,
        ),
        // A body makes it hyper's.
        (vec![with_body], false),
        // Keep-alive: hyper serves both requests on the connection.
        (
            vec![
                format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", announce(5, "")),
                format!("GET {} HTTP/1.1\r\nConnection: close\r\n\r\n", announce(6, "")),
            ],
            false,
        ),
        (vec!["GET /metrics-not HTTP/1.1\r\nConnection: close\r\n\r\n".into()], false),
        (vec!["GET /announce?a=\"b\" HTTP/1.1\r\nConnection: close\r\n\r\n".into()], false),
    ];
    let mut expected_fast = 0;
    for (parts, by_fast_path) in &cases {
        let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        let a = exchange(&fast, &parts).await;
        let b = exchange(&slow, &parts).await;
        assert_eq!(a, b, "{parts:?}");
        assert!(a.starts_with("HTTP/1."), "{a}");
        expected_fast += u64::from(*by_fast_path);
        let (_, _, m) = fast.get("/metrics").await;
        assert_eq!(
            fast_count(&String::from_utf8(m).unwrap()),
            expected_fast,
            "{parts:?}"
        );
    }
    // A request that arrives after the connection was accepted still takes the fast path.
    let late = format!(
        "GET {} HTTP/1.1\r\nConnection: close\r\n\r\n",
        announce(4, "")
    );
    let mut s = TcpStream::connect(fast.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(late.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let (_, _, m) = fast.get("/metrics").await;
    assert_eq!(
        fast_count(&String::from_utf8(m).unwrap()),
        expected_fast + 1
    );
    let (_, _, m) = slow.get("/metrics").await;
    assert_eq!(fast_count(&String::from_utf8(m).unwrap()), 0);
    fast.stop().await;
    slow.stop().await;

    // Both logs hold the same requests with the same status and size (times aside).
    let strip = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap()
            .lines()
            .filter(|l| !l.contains("/metrics "))
            .map(|l| {
                let (host, rest) = l.split_once(" [").unwrap();
                format!("{host} {}", rest.split_once("] ").unwrap().1)
            })
            .collect()
    };
    let (mut f, s) = (strip("fast.log"), strip("hyper.log"));
    assert!(f.pop().unwrap().contains("GET /announce?info_hash=%04"));
    assert_eq!(f, s);
    assert_eq!(s.len(), cases.len() + 1, "{s:#?}");
}

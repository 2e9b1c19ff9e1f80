//! "Nothing touches the disk in the announce path": bttrack with `--file` and `--dfile` runs under
//! `strace -f -y`, which names the file behind every descriptor; between start-up (the files are
//! created) and SIGTERM (the last snapshot), thousands of announces over the fast path, hyper
//! (keep-alive) and UDP, plus scrapes, make no system call on a path in the state directory.
//! Skipped, saying so, where strace is missing or not allowed to trace.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::{AnnounceRequest, Event};
use protocol::{InfoHash, PeerId};
use swarmlink_tests::tracker::{port_from_log, SERVING_HTTP_V4};
use swarmlink_tests::{bin, KillOnDrop};

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn query(port: u16, hash: u8) -> String {
    let mut r = AnnounceRequest::new(InfoHash([hash; 20]), PeerId([port as u8; 20]), port);
    r.left = 5;
    r.event = Event::Started;
    r.to_query()
}

#[test]
fn announces_and_scrapes_make_no_system_call_on_the_state_files() {
    let probe = Command::new("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: strace is missing or cannot trace here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let mut child = KillOnDrop(
        Command::new("strace")
            .args(["-f", "-y", "-ttt", "-qq", "-o"])
            .arg(&trace)
            .arg(bin("bttrack"))
            .args(["--bind", "127.0.0.1", "--port", "0", "--open", "--log", "-"])
            .args(["--snapshot-secs", "3600"])
            .arg("--file")
            .arg(state.join("btstate"))
            .arg("--dfile")
            .arg(state.join("dstate"))
            .env("RUST_LOG", "bttrack=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let port = port_from_log(&mut child, SERVING_HTTP_V4);
    // Serving: start-up (reading and creating the state files) is over.
    let started = now();

    // One-shot announces (the fast path).
    for i in 0..300u16 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET /announce?{} HTTP/1.1\r\nConnection: close\r\n\r\n",
            query(1000 + i, (i % 4) as u8)
        )
        .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        assert!(buf.starts_with(b"HTTP/1.1 200 OK"));
    }
    // Keep-alive announces and a scrape on one connection (hyper).
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for i in 0..100u16 {
        write!(
            s,
            "GET /announce?{} HTTP/1.1\r\nHost: t\r\n\r\n",
            query(2000 + i, 7)
        )
        .unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    }
    write!(
        s,
        "GET /scrape?info_hash={} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "%07".repeat(20)
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200 OK"));
    // UDP announces.
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let mut reply = [0u8; 2048];
    Request::Connect { transaction_id: 1 }.encode(&mut out);
    c.send(&out).unwrap();
    let n = c.recv(&mut reply).unwrap();
    let Ok(Response::Connect { connection_id, .. }) = Response::decode(&reply[..n], false) else {
        panic!("connect reply expected")
    };
    for i in 0..100u16 {
        out.clear();
        Request::Announce(UdpAnnounce {
            connection_id,
            transaction_id: u32::from(i),
            info_hash: InfoHash([9; 20]),
            peer_id: PeerId([1; 20]),
            downloaded: 0,
            left: 1,
            uploaded: 0,
            event: Event::Started,
            ip: std::net::Ipv4Addr::UNSPECIFIED,
            key: 0,
            num_want: 50,
            port: 3000 + i,
        })
        .encode(&mut out);
        c.send(&out).unwrap();
        let n = c.recv(&mut reply).unwrap();
        assert!(matches!(
            Response::decode(&reply[..n], false),
            Ok(Response::Announce { .. })
        ));
    }
    let stopping = now();
    let pid = child.0.id();
    // SIGTERM to bttrack itself (strace's child), so it writes its last snapshot and exits.
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let tracee = match children.split_whitespace().next() {
        Some(p) => p.to_owned(),
        None => {
            let out = Command::new("pgrep")
                .args(["-P", &pid.to_string()])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        }
    };
    assert!(!tracee.is_empty(), "bttrack under strace");
    assert!(Command::new("kill")
        .args(["-TERM", &tracee])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "bttrack did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Every traced call that names a state file, with its time.
    let trace = std::fs::read_to_string(&trace).unwrap();
    let needle = state.display().to_string();
    let touching: Vec<(f64, &str)> = trace
        .lines()
        .filter(|l| l.contains(&needle))
        .filter_map(|l| {
            let t = l.split_whitespace().nth(1)?.parse().ok()?;
            Some((t, l))
        })
        .collect();
    // The trace sees the files: created at start, snapshotted at the end (so a silent trace
    // cannot pass for "no disk access").
    assert!(
        touching
            .iter()
            .any(|(t, l)| *t < started && l.contains("btstate")),
        "no start-up access to --file traced:\n{trace}"
    );
    assert!(
        touching
            .iter()
            .any(|(t, l)| *t > stopping && l.contains("dstate")),
        "no final snapshot traced"
    );
    let during: Vec<&str> = touching
        .iter()
        .filter(|(t, _)| *t >= started && *t <= stopping)
        .map(|(_, l)| *l)
        .collect();
    assert!(
        during.is_empty(),
        "disk access while announcing:\n{during:#?}"
    );
}

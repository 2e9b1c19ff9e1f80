//! The bttrack binary keeps published torrents and swarm peers across a graceful stop (SIGTERM)
//! and a kill -9, and speaks the original command line (`--port --ip --file --dfile`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protocol::tracker::{AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse};
use protocol::{InfoHash, MetainfoBuilder, PeerId};
use swarmlink_tests::{bin, KillOnDrop};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts bttrack with the original flags on a given port; waits until it answers.
fn start(dir: &Path, port: u16) -> KillOnDrop {
    let child = KillOnDrop(
        Command::new(bin("bttrack"))
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--ip", "69.69.69.69"])
            .arg("--file")
            .arg(dir.join("btstate"))
            .arg("--dfile")
            .arg(dir.join("dstate"))
            .args(["--snapshot-secs", "1", "--publish-key", "k"])
            .arg("--log")
            .arg(dir.join("weblog"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "bttrack did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn request(port: u16, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{head}Connection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&buf[9..12]).parse().unwrap();
    (status, buf.split_off(at + 4))
}

fn announce(port: u16, ih: InfoHash, peer_port: u16, left: u64) -> AnnounceResponse {
    let mut r = AnnounceRequest::new(ih, PeerId([peer_port as u8; 20]), peer_port);
    r.left = left;
    let (status, body) = request(
        port,
        &format!("GET /announce?{} HTTP/1.1\r\n", r.to_query()),
        b"",
    );
    assert_eq!(status, 200);
    AnnounceResponse::decode(&body).unwrap()
}

fn counts(port: u16, ih: InfoHash) -> (u32, u32) {
    let q = ScrapeRequest {
        info_hashes: vec![ih],
    }
    .to_query();
    let (_, body) = request(port, &format!("GET /scrape?{q} HTTP/1.1\r\n"), b"");
    let s = ScrapeResponse::decode(&body).unwrap().files[&ih];
    (s.complete, s.incomplete)
}

fn torrent() -> (Vec<u8>, InfoHash) {
    let content = b"persistent movie";
    // One piece; its SHA-1 is what of_info_bytes computes over any bytes.
    let piece = InfoHash::of_info_bytes(content).0;
    let built = MetainfoBuilder::single_file("mymovie.mpeg", content.len() as u64)
        .piece_length(16384)
        .pieces(vec![piece])
        .announce_tiers(vec![vec!["http://69.69.69.69:8080/announce".into()]])
        .build()
        .unwrap();
    (built.bytes, built.info_hash)
}

#[test]
fn published_torrents_and_peers_survive_sigterm_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (bytes, ih) = torrent();
    let mut t = start(dir.path(), port);
    let (status, body) = request(
        port,
        "PUT /publish/?port=5989 HTTP/1.1\r\nX-Publish-Key: k\r\n",
        &bytes,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let reply = protocol::bencode::decode(&body).unwrap();
    assert_eq!(
        reply.get("url").unwrap().as_str(),
        Some(format!("http://69.69.69.69:{port}/mymovie.mpeg").as_str())
    );
    announce(port, ih, 7001, 10);
    assert_eq!(counts(port, ih), (1, 1));

    // kill -9 right after the publish reply: the torrent was on disk before the reply; the
    // peer is in the snapshot taken within a second.
    // Wait for the background snapshot holding both peers: 16 bytes of header, 28 for the
    // swarm, 10 per IPv4 peer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(dir.path().join("dstate")).map_or(0, |m| m.len()) < 16 + 28 + 20 {
        assert!(Instant::now() < deadline, "no peer snapshot written");
        std::thread::sleep(Duration::from_millis(20));
    }
    t.0.kill().unwrap();
    t.0.wait().unwrap();
    let mut t = start(dir.path(), port);
    let (status, body) = request(port, "GET /mymovie.mpeg.torrent HTTP/1.1\r\n", b"");
    assert_eq!((status, body), (200, bytes.clone()));
    assert_eq!(
        counts(port, ih),
        (1, 1),
        "publisher and peer restored after kill -9"
    );

    // Graceful stop (SIGTERM): a new peer is snapshotted on the way out, whatever the timer.
    announce(port, ih, 7002, 10);
    let pid = t.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "bttrack did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _t = start(dir.path(), port);
    assert_eq!(counts(port, ih), (1, 2));
    let peers = announce(port, ih, 7003, 10).peers;
    assert_eq!(
        peers[0].addr,
        "127.0.0.1:5989".parse().unwrap(),
        "publisher first"
    );
    assert_eq!(peers.len(), 3);
    let log = std::fs::read_to_string(dir.path().join("weblog")).unwrap();
    assert!(log.contains("\"PUT /publish/?port=5989 HTTP/1.1\" 200"));
}

#[test]
fn help_lists_the_original_and_operator_flags() {
    let out = Command::new(bin("bttrack")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--port",
        "--ip",
        "--file",
        "--dfile",
        "--bind",
        "--interval",
        "--min-interval",
        "--peer-timeout",
        "--max-numwant",
        "--publish-key",
        "--trust-proxy",
        "--log",
        "--open",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    // A bad flag is a clean error, not a panic.
    let out = Command::new(bin("bttrack"))
        .arg("--port=99999")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let mut err = String::new();
    BufReader::new(&out.stderr[..]).read_line(&mut err).unwrap();
    assert!(err.contains("99999"), "{err}");
}

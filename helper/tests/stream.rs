//! The daemon's streaming server (issue 17) against a real download: a python3-libtorrent
//! seeder capped at 1 MiB/s up, the daemon downloading from it, and the stream URL fetched over loopback
//! with byte ranges while the download still runs. The first request seeks far ahead: its bytes
//! arrive long before a quarter of the torrent is in, which only the readers' priorities explain.
//! Then the refusals: a foreign `Host`, a wrong or missing token, a file or torrent not there,
//! another method. Finally `bthelper stream HASH --open` prints the same URL and opens it, and
//! streaming a paused torrent resumes it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const LEN: usize = 16 << 20;
const PIECE: u64 = 64 * 1024;
const UP_LIMIT: u64 = 1 << 20;
const PYTHON: &str = "/usr/bin/python3"; // Debian's, which can import libtorrent

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), read to the end; bounded
/// by a 60 s read timeout.
fn http(port: u16, method: &str, path: &str, host: &str, range: Option<&str>) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(r) = range {
        req.push_str(&format!("Range: {r}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

#[test]
fn a_file_streams_with_ranges_while_it_downloads_and_strangers_are_refused() {
    let home = Home::new();
    let data = test_data(LEN, 17);
    let (_, torrent) = make_torrent("film.webm", &data, PIECE);
    let seed_dir = tempfile::tempdir().unwrap();
    std::fs::write(seed_dir.path().join("film.webm"), &data).unwrap();
    let torrent_file = seed_dir.path().join("film.torrent");
    std::fs::write(&torrent_file, &torrent).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libtorrent_seeder.py");
    let mut seeder = KillOnDrop(
        std::process::Command::new(PYTHON)
            .arg(script)
            .arg(&torrent_file)
            .arg(seed_dir.path())
            .arg(UP_LIMIT.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3-libtorrent (scripts/install-test-deps.sh installs it)"),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(seeder.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let seeder_addr = format!("127.0.0.1:{}", line.trim());

    let mut host = home.relay();
    host.call(json!({"cmd": "subscribe"}));
    let added = host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent),
        "peers": [seeder_addr]}));
    let ih = added["info_hash"].as_str().unwrap().to_owned();
    let reply = host.call(json!({"cmd": "stream_url", "info_hash": ih, "file": 0}));
    assert_eq!(reply["mime"], "video/webm");
    let url = reply["url"].as_str().unwrap().to_owned();
    let rest = url.strip_prefix("http://127.0.0.1:").unwrap();
    let (port, path) = rest.split_once('/').unwrap();
    let port: u16 = port.parse().unwrap();
    let path = format!("/{path}");
    assert!(path.ends_with(&format!("/{ih}/0/film.webm")), "{path}");
    let host_ok = format!("127.0.0.1:{port}");

    // A seek far ahead, first: served while most of the torrent is still missing.
    let at = 12 << 20;
    let asked = Instant::now();
    let seek = http(
        port,
        "GET",
        &path,
        &host_ok,
        Some(&format!("bytes={at}-{}", at + 99_999)),
    );
    let took = asked.elapsed();
    assert_eq!(seek.status, 206);
    assert_eq!(seek.body, &data[at..at + 100_000], "byte-exact");
    // Statuses are published every 500 ms: wait a round so `have_bytes` is not stale (it can
    // only have grown since).
    std::thread::sleep(Duration::from_secs(1));
    let status = &host.call(json!({"cmd": "list"}))["torrents"][0];
    let have = status["have_bytes"].as_u64().unwrap();
    eprintln!("the seek's bytes came after {took:?}, with {have} of {LEN} bytes in");
    assert!(
        have < LEN as u64 / 4,
        "the seek waited for a quarter of the torrent ({have} bytes): no priority for the reader"
    );

    // The piece map beside the stream: the seek's pieces are verified, and not all of them
    // are (the download runs); token and Host are checked as for the stream.
    let pieces_path = path
        .replacen("/stream/", "/pieces/", 1)
        .trim_end_matches("/film.webm")
        .to_owned();
    let map = http(port, "GET", &pieces_path, &host_ok, None);
    assert_eq!(map.status, 200);
    assert_eq!(map.header("content-type"), Some("application/json"));
    assert!(map.header("access-control-allow-origin").is_none());
    let map: serde_json::Value = serde_json::from_slice(&map.body).unwrap();
    let count = LEN as u64 / PIECE;
    assert_eq!(map["length"], LEN as u64);
    assert_eq!(map["piece_length"], PIECE);
    assert_eq!(map["first_offset"], 0);
    assert_eq!(map["pieces"], count);
    let bits = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        map["have_b64"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(bits.len() as u64, count.div_ceil(8));
    let has = |i: u64| bits[(i / 8) as usize] & (0x80 >> (i % 8)) != 0;
    let seek_piece = at as u64 / PIECE;
    assert!(has(seek_piece), "the seek's piece is in the map");
    assert!((0..count).any(|i| !has(i)), "the map shows missing pieces");
    let token = path.split('/').nth(2).unwrap();
    let wrong = pieces_path.replace(token, &"0".repeat(token.len()));
    assert_eq!(http(port, "GET", &wrong, &host_ok, None).status, 403);
    assert_eq!(
        http(
            port,
            "GET",
            &pieces_path,
            &format!("evil.example:{port}"),
            None
        )
        .status,
        403
    );
    let no_file = pieces_path.replace(&format!("/{ih}/0"), &format!("/{ih}/1"));
    assert_eq!(http(port, "GET", &no_file, &host_ok, None).status, 404);

    let asked = Instant::now();
    let first = http(port, "GET", &path, &host_ok, Some("bytes=0-1023"));
    eprintln!("the first bytes took {:?}", asked.elapsed());
    assert_eq!(first.status, 206);
    assert_eq!(
        first.header("content-range"),
        Some(&*format!("bytes 0-1023/{LEN}"))
    );
    assert_eq!(first.header("content-length"), Some("1024"));
    assert_eq!(first.header("accept-ranges"), Some("bytes"));
    assert_eq!(first.header("content-type"), Some("video/webm"));
    assert!(first.header("etag").is_some_and(|e| e.contains(&ih)));
    assert!(
        first.header("access-control-allow-origin").is_none(),
        "no CORS"
    );
    assert_eq!(first.body, &data[..1024]);

    let middle = LEN / 2 + 12_345;
    let asked = Instant::now();
    let mid = http(
        port,
        "GET",
        &path,
        &host_ok,
        Some(&format!("bytes={middle}-{}", middle + 70_000)),
    );
    let took = asked.elapsed();
    eprintln!("a seek to the middle took {took:?}");
    // The floor is about 0.1 s (two pieces at 1 MiB/s); rarest-first would take many seconds.
    assert!(
        took < Duration::from_secs(5),
        "a seek mid-download took {took:?}"
    );
    assert_eq!(mid.status, 206);
    assert_eq!(mid.body, &data[middle..=middle + 70_000]);

    let asked = Instant::now();
    let end = http(port, "GET", &path, &host_ok, Some("bytes=-1000"));
    eprintln!("a seek to the end took {:?}", asked.elapsed());
    assert_eq!(end.status, 206);
    assert_eq!(
        end.header("content-range"),
        Some(&*format!("bytes {}-{}/{LEN}", LEN - 1000, LEN - 1))
    );
    assert_eq!(end.body, &data[LEN - 1000..]);

    let head = http(port, "HEAD", &path, &format!("localhost:{port}"), None);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(&*LEN.to_string()));
    assert!(head.body.is_empty());

    let past = http(port, "GET", &path, &host_ok, Some(&format!("bytes={LEN}-")));
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(&*format!("bytes */{LEN}"))
    );

    let progress = host.call(json!({"cmd": "list"}))["torrents"][0]["progress"]
        .as_f64()
        .unwrap();
    assert!(
        progress < 1.0,
        "all of this happened while the download ran ({progress})"
    );

    // Refusals.
    let foreign = http(port, "GET", &path, &format!("evil.example:{port}"), None);
    assert_eq!(foreign.status, 403, "DNS rebinding: a foreign Host");
    let other_port = http(port, "GET", &path, "127.0.0.1:1", None);
    assert_eq!(other_port.status, 403);
    let token = path.split('/').nth(2).unwrap();
    let wrong_token = path.replace(token, &"0".repeat(token.len()));
    assert_eq!(http(port, "GET", &wrong_token, &host_ok, None).status, 403);
    let no_token = path.replace(&format!("/{token}"), "");
    assert_eq!(http(port, "GET", &no_token, &host_ok, None).status, 403);
    let no_file = path.replace(&format!("/{ih}/0/"), &format!("/{ih}/1/"));
    assert_eq!(http(port, "GET", &no_file, &host_ok, None).status, 404);
    let no_torrent = path.replace(&ih, &"ab".repeat(20));
    assert_eq!(http(port, "GET", &no_torrent, &host_ok, None).status, 404);
    assert_eq!(http(port, "POST", &path, &host_ok, None).status, 405);
    let bad = host.error_code(json!({"cmd": "stream_url", "info_hash": ih, "file": 3}));
    assert_eq!(bad, "bad_request");

    // The terminal command: the same URL, handed to the opener.
    let out = home
        .command()
        .args(["stream", &ih, "--open"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), url);
    wait_until("the URL was opened", || home.opened().contains(&url));

    // Streaming a paused torrent resumes it.
    host.call(json!({"cmd": "pause", "info_hash": ih}));
    host.wait_status(&ih, "paused", |t| t["state"] == "paused");
    host.call(json!({"cmd": "stream_url", "info_hash": ih, "file": 0}));
    host.wait_status(&ih, "running again", |t| t["state"] != "paused");
}

/// `bthelper stream MAGNET`: the CLI adds the magnet, waits for its metadata, picks the largest
/// file and prints its URL; the stream then serves it byte-exact.
#[test]
fn a_magnet_streams_once_its_metadata_is_in() {
    let home = Home::new();
    let data = test_data(900_000, 29);
    let (meta, _) = make_torrent("clip.mp4", &data, 16 * 1024);
    let ih = meta.info_hash.to_hex();
    let seeder = Seeder::start(meta, "clip.mp4", &data);
    let magnet = format!(
        "magnet:?xt=urn:btih:{ih}&dn=clip&x.pe={}",
        seeder.session.local_addr()
    );
    let out = home.command().args(["stream", &magnet]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap();
    let rest = url.trim().strip_prefix("http://127.0.0.1:").unwrap();
    let (port, path) = rest.split_once('/').unwrap();
    assert!(path.ends_with(&format!("/{ih}/0/clip.mp4")), "{path}");
    let port: u16 = port.parse().unwrap();
    let answer = http(
        port,
        "GET",
        &format!("/{path}"),
        &format!("127.0.0.1:{port}"),
        Some("bytes=500000-"),
    );
    assert_eq!(answer.status, 206);
    assert_eq!(answer.header("content-type"), Some("video/mp4"));
    assert!(answer.body == data[500_000..], "the streamed bytes differ");
    let stopped = home.command().args(["daemon", "--stop"]).output().unwrap();
    assert!(stopped.status.success());
}

//! `peers` through the daemon protocol (the downloads page's peers tab): a python3-libtorrent
//! seeder on loopback shows up with its address, its client name, all pieces, and the flags of
//! a download in progress; unknown and malformed hashes are refused.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

const PYTHON: &str = "/usr/bin/python3"; // Debian's, which can import libtorrent

#[test]
fn peers_lists_the_libtorrent_seeder_while_downloading_from_it() {
    let home = Home::new();
    let seed_dir = tempfile::tempdir().unwrap();
    let data = test_data(4 * 1024 * 1024, 5);
    let (_, torrent) = make_torrent("peers.bin", &data, 32 * 1024);
    std::fs::write(seed_dir.path().join("peers.bin"), &data).unwrap();
    let torrent_file = seed_dir.path().join("peers.torrent");
    std::fs::write(&torrent_file, &torrent).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libtorrent_seeder.py");
    let mut seeder = KillOnDrop(
        Command::new(PYTHON)
            .arg(script)
            .arg(&torrent_file)
            .arg(seed_dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3-libtorrent (scripts/install-test-deps.sh installs it)"),
    );
    let mut line = String::new();
    BufReader::new(seeder.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("seeder said {line:?}"));

    let mut host = home.relay();
    host.call(json!({"cmd": "subscribe"}));
    // Capped, so the download is still running when we look (two seeds may part at once).
    let added = host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent),
        "peers": [format!("127.0.0.1:{port}")], "down_limit": 256 * 1024}));
    let ih = added["info_hash"].as_str().unwrap().to_owned();
    host.wait_status(&ih, "some bytes", |t| t["have_bytes"].as_u64().unwrap() > 0);

    let answer = host.call(json!({"cmd": "peers", "info_hash": ih}));
    assert_eq!(answer["info_hash"], ih.as_str());
    let peers = answer["peers"].as_array().unwrap();
    let seeder_peer = peers
        .iter()
        .find(|p| p["addr"] == format!("127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("the seeder is not among {answer}"));
    assert_eq!(seeder_peer["progress"], 1.0, "{seeder_peer}");
    let client = seeder_peer["client"].as_str().unwrap();
    assert!(
        client.to_lowercase().contains("libtorrent") || client.contains("LT"),
        "client {client:?}"
    );
    let flags: Vec<&str> = seeder_peer["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        flags.contains(&"interested"),
        "we want its pieces: {flags:?}"
    );

    let unknown = "ab".repeat(20);
    assert_eq!(
        host.error_code(json!({"cmd": "peers", "info_hash": unknown})),
        "unknown_torrent"
    );
    assert_eq!(
        host.error_code(json!({"cmd": "peers", "info_hash": "xyz"})),
        "bad_request"
    );
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

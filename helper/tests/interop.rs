//! The host downloading from a real client: a python3-libtorrent seeder on loopback.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

const PYTHON: &str = "/usr/bin/python3"; // Debian's, which can import libtorrent

#[test]
fn downloads_from_libtorrent_through_the_host() {
    let home = Home::new();
    let seed_dir = tempfile::tempdir().unwrap();
    let data = test_data(3 * 1024 * 1024 + 777, 11);
    let (_, torrent) = make_torrent("clip.bin", &data, 32 * 1024);
    std::fs::write(seed_dir.path().join("clip.bin"), &data).unwrap();
    let torrent_file = seed_dir.path().join("clip.torrent");
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
    let added = host.call(
        json!({"cmd": "add", "torrent_b64": b64(&torrent), "peers": [format!("127.0.0.1:{port}")]}),
    );
    let ih = added["info_hash"].as_str().unwrap().to_owned();
    let done = host.wait_status(&ih, "seeding", |t| t["state"] == "seeding");
    assert_eq!(done["have_bytes"], data.len() as u64);
    let saved = std::fs::read(home.downloads().join("clip.bin")).unwrap();
    assert!(saved == data, "the downloaded bytes differ");
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

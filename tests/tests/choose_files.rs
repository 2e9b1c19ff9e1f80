//! Choosing files before the start, against python3-libtorrent on loopback: a three-file torrent
//! whose files straddle pieces, one file selected (by `bthelper download --only` and through
//! the daemon's `choose_files: ask` wait and `select`): only that file exists, byte-exact, and
//! no other file of the torrent was created (their bytes of shared pieces went to the part file
//! in the state directory). Streaming a skipped file (`bthelper stream HASH --file N`) selects
//! it, and the stream serves it whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use swarmlink_tests::bthelper::download as bthelper_download;
use swarmlink_tests::daemon::Daemon;
use swarmlink_tests::libtorrent::{self, LtPeer};
use swarmlink_tests::{spawn, wait_until, write_random};

/// Lengths that put every file boundary inside a piece of 32 KiB.
const FILES: [(&str, usize); 3] = [("a.bin", 100_000), ("b.bin", 150_001), ("c.bin", 90_017)];
const PIECE: u32 = 32 * 1024;

/// The seeder's directory (`show/` with the three files), the torrent, and the files' bytes.
fn three_files(dir: &Path) -> (PathBuf, PathBuf, Vec<Vec<u8>>) {
    let seed_dir = dir.join("seed");
    let originals = (FILES.iter().enumerate())
        .map(|(i, (name, len))| {
            write_random(&seed_dir.join("show").join(name), *len, 40 + i as u64)
        })
        .collect();
    let torrent = dir.join("show.torrent");
    libtorrent::create(&seed_dir.join("show"), &torrent, PIECE, false);
    (seed_dir, torrent, originals)
}

/// Every file below `dir`, relative to it.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .into_iter()
            .flatten()
            .map_while(Result::ok)
        {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn part_files(state: &Path) -> Vec<String> {
    files_below(state)
        .into_iter()
        .filter(|f| f.ends_with(".parts"))
        .collect()
}

#[test]
fn download_only_one_file_from_libtorrent() {
    let dir = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, originals) = three_files(dir.path());
    let seeder = LtPeer::seed(&libtorrent::peer_script(), &torrent, &seed_dir);

    let out = dir.path().join("out");
    spawn(&mut bthelper_download(
        &torrent,
        &out,
        &[seeder.port],
        &["--only", "1"],
    ))
    .expect_success(Duration::from_secs(60));
    assert_eq!(
        files_below(&out.join("show")),
        vec!["b.bin"],
        "only the chosen file exists"
    );
    assert!(
        std::fs::read(out.join("show/b.bin")).unwrap() == originals[1],
        "b.bin differs"
    );
    assert_eq!(
        part_files(&out.join(".state")).len(),
        1,
        "the neighbours' bytes of the shared pieces are in the state directory"
    );
}

#[test]
fn the_daemon_asks_then_fetches_only_the_chosen_file() {
    let dir = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, originals) = three_files(dir.path());
    let meta = protocol::Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    let hash = meta.info_hash.to_hex();
    let daemon = Daemon::start(json!({"choose_files": "ask"}));

    let added = daemon.run(&["add", torrent.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&added.stdout).contains("waiting for a choice of files"),
        "{}",
        String::from_utf8_lossy(&added.stdout)
    );
    wait_until("the torrent waits for a choice", 20, || {
        daemon.status(&hash)["state"] == "awaiting_selection"
    });
    let files = daemon.json(&["files", &hash, "--json"]);
    assert_eq!(files["awaiting_selection"], true);
    let paths: Vec<&str> = (files["files"].as_array().unwrap().iter())
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["show/a.bin", "show/b.bin", "show/c.bin"]);
    assert_eq!(files["total_bytes"], 340_018);

    // Waiting, the torrent has written nothing (its check found nothing to read either).
    assert_eq!(files_below(&daemon.downloads()), Vec::<String>::new());

    daemon.run(&["select", &hash, "1"]);
    let peer = format!("127.0.0.1:{}", daemon.port);
    let seeder = LtPeer::start(libtorrent::python().arg(libtorrent::peer_script()).args([
        "seed",
        torrent.to_str().unwrap(),
        seed_dir.to_str().unwrap(),
        &peer,
    ]));
    wait_until("the chosen file is complete", 60, || {
        daemon.status(&hash)["state"] == "seeding"
    });
    assert_eq!(files_below(&daemon.downloads().join("show")), vec!["b.bin"]);
    assert!(
        std::fs::read(daemon.downloads().join("show/b.bin")).unwrap() == originals[1],
        "b.bin differs"
    );
    let files = daemon.json(&["files", &hash, "--json"]);
    let list = files["files"].as_array().unwrap();
    assert_eq!(list[1]["progress"], 1.0);
    assert_eq!(list[0]["priority"], "skip");
    assert_eq!(files["selected_bytes"], 150_001);
    drop(seeder);
}

/// The body of a plain `GET` of a loopback URL (the daemon's stream), read to the end; bounded
/// by a 60 s read timeout.
fn get(url: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(authority).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

#[test]
fn streaming_a_skipped_file_selects_it() {
    let dir = tempfile::tempdir().unwrap();
    let (seed_dir, torrent, originals) = three_files(dir.path());
    let meta = protocol::Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    let hash = meta.info_hash.to_hex();
    let daemon = Daemon::start(json!({"choose_files": "ask"}));
    daemon.run(&["add", torrent.to_str().unwrap(), "--only", "0"]);
    let files = daemon.json(&["files", &hash, "--json"]);
    assert_eq!(files["files"][2]["priority"], "skip");

    let url = String::from_utf8(daemon.run(&["stream", &hash, "--file", "2"]).stdout).unwrap();
    let url = url.trim();
    assert!(url.ends_with(&format!("/{hash}/2/c.bin")), "{url}");
    let files = daemon.json(&["files", &hash, "--json"]);
    let priorities: Vec<&str> = (files["files"].as_array().unwrap().iter())
        .map(|f| f["priority"].as_str().unwrap())
        .collect();
    assert_eq!(
        priorities,
        ["normal", "skip", "normal"],
        "streaming selected c.bin"
    );

    let peer = format!("127.0.0.1:{}", daemon.port);
    let seeder = LtPeer::start(libtorrent::python().arg(libtorrent::peer_script()).args([
        "seed",
        torrent.to_str().unwrap(),
        seed_dir.to_str().unwrap(),
        &peer,
    ]));
    let (status, body) = get(url);
    assert_eq!(status, 200);
    assert!(body == originals[2], "the streamed c.bin differs");
    drop(seeder);
}

//! The first announce tells the truth. A peer's `started` goes out while its initial check still
//! runs (no peer source waits), saying `left` = everything; when the check finds the copy
//! complete, the tracker must hear `left=0` at once, or the seeder counts as a leecher for a
//! whole interval (30 minutes) and every published file looks dead on the listing page. And it
//! is no download: `completed` stays 0.
//!
//! Covered: btpublish with a single file and a directory (multi-file), and the helper's daemon
//! adding a torrent whose data is already in its download directory (checks, then seeds).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use protocol::Metainfo;
use swarmlink_tests::tracker::{http_get, scrape, start_bttrack};
use swarmlink_tests::{bin, spawn, wait_until, write_random, KillOnDrop};

/// Seconds a seeder may take to show as one: generous for a loaded machine, and far below the
/// 30-minute interval that the bug waited for.
const WITHIN: u64 = 30;

fn info_hash(torrent: &Path) -> protocol::InfoHash {
    Metainfo::from_bytes(&std::fs::read(torrent).unwrap())
        .unwrap()
        .info_hash
}

/// Waits until the tracker counts exactly one seeder and no leecher for `torrent`, then checks
/// that no download was counted.
fn assert_one_seeder(port: u16, torrent: &Path) {
    let ih = info_hash(torrent);
    let mut last = Default::default();
    wait_until(
        &format!("{} to count as a seeder", torrent.display()),
        WITHIN,
        || {
            last = scrape(port, ih);
            last.complete == 1 && last.incomplete == 0
        },
    );
    assert_eq!(
        last.downloaded, 0,
        "a complete copy is no download: {last:?}"
    );
}

#[test]
fn btpublish_counts_as_a_seeder_within_seconds() {
    let (_tracker, port) = start_bttrack(&[]);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    // Big enough that the check outlasts a loopback announce (the original report: 30 MB).
    write_random(&src.join("Sintel trailer.mkv"), 24 << 20, 1);
    write_random(&src.join("notes").join("notes.pdf"), 12 << 20, 2);
    write_random(&src.join("notes").join("more").join("b.txt"), 3 << 20, 3);
    let mut publisher = spawn(
        Command::new(bin("btpublish"))
            .args(["--port", "0", "--location"])
            .arg(format!("http://127.0.0.1:{port}/publish/"))
            .arg(src.join("Sintel trailer.mkv"))
            .arg(src.join("notes"))
            .env("RUST_LOG", "warn"),
    );
    publisher.wait_for("Sintel trailer.mkv: http://", Duration::from_secs(120));
    publisher.wait_for("notes: http://", Duration::from_secs(120));
    assert_one_seeder(port, &src.join("Sintel trailer.mkv.torrent"));
    assert_one_seeder(port, &src.join("notes.torrent"));
    // The listing says so too, and that the publisher is online.
    let json: serde_json::Value = serde_json::from_slice(&http_get(port, "/?format=json")).unwrap();
    for t in json["torrents"].as_array().unwrap() {
        assert_eq!(t["seeders"], 1, "{t}");
        assert_eq!(t["leechers"], 0, "{t}");
        assert_eq!(t["publisher_online"], true, "{t}");
    }
}

#[test]
fn a_daemon_torrent_that_checks_then_seeds_counts_as_a_seeder() {
    let (_tracker, port) = start_bttrack(&["--open"]);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("helper");
    let downloads = home.join("downloads");
    write_random(&downloads.join("film.bin"), 24 << 20, 4);
    let torrent = dir.path().join("film.torrent");
    let made = Command::new(bin("btpublish"))
        .arg("make")
        .arg(downloads.join("film.bin"))
        .arg("--announce")
        .arg(format!("http://127.0.0.1:{port}/announce"))
        .arg("-o")
        .arg(&torrent)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    // The daemon in the foreground, stopped by its PID when the test ends.
    let _daemon = KillOnDrop(
        Command::new(bin("bthelper"))
            .arg("daemon")
            .env("SWARMLINK_HOME", &home)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // `add` would start a daemon of its own (detached) if ours were not listening yet.
    let socket = home.join("run").join("daemon.sock");
    wait_until("the daemon to listen", WITHIN, || socket.exists());
    let added = Command::new(bin("bthelper"))
        .arg("add")
        .arg(&torrent)
        .env("SWARMLINK_HOME", &home)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(added.success());
    assert_one_seeder(port, &torrent);
}

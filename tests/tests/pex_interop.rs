//! Peer exchange (BEP 11, `ut_pex`) with python3-libtorrent, both ways: a peer reached only
//! because another peer named it in a `ut_pex` message, and the data shown to come from it.
//!
//! The peer to be learned is a libtorrent seeder with PEX off for its torrent, so it can learn
//! nobody itself: a connection to it exists only because the downloader dialed it, and it can
//! dial it only because the hub (the one peer it was given) named it. The hub downloads from the
//! seeder under a rate limit (libtorrent's at 16 KiB/s, ours at 256 KiB/s), so it has little to
//! give, and most of the 8 MiB must come from the seeder. No trackers, DHT or local discovery
//! (the tests' bthelpers run without them).
//!
//! Why not slower hubs: both limiters count every byte read, protocol messages too. At 1 B/s
//! libtorrent never read the seeder's handshake. Our engine charges a whole read (up to 256 KiB
//! from a fast seeder) to the limiter and then sleeps off the debt, so another peer's next
//! message waits up to 256 KiB / rate: minutes at 1 KiB/s (a new peer's extended handshake,
//! and with it our PEX, waited over 25 s), about 1 s at 256 KiB/s.
//!
//! libtorrent sends its first `ut_pex` message once it has two peers (within a few seconds),
//! then one a minute; we send ours at the extension handshake, then one a minute. Each test
//! usually takes a few seconds; on a loaded machine the peer may only be named in the second
//! message, a minute later, so the limits allow about two minutes (and the hubs' rates keep
//! them short of half the file even then).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use swarmlink_tests::libtorrent::{create, python, LtPeer};
use swarmlink_tests::{bthelper, spawn, workspace_root, write_random, Running};

const LEN: usize = 8 << 20;
const PIECE: u32 = 64 * 1024;

fn script() -> PathBuf {
    workspace_root().join("tests/tests/pex_lt_peer.py")
}

/// A trackerless torrent of `LEN` random bytes under `dir/seed`; returns it and the bytes.
fn torrent(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let seed = dir.join("seed");
    let data = write_random(&seed.join(name), LEN, 51);
    let torrent = dir.join(format!("{name}.torrent"));
    create(&seed.join(name), &torrent, PIECE, false);
    (torrent, data)
}

/// The libtorrent seeder that PEX must lead to (PEX off for its own torrent).
fn quiet_seed(torrent: &Path, dir: &Path) -> LtPeer {
    let mut seed = LtPeer::start(python().arg(script()).arg("seed").arg(torrent).arg(dir));
    seed.run.wait_line("seeding", Duration::from_secs(20));
    seed
}

/// The last "KEY N" a libtorrent peer printed, once it printed nothing new for half a second
/// (it prints a counter whenever it changes, every 100 ms).
fn settled(run: &mut Running, key: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !run.lines_within(Duration::from_millis(500)).is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} never went quiet",
            run.program
        );
    }
    let prefix = format!("{key} ");
    run.seen
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn bthelper_downloads_from_a_peer_named_only_by_libtorrents_pex() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data) = torrent(dir.path(), "pex-from-lt.bin");
    let mut seed = quiet_seed(&torrent, &dir.path().join("seed"));
    let mut hub = LtPeer::start(
        python()
            .env("HUB_RATE", "16384")
            .arg(script())
            .arg("hub")
            .arg(&torrent)
            .arg(dir.path().join("hub"))
            .arg(seed.port.to_string()),
    );
    // The hub has data from the seeder (so their handshakes are done) before we ask it about
    // peers: its first PEX message names only peers connected by then, the next comes a minute
    // later.
    let deadline = Instant::now() + Duration::from_secs(30);
    while hub.run.wait_for_by("downloaded ", deadline) == "downloaded 0" {}

    // We know only the hub; the hub's ut_pex names the seeder.
    let out = dir.path().join("out");
    let mut leech = spawn(&mut bthelper::download(&torrent, &out, &[hub.port], &[]));
    leech.expect_success(Duration::from_secs(150));
    assert!(std::fs::read(out.join("pex-from-lt.bin")).unwrap() == data);

    // The seeder's other peer is the hub: the rest of what it sent went to us, most of the file.
    let seeder_sent = settled(&mut seed.run, "uploaded");
    let hub_got = settled(&mut hub.run, "downloaded");
    let to_us = seeder_sent.saturating_sub(hub_got);
    eprintln!("the seeder sent {to_us} bytes to bthelper, {hub_got} to the hub");
    assert!(
        to_us >= LEN as u64 / 2,
        "the seeder sent {seeder_sent} bytes, {hub_got} of them to the hub"
    );
}

#[test]
fn libtorrent_downloads_from_a_peer_named_only_by_our_pex() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data) = torrent(dir.path(), "pex-to-lt.bin");
    let seed = quiet_seed(&torrent, &dir.path().join("seed"));

    // Our hub dials the seeder and downloads at 256 KiB/s: it has little to give.
    let hub_out = dir.path().join("hub");
    let mut hub = spawn(&mut bthelper::download(
        &torrent,
        &hub_out,
        &[seed.port],
        &["--max-download-kib", "256"],
    ));
    let hub_port: u16 = hub
        .wait_line("listening on port", Duration::from_secs(30))
        .parse()
        .unwrap();

    // libtorrent knows only our hub; our ut_pex names the seeder.
    let mut lt = spawn(
        python()
            .env("DL_TIMEOUT", "140")
            .arg(script())
            .arg("download")
            .arg(&torrent)
            .arg(dir.path().join("lt"))
            .arg(hub_port.to_string()),
    );
    lt.expect_success(Duration::from_secs(150));
    assert!(std::fs::read(dir.path().join("lt/pex-to-lt.bin")).unwrap() == data);

    // Per peer, what libtorrent received: most of it from the seeder.
    let from = |port: u16| -> u64 {
        lt.seen
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("from {port} ")))
            .filter_map(|n| n.trim().parse::<u64>().ok())
            .sum()
    };
    eprintln!(
        "libtorrent got {} bytes from the seeder, {} from our hub",
        from(seed.port),
        from(hub_port)
    );
    assert!(
        from(seed.port) >= LEN as u64 / 2,
        "libtorrent got {} bytes from the seeder, {} from our hub: {:?}",
        from(seed.port),
        from(hub_port),
        lt.seen
    );
    assert!(
        from(seed.port) + from(hub_port) >= LEN as u64,
        "every block came from one of the two: {:?}",
        lt.seen
    );
    assert!(hub.child.try_wait().unwrap().is_none(), "{}", hub.drain());
}

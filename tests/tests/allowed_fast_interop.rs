//! BEP 6 allowed-fast against python3-libtorrent on loopback, both ways, with the uploader
//! choking everyone: the downloader gets exactly the pieces it was allowed fast, no more.
//!
//! - A libtorrent seeder with no upload slots grants `allowed_fast_set_size` pieces; a
//!   `bthelper download` fetches exactly those (checked piece by piece on disk).
//! - A libtorrent downloader facing our engine seeding with `upload_slots: 0` gets exactly our
//!   canonical set (checked in libtorrent's own list of verified pieces).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use swarmlink_tests::{bin, workspace_root, KillOnDrop, SYSTEM_PYTHON};

const PIECE: usize = 32 * 1024;
const PIECES: usize = 40;

fn lt_peer_script() -> PathBuf {
    workspace_root().join("tests/tests/allowed_fast_lt_peer.py")
}

fn write_random(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &data).unwrap();
    data
}

/// Random data of `PIECES` pieces in `dir/seed/name` and a .torrent for it made by libtorrent.
fn fixture(dir: &Path, name: &str, seed: u64) -> (PathBuf, Vec<u8>, protocol::Metainfo) {
    let file = dir.join("seed").join(name);
    let data = write_random(&file, PIECES * PIECE, seed);
    let torrent = dir.join(format!("{name}.torrent"));
    let made = Command::new(SYSTEM_PYTHON)
        .arg(workspace_root().join("bench/download_lt_peer.py"))
        .arg("create")
        .arg(&file)
        .arg(&torrent)
        .arg(PIECE.to_string())
        .status()
        .unwrap();
    assert!(made.success(), "libtorrent create_torrent failed");
    let meta = protocol::Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    assert_eq!(meta.info.pieces.len(), PIECES);
    (torrent, data, meta)
}

/// Spawns a process and returns it with a channel of its stdout (and stderr) lines.
fn spawn_lines(cmd: &mut Command) -> (KillOnDrop, mpsc::Receiver<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    (KillOnDrop(child), rx)
}

/// Waits for a line starting with `prefix` and returns the rest of it.
fn wait_line(rx: &mpsc::Receiver<String>, prefix: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.trim().to_string();
                }
                seen.push(line);
            }
            Err(_) => panic!("no line starting with {prefix:?} within {limit:?}; saw: {seen:#?}"),
        }
    }
}

/// The pieces of `path` that hold exactly `data`'s bytes (a missing file holds none).
fn pieces_on_disk(path: &Path, data: &[u8]) -> BTreeSet<u32> {
    let on_disk = std::fs::read(path).unwrap_or_default();
    (0..PIECES)
        .filter(|&i| {
            let r = i * PIECE..(i + 1) * PIECE;
            on_disk.get(r.clone()) == Some(&data[r])
        })
        .map(|i| i as u32)
        .collect()
}

#[test]
fn bthelper_fetches_exactly_what_a_choking_libtorrent_allows_fast() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data, meta) = fixture(dir.path(), "fast.bin", 61);
    // Built (if need be) before the seeder starts its clock.
    let bthelper = bin("bthelper");
    let k = 4;
    let (_seeder, rx) = spawn_lines(
        Command::new(SYSTEM_PYTHON)
            .arg(lt_peer_script())
            .arg("seed")
            .arg(&torrent)
            .arg(dir.path().join("seed"))
            .arg(k.to_string()),
    );
    let port: u16 = wait_line(&rx, "port ", Duration::from_secs(20))
        .parse()
        .unwrap();
    wait_line(&rx, "seeding", Duration::from_secs(20));
    // libtorrent hashes our whole address (no /24 mask) into BEP 6's generator.
    let expected: BTreeSet<u32> =
        protocol::wire::allowed_fast_from(&[127, 0, 0, 1], &meta.info_hash, PIECES as u32, k)
            .into_iter()
            .collect();
    assert_eq!(expected.len(), k as usize);

    let out = dir.path().join("out");
    let (_bthelper, lines) = spawn_lines(
        Command::new(bthelper)
            .arg("download")
            .arg(&torrent)
            .arg("-o")
            .arg(&out)
            .arg("--state-dir")
            .arg(out.join(".state"))
            .arg("--peer")
            .arg(format!("127.0.0.1:{port}"))
            .env("SWARMLINK_NO_DHT", "1")
            .env("SWARMLINK_NO_LSD", "1"),
    );
    let file = out.join("fast.bin");
    let deadline = Instant::now() + Duration::from_secs(60);
    while pieces_on_disk(&file, &data) != expected {
        let got = pieces_on_disk(&file, &data);
        assert!(
            got.is_subset(&expected),
            "got pieces outside the allowed-fast set {expected:?}: {got:?}"
        );
        assert!(
            Instant::now() < deadline,
            "allowed-fast pieces {expected:?} not all fetched (have {got:?}); bthelper said {:?}",
            lines.try_iter().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Still choked: nothing else comes.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(pieces_on_disk(&file, &data), expected);
}

#[test]
fn libtorrent_fetches_exactly_our_allowed_fast_set_from_a_choking_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, _data, meta) = fixture(dir.path(), "grant.bin", 62);
    let ih = meta.info_hash;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = engine::SessionConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: dir.path().join("seed"),
        upload_slots: 0, // choke everyone
        ..Default::default()
    };
    let session = runtime.block_on(engine::Session::start(config)).unwrap();
    runtime
        .block_on(session.add(engine::AddTorrent::metainfo(meta)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while session.status(ih).unwrap().state != engine::TorrentState::Seeding {
        assert!(Instant::now() < deadline, "seeder did not check its data");
        std::thread::sleep(Duration::from_millis(20));
    }
    let expected: BTreeSet<u32> =
        protocol::wire::allowed_fast_set("127.0.0.1".parse().unwrap(), &ih, PIECES as u32, 10)
            .into_iter()
            .collect();

    let lt_dir = dir.path().join("lt");
    std::fs::create_dir_all(&lt_dir).unwrap();
    let (_lt, rx) = spawn_lines(
        Command::new(SYSTEM_PYTHON)
            .arg(lt_peer_script())
            .arg("leech")
            .arg(&torrent)
            .arg(&lt_dir)
            .arg(session.local_addr().to_string()),
    );
    let parse = |s: &str| -> BTreeSet<u32> {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(|x| x.parse().unwrap())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut have = BTreeSet::new();
    while have != expected {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = wait_line(&rx, "have", left);
        have = parse(&line);
        assert!(
            have.is_subset(&expected),
            "libtorrent got pieces outside our set {expected:?}: {have:?}"
        );
    }
    // Nothing more while choked; libtorrent was never unchoked.
    let quiet = Instant::now() + Duration::from_secs(2);
    while let Some(left) = quiet.checked_duration_since(Instant::now()) {
        if let Ok(line) = rx.recv_timeout(left) {
            assert!(!line.starts_with("have"), "more pieces came: {line}");
        }
    }
    let peers = session.peers(ih);
    assert!(
        !peers.is_empty() && peers.iter().all(|p| p.am_choking),
        "{peers:?}"
    );
    let status = session.status(ih).unwrap();
    let set_bytes = (expected.len() * PIECE) as u64;
    assert!(
        status.uploaded >= set_bytes && status.uploaded <= 2 * set_bytes,
        "uploaded {} for a set of {set_bytes} bytes",
        status.uploaded
    );
    runtime.block_on(session.shutdown());
}

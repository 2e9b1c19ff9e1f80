//! `bthelper download` against python3-libtorrent on loopback: byte-exact both ways, single-file
//! and a multi-file torrent with BEP 47 pad files made by libtorrent.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use swarmlink_tests::bthelper::download as bthelper_download;
use swarmlink_tests::libtorrent::{self, LtPeer};
use swarmlink_tests::{free_port, spawn, write_random, KillOnDrop};

/// A libtorrent seeder (bench/download_lt_peer.py) of `torrent`'s data in `dir`.
fn lt_seed(torrent: &Path, dir: &Path) -> LtPeer {
    LtPeer::seed(&libtorrent::peer_script(), torrent, dir)
}

#[test]
fn downloads_from_libtorrent_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let seed_dir = dir.path().join("seed");
    let data = write_random(&seed_dir.join("movie.bin"), 6 * 1024 * 1024 + 777, 1);
    let torrent = dir.path().join("movie.torrent");
    libtorrent::create(&seed_dir.join("movie.bin"), &torrent, 64 * 1024, false);
    let seeder = lt_seed(&torrent, &seed_dir);

    let out = dir.path().join("out");
    spawn(&mut bthelper_download(&torrent, &out, &[seeder.port], &[]))
        .expect_success(Duration::from_secs(60));
    assert!(
        std::fs::read(out.join("movie.bin")).unwrap() == data,
        "downloaded bytes differ"
    );
}

#[test]
fn downloads_multi_file_with_pad_files_from_libtorrent() {
    let dir = tempfile::tempdir().unwrap();
    let seed_dir = dir.path().join("seed");
    let content = seed_dir.join("album");
    let files = [
        ("a.flac", 100_000usize),
        ("sub/b.flac", 300_001),
        ("sub/c.txt", 17),
        ("d.bin", 70_000),
    ];
    let originals: Vec<Vec<u8>> = files
        .iter()
        .enumerate()
        .map(|(i, (name, len))| write_random(&content.join(name), *len, i as u64))
        .collect();
    let torrent = dir.path().join("album.torrent");
    libtorrent::create(&content, &torrent, 32 * 1024, true);
    let meta = protocol::Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    assert!(
        meta.info.files.iter().any(|f| f.pad),
        "libtorrent made pad files"
    );
    let seeder = lt_seed(&torrent, &seed_dir);

    let out = dir.path().join("out");
    spawn(&mut bthelper_download(&torrent, &out, &[seeder.port], &[]))
        .expect_success(Duration::from_secs(60));
    for ((name, _), original) in files.iter().zip(&originals) {
        assert!(
            std::fs::read(out.join("album").join(name)).unwrap() == *original,
            "{name} differs"
        );
    }
    let pads: Vec<_> = walk(&out.join("album"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".pad"))
        .collect();
    assert!(pads.is_empty(), "pad files are never written: {pads:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().map_while(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn libtorrent_downloads_from_seeding_bthelper() {
    let dir = tempfile::tempdir().unwrap();
    let seed_dir = dir.path().join("seed");
    let data = write_random(&seed_dir.join("data.bin"), 5 * 1024 * 1024 + 3, 9);
    let torrent = dir.path().join("data.torrent");
    libtorrent::create(&seed_dir.join("data.bin"), &torrent, 128 * 1024, false);

    // bthelper checks the complete copy, then seeds it.
    let mut seeder = spawn(&mut bthelper_download(
        &torrent,
        &seed_dir,
        &[],
        &["--seed"],
    ));
    let port = seeder.wait_line("listening on port ", Duration::from_secs(60));
    seeder.wait_line("download complete", Duration::from_secs(30));

    let out = dir.path().join("lt");
    std::fs::create_dir_all(&out).unwrap();
    let mut lt = LtPeer::start(
        libtorrent::python()
            .arg(libtorrent::peer_script())
            .arg("download")
            .arg(&torrent)
            .arg(&out)
            .arg(format!("127.0.0.1:{port}"))
            .env("DL_TIMEOUT", "60"),
    );
    lt.run.wait_line("done", Duration::from_secs(70));
    // libtorrent has written everything once its session ends, as the script exits.
    let _ = lt.run.wait_exit(Duration::from_secs(30));
    assert!(
        std::fs::read(out.join("data.bin")).unwrap() == data,
        "libtorrent got different bytes"
    );
}

fn transmission(torrent: &Path, dir: &Path, cfg: &Path, port: u16) -> KillOnDrop {
    let child = Command::new("transmission-cli")
        .arg("-g")
        .arg(cfg)
        .arg("-w")
        .arg(dir)
        .args(["-p", &port.to_string(), "-M", "-B", "-et", "-v"])
        .arg(torrent)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("transmission-cli runs");
    KillOnDrop(child)
}

fn aria2(torrent: &Path, dir: &Path, port: u16, seed: bool) -> KillOnDrop {
    let mut cmd = Command::new("aria2c");
    cmd.arg("-d")
        .arg(dir)
        .arg(format!("--listen-port={port}"))
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--summary-interval=0",
            "--console-log-level=warn",
        ]);
    if seed {
        cmd.args(["-V", "--seed-ratio=0.0"]);
    } else {
        cmd.args(["--seed-time=0"]);
    }
    KillOnDrop(
        cmd.arg(torrent)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aria2c runs"),
    )
}

/// Polls until `path` holds exactly `data`.
fn wait_for_file(path: &Path, data: &[u8], limit: Duration, what: &str) {
    let deadline = std::time::Instant::now() + limit;
    while std::fs::read(path).ok().as_deref() != Some(data) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {} never matched",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A torrent made by libtorrent over random data in `dir/seed/name`.
fn fixture(dir: &Path, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let seed_dir = dir.join("seed");
    let data = write_random(&seed_dir.join(name), len, len as u64);
    let torrent = dir.join(format!("{name}.torrent"));
    libtorrent::create(&seed_dir.join(name), &torrent, 64 * 1024, false);
    (torrent, data)
}

#[test]
fn downloads_from_transmission_and_aria2_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data) = fixture(dir.path(), "t.bin", 3 * 1024 * 1024 + 11);
    let seed_dir = dir.path().join("seed");

    let tport = free_port();
    let _t = transmission(&torrent, &seed_dir, &dir.path().join("tcfg"), tport);
    let out = dir.path().join("from-transmission");
    // Transmission unchokes newcomers at its next rechoke (up to 10 s).
    spawn(&mut bthelper_download(&torrent, &out, &[tport], &[]))
        .expect_success(Duration::from_secs(60));
    assert!(
        std::fs::read(out.join("t.bin")).unwrap() == data,
        "bytes from Transmission differ"
    );

    let aport = free_port();
    let _a = aria2(&torrent, &seed_dir, aport, true);
    let out = dir.path().join("from-aria2");
    spawn(&mut bthelper_download(&torrent, &out, &[aport], &[]))
        .expect_success(Duration::from_secs(60));
    assert!(
        std::fs::read(out.join("t.bin")).unwrap() == data,
        "bytes from aria2 differ"
    );
}

#[test]
fn transmission_and_aria2_download_from_seeding_bthelper() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data) = fixture(dir.path(), "u.bin", 3 * 1024 * 1024 + 5);
    let seed_dir = dir.path().join("seed");

    // The leechers listen; the seeding bthelper dials them (Transmission ignores loopback
    // peers from trackers, and neither can be handed a peer address).
    let tport = free_port();
    let tdir = dir.path().join("transmission");
    std::fs::create_dir_all(&tdir).unwrap();
    let _t = transmission(&torrent, &tdir, &dir.path().join("tcfg"), tport);
    let aport = free_port();
    let adir = dir.path().join("aria2");
    std::fs::create_dir_all(&adir).unwrap();
    let mut a = aria2(&torrent, &adir, aport, false);
    std::thread::sleep(Duration::from_millis(500)); // let them bind (their ports were chosen free)

    let mut seeder = spawn(&mut bthelper_download(
        &torrent,
        &seed_dir,
        &[tport, aport],
        &["--seed"],
    ));
    seeder.wait_line("download complete", Duration::from_secs(60));
    wait_for_file(&adir.join("u.bin"), &data, Duration::from_secs(60), "aria2");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while a.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "aria2 did not exit after completing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for_file(
        &tdir.join("u.bin"),
        &data,
        Duration::from_secs(60),
        "Transmission",
    );
}

/// Ctrl-C stops a download cleanly and saves resume data: the next run continues from the
/// verified pieces without checking the file again, and finishes byte-exact.
#[test]
fn ctrl_c_saves_resume_data_and_the_next_run_continues() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, data) = fixture(dir.path(), "r.bin", 4 * 1024 * 1024);
    let seeder = lt_seed(&torrent, &dir.path().join("seed"));
    let port = seeder.port;
    let out = dir.path().join("out");

    let mut first = spawn(&mut bthelper_download(
        &torrent,
        &out,
        &[port],
        &["--max-download-kib", "512"],
    ));
    first.wait_line("downloading", Duration::from_secs(30));
    // Let some pieces be verified, then interrupt.
    let resume = out.join(".state");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(out.join("r.bin")).map_or(true, |m| m.len() == 0) {
        assert!(std::time::Instant::now() < deadline, "nothing written");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    first.interrupt();
    // Panics if bthelper did not stop on Ctrl-C.
    let status = first.wait_exit(Duration::from_secs(15));
    assert!(
        !status.success(),
        "an interrupted download is not a success"
    );
    let saved: Vec<_> = std::fs::read_dir(&resume)
        .unwrap()
        .map_while(Result::ok)
        .collect();
    assert_eq!(saved.len(), 1, "one resume file: {saved:?}");

    let mut second = spawn(&mut bthelper_download(&torrent, &out, &[port], &[]));
    second.expect_success(Duration::from_secs(60));
    assert!(
        !second
            .seen
            .iter()
            .any(|l| l.contains("checking existing file")),
        "resume data was trusted: {:?}",
        second.seen
    );
    assert!(std::fs::read(out.join("r.bin")).unwrap() == data);
}

//! Magnet links against python3-libtorrent on loopback: `bthelper download MAGNET` fetches the
//! metadata (BEP 9) from a libtorrent seeder and downloads byte-exact; libtorrent fetches a
//! magnet's metadata and data from a seeding bthelper.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use swarmlink_tests::libtorrent::{self, LtPeer};
use swarmlink_tests::{bin, spawn, workspace_root};

fn lt_script() -> PathBuf {
    workspace_root().join("tests/tests/magnet_lt_peer.py")
}

/// A multi-file torrent with enough files that its info dictionary spans two 16 KiB metadata
/// pieces, made by libtorrent. Returns the torrent's path and each file's (path, bytes).
fn make_content(dir: &Path) -> (PathBuf, Vec<(PathBuf, Vec<u8>)>) {
    use rand::{RngCore, SeedableRng};
    let root = dir.join("seed").join("album");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut files = Vec::new();
    for i in 0..400 {
        let rel = PathBuf::from(format!("disc-{}/track-{i:04}.bin", i % 4));
        let mut data = vec![0u8; 1000 + (i * 37) % 5000];
        rng.fill_bytes(&mut data);
        std::fs::create_dir_all(root.join(&rel).parent().unwrap()).unwrap();
        std::fs::write(root.join(&rel), &data).unwrap();
        files.push((rel, data));
    }
    let torrent = dir.join("album.torrent");
    libtorrent::create(&root, &torrent, 16384, false);
    (torrent, files)
}

fn metainfo(torrent: &Path) -> protocol::Metainfo {
    protocol::Metainfo::from_bytes(&std::fs::read(torrent).unwrap()).unwrap()
}

fn assert_files(root: &Path, files: &[(PathBuf, Vec<u8>)]) {
    // libtorrent 2 hashes blocks from its store buffer and says the torrent is done before its
    // disk threads have written every file (CI saw "done" with a file not yet created): give its
    // writes a few seconds before comparing.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline
        && !files
            .iter()
            .all(|(rel, data)| std::fs::read(root.join(rel)).is_ok_and(|got| got == *data))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    for (rel, data) in files {
        let got = std::fs::read(root.join(rel))
            .unwrap_or_else(|e| panic!("{}: {e}", root.join(rel).display()));
        assert!(got == *data, "{} differs", rel.display());
    }
}

/// `bthelper` without the DHT or LSD: nothing may leave loopback in tests.
fn bthelper() -> Command {
    let mut cmd = Command::new(bin("bthelper"));
    cmd.env("SWARMLINK_NO_DHT", "true")
        .env("SWARMLINK_NO_LSD", "true");
    cmd
}

#[test]
fn bthelper_downloads_a_magnet_from_a_libtorrent_seeder() {
    let dir = tempfile::tempdir().unwrap();
    let mut download = bthelper(); // built before the seeder starts its clock
    let (torrent, files) = make_content(dir.path());
    let meta = metainfo(&torrent);
    assert!(
        meta.info_bytes().len() > 16 * 1024,
        "the metadata spans several pieces ({} bytes)",
        meta.info_bytes().len()
    );
    let seed = LtPeer::seed(&lt_script(), &torrent, &dir.path().join("seed"));
    let port = seed.port;

    let out = dir.path().join("out");
    let state = dir.path().join("state");
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=shown+name&x.pe=127.0.0.1:{port}",
        meta.info_hash.to_hex()
    );
    spawn(
        download
            .arg("download")
            .arg(&magnet)
            .arg("-o")
            .arg(&out)
            .arg("--state-dir")
            .arg(&state),
    )
    .expect_success(Duration::from_secs(60));
    assert_files(&out.join("album"), &files);
    // The fetched metadata is kept as a .torrent, byte-identical in its info dictionary.
    let kept = metainfo(&state.join(format!("{}.torrent", meta.info_hash.to_hex())));
    assert_eq!(kept.info_bytes(), meta.info_bytes());
}

#[test]
fn libtorrent_fetches_a_magnet_from_a_bthelper_seeder() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, files) = make_content(dir.path());
    let meta = metainfo(&torrent);
    let mut seed = spawn(
        bthelper()
            .arg("download")
            .arg(&torrent)
            .arg("-o")
            .arg(dir.path().join("seed"))
            .arg("--state-dir")
            .arg(dir.path().join("seed-state"))
            .arg("--seed"),
    );
    let port = seed.wait_line("listening on port ", Duration::from_secs(30));
    seed.wait_line("download complete", Duration::from_secs(30));

    let out = dir.path().join("lt");
    let magnet = format!("magnet:?xt=urn:btih:{}", meta.info_hash.to_hex());
    let mut lt = LtPeer::start(
        libtorrent::python()
            .arg(lt_script())
            .arg("magnet")
            .arg(&magnet)
            .arg(&out)
            .arg(format!("127.0.0.1:{port}")),
    );
    let name = lt.run.wait_line("metadata ", Duration::from_secs(30));
    assert_eq!(name, "album");
    lt.run.wait_line("done", Duration::from_secs(30));
    assert_files(&out.join("album"), &files);
}

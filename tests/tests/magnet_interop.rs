//! Magnet links against python3-libtorrent on loopback: `bthelper download MAGNET` fetches the
//! metadata (BEP 9) from a libtorrent seeder and downloads byte-exact; libtorrent fetches a
//! magnet's metadata and data from a seeding bthelper.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use swarmlink_tests::{bin, workspace_root, KillOnDrop, SYSTEM_PYTHON};

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
    let status = Command::new(SYSTEM_PYTHON)
        .arg(workspace_root().join("bench/download_lt_peer.py"))
        .arg("create")
        .arg(&root)
        .arg(&torrent)
        .arg("16384")
        .status()
        .unwrap();
    assert!(status.success(), "libtorrent create_torrent failed");
    (torrent, files)
}

fn metainfo(torrent: &Path) -> protocol::Metainfo {
    protocol::Metainfo::from_bytes(&std::fs::read(torrent).unwrap()).unwrap()
}

/// Spawns a process and returns it with a channel of its stdout and stderr lines.
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

fn assert_files(root: &Path, files: &[(PathBuf, Vec<u8>)]) {
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
    let (_seed, rx) = spawn_lines(
        Command::new(SYSTEM_PYTHON)
            .arg(lt_script())
            .arg("seed")
            .arg(&torrent)
            .arg(dir.path().join("seed")),
    );
    let port = wait_line(&rx, "port ", Duration::from_secs(20));
    wait_line(&rx, "seeding", Duration::from_secs(20));

    let out = dir.path().join("out");
    let state = dir.path().join("state");
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&dn=shown+name&x.pe=127.0.0.1:{port}",
        meta.info_hash.to_hex()
    );
    let (mut child, lines) = spawn_lines(
        download
            .arg("download")
            .arg(&magnet)
            .arg("-o")
            .arg(&out)
            .arg("--state-dir")
            .arg(&state),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "bthelper did not finish: {:?}",
            lines.try_iter().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let said: Vec<String> = lines.try_iter().collect();
    assert!(status.success(), "bthelper failed: {said:#?}");
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
    let (_seed, rx) = spawn_lines(
        bthelper()
            .arg("download")
            .arg(&torrent)
            .arg("-o")
            .arg(dir.path().join("seed"))
            .arg("--state-dir")
            .arg(dir.path().join("seed-state"))
            .arg("--seed"),
    );
    let port = wait_line(&rx, "listening on port ", Duration::from_secs(30));
    wait_line(&rx, "download complete", Duration::from_secs(30));

    let out = dir.path().join("lt");
    let magnet = format!("magnet:?xt=urn:btih:{}", meta.info_hash.to_hex());
    let (_lt, lt_lines) = spawn_lines(
        Command::new(SYSTEM_PYTHON)
            .arg(lt_script())
            .arg("magnet")
            .arg(&magnet)
            .arg(&out)
            .arg(format!("127.0.0.1:{port}")),
    );
    let name = wait_line(&lt_lines, "metadata ", Duration::from_secs(30));
    assert_eq!(name, "album");
    wait_line(&lt_lines, "done", Duration::from_secs(30));
    assert_files(&out.join("album"), &files);
}

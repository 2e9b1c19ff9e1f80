//! `btpublish make` writes torrents that real tools read as we do: transmission-show and
//! python3-libtorrent agree with us on the info-hash (and libtorrent on names, sizes and piece
//! geometry) for single-file, multi-file, empty-file and non-ASCII sources, and mktorrent hashes
//! the same pieces from the same data. A second run re-uses the hashes (the `.btinfo` cache);
//! a missing source is a one-line error with exit code 1. Without `--announce` the torrent is
//! trackerless (web seeds only, or nothing), which libtorrent and transmission-show read too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use protocol::Metainfo;
use serde_json::Value as Json;
use swarmlink_tests::{bin, SYSTEM_PYTHON};

const ANNOUNCE: &str = "http://127.0.0.1:6969/announce";

/// libtorrent's view of each torrent named on the command line, one JSON object a line.
const DESCRIBE: &str = r#"
import json, sys
import libtorrent as lt
for path in sys.argv[1:]:
    ti = lt.torrent_info(path)
    fs = ti.files()
    print(json.dumps({"info_hash": str(ti.info_hashes().v1), "name": ti.name(),
        "total_length": ti.total_size(), "piece_length": ti.piece_length(),
        "piece_count": ti.num_pieces(), "private": ti.priv(),
        "files": [[fs.file_path(i), fs.file_size(i)] for i in range(fs.num_files())]}))
"#;

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e} (install with scripts/install-test-deps.sh)"));
    assert!(
        out.status.success(),
        "{shown} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Deterministic bytes that differ from file to file.
fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn write(path: &Path, len: usize, seed: u32) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, data(len, seed)).unwrap();
}

fn btpublish_make(source: &Path, out: &Path, extra: &[&str]) -> Output {
    run(Command::new(bin("btpublish"))
        .arg("make")
        .arg(source)
        .args(["--announce", ANNOUNCE, "-o"])
        .arg(out)
        .args(extra))
}

fn transmission_hash(torrent: &Path) -> String {
    let out = run(Command::new("transmission-show").arg(torrent));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Hash:").map(|h| h.trim().to_owned()))
        .unwrap_or_else(|| panic!("no Hash: line in transmission-show's output:\n{text}"))
}

fn libtorrent(torrent: &Path) -> Json {
    let out = run(Command::new(SYSTEM_PYTHON)
        .args(["-c", DESCRIBE])
        .arg(torrent));
    serde_json::from_slice(&out.stdout).expect("libtorrent's description is JSON")
}

fn pieces(torrent: &Path) -> Vec<[u8; 20]> {
    Metainfo::from_bytes(&std::fs::read(torrent).unwrap())
        .unwrap()
        .info
        .pieces
}

/// Makes the torrent of `source` and checks it against transmission-show and libtorrent, and
/// (when the layout is one mktorrent writes the same way) mktorrent's pieces.
fn check(scratch: &Path, source: &Path, files: &[(&str, u64)], compare_mktorrent: bool) {
    let out = scratch.join(format!(
        "{}.torrent",
        source.file_name().unwrap().to_string_lossy()
    ));
    btpublish_make(source, &out, &["--piece-size", "32K"]);
    let ours = Metainfo::from_bytes(&std::fs::read(&out).unwrap()).unwrap();
    let hex = ours.info_hash.to_hex();
    assert_eq!(transmission_hash(&out), hex, "transmission-show on {out:?}");
    let lt = libtorrent(&out);
    assert_eq!(lt["info_hash"], hex.as_str(), "libtorrent on {out:?}");
    assert_eq!(lt["name"], ours.info.name.as_str());
    assert_eq!(lt["piece_length"], 32 * 1024);
    let total: u64 = files.iter().map(|(_, l)| l).sum();
    assert_eq!(lt["total_length"], total);
    assert_eq!(lt["piece_count"], total.div_ceil(32 * 1024));
    let lt_files: Vec<(String, u64)> = lt["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f[0].as_str().unwrap().to_owned(), f[1].as_u64().unwrap()))
        .collect();
    let expected: Vec<(String, u64)> = files.iter().map(|(p, l)| (p.to_string(), *l)).collect();
    assert_eq!(lt_files, expected);
    if compare_mktorrent {
        let theirs = scratch.join(format!("{hex}.mktorrent.torrent"));
        run(Command::new("mktorrent")
            .args(["-l", "15", "-a", ANNOUNCE, "-o"])
            .arg(&theirs)
            .arg(source));
        assert_eq!(
            pieces(&out),
            pieces(&theirs),
            "mktorrent hashed other pieces"
        );
    }
}

#[test]
fn single_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("movie.mpeg");
    write(&file, 300_001, 1);
    check(dir.path(), &file, &[("movie.mpeg", 300_001)], true);
}

#[test]
fn multi_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("album");
    write(&root.join("01 intro.flac"), 100_000, 2);
    write(&root.join("cd2/02.flac"), 70_000, 3);
    write(&root.join("z.txt"), 5, 4);
    check(
        dir.path(),
        &root,
        &[
            ("album/01 intro.flac", 100_000),
            ("album/cd2/02.flac", 70_000),
            ("album/z.txt", 5),
        ],
        true,
    );
}

#[test]
fn empty_files_inside_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("with-empty");
    write(&root.join("a.bin"), 50_000, 5);
    write(&root.join("empty"), 0, 0);
    write(&root.join("m/zero"), 0, 0);
    write(&root.join("z.bin"), 40_000, 6);
    check(
        dir.path(),
        &root,
        &[
            ("with-empty/a.bin", 50_000),
            ("with-empty/empty", 0),
            ("with-empty/m/zero", 0),
            ("with-empty/z.bin", 40_000),
        ],
        false,
    );
}

#[test]
fn non_ascii_names() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Café ☕ 日本語.txt");
    write(&file, 33_000, 7);
    check(dir.path(), &file, &[("Café ☕ 日本語.txt", 33_000)], true);

    let root = dir.path().join("Données");
    write(&root.join("été/Ünïcødé.bin"), 20_000, 8);
    write(&root.join("ασδφ.txt"), 1_000, 9);
    check(
        dir.path(),
        &root,
        // Byte order: "é" (C3 A9) sorts before "α" (CE B1).
        &[
            ("Données/été/Ünïcødé.bin", 20_000),
            ("Données/ασδφ.txt", 1_000),
        ],
        false,
    );
}

#[test]
fn a_second_run_reuses_the_hashes_until_the_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.bin");
    write(&file, 200_000, 10);
    let out = dir.path().join("data.torrent");
    let first = btpublish_make(&file, &out, &[]);
    assert!(String::from_utf8_lossy(&first.stdout).contains("hashed"));
    let bytes = std::fs::read(&out).unwrap();
    let second = btpublish_make(&file, &out, &[]);
    let said = String::from_utf8_lossy(&second.stdout);
    assert!(said.contains("unchanged since it was hashed"), "{said}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        bytes,
        "an unchanged torrent is not rewritten"
    );

    write(&file, 200_000, 11);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let third = btpublish_make(&file, &out, &[]);
    assert!(!String::from_utf8_lossy(&third.stdout).contains("unchanged"));
    assert_ne!(
        pieces(&out),
        Metainfo::from_bytes(&bytes).unwrap().info.pieces
    );
}

#[test]
fn a_missing_source_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing: PathBuf = dir.path().join("not-here.mpeg");
    let out = Command::new(bin("btpublish"))
        .arg("make")
        .arg(&missing)
        .args(["--announce", ANNOUNCE])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not-here.mpeg: no such file"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn private_comment_webseeds_and_piece_size_reach_libtorrent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flags.bin");
    write(&file, 100_000, 12);
    let out = dir.path().join("flags.torrent");
    btpublish_make(
        &file,
        &out,
        &[
            "--private",
            "--comment",
            "from the publisher",
            "--webseed",
            "http://127.0.0.1:1/a/",
            "--webseed",
            "http://127.0.0.1:1/b/",
            "--piece-size",
            "64K",
        ],
    );
    const FLAGS: &str = r#"
import json, sys
import libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
print(json.dumps({"private": ti.priv(), "comment": ti.comment(), "piece_length": ti.piece_length(),
    "web_seeds": sorted(w["url"] for w in ti.web_seeds()),
    "trackers": [t.url for t in ti.trackers()], "info_hash": str(ti.info_hashes().v1)}))
"#;
    let said = run(Command::new(SYSTEM_PYTHON).args(["-c", FLAGS]).arg(&out));
    let lt: Json = serde_json::from_slice(&said.stdout).unwrap();
    assert_eq!(lt["private"], true);
    assert_eq!(lt["comment"], "from the publisher");
    assert_eq!(lt["piece_length"], 65536);
    assert_eq!(
        lt["web_seeds"],
        serde_json::json!(["http://127.0.0.1:1/a/", "http://127.0.0.1:1/b/"])
    );
    assert_eq!(lt["trackers"], serde_json::json!([ANNOUNCE]));
    assert_eq!(lt["info_hash"], transmission_hash(&out).as_str());
}

/// What libtorrent reads of a torrent's sources of peers.
const PEER_SOURCES: &str = r#"
import json, sys
import libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
print(json.dumps({"trackers": [t.url for t in ti.trackers()],
    "web_seeds": sorted(w["url"] for w in ti.web_seeds()), "info_hash": str(ti.info_hashes().v1)}))
"#;

/// `btpublish make` without `--announce` (no announce key at all), as mktorrent allows.
fn make_trackerless(source: &Path, out: &Path, extra: &[&str]) -> Output {
    run(Command::new(bin("btpublish"))
        .arg("make")
        .arg(source)
        .arg("-o")
        .arg(out)
        .args(extra))
}

#[test]
fn a_trackerless_torrent_with_web_seeds_or_none_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("open.bin");
    write(&file, 70_000, 21);
    for (name, extra) in [
        (
            "webseed.torrent",
            &["--webseed", "http://127.0.0.1:1/files/"][..],
        ),
        ("bare.torrent", &[][..]),
    ] {
        let out = dir.path().join(name);
        let made = make_trackerless(&file, &out, extra);
        let said = String::from_utf8_lossy(&made.stderr);
        assert!(said.contains("trackerless torrent"), "{said}");
        let bytes = std::fs::read(&out).unwrap();
        let ours = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(ours.announce, None, "{name}");
        assert!(ours.announce_list.is_empty(), "{name}");
        // No empty announce key either: only the keys a trackerless torrent has.
        assert!(
            !bytes.windows(10).any(|w| w == b"8:announce"),
            "{name} has an announce key"
        );
        let lt = run(Command::new(SYSTEM_PYTHON)
            .args(["-c", PEER_SOURCES])
            .arg(&out));
        let lt: Json = serde_json::from_slice(&lt.stdout).unwrap();
        assert_eq!(lt["trackers"], serde_json::json!([]), "{name}");
        let web_seeds: Vec<&str> = extra.iter().skip(1).copied().collect();
        assert_eq!(lt["web_seeds"], serde_json::json!(web_seeds), "{name}");
        let hex = ours.info_hash.to_hex();
        assert_eq!(lt["info_hash"], hex.as_str(), "libtorrent on {name}");
        assert_eq!(transmission_hash(&out), hex, "transmission-show on {name}");
    }
}

#[test]
fn a_private_torrent_without_a_tracker_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret.bin");
    write(&file, 10_000, 5);
    let out = Command::new(bin("btpublish"))
        .arg("make")
        .arg(&file)
        .args(["--private", "-o"])
        .arg(dir.path().join("secret.torrent"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--private torrent needs --announce"), "{err}");
    assert!(!dir.path().join("secret.torrent").exists());
}

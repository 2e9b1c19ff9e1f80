//! Torrents written by independent tools (mktorrent, transmission-create, python3-libtorrent) must
//! read the same through `bthelper inspect --json` as through libtorrent's `torrent_info`: same
//! info-hash, name, sizes, piece geometry, private flag, tracker tiers and file list. Bad files
//! must end `inspect` with exit code 1 and a one-line error, never a panic.
//!
//! Everything is generated in a temp dir with small files, so the whole file runs in seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use protocol::bencode::Value;
use serde_json::{json, Value as Json};
use swarmlink_tests::{bin, SYSTEM_PYTHON};

/// `describe PATH...`: libtorrent's view of each torrent, one JSON object a line.
/// `create SPEC_JSON`: makes a torrent with libtorrent's create_torrent.
const LIBTORRENT: &str = r#"
import json, os, sys
import libtorrent as lt

def describe(path):
    ti = lt.torrent_info(path)
    fs = ti.files()
    files = [{"path": fs.file_path(i), "length": fs.file_size(i),
              "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
              "executable": bool(fs.file_flags(i) & lt.file_storage.flag_executable),
              "hidden": bool(fs.file_flags(i) & lt.file_storage.flag_hidden)}
             for i in range(fs.num_files())]
    tiers = {}
    for t in ti.trackers():
        tiers.setdefault(t.tier, []).append(t.url)
    return {"info_hash": str(ti.info_hashes().v1), "name": ti.name(),
            "total_length": ti.total_size(), "piece_length": ti.piece_length(),
            "piece_count": ti.num_pieces(), "private": ti.priv(),
            "announce": [tiers[k] for k in sorted(tiers)], "files": files}

def create(spec):
    fs = lt.file_storage()
    lt.add_files(fs, spec["root"])
    flags = 0
    for name in spec["flags"]:
        flags |= getattr(lt.create_torrent, name)
    ct = lt.create_torrent(fs, spec["piece_size"], flags=flags)
    for tier, urls in enumerate(spec["tiers"]):
        for url in urls:
            ct.add_tracker(url, tier)
    for seed in spec["web_seeds"]:
        ct.add_url_seed(seed)
    ct.set_priv(spec["private"])
    ct.set_creator("libtorrent interop test")
    lt.set_piece_hashes(ct, os.path.dirname(spec["root"]))
    with open(spec["out"], "wb") as f:
        f.write(lt.bencode(ct.generate()))

if sys.argv[1] == "describe":
    for p in sys.argv[2:]:
        print(json.dumps(describe(p)))
elif sys.argv[1] == "make-magnet":
    print(lt.make_magnet_uri(lt.torrent_info(sys.argv[2])))
elif sys.argv[1] == "parse-magnet":
    p = lt.parse_magnet_uri(sys.argv[2])
    print(json.dumps({"info_hash": str(p.info_hashes.v1), "name": p.name, "trackers": p.trackers,
                      "web_seeds": p.url_seeds, "peers": ["%s:%d" % peer for peer in p.peers]}))
else:
    create(json.loads(sys.argv[2]))
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

fn libtorrent(args: &[&str]) -> String {
    let out = run(Command::new(SYSTEM_PYTHON)
        .arg("-c")
        .arg(LIBTORRENT)
        .args(args));
    String::from_utf8(out.stdout).expect("libtorrent prints UTF-8 JSON")
}

fn describe_with_libtorrent(torrents: &[PathBuf]) -> Vec<Json> {
    let mut args = vec!["describe"];
    args.extend(
        torrents
            .iter()
            .map(|p| p.to_str().expect("temp paths are UTF-8")),
    );
    libtorrent(&args)
        .lines()
        .map(|l| serde_json::from_str(l).expect("libtorrent JSON"))
        .collect()
}

fn inspect_json(torrent: &Path) -> Json {
    let out = run(Command::new(bin("bthelper"))
        .args(["inspect", "--json"])
        .arg(torrent));
    serde_json::from_slice(&out.stdout).expect("inspect --json prints one JSON object")
}

/// Compares our reading of `torrent` with libtorrent's, field by field, and returns ours.
fn assert_agrees_with_libtorrent(torrent: &Path, lt: &Json) -> Json {
    let ours = inspect_json(torrent);
    let name = ours["name"].as_str().expect("name");
    for field in [
        "info_hash",
        "name",
        "total_length",
        "piece_length",
        "piece_count",
        "private",
    ] {
        assert_eq!(ours[field], lt[field], "{field} of {}", torrent.display());
    }
    // libtorrent shuffles the URLs inside each tier (as BEP 12 asks), so tiers compare as sets.
    assert_eq!(
        tiers_as_sets(&ours["announce"]),
        tiers_as_sets(&lt["announce"]),
        "announce tiers of {}",
        torrent.display()
    );
    // libtorrent prefixes multi-file paths with the torrent's directory name; ours are inside it.
    let lt_files: Vec<Json> = lt["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let path = f["path"].as_str().expect("path");
            let inside = path.strip_prefix(&format!("{name}/")).unwrap_or(path);
            let mut file = json!({"path": inside, "length": f["length"]});
            if f["pad"] == json!(true) {
                file["pad"] = json!(true);
            }
            file
        })
        .collect();
    assert_eq!(
        ours["files"],
        json!(lt_files),
        "files of {}",
        torrent.display()
    );
    // BEP 47 attributes are not in inspect's JSON: compare them through the library.
    let parsed = protocol::Metainfo::from_bytes(&std::fs::read(torrent).expect("read"))
        .expect("the library parses what inspect parsed");
    let flags = |f: &protocol::FileEntry| json!([f.pad, f.executable, f.hidden]);
    let ours_flags: Vec<Json> = parsed.info.files.iter().map(flags).collect();
    let lt_flags: Vec<Json> = lt["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| json!([f["pad"], f["executable"], f["hidden"]]))
        .collect();
    assert_eq!(
        ours_flags,
        lt_flags,
        "BEP 47 attributes of {}",
        torrent.display()
    );
    ours
}

fn tiers_as_sets(tiers: &Json) -> Vec<Vec<String>> {
    let tiers = tiers.as_array().expect("announce is a list of tiers");
    tiers
        .iter()
        .map(|tier| {
            let mut urls: Vec<String> = tier
                .as_array()
                .expect("a tier is a list")
                .iter()
                .map(|u| u.as_str().expect("URL").to_owned())
                .collect();
            urls.sort();
            urls
        })
        .collect()
}

/// Writes a small tree: nested directories, non-ASCII names, an empty file, sizes that do not
/// line up with pieces. Returns the root directory.
fn make_tree(parent: &Path, name: &str) -> PathBuf {
    let root = parent.join(name);
    let files: &[(&str, usize)] = &[
        ("readme.txt", 1000),
        ("Ünïcødé/日本語のファイル.bin", 70_000),
        ("nested/deeper/still/data.bin", 40_000),
        ("nested/empty.txt", 0),
        ("z-last.bin", 33_333),
    ];
    for (i, (path, len)) in files.iter().enumerate() {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        let data: Vec<u8> = (0..*len).map(|b| (b * 7 + i * 13) as u8).collect();
        std::fs::write(path, data).expect("write");
    }
    // An executable file: libtorrent records it as BEP 47 attr `x`.
    let script = root.join("nested/run.sh");
    std::fs::write(&script, b"#!/bin/sh\necho hi\n").expect("write");
    let mut mode = std::fs::metadata(&script).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(&script, mode).expect("chmod");
    root
}

fn make_file(parent: &Path, name: &str, len: usize) -> PathBuf {
    let path = parent.join(name);
    let data: Vec<u8> = (0..len).map(|b| (b % 251) as u8).collect();
    std::fs::write(&path, data).expect("write");
    path
}

#[test]
fn mktorrent_torrents_agree_with_libtorrent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let single = make_file(dir.path(), "single file.bin", 300_001);
    let tree = make_tree(dir.path(), "tree");
    let single_torrent = dir.path().join("single.torrent");
    let tree_torrent = dir.path().join("tree.torrent");
    run(Command::new("mktorrent")
        .args(["-p", "-l", "15", "-a", "http://127.0.0.1:1/announce"])
        .args([
            "-a",
            "udp://127.0.0.1:2/announce,http://127.0.0.1:3/announce",
        ])
        .args(["-w", "http://127.0.0.1:4/seed"])
        .arg("-o")
        .arg(&single_torrent)
        .arg(&single));
    run(Command::new("mktorrent")
        .args(["-l", "15", "-a", "http://127.0.0.1:1/announce"])
        .arg("-o")
        .arg(&tree_torrent)
        .arg(&tree));
    let lt = describe_with_libtorrent(&[single_torrent.clone(), tree_torrent.clone()]);

    let ours = assert_agrees_with_libtorrent(&single_torrent, &lt[0]);
    assert_eq!(ours["private"], true);
    assert_eq!(ours["piece_count"], 10);
    assert_eq!(ours["announce"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        ours["files"],
        json!([{"path": "single file.bin", "length": 300_001}])
    );
    let ours = assert_agrees_with_libtorrent(&tree_torrent, &lt[1]);
    let paths: Vec<&str> = ours["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert!(paths.contains(&"Ünïcødé/日本語のファイル.bin"), "{paths:?}");
    assert!(paths.contains(&"nested/deeper/still/data.bin"), "{paths:?}");
}

#[test]
fn transmission_torrents_agree_with_transmission_show_and_libtorrent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let single = make_file(dir.path(), "movie.mkv", 123_456);
    let tree = make_tree(dir.path(), "album");
    let mut torrents = Vec::new();
    for (source, private) in [(&single, false), (&tree, true)] {
        let out = dir.path().join(format!("{}.torrent", torrents.len()));
        let mut cmd = Command::new("transmission-create");
        cmd.args(["-s", "16", "-t", "http://127.0.0.1:1/announce"])
            .args([
                "-t",
                "http://127.0.0.1:2/announce",
                "-c",
                "made by transmission",
            ])
            .arg("-o")
            .arg(&out)
            .arg(source);
        if private {
            cmd.arg("-p");
        }
        run(&mut cmd);
        torrents.push(out);
    }
    let lt = describe_with_libtorrent(&torrents);
    for (torrent, lt) in torrents.iter().zip(&lt) {
        let ours = assert_agrees_with_libtorrent(torrent, lt);
        let show = run(Command::new("transmission-show").arg(torrent));
        let show = String::from_utf8_lossy(&show.stdout);
        let hash = show
            .lines()
            .find_map(|l| l.trim().strip_prefix("Hash: "))
            .expect("transmission-show prints the hash");
        assert_eq!(ours["info_hash"], hash.trim(), "{show}");
    }
}

#[test]
fn libtorrent_torrents_with_pads_tiers_and_hybrids_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = make_tree(dir.path(), "Säkë tree");
    let single = make_file(dir.path(), "solo.bin", 50_000);
    let cases = [
        // v1 with BEP 47 pad files between files, private, three tiers, a web seed.
        (&tree, "padded", vec!["v1_only", "canonical_files"], true),
        // libtorrent 2's default: a hybrid v1+v2 torrent (extra keys in `info`, pads for v2).
        (&tree, "hybrid", vec![], false),
        (&single, "single", vec!["v1_only"], false),
    ];
    let mut torrents = Vec::new();
    for (root, label, flags, private) in cases {
        let out = dir.path().join(format!("{label}.torrent"));
        let spec = json!({
            "root": root, "out": out, "flags": flags, "piece_size": 16384, "private": private,
            "tiers": [["http://127.0.0.1:1/announce", "http://127.0.0.1:2/announce"],
                      ["udp://127.0.0.1:3/announce"], ["http://127.0.0.1:4/announce"]],
            "web_seeds": ["http://127.0.0.1:5/files/"],
        });
        libtorrent(&["create", &spec.to_string()]);
        torrents.push(out);
    }
    let lt = describe_with_libtorrent(&torrents);
    let padded = assert_agrees_with_libtorrent(&torrents[0], &lt[0]);
    let pads = padded["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["pad"] == true)
        .count();
    assert!(pads > 0, "canonical_files should add pad files: {padded}");
    let files = padded["files"].as_array().expect("files");
    assert!(
        files.contains(&json!({"path": "nested/empty.txt", "length": 0})),
        "the empty file is listed: {padded}"
    );
    assert!(files
        .iter()
        .any(|f| f["path"] == "Ünïcødé/日本語のファイル.bin"));
    let parsed = protocol::Metainfo::from_bytes(&std::fs::read(&torrents[0]).expect("read"))
        .expect("parses");
    assert!(
        parsed
            .info
            .files
            .iter()
            .any(|f| f.executable && f.path == ["nested", "run.sh"]),
        "libtorrent marks run.sh executable"
    );
    assert_eq!(padded["private"], true);
    assert_eq!(padded["announce"].as_array().map(Vec::len), Some(3));
    assert_agrees_with_libtorrent(&torrents[1], &lt[1]);
    assert_agrees_with_libtorrent(&torrents[2], &lt[2]);
}

#[test]
fn our_builder_output_reads_the_same_in_libtorrent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = protocol::MetainfoBuilder::multi_file(
        "ours",
        vec![
            (vec!["a".into(), "ä.bin".into()], 20_000),
            (vec!["b.bin".into()], 5),
        ],
    )
    .piece_length(16384)
    .pad_files(true)
    .pieces(vec![[1; 20]; 3])
    .announce_tiers(vec![vec!["http://127.0.0.1:1/announce".into()]])
    .private(true)
    .build()
    .expect("builds");
    let path = dir.path().join("ours.torrent");
    std::fs::write(&path, &built.bytes).expect("write");
    let lt = describe_with_libtorrent(std::slice::from_ref(&path));
    let ours = assert_agrees_with_libtorrent(&path, &lt[0]);
    assert_eq!(ours["info_hash"], built.info_hash.to_hex());
}

#[test]
fn magnets_agree_with_libtorrent_both_ways() {
    let dir = tempfile::tempdir().expect("tempdir");
    let single = make_file(dir.path(), "Wörld file.bin", 20_000);
    let torrent = dir.path().join("m.torrent");
    let spec = json!({
        "root": single, "out": torrent, "flags": ["v1_only"], "piece_size": 16384,
        "private": false, "web_seeds": ["http://127.0.0.1:5/files/"],
        "tiers": [["http://127.0.0.1:1/announce?a=1&b=2"], ["udp://127.0.0.1:3/announce"]],
    });
    libtorrent(&["create", &spec.to_string()]);
    let described = &describe_with_libtorrent(std::slice::from_ref(&torrent))[0];

    // libtorrent's magnet, read by us.
    let theirs = libtorrent(&["make-magnet", torrent.to_str().expect("UTF-8 path")]);
    let ours = inspect_json(Path::new(theirs.trim()));
    assert_eq!(ours["info_hash"], described["info_hash"]);
    assert_eq!(ours["name"], "Wörld file.bin");
    assert_eq!(
        ours["announce"],
        json!([
            ["http://127.0.0.1:1/announce?a=1&b=2"],
            ["udp://127.0.0.1:3/announce"]
        ])
    );

    // Our magnet (with a peer address), read by libtorrent.
    let metainfo =
        protocol::Metainfo::from_bytes(&std::fs::read(&torrent).expect("read")).expect("parses");
    let mut magnet = protocol::Magnet::from_metainfo(&metainfo);
    magnet.peers.push("127.0.0.1:6881".into());
    let parsed: Json =
        serde_json::from_str(&libtorrent(&["parse-magnet", &magnet.to_uri()])).expect("JSON");
    assert_eq!(
        parsed,
        json!({
            "info_hash": described["info_hash"],
            "name": "Wörld file.bin",
            "trackers": ["http://127.0.0.1:1/announce?a=1&b=2", "udp://127.0.0.1:3/announce"],
            "web_seeds": ["http://127.0.0.1:5/files/"],
            "peers": ["127.0.0.1:6881"],
        })
    );
}

#[test]
fn aria2_reports_the_same_hash_and_its_magnet_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = make_tree(dir.path(), "for aria2");
    let torrent = dir.path().join("a.torrent");
    run(Command::new("mktorrent")
        .args(["-l", "15", "-a", "http://127.0.0.1:1/announce"])
        .arg("-o")
        .arg(&torrent)
        .arg(&tree));
    let ours = inspect_json(&torrent);
    let shown = run(Command::new("aria2c").arg("-S").arg(&torrent));
    let shown = String::from_utf8_lossy(&shown.stdout);
    let field = |label: &str| {
        shown
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("aria2c -S prints {label:?}: {shown}"))
            .trim()
            .to_owned()
    };
    assert_eq!(ours["info_hash"], field("Info Hash:"));
    assert_eq!(
        ours["piece_count"].to_string(),
        field("The Number of Pieces:")
    );
    // aria2 writes the hash in uppercase and escapes in uppercase: `%3A%2F`.
    let from_magnet = inspect_json(Path::new(&field("Magnet URI:")));
    assert_eq!(from_magnet["info_hash"], ours["info_hash"]);
    assert_eq!(from_magnet["name"], "for aria2");
    assert_eq!(from_magnet["announce"], ours["announce"]);
}

/// `inspect` on a bad file: exit code 1 (never 101), one line on stderr naming the problem.
fn assert_clean_failure(arg: &Path, expected: &str) {
    let out = Command::new(bin("bthelper"))
        .arg("inspect")
        .arg(arg)
        .output()
        .expect("bthelper runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}: {stderr}", arg.display());
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    assert!(out.stdout.is_empty());
}

fn hostile_torrent(path: &[&str]) -> Vec<u8> {
    let mut file = Value::dict();
    file.insert("length", Value::Int(5)).insert(
        "path",
        Value::List(path.iter().map(|c| Value::bytes(*c)).collect()),
    );
    let mut info = Value::dict();
    info.insert("name", Value::bytes("x"))
        .insert("piece length", Value::Int(16384))
        .insert("pieces", Value::bytes(vec![0u8; 20]))
        .insert("files", Value::List(vec![file]));
    let mut root = Value::dict();
    root.insert("info", info);
    root.to_bytes()
}

#[test]
fn inspect_fails_cleanly_on_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    };
    let good = hostile_torrent(&["fine.txt"]);
    assert_eq!(
        inspect_json(&write("good.torrent", &good))["files"][0]["path"],
        "fine.txt"
    );
    // `-` reads the torrent from stdin.
    let mut child = Command::new(bin("bthelper"))
        .args(["inspect", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bthelper runs");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &good).expect("write");
    let out = child.wait_with_output().expect("bthelper ends");
    assert!(out.status.success());
    let from_stdin: Json = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(from_stdin["files"][0]["path"], "fine.txt");
    assert_clean_failure(
        &write("truncated.torrent", &good[..good.len() / 2]),
        "invalid bencode",
    );
    assert_clean_failure(
        &write(
            "traversal.torrent",
            &hostile_torrent(&["..", "..", "etc", "passwd"]),
        ),
        "\"../../etc/passwd\"",
    );
    assert_clean_failure(
        &write("absolute.torrent", &hostile_torrent(&["/etc/passwd"])),
        "unsafe path",
    );
    assert_clean_failure(
        &write("drive.torrent", &hostile_torrent(&["C:", "evil"])),
        "drive letter",
    );
    assert_clean_failure(
        &write("reserved.torrent", &hostile_torrent(&["aux.txt"])),
        "reserved device name",
    );
    let mut deep = b"d4:info".to_vec();
    deep.extend(vec![b'l'; 100_000]);
    deep.extend(vec![b'e'; 100_001]);
    assert_clean_failure(&write("deep.torrent", &deep), "nesting deeper");
    assert_clean_failure(&write("empty.torrent", b""), "input ends");
    assert_clean_failure(&dir.path().join("missing.torrent"), "cannot open");
    assert_clean_failure(Path::new("magnet:?xt=urn:btih:nothex"), "bad info-hash");
}

//! `btpublish` end to end against `bttrack` on loopback: the listing shows the published file,
//! the `.torrent` the tracker serves is byte-identical to the one written beside the file, and
//! python3-libtorrent, aria2 and `bthelper download` each fetch the file byte-exact with the
//! publisher as the only seed (found through the tracker). Also the failure modes: a wrong key,
//! a tracker that is down at start, a port in use, Ctrl-C announcing `stopped`, and a source that
//! changes while it is seeded (only the changed pieces stop being served).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swarmlink_tests::{bin, spawn, workspace_root, KillOnDrop, Running, SYSTEM_PYTHON};

const KEY: &str = "publish-secret";

/// A port whose TCP and UDP sides are both free right now.
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

struct Tracker {
    _child: KillOnDrop,
    port: u16,
}

impl Tracker {
    fn location(&self) -> String {
        format!("http://127.0.0.1:{}/publish/", self.port)
    }
}

/// Starts bttrack with a publish key on `port` (or any free one) and waits until it answers.
fn bttrack(port: Option<u16>) -> Tracker {
    // Built (or waited for) before the clock starts.
    let exe = bin("bttrack");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let port = port.unwrap_or_else(free_port);
        let mut child = KillOnDrop(
            Command::new(&exe)
                .args(["--bind", "127.0.0.1", "--log", "-", "--publish-key", KEY])
                .args(["--port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("bttrack starts"),
        );
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break; // lost the port between our check and its bind: try another
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Tracker {
                    _child: child,
                    port,
                };
            }
            assert!(Instant::now() < deadline, "bttrack did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn btpublish(tracker_location: &str, key: &str, files: &[&Path], extra: &[&str]) -> Running {
    spawn(
        Command::new(bin("btpublish"))
            .args(["--port", "0", "--location", tracker_location, "--key", key])
            .args(extra)
            .args(files)
            .env("RUST_LOG", "warn"),
    )
}

fn write_random(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &data).unwrap();
    data
}

/// `GET path` over HTTP/1.0: status and body.
fn http_get(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP reply");
    let head = String::from_utf8_lossy(&reply[..end]);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, reply[end + 4..].to_vec())
}

/// A published file: tracker, publisher, the data and its `.torrent` path.
struct Published {
    tracker: Tracker,
    publisher: Running,
    data: Vec<u8>,
    torrent: PathBuf,
    listing_url: String,
    _dir: tempfile::TempDir,
}

fn publish_one(name: &str, len: usize) -> Published {
    let tracker = bttrack(None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed").join(name);
    let data = write_random(&file, len, len as u64);
    let mut publisher = btpublish(&tracker.location(), KEY, &[&file], &[]);
    let line = publisher.wait_for(&format!("{name}: http://"), Duration::from_secs(60));
    let listing_url = line
        .strip_prefix(&format!("{name}: "))
        .unwrap_or_else(|| panic!("not a listing line: {line}"))
        .to_owned();
    Published {
        tracker,
        publisher,
        data,
        torrent: dir.path().join("seed").join(format!("{name}.torrent")),
        listing_url,
        _dir: dir,
    }
}

#[test]
fn the_listing_shows_it_and_serves_the_same_torrent_bytes() {
    let p = publish_one("Film à publier.mpeg", 700_001);
    assert_eq!(
        p.listing_url,
        format!(
            "http://127.0.0.1:{}/Film%20%C3%A0%20publier.mpeg",
            p.tracker.port
        )
    );
    let (status, page) = http_get(p.tracker.port, "/");
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("Film à publier.mpeg"), "{page}");
    let (status, served) = http_get(p.tracker.port, "/Film%20%C3%A0%20publier.mpeg.torrent");
    assert_eq!(status, 200);
    assert_eq!(
        served,
        std::fs::read(&p.torrent).unwrap(),
        "the tracker serves other bytes than the .torrent beside the file"
    );
}

#[test]
fn libtorrent_downloads_from_the_publisher_alone() {
    let p = publish_one("movie.bin", 3 * 1024 * 1024 + 17);
    let out = tempfile::tempdir().unwrap();
    let mut lt = spawn(
        Command::new(SYSTEM_PYTHON)
            .arg(workspace_root().join("bench/download_lt_peer.py"))
            .arg("download")
            .arg(&p.torrent)
            .arg(out.path())
            .env("DL_TIMEOUT", "60"),
    );
    lt.wait_for("done", Duration::from_secs(70));
    assert!(lt.wait_exit(Duration::from_secs(10)).success());
    assert!(std::fs::read(out.path().join("movie.bin")).unwrap() == p.data);
}

#[test]
fn aria2_downloads_from_the_publisher_alone() {
    let p = publish_one("disk.img", 2 * 1024 * 1024 + 5);
    let out = tempfile::tempdir().unwrap();
    let mut aria = spawn(
        Command::new("aria2c")
            .arg(format!("--dir={}", out.path().display()))
            .args([
                "--seed-time=0",
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--file-allocation=none",
                "--summary-interval=0",
                "--console-log-level=warn",
                "--bt-stop-timeout=60",
            ])
            .arg(format!("--listen-port={}", free_port()))
            .arg(&p.torrent),
    );
    let status = aria.wait_exit(Duration::from_secs(90));
    let said = aria.output();
    assert!(status.success(), "aria2c failed: {said}");
    assert!(std::fs::read(out.path().join("disk.img")).unwrap() == p.data);
}

#[test]
fn bthelper_downloads_from_the_publisher_alone() {
    let p = publish_one("archive.tar", 2 * 1024 * 1024 + 999);
    let out = tempfile::tempdir().unwrap();
    let mut helper = spawn(
        Command::new(bin("bthelper"))
            .arg("download")
            .arg(&p.torrent)
            .arg("-o")
            .arg(out.path())
            .arg("--state-dir")
            .arg(out.path().join(".state")),
    );
    let status = helper.wait_exit(Duration::from_secs(90));
    let said = helper.output();
    assert!(status.success(), "bthelper download failed: {said}");
    assert!(std::fs::read(out.path().join("archive.tar")).unwrap() == p.data);
}

#[test]
fn a_wrong_key_prints_the_trackers_reason_and_exits_non_zero() {
    let tracker = bttrack(None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.bin");
    write_random(&file, 50_000, 1);
    let mut publisher = btpublish(&tracker.location(), "not-the-key", &[&file], &[]);
    let status = publisher.wait_exit(Duration::from_secs(60));
    let said = publisher.output();
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("wrong or missing X-Publish-Key"), "{said}");
    assert!(said.contains("HTTP 403"), "{said}");
}

#[test]
fn a_tracker_down_at_start_is_retried_until_it_comes_up() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late.bin");
    write_random(&file, 40_000, 2);
    let location = format!("http://127.0.0.1:{port}/publish/");
    let mut publisher = btpublish(&location, KEY, &[&file], &[]);
    let retry = publisher.wait_for("retrying in", Duration::from_secs(60));
    assert!(retry.contains("cannot be reached"), "{retry}");
    let tracker = bttrack(Some(port));
    let line = publisher.wait_for("late.bin: http://", Duration::from_secs(60));
    assert!(
        line.ends_with(&format!("http://127.0.0.1:{}/late.bin", tracker.port)),
        "{line}"
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let tracker = bttrack(None);
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.bin");
    write_random(&file, 30_000, 3);
    let mut publisher = spawn(
        Command::new(bin("btpublish"))
            .args(["--port", &port.to_string(), "--key", KEY])
            .args(["--location", &tracker.location()])
            .arg(&file),
    );
    let status = publisher.wait_exit(Duration::from_secs(60));
    let said = publisher.output();
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("port {port} is already in use")),
        "{said}"
    );
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let tracker = bttrack(None);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.iso");
    let mut publisher = btpublish(&tracker.location(), KEY, &[&missing], &[]);
    let status = publisher.wait_exit(Duration::from_secs(60));
    let said = publisher.output();
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("nowhere.iso: no such file"), "{said}");
}

/// Seeders and leechers the tracker counts for the published torrent, from the listing's JSON
/// twin (the page's layout is for people).
fn listed_peers(port: u16, name: &str) -> (u32, u32) {
    let (_, json) = http_get(port, "/?format=json");
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let row = json["torrents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed: {json}"));
    let count = |k: &str| row[k].as_u64().unwrap() as u32;
    (count("seeders"), count("leechers"))
}

#[test]
fn ctrl_c_announces_stopped_and_exits_cleanly() {
    let mut p = publish_one("bye.bin", 100_000);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (seeders, leechers) = listed_peers(p.tracker.port, "bye.bin");
        if seeders + leechers >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the publisher never counted as a peer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    p.publisher.interrupt();
    let status = p.publisher.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{}", p.publisher.output());
    assert_eq!(listed_peers(p.tracker.port, "bye.bin"), (0, 0));
}

/// Few bytes change in the middle of a seeded file, across a piece boundary: the publisher names
/// the file and the 2 pieces it no longer serves, keeps seeding the rest, and libtorrent gets
/// every other piece, with the original bytes, and not one byte that fails its hash.
#[test]
fn a_source_changed_while_seeded_serves_every_piece_but_the_changed_ones() {
    const PIECE: usize = 32 * 1024;
    const PIECES: usize = 40;
    let tracker = bttrack(None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed").join("draft.bin");
    let data = write_random(&path, PIECES * PIECE - 1000, 77);
    let mut publisher = btpublish(&tracker.location(), KEY, &[&path], &["--piece-size", "32K"]);
    publisher.wait_for("draft.bin: http://", Duration::from_secs(60));
    // Changed once it is seeding (it announced to the tracker), not before.
    let deadline = Instant::now() + Duration::from_secs(30);
    while listed_peers(tracker.port, "draft.bin").0 == 0 {
        assert!(Instant::now() < deadline, "the publisher never seeded");
        std::thread::sleep(Duration::from_millis(100));
    }

    // 4 bytes straddling the boundary of pieces 9 and 10, written in place (same size).
    let at = 10 * PIECE - 2;
    let edit = *b"EDIT";
    assert_ne!(&data[at..at + 4], &edit, "the edit must change the bytes");
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(at as u64)).unwrap();
    file.write_all(&edit).unwrap();
    drop(file);
    // Normally one line; a look that raced the write (mtime moved, bytes not yet in place) is
    // followed by another one that finds the rest.
    let mut withdrawn = 0;
    while withdrawn < 2 {
        let line = publisher.wait_for("draft.bin changed: ", Duration::from_secs(20));
        if let Some((n, _)) = line
            .split_once("draft.bin changed: ")
            .and_then(|(_, rest)| rest.split_once(" pieces no longer served"))
        {
            withdrawn += n.parse::<usize>().unwrap();
        }
    }
    assert_eq!(withdrawn, 2, "{:#?}", publisher.seen);

    let out = tempfile::tempdir().unwrap();
    let torrent = path.with_file_name("draft.bin.torrent");
    let mut lt = spawn(
        Command::new(SYSTEM_PYTHON)
            .arg(workspace_root().join("tests/tests/publish_lt_partial.py"))
            .arg(&torrent)
            .arg(out.path())
            .arg((PIECES - 2).to_string())
            .args(["60", "3"]),
    );
    let status = lt.wait_exit(Duration::from_secs(80));
    let said = lt.output();
    assert!(
        status.success(),
        "libtorrent did not get the unchanged pieces: {said}"
    );
    let field = |name: &str| {
        said.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line in {said}"))
            .to_owned()
    };
    assert_eq!(field("pieces"), PIECES.to_string());
    assert_eq!(
        field("failed"),
        "0",
        "the publisher sent bytes that fail their hash"
    );
    let have: Vec<usize> = field("have")
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect();
    let expected: Vec<usize> = (0..PIECES).filter(|&i| i != 9 && i != 10).collect();
    assert_eq!(
        have, expected,
        "libtorrent has other pieces than the unchanged ones"
    );
    let got = std::fs::read(out.path().join("draft.bin")).unwrap();
    for i in have {
        let range = i * PIECE..((i + 1) * PIECE).min(data.len());
        assert!(
            got[range.clone()] == data[range],
            "piece {i} differs from the original"
        );
    }
    // Still running, still seeding the rest.
    assert!(
        publisher.child.try_wait().unwrap().is_none(),
        "{}",
        publisher.output()
    );
}

/// A file that loses all its bytes (truncated to nothing) leaves nothing to seed: the publisher
/// says so and, with no other source, exits non-zero.
#[test]
fn a_source_truncated_while_seeded_leaves_nothing_to_serve() {
    let mut p = publish_one("gone.txt", 80_000);
    let path = p.torrent.with_file_name("gone.txt");
    std::fs::File::create(&path).unwrap();
    let line = p
        .publisher
        .wait_for("gone.txt changed", Duration::from_secs(20));
    assert!(line.contains("pieces no longer served"), "{line}");
    p.publisher
        .wait_for("no longer serving it", Duration::from_secs(20));
    let status = p.publisher.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
}

#[test]
fn several_files_and_a_directory_are_published_and_seeded_together() {
    let tracker = bttrack(None);
    let dir = tempfile::tempdir().unwrap();
    let single = dir.path().join("src/notes.txt");
    let notes = write_random(&single, 120_000, 21);
    let album = dir.path().join("src/album");
    let one = write_random(&album.join("01.flac"), 900_000, 22);
    let two = write_random(&album.join("cd2/02.flac"), 333_333, 23);
    let mut publisher = btpublish(&tracker.location(), KEY, &[&single, &album], &[]);
    publisher.wait_for("notes.txt: http://", Duration::from_secs(60));
    publisher.wait_for("album: http://", Duration::from_secs(60));
    let (_, page) = http_get(tracker.port, "/");
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains(">notes.txt</a>") && page.contains(">album</a>"),
        "{page}"
    );

    // The directory is one multi-file torrent, served from the files where they are.
    let torrent = dir.path().join("src/album.torrent");
    let out = tempfile::tempdir().unwrap();
    let mut helper = spawn(
        Command::new(bin("bthelper"))
            .arg("download")
            .arg(&torrent)
            .arg("-o")
            .arg(out.path())
            .arg("--state-dir")
            .arg(out.path().join(".state")),
    );
    let status = helper.wait_exit(Duration::from_secs(90));
    assert!(
        status.success(),
        "bthelper download failed: {}",
        helper.output()
    );
    assert!(std::fs::read(out.path().join("album/01.flac")).unwrap() == one);
    assert!(std::fs::read(out.path().join("album/cd2/02.flac")).unwrap() == two);
    let (status, served) = http_get(tracker.port, "/notes.txt.torrent");
    assert_eq!(status, 200);
    assert_eq!(
        served,
        std::fs::read(dir.path().join("src/notes.txt.torrent")).unwrap()
    );
    drop(notes);
}

#[test]
fn torrent_dir_keeps_the_source_directory_untouched_and_a_restart_reuses_the_hashes() {
    let tracker = bttrack(None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("readonly/film.mkv");
    let data = write_random(&file, 1_500_000, 31);
    let torrents = dir.path().join("torrents");
    std::fs::create_dir(&torrents).unwrap();
    let torrent_dir = ["--torrent-dir", torrents.to_str().unwrap()];
    let mut first = btpublish(&tracker.location(), KEY, &[&file], &torrent_dir);
    first.wait_for("film.mkv: http://", Duration::from_secs(60));
    let written = std::fs::read(torrents.join("film.mkv.torrent")).unwrap();
    let beside: Vec<_> = std::fs::read_dir(dir.path().join("readonly"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        beside,
        ["film.mkv"],
        "btpublish wrote beside a source given --torrent-dir"
    );
    first.interrupt();
    assert!(first.wait_exit(Duration::from_secs(20)).success());
    let said = first.output();
    assert!(
        said.contains("film.mkv.torrent: ") && said.contains("; hashed)"),
        "{said}"
    );

    // Restarted on the unchanged file: no re-hash, the same torrent, and it seeds at once.
    let mut again = btpublish(&tracker.location(), KEY, &[&file], &torrent_dir);
    let line = again.wait_for("film.mkv.torrent: ", Duration::from_secs(60));
    assert!(line.contains("unchanged since it was hashed"), "{line}");
    again.wait_for("film.mkv: http://", Duration::from_secs(60));
    assert_eq!(
        std::fs::read(torrents.join("film.mkv.torrent")).unwrap(),
        written
    );
    let out = tempfile::tempdir().unwrap();
    let mut lt = spawn(
        Command::new(SYSTEM_PYTHON)
            .arg(workspace_root().join("bench/download_lt_peer.py"))
            .arg("download")
            .arg(torrents.join("film.mkv.torrent"))
            .arg(out.path())
            .env("DL_TIMEOUT", "60"),
    );
    lt.wait_for("done", Duration::from_secs(70));
    assert!(std::fs::read(out.path().join("film.mkv")).unwrap() == data);
}

#[test]
fn a_terminal_shows_each_peer_with_its_flags_and_rate() {
    let tracker = bttrack(None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("show.bin");
    write_random(&file, 2 * 1024 * 1024, 41);
    // `script` gives btpublish a terminal; the upload limit keeps the peer around for seconds.
    let command = format!(
        "{} --port 0 --location {} --key {KEY} --upload-rate 300K --max-uploads 2 {}",
        bin("btpublish").display(),
        tracker.location(),
        file.display()
    );
    let mut publisher = spawn(Command::new("script").args(["-qfec", &command, "/dev/null"]));
    publisher.wait_for("show.bin: http://", Duration::from_secs(60));
    publisher.wait_for(
        "show.bin: seeding, 0 peers, uploaded 0 B",
        Duration::from_secs(20),
    );
    let out = tempfile::tempdir().unwrap();
    let mut lt = spawn(
        Command::new(SYSTEM_PYTHON)
            .arg(workspace_root().join("bench/download_lt_peer.py"))
            .arg("download")
            .arg(dir.path().join("show.bin.torrent"))
            .arg(out.path())
            .env("DL_TIMEOUT", "60"),
    );
    let peer = publisher.wait_for("unchoked interested", Duration::from_secs(30));
    assert!(peer.contains("127.0.0.1:"), "{peer}");
    assert!(peer.contains("/s"), "{peer}");
    publisher.wait_for(
        "show.bin: seeding, 1 peer, uploaded",
        Duration::from_secs(10),
    );
    lt.wait_for("done", Duration::from_secs(60));
}

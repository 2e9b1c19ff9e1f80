//! Real downloads through the host, as the browser sees them: a torrent served by an engine
//! seeder on loopback, progress events until `seeding`, the bytes checked; the relay killed
//! (the download goes on), a second relay (it sees the download), the daemon killed with -9 and
//! restarted (it resumes without fetching verified pieces again). Also the terminal commands,
//! `open`/`reveal`, and pausing finished torrents when no browser is connected.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const PIECE: u64 = 64 * 1024;

fn listen_port(host: &mut Host) -> u16 {
    host.call(json!({"cmd": "hello"}))["listen_port"]
        .as_u64()
        .unwrap() as u16
}

fn subscribe(host: &mut Host) -> Vec<Value> {
    host.call(json!({"cmd": "subscribe"}));
    let snapshot = host.next_event();
    assert_eq!(snapshot["event"], "progress");
    assert_eq!(snapshot["full"], true);
    snapshot["torrents"].as_array().unwrap().clone()
}

#[test]
fn download_survives_the_relay_and_a_daemon_crash() {
    let home = Home::new();
    let data = test_data(4 * 1024 * 1024 + 1234, 9);
    let (metainfo, torrent) = make_torrent("movie.bin", &data, PIECE);
    let seeder = Seeder::start(metainfo, "movie.bin", &data);
    let ih = seeder.info_hash.to_hex();

    // Slow enough to act mid-download: ~1 MiB/s for 4 MiB.
    let mut host = home.relay();
    host.call(json!({"cmd": "set_settings", "settings": {"download_rate_limit": 1_000_000}}));
    assert!(subscribe(&mut host).is_empty());
    let added = host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "source_url": "http://127.0.0.1/movie.torrent"}));
    assert_eq!(added["info_hash"], ih);
    seeder.dial(listen_port(&mut host));
    let early = host.wait_status(&ih, "a quarter downloaded", |t| {
        t["progress"].as_f64().unwrap() >= 0.25
    });
    assert_eq!(early["state"], "downloading");
    assert_eq!(
        host.error_code(json!({"cmd": "open", "info_hash": ih})),
        "not_complete"
    );
    assert!(host
        .history
        .iter()
        .any(|e| e["event"] == "added" && e["info_hash"] == ih));

    // The browser goes away (SIGKILL, as browsers do): the download carries on in the daemon.
    drop(host);
    let mut host = home.relay();
    let seen = subscribe(&mut host);
    let at_reconnect = seen
        .iter()
        .find(|t| t["info_hash"] == ih)
        .expect("a second relay sees the download");
    let have_then = at_reconnect["have_bytes"].as_u64().unwrap();
    let later = host.wait_status(&ih, "more than half downloaded", |t| {
        t["progress"].as_f64().unwrap() >= 0.5
    });
    assert!(later["have_bytes"].as_u64().unwrap() > have_then);
    // Progress comes while the download moves, at most 4 rounds a second.
    let times = &host.progress_at;
    assert!(times.len() >= 2, "progress events while downloading");
    let span = times[times.len() - 1] - times[0];
    let allowed = (span.as_secs_f64() * 4.0).floor() as usize + 2;
    assert!(
        times.len() <= allowed,
        "{} progress events in {span:?}",
        times.len()
    );

    // kill -9 mid-download, then a browser reconnects: a fresh daemon resumes the download.
    let have_at_kill = later["have_bytes"].as_u64().unwrap();
    let pid = host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap() as u32;
    home.kill_daemon(pid, "-KILL");
    drop(host);
    let mut host = home.relay();
    assert_ne!(host.call(json!({"cmd": "hello"}))["pid"], pid);
    host.call(json!({"cmd": "set_settings", "settings": {"download_rate_limit": null}}));
    subscribe(&mut host);
    seeder.dial(listen_port(&mut host));
    let done = host.wait_status(&ih, "seeding", |t| t["state"] == "seeding");
    let total = data.len() as u64;
    assert_eq!(done["have_bytes"], total);
    assert_eq!(done["progress"], 1.0);
    let downloaded = done["downloaded"].as_u64().unwrap();
    eprintln!("verified before kill -9: {have_at_kill} of {total} bytes; fetched after restart: {downloaded}");
    assert!(
        downloaded <= total - have_at_kill + 2 * PIECE,
        "fetched {downloaded} bytes after the crash, but {have_at_kill} of {total} were verified before it"
    );
    // `completed` may arrive just after the status that shows seeding.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !host
        .history
        .iter()
        .any(|e| e["event"] == "completed" && e["info_hash"] == ih)
    {
        assert!(
            Instant::now() < deadline,
            "no completed event: {:?}",
            host.history
        );
        host.next_event();
    }
    let saved = std::fs::read(home.downloads().join("movie.bin")).unwrap();
    assert!(saved == data, "the downloaded bytes differ");
    assert_eq!(done["save_path"], json!(home.downloads().join("movie.bin")));

    host.call(json!({"cmd": "open", "info_hash": ih}));
    host.call(json!({"cmd": "reveal", "info_hash": ih}));
    wait_until("the opener ran twice", || {
        home.opened().lines().count() == 2
    });
    let opened = home.opened();
    let lines: Vec<&str> = opened.lines().collect();
    assert!(
        lines.contains(&home.downloads().join("movie.bin").to_str().unwrap()),
        "{opened}"
    );
    assert!(
        lines.contains(&home.downloads().to_str().unwrap()),
        "{opened}"
    );
}

#[test]
fn terminal_commands_and_seeding_only_while_a_browser_is_connected() {
    let home = Home::new();
    // Data already in place: the torrent checks and seeds without any peer.
    let data = test_data(300_000, 4);
    let (_, torrent) = make_torrent("song.ogg", &data, 16384);
    std::fs::create_dir_all(home.downloads()).unwrap();
    std::fs::write(home.downloads().join("song.ogg"), &data).unwrap();
    let torrent_file = home.root().join("song.torrent");
    std::fs::write(&torrent_file, &torrent).unwrap();

    let cli = |args: &[&str]| {
        let out = home.command().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let out = cli(&["add", torrent_file.to_str().unwrap()]);
    assert!(out.contains("added song.ogg"), "{out}");
    let status = |home: &Home| -> Value {
        let out = home.command().args(["list", "--json"]).output().unwrap();
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        list[0].clone()
    };
    wait_until("the torrent seeds", || status(&home)["state"] == "seeding");
    let ih = status(&home)["info_hash"].as_str().unwrap().to_owned();
    let table = cli(&["list"]);
    assert!(table.starts_with("HASH"), "{table}");
    assert!(
        table.contains("song.ogg") && table.contains("seeding") && table.contains("100.0%"),
        "{table}"
    );

    // A unique prefix, as the table shows it, is enough.
    cli(&["pause", &ih[..8]]);
    wait_until("paused", || status(&home)["state"] == "paused");
    cli(&["resume", &ih]);
    wait_until("seeding again", || status(&home)["state"] == "seeding");
    let bad = home.command().args(["pause", "ffff"]).output().unwrap();
    assert!(!bad.status.success());

    // keep_seeding off: the last browser leaving pauses finished torrents; one returning resumes them.
    let mut host = home.relay();
    host.call(json!({"cmd": "set_settings", "settings": {"keep_seeding": false}}));
    subscribe(&mut host);
    drop(host);
    wait_until("paused without a browser", || {
        status(&home)["state"] == "paused"
    });
    let mut host = home.relay();
    let snapshot = subscribe(&mut host);
    // The resume may already show in the snapshot.
    if !snapshot
        .iter()
        .any(|t| t["info_hash"] == ih.as_str() && t["state"] == "seeding")
    {
        host.wait_status(&ih, "seeding with a browser", |t| t["state"] == "seeding");
    }
    drop(host);
    wait_until("paused again", || status(&home)["state"] == "paused");

    let out = cli(&["remove", &ih, "--delete-files"]);
    assert!(out.contains("remove"), "{out}");
    wait_until("files deleted", || {
        !home.downloads().join("song.ogg").exists()
    });
    let list: Value = serde_json::from_slice(
        &home
            .command()
            .args(["list", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(list, json!([]));
}

#[test]
fn a_torrent_that_cannot_write_its_file_reports_an_error_and_others_carry_on() {
    let home = Home::new();
    let data = test_data(200_000, 6);
    // A name longer than the file system allows (255 bytes): the engine cannot create the file.
    // (Something already at the torrent's name no longer blocks it: the download takes a free
    // `name (1)` beside it.)
    let (_, torrent) = make_torrent(&format!("{}.bin", "b".repeat(300)), &data, 16384);
    let (_, good) = make_torrent("fine.bin", &test_data(50_000, 2), 16384);
    std::fs::create_dir_all(home.downloads()).unwrap();
    std::fs::write(home.downloads().join("fine.bin"), test_data(50_000, 2)).unwrap();
    let mut host = home.relay();
    subscribe(&mut host);
    let ih = host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent)}))["info_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = host.wait_status(&ih, "error state", |t| t["state"] == "error");
    assert!(failed["error"].is_string(), "{failed}");
    let ok = host.call(json!({"cmd": "add", "torrent_b64": b64(&good)}))["info_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    host.wait_status(&ok, "the other torrent seeds", |t| t["state"] == "seeding");
    assert!(
        host.history
            .iter()
            .any(|e| e["event"] == "error" && e["info_hash"] == ih),
        "an error event: {:?}",
        host.history
            .iter()
            .map(|e| e["event"].clone())
            .collect::<Vec<_>>()
    );
}

/// A multi-MB request that trickles in while progress events flow must arrive whole: the daemon
/// once raced its frame reader against the progress tick in a `select!`, so a tick that fired
/// mid-frame threw away the bytes read so far and every later frame was misread.
#[test]
fn a_large_request_sent_slowly_while_progress_flows_stays_in_sync() {
    let home = Home::new();
    let data = test_data(4 * 1024 * 1024, 5);
    let (metainfo, torrent) = make_torrent("trickle.bin", &data, PIECE);
    let seeder = Seeder::start(metainfo, "trickle.bin", &data);
    let ih = seeder.info_hash.to_hex();

    // ~300 kB/s: the status changes at every tick while the big request is being sent.
    let mut host = home.relay();
    host.call(json!({"cmd": "set_settings", "settings": {"download_rate_limit": 300_000}}));
    subscribe(&mut host);
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent)}));
    seeder.dial(listen_port(&mut host));
    host.wait_status(&ih, "the download moves", |t| {
        t["have_bytes"].as_u64().unwrap() > 0
    });

    // 3 MiB in 64 KiB pieces 25 ms apart: over a second, so several ticks land mid-frame.
    let request = json!({"id": 1, "cmd": "hello", "client": "x".repeat(3 << 20)});
    let payload = serde_json::to_vec(&request).unwrap();
    let mut frame = (payload.len() as u32).to_ne_bytes().to_vec();
    frame.extend_from_slice(&payload);
    let started = Instant::now();
    for chunk in frame.chunks(64 * 1024) {
        host.send_raw(chunk);
        std::thread::sleep(Duration::from_millis(25));
    }
    let sending = started.elapsed();
    let mut progress_while_sending = 0;
    let reply = loop {
        let frame = host.recv();
        if frame["event"] == "progress" {
            progress_while_sending += 1;
            continue;
        }
        break frame;
    };
    assert_eq!(reply["id"], 1, "the reply to the big request: {reply}");
    assert!(
        progress_while_sending >= 2,
        "only {progress_while_sending} progress events in {sending:?}: the test did not race the tick"
    );
    // And the stream is still framed right: the next request gets its own reply.
    let hello = host.call(json!({"cmd": "hello"}));
    assert!(hello["pid"].as_u64().is_some(), "{hello}");
}

/// "Open" on a finished program asks first: `confirm_executable` until the request confirms, and
/// nothing is handed to the desktop before that. The finished file carries its origin URL.
#[test]
fn open_asks_before_running_a_program_and_files_carry_their_origin() {
    let home = Home::new();
    let data = test_data(50_000, 8);
    let (metainfo, torrent) = make_torrent("setup.exe", &data, 16384);
    let ih = metainfo.info_hash.to_hex();
    std::fs::create_dir_all(home.downloads()).unwrap();
    let path = home.downloads().join("setup.exe");
    std::fs::write(&path, &data).unwrap();
    let mut host = home.relay();
    subscribe(&mut host);
    let url = "https://tracker.example/setup.exe.torrent";
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "source_url": url}));
    host.wait_status(&ih, "seeding", |t| t["state"] == "seeding");

    let reply = host.request(json!({"cmd": "open", "info_hash": ih}));
    assert_eq!(reply["error"]["code"], "confirm_executable", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("Windows program (.exe)"), "{message}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(home.opened(), "", "nothing opened without confirmation");
    host.call(json!({"cmd": "open", "info_hash": ih, "confirm_executable": true}));
    wait_until("the opener ran", || !home.opened().is_empty());
    assert_eq!(home.opened().trim(), path.to_str().unwrap());

    // The mark of origin, where the file system keeps user xattrs.
    let out = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import os,sys; sys.stdout.buffer.write(os.getxattr(sys.argv[1], 'user.xdg.origin.url'))",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let probe = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import os,sys; os.setxattr(sys.argv[1], 'user.probe', b'1')",
        ])
        .arg(home.root())
        .status()
        .unwrap();
    if probe.success() {
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), url);
    } else {
        eprintln!(
            "skipped the xattr check: no user xattrs on {}",
            home.root().display()
        );
    }
}

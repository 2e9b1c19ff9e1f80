//! The native-messaging host driven as a browser drives it: frames over piped stdio, every kind
//! of bad input, and the daemon's single-instance and crash-recovery rules.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[test]
fn host_answers_and_exits_promptly_on_stdin_eof() {
    let home = Home::new();
    let mut host = home.relay();
    let hello = host.call(json!({"cmd": "hello"}));
    assert_eq!(hello["helper"], "bthelper");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["torrents"], 0);
    // Reachability: on loopback nothing is mapped, nobody connected yet, and the IPv6 twin of
    // the listener is on ::1.
    assert_eq!(hello["port_mapping"]["state"], "off");
    assert_eq!(hello["connectable"]["state"], "not_yet");
    let port = hello["listen_port"].as_u64().unwrap();
    assert_eq!(
        hello["listen_addrs"],
        json!([format!("127.0.0.1:{port}"), format!("[::1]:{port}")])
    );
    assert_eq!(
        hello["settings"]["download_dir"],
        json!(home.downloads().to_str().unwrap())
    );
    let list = host.call(json!({"cmd": "list"}));
    assert_eq!(
        list,
        json!({"torrents": [], "total": 0, "next_offset": null})
    );

    // doctor finds the running daemon.
    let doctor = home.command().arg("doctor").output().unwrap();
    let doctor = String::from_utf8_lossy(&doctor.stdout).into_owned();
    let expected = format!("daemon: running (pid {}", hello["pid"]);
    assert!(doctor.contains(&expected), "{doctor}");
    assert!(doctor.contains("port mapping  off"), "{doctor}");
    assert!(
        doctor.contains("connectable   no peer has connected"),
        "{doctor}"
    );

    let started = std::time::Instant::now();
    host.close_stdin();
    assert_eq!(host.wait_exit(), 0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The daemon outlives the relay, in a 0700 directory.
    assert!(std::os::unix::net::UnixStream::connect(home.socket()).is_ok());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.root().join("run"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn bad_input_gets_error_replies_and_the_stream_carries_on() {
    let home = Home::new();
    let mut host = home.relay();
    let outside = tempfile::tempdir().unwrap();
    let (_, torrent) = make_torrent("a.bin", &test_data(100_000, 3), 16384);

    // Frames that are not requests: the reply has a null id.
    for (payload, code) in [
        (&b"{not json"[..], "bad_json"),
        (&[0xff, 0xfe, 0x00][..], "bad_json"),
        (&b""[..], "bad_json"),
        (&b"[1, 2]"[..], "bad_request"),
        (&b"\"hello\""[..], "bad_request"),
    ] {
        host.send_frame(payload);
        let reply = host.recv();
        assert_eq!(reply["ok"], false, "{reply}");
        assert_eq!(reply["id"], json!(null));
        assert_eq!(reply["error"]["code"], code, "{reply}");
    }
    let cases = [
        (json!({}), "bad_request"),
        (json!({"cmd": 5}), "bad_request"),
        (json!({"cmd": "launch_missiles"}), "unknown_command"),
        (
            json!({"cmd": "add", "torrent_b64": b64(&torrent), "peers": ["nowhere"]}),
            "bad_request",
        ),
        (
            json!({"cmd": "add", "torrent_b64": b64(&torrent), "peers": "1.2.3.4:5"}),
            "bad_request",
        ),
        (json!({"cmd": "pause"}), "bad_request"),
        (json!({"cmd": "pause", "info_hash": 12}), "bad_request"),
        (json!({"cmd": "pause", "info_hash": "xyz"}), "bad_request"),
        (
            json!({"cmd": "pause", "info_hash": "00".repeat(20)}),
            "unknown_torrent",
        ),
        (
            json!({"cmd": "remove", "info_hash": "00".repeat(20), "delete_files": "yes"}),
            "bad_request",
        ),
        (
            json!({"cmd": "open", "info_hash": "00".repeat(20)}),
            "unknown_torrent",
        ),
        (json!({"cmd": "add"}), "bad_request"),
        (json!({"cmd": "add", "torrent_b64": "%%%"}), "bad_request"),
        (
            json!({"cmd": "add", "torrent_b64": b64(b"d4:infoi1ee")}),
            "invalid_torrent",
        ),
        (
            json!({"cmd": "add", "torrent_b64": b64(&torrent[..torrent.len() - 1])}),
            "invalid_torrent",
        ),
        (
            json!({"cmd": "add", "torrent_b64": b64(&torrent), "magnet": "magnet:?"}),
            "bad_request",
        ),
        (
            json!({"cmd": "add", "magnet": "magnet:?dn=no-hash"}),
            "invalid_magnet",
        ),
        (
            json!({"cmd": "add", "url": "ftp://example.invalid/x.torrent"}),
            "fetch_failed",
        ),
        (
            json!({"cmd": "add", "url": "http://127.0.0.1:1/x.torrent"}),
            "fetch_failed",
        ),
        (
            json!({"cmd": "add", "torrent_b64": b64(&torrent), "save_dir": outside.path()}),
            "save_dir_not_allowed",
        ),
        (
            json!({"cmd": "add", "torrent_b64": b64(&torrent), "save_dir": "relative"}),
            "save_dir_not_allowed",
        ),
        (
            json!({"cmd": "add", "torrent_b64": b64(&torrent), "save_dir": home.downloads().join("../escape")}),
            "save_dir_not_allowed",
        ),
        (
            json!({"cmd": "set_settings", "settings": {"upload_rate_limit": -1}}),
            "bad_request",
        ),
        (
            json!({"cmd": "set_settings", "settings": {"download_dir": "rel"}}),
            "invalid_settings",
        ),
        (
            json!({"cmd": "set_settings", "settings": {"no_such": 1}}),
            "bad_request",
        ),
    ];
    for (request, code) in cases {
        assert_eq!(host.error_code(request.clone()), code, "{request}");
    }
    // A torrent hostile in its paths is refused by validation.
    let hostile =
        b"d4:infod6:lengthi1e4:name2:..12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
    assert_eq!(
        host.error_code(json!({"cmd": "add", "torrent_b64": b64(hostile)})),
        "invalid_torrent"
    );
    // Nothing was added, and the same connection still works.
    assert_eq!(host.call(json!({"cmd": "list"}))["total"], 0);
    let added = host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "paused": true}));
    assert_eq!(added["name"], "a.bin");
    assert_eq!(
        host.error_code(json!({"cmd": "add", "torrent_b64": b64(&torrent)})),
        "already_added"
    );
}

#[test]
fn a_lying_length_prefix_closes_the_connection_and_nothing_else() {
    let home = Home::new();
    let mut host = home.relay();
    let (_, torrent) = make_torrent("keep.bin", &test_data(50_000, 1), 16384);
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "paused": true}));

    // Over the 64 MiB limit: an error reply, then the relay exits cleanly.
    host.send_raw(&(64 * 1024 * 1024 + 1u32).to_ne_bytes());
    let reply = host.recv();
    assert_eq!(reply["error"]["code"], "frame_too_large", "{reply}");
    assert!(
        host.recv_frame(TIMEOUT).is_none(),
        "the relay closes its stdout"
    );
    assert_eq!(host.wait_exit(), 0);

    // A prefix promising more than ever arrives, then EOF: a clean exit.
    let mut host = home.relay();
    host.send_raw(&1000u32.to_ne_bytes());
    host.send_raw(b"{\"id\":1,");
    host.close_stdin();
    assert_eq!(host.wait_exit(), 0);

    // The daemon and its download carry on.
    let mut host = home.relay();
    let list = host.call(json!({"cmd": "list"}));
    assert_eq!(list["torrents"][0]["name"], "keep.bin");
}

#[test]
fn one_daemon_per_home_and_a_crashed_daemons_socket_is_recovered() {
    let home = Home::new();
    let mut host = home.relay();
    let first_pid = host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap() as u32;

    // A hangup (the terminal that started it closed) does not stop the daemon.
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &first_pid.to_string()])
        .status();
    assert_eq!(host.call(json!({"cmd": "hello"}))["pid"], first_pid);

    // A second daemon finds the first and exits successfully.
    let second = home.command().arg("daemon").output().unwrap();
    assert!(second.status.success(), "{second:?}");
    assert!(String::from_utf8_lossy(&second.stderr).contains("already running"));
    assert_eq!(host.call(json!({"cmd": "hello"}))["pid"], first_pid);

    // Two relays at once share the daemon.
    let mut other = home.relay();
    assert_eq!(other.call(json!({"cmd": "hello"}))["pid"], first_pid);
    drop(other);

    // kill -9 leaves the socket file behind; the next relay starts a daemon that replaces it.
    home.kill_daemon(first_pid, "-KILL");
    assert!(
        home.socket().exists(),
        "a crashed daemon leaves its socket file"
    );
    assert!(
        host.recv_frame(TIMEOUT).is_none(),
        "the relay sees the daemon go"
    );
    let mut host = home.relay();
    let pid = host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap() as u32;
    assert_ne!(pid, first_pid);
}

#[test]
fn settings_persist_and_validate() {
    let home = Home::new();
    let mut host = home.relay();
    let before = host.call(json!({"cmd": "get_settings"}));
    assert_eq!(before["keep_seeding"], true);
    assert_eq!(before["download_rate_limit"], json!(null));
    let extra = tempfile::tempdir().unwrap();
    let after = host.call(json!({"cmd": "set_settings", "settings": {
        "download_rate_limit": 1_000_000, "seed_ratio": 2.0, "keep_seeding": false,
        "allowed_dirs": [extra.path()], "listen_port": 0}}));
    assert_eq!(after["download_rate_limit"], 1_000_000);
    assert_eq!(after["restart_required"], false);
    // A save_dir in an allowed directory is now accepted.
    let (_, torrent) = make_torrent("x.bin", &test_data(20_000, 2), 16384);
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "save_dir": extra.path().join("sub"), "paused": true}));

    let pid = host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap() as u32;
    drop(host);
    home.kill_daemon(pid, "-TERM");
    let mut host = home.relay();
    let reloaded = host.call(json!({"cmd": "get_settings"}));
    assert_eq!(reloaded["download_rate_limit"], 1_000_000);
    assert_eq!(reloaded["seed_ratio"], 2.0);
    assert_eq!(reloaded["keep_seeding"], false);
    let list = host.call(json!({"cmd": "list"}));
    assert_eq!(list["torrents"][0]["state"], "paused");
    assert!(list["torrents"][0]["save_path"]
        .as_str()
        .unwrap()
        .starts_with(extra.path().to_str().unwrap()));
    let cleared =
        host.call(json!({"cmd": "set_settings", "settings": {"download_rate_limit": null}}));
    assert_eq!(cleared["download_rate_limit"], json!(null));
    assert_eq!(cleared["seed_ratio"], 2.0);
}

/// A tiny HTTP server for `add` with a `url`: `/r` redirects to `/t.torrent`, which serves
/// `torrent`; anything else is 404. It runs until the test process ends.
fn serve_torrent(torrent: Vec<u8>) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let path = request_line.split(' ').nth(1).unwrap_or("");
            let response: Vec<u8> = match path {
                "/r" => b"HTTP/1.1 302 Found\r\nLocation: /t.torrent\r\nContent-Length: 0\r\n\r\n"
                    .to_vec(),
                "/t.torrent" => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-bittorrent\r\nContent-Length: {}\r\n\r\n",
                        torrent.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&torrent);
                    r
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    port
}

#[test]
fn add_by_url_follows_redirects_and_reports_http_failures() {
    let home = Home::new();
    let mut host = home.relay();
    let (_, torrent) = make_torrent("fetched.bin", &test_data(40_000, 5), 16384);
    let port = serve_torrent(torrent);
    let added = host
        .call(json!({"cmd": "add", "url": format!("http://127.0.0.1:{port}/r"), "paused": true}));
    assert_eq!(added["name"], "fetched.bin");
    let code =
        host.error_code(json!({"cmd": "add", "url": format!("http://127.0.0.1:{port}/nope")}));
    assert_eq!(code, "fetch_failed");
    let list = host.call(json!({"cmd": "list"}));
    assert_eq!(list["total"], 1);
    // The source URL is kept in the persisted download list.
    let saved = std::fs::read_to_string(home.root().join("state/downloads.json")).unwrap();
    assert!(
        saved.contains(&format!("http://127.0.0.1:{port}/r")),
        "{saved}"
    );
}

#[test]
fn relays_racing_to_start_the_daemon_share_one() {
    let home = Home::new();
    let pids: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    let mut host = home.relay();
                    host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(pids.iter().all(|p| *p == pids[0]), "{pids:?}");
}

#[test]
fn lists_and_snapshots_too_big_for_one_frame_are_split() {
    let home = Home::new();
    let mut host = home.relay();
    // Each status carries the name twice (name and save_path): 8 x ~300 KB is over 1 MiB.
    let count = 8;
    for i in 0..count {
        let name = format!("{i}-{}", "n".repeat(150_000));
        let (_, torrent) = make_torrent(&name, &test_data(1000, i as u8), 16384);
        host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "paused": true}));
    }
    // Paged list: every frame is checked to be under 1 MiB by the reader.
    let mut names = Vec::new();
    let mut offset = 0;
    let mut pages = 0;
    loop {
        let page = host.call(json!({"cmd": "list", "offset": offset}));
        assert_eq!(page["total"], count);
        pages += 1;
        names.extend(
            page["torrents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].clone()),
        );
        match page["next_offset"].as_u64() {
            Some(next) => offset = next,
            None => break,
        }
    }
    assert!(pages > 1, "the list should not fit one frame");
    assert_eq!(names.len(), count);
    // The subscription's first snapshot comes in parts.
    host.call(json!({"cmd": "subscribe"}));
    let first = host.next_event();
    let parts = first["parts"].as_u64().unwrap();
    assert!(parts > 1, "{}", first["parts"]);
    let mut seen = first["torrents"].as_array().unwrap().len();
    for part in 2..=parts {
        let next = host.next_event();
        assert_eq!(next["full"], true);
        assert_eq!(next["part"], part);
        seen += next["torrents"].as_array().unwrap().len();
    }
    assert_eq!(seen, count);
}

#[test]
fn firefox_style_arguments_start_the_host_too() {
    let home = Home::new();
    let manifest = home.root().join("org.swarmlink.bthelper.json");
    let mut child = home
        .command()
        .arg(&manifest)
        .arg("swarmlink@swarmlink.org")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let body = br#"{"id": 1, "cmd": "hello"}"#;
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    {
        use std::io::Write;
        stdin.write_all(&(body.len() as u32).to_ne_bytes()).unwrap();
        stdin.write_all(body).unwrap();
    }
    use std::io::Read;
    let mut len = [0u8; 4];
    stdout.read_exact(&mut len).unwrap();
    let mut payload = vec![0; u32::from_ne_bytes(len) as usize];
    stdout.read_exact(&mut payload).unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(reply["ok"], true, "{reply}");
    // The browser closes the port: the host exits, having written nothing else.
    drop(stdin);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing but frames on stdout");
    assert!(child.wait().unwrap().success());
    // Stop the daemon this test started.
    home.kill_daemon(reply["result"]["pid"].as_u64().unwrap() as u32, "-KILL");
}

#[test]
fn daemon_stop_and_damaged_state_files() {
    let home = Home::new();
    let mut host = home.relay();
    let (_, torrent) = make_torrent("kept.bin", &test_data(30_000, 8), 16384);
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "paused": true}));
    let out = home.command().args(["daemon", "--stop"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("daemon stopped"));
    assert!(
        !home.socket().exists(),
        "a stopped daemon removes its socket"
    );
    assert!(host.recv_frame(TIMEOUT).is_none());
    let out = home.command().args(["daemon", "--stop"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no daemon"),
        "{out:?}"
    );

    // A download whose .torrent copy went bad is listed as an error, and can be removed.
    let added = host_info_hash(&torrent);
    std::fs::write(
        home.root().join(format!("state/torrents/{added}.torrent")),
        b"garbage",
    )
    .unwrap();
    let mut host = home.relay();
    let list = host.call(json!({"cmd": "list"}));
    let broken = &list["torrents"][0];
    assert_eq!(broken["name"], "kept.bin");
    assert_eq!(broken["state"], "error");
    assert!(
        broken["error"].as_str().unwrap().contains("cannot restore"),
        "{broken}"
    );
    host.call(json!({"cmd": "remove", "info_hash": added}));
    assert_eq!(host.call(json!({"cmd": "list"}))["total"], 0);
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "paused": true}));
    let pid = host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap() as u32;
    drop(host);
    home.kill_daemon(pid, "-TERM");

    // A list that no longer parses does not keep the helper from starting, and is kept.
    let list = home.root().join("state/downloads.json");
    std::fs::write(&list, b"[{\"info_hash\": ").unwrap();
    let mut host = home.relay();
    assert_eq!(host.call(json!({"cmd": "list"}))["total"], 0);
    assert!(home.root().join("state/downloads.json.corrupt").exists());
}

fn host_info_hash(torrent: &[u8]) -> String {
    protocol::Metainfo::from_bytes(torrent)
        .unwrap()
        .info_hash
        .to_hex()
}

#[test]
fn a_helper_that_cannot_start_its_daemon_says_why_before_closing() {
    let home = Home::new();
    // The run directory cannot be created: a file stands where it should be.
    std::fs::write(home.root().join("run"), b"not a directory").unwrap();
    let out = home
        .command()
        .arg(ORIGIN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let len = u32::from_ne_bytes(out.stdout[..4].try_into().unwrap()) as usize;
    assert_eq!(out.stdout.len(), 4 + len, "exactly one frame");
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout[4..]).unwrap();
    assert_eq!(reply["id"], json!(null));
    assert_eq!(reply["error"]["code"], "daemon_unavailable", "{reply}");
}

#[test]
fn the_daemon_listens_for_peers_where_it_is_told() {
    let home = Home::new();
    let mut host = home.relay();
    let port = host.call(json!({"cmd": "hello"}))["listen_port"]
        .as_u64()
        .unwrap() as u16;
    // Tests keep the daemon on loopback (SWARMLINK_LISTEN_IP=127.0.0.1): reachable there.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let listening = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    assert!(listening.contains(&local), "not bound to 127.0.0.1:{port}");
    assert!(
        !listening.contains(&format!("00000000:{port:04X}")),
        "bound to all interfaces"
    );
}

#[test]
fn an_oversized_daemon_log_is_rotated_when_a_daemon_starts() {
    let home = Home::new();
    let log_dir = home.root().join("log");
    std::fs::create_dir_all(&log_dir).unwrap();
    std::fs::write(log_dir.join("daemon.log"), vec![b'x'; 9 * 1024 * 1024]).unwrap();
    let mut host = home.relay();
    host.call(json!({"cmd": "hello"}));
    assert_eq!(
        std::fs::metadata(log_dir.join("daemon.log.old"))
            .unwrap()
            .len(),
        9 * 1024 * 1024
    );
    assert!(std::fs::metadata(log_dir.join("daemon.log")).unwrap().len() < 1024 * 1024);
}

/// The state directory holds `.torrent` copies (a private tracker's passkey is in the announce
/// URL), the download list, settings, resume data and the daemon's log: after real use, all of
/// it is 0600 in 0700 directories, whatever the umask.
#[cfg(unix)]
#[test]
fn everything_the_helper_keeps_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let data = test_data(100_000, 6);
    let (metainfo, torrent) = make_torrent("private.bin", &data, 16384);
    std::fs::create_dir_all(home.downloads()).unwrap();
    std::fs::write(home.downloads().join("private.bin"), &data).unwrap();
    let mut host = home.relay();
    host.call(json!({"cmd": "set_settings", "settings": {"seed_ratio": 3.0}}));
    let ih = metainfo.info_hash.to_hex();
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "source_url": "https://tracker.example/announce?passkey=secret"}));
    wait_until("seeding", || {
        host.call(json!({"cmd": "list"}))["torrents"][0]["state"] == "seeding"
    });
    let pid = host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap() as u32;
    drop(host);
    home.kill_daemon(pid, "-TERM");

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let state = home.root().join("state");
    let log = home.root().join("log");
    let mut files = vec![
        state.join("downloads.json"),
        state.join("settings.json"),
        state.join(format!("torrents/{ih}.torrent")),
        log.join("daemon.log"),
    ];
    let resume: Vec<_> = std::fs::read_dir(state.join("resume"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!resume.is_empty(), "resume data was written");
    files.extend(resume);
    for dir in [&state, &state.join("torrents"), &state.join("resume"), &log] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}

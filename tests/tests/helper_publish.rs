//! The original experience, end to end without a browser: `bttrack` lists a file that
//! `btpublish` seeds; the browser's helper (`bthelper` started as Chromium starts it) is handed
//! the listing's link, fetches the `.torrent` itself, finds the publisher through the tracker and
//! reports progress events until `seeding`; the bytes match.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use swarmlink_tests::{bin, KillOnDrop};

const KEY: &str = "helper-test-key";
const ORIGIN: &str = "chrome-extension://lndipfiddjhiiddghlniicdhbfpnielh/";

fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn bttrack() -> (KillOnDrop, u16) {
    let exe = bin("bttrack");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let port = free_port();
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
                break; // lost the port race: try another
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (child, port);
            }
            assert!(Instant::now() < deadline, "bttrack did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `btpublish` seeding `file`; returns the process and the listing URL it prints.
fn btpublish(port: u16, file: &std::path::Path) -> (KillOnDrop, String) {
    let mut child = Command::new(bin("btpublish"))
        .args(["--port", "0", "--key", KEY])
        .args(["--location", &format!("http://127.0.0.1:{port}/publish/")])
        .arg(file)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("btpublish starts");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("btpublish prints its listing URL");
        if let Some((_, url)) = line.split_once(": http://") {
            return (child, format!("http://{url}"));
        }
    }
}

/// The helper as a browser sees it.
struct Host {
    child: KillOnDrop,
    frames: mpsc::Receiver<Value>,
}

impl Host {
    fn start(home: &std::path::Path) -> Host {
        let mut child = Command::new(bin("bthelper"))
            .arg(ORIGIN)
            .env("SWARMLINK_HOME", home)
            .env("SWARMLINK_LISTEN_IP", "127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("bthelper starts");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut len = [0u8; 4];
            if stdout.read_exact(&mut len).is_err() {
                return;
            }
            let mut buf = vec![0; u32::from_ne_bytes(len) as usize];
            if stdout.read_exact(&mut buf).is_err() {
                return;
            }
            if tx.send(serde_json::from_slice(&buf).unwrap()).is_err() {
                return;
            }
        });
        Host {
            child: KillOnDrop(child),
            frames: rx,
        }
    }

    fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        let stdin = self.child.0.stdin.as_mut().unwrap();
        stdin.write_all(&(body.len() as u32).to_ne_bytes()).unwrap();
        stdin.write_all(&body).unwrap();
        stdin.flush().unwrap();
    }

    fn next(&mut self) -> Value {
        self.frames
            .recv_timeout(Duration::from_secs(60))
            .expect("a frame from the helper")
    }

    fn call(&mut self, id: u64, mut message: Value) -> Value {
        message["id"] = json!(id);
        self.send(message);
        loop {
            let frame = self.next();
            if frame["id"] == json!(id) {
                assert_eq!(frame["ok"], true, "{frame}");
                return frame["result"].clone();
            }
        }
    }
}

#[test]
fn the_helper_downloads_a_published_file_from_its_listing_link() {
    let started = Instant::now();
    let (_tracker, port) = bttrack();
    eprintln!("bttrack up after {:?}", started.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed").join("home movie.mpeg");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let data: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &data).unwrap();
    let (_publisher, link) = btpublish(port, &file);
    eprintln!("published after {:?}", started.elapsed());

    let home = dir.path().join("helper");
    let mut host = Host::start(&home);
    let daemon_pid = host.call(1, json!({"cmd": "hello", "client": "test"}))["pid"]
        .as_u64()
        .unwrap();
    // Stop the daemon (by its PID) however the test ends.
    struct StopDaemon(u64);
    impl Drop for StopDaemon {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
    let _stop = StopDaemon(daemon_pid);

    host.call(2, json!({"cmd": "subscribe"}));
    let added = host.call(3, json!({"cmd": "add", "url": link}));
    assert_eq!(added["name"], "home movie.mpeg");
    let ih = added["info_hash"].as_str().unwrap().to_owned();
    eprintln!("added after {:?}", started.elapsed());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut states = Vec::new();
    'wait: loop {
        assert!(
            Instant::now() < deadline,
            "not seeding in time; states seen: {states:?}"
        );
        let frame = host.next();
        if frame["event"] != "progress" {
            continue;
        }
        for t in frame["torrents"].as_array().unwrap() {
            if t["info_hash"] == ih.as_str() {
                states.push(t["state"].as_str().unwrap_or("").to_owned());
                if t["state"] == "seeding" {
                    break 'wait;
                }
            }
        }
    }
    eprintln!("seeding after {:?}; states {states:?}", started.elapsed());
    let saved = std::fs::read(home.join("downloads").join("home movie.mpeg")).unwrap();
    assert!(saved == data, "the downloaded bytes differ");
}

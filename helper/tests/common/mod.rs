//! Driving bthelper exactly as a browser does: spawn it with the extension's origin and piped
//! stdio, speak native-messaging frames. Every daemon a test starts is stopped by its PID when the
//! test's `Home` is dropped.

#![allow(dead_code)]

mod seeder;
// Each test binary compiles `common` anew; those without a seeder would warn about the re-export.
#[allow(unused_imports)]
pub use seeder::Seeder;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const EXE: &str = env!("CARGO_BIN_EXE_bthelper");
pub const ORIGIN: &str = "chrome-extension://lndipfiddjhiiddghlniicdhbfpnielh/";
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// An isolated helper root (SWARMLINK_HOME) and the daemons started in it.
pub struct Home {
    pub dir: tempfile::TempDir,
    daemon_pids: std::sync::Mutex<Vec<u32>>,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("slh")
            .tempdir_in("/tmp")
            .unwrap();
        // `open`/`reveal` run this instead of the desktop's opener: it records what it was given.
        let opener = dir.path().join("opener.sh");
        let record = dir.path().join("opened.txt");
        std::fs::write(
            &opener,
            format!("#!/bin/sh\necho \"$1\" >> '{}'\n", record.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
        Home {
            dir,
            daemon_pids: Default::default(),
        }
    }

    /// What `open`/`reveal` opened so far, one path a line.
    pub fn opened(&self) -> String {
        std::fs::read_to_string(self.root().join("opened.txt")).unwrap_or_default()
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> PathBuf {
        self.root().join("run/daemon.sock")
    }

    pub fn downloads(&self) -> PathBuf {
        self.root().join("downloads")
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(EXE);
        c.env("SWARMLINK_HOME", self.root())
            .env("SWARMLINK_OPENER", self.root().join("opener.sh"))
            .env("SWARMLINK_LISTEN_IP", "127.0.0.1")
            .env_remove("SWARMLINK_LOG");
        c
    }

    /// Starts a relay as Chromium would.
    pub fn relay(&self) -> Host {
        let mut child = self
            .command()
            .arg(ORIGIN)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut len = [0u8; 4];
            if stdout.read_exact(&mut len).is_err() {
                let _ = tx.send(None);
                return;
            }
            let n = u32::from_ne_bytes(len) as usize;
            assert!(n <= 1024 * 1024, "the host sent a frame of {n} bytes");
            let mut buf = vec![0; n];
            if stdout.read_exact(&mut buf).is_err() {
                let _ = tx.send(None);
                return;
            }
            let _ = tx.send(Some(buf));
        });
        let mut host = Host {
            child,
            stdin,
            frames: rx,
            next_id: 100,
            pending_events: Vec::new(),
            history: Vec::new(),
            progress_at: Vec::new(),
        };
        let hello = host.call(json!({"cmd": "hello", "client": "test"}));
        let pid = hello["pid"].as_u64().unwrap() as u32;
        let mut pids = self.daemon_pids.lock().unwrap();
        if !pids.contains(&pid) {
            pids.push(pid);
        }
        host
    }

    /// Kills a daemon this test started (by PID) and waits until it is gone.
    pub fn kill_daemon(&self, pid: u32, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
        wait_until("daemon exits", || {
            !Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid)
        });
    }

    pub fn stop_daemons(&self) {
        let mut pids: Vec<u32> = self.daemon_pids.lock().unwrap().drain(..).collect();
        // Also the daemon holding this home's lock, if a test failed before learning its pid;
        // only if its environment proves it is ours.
        if let Some(pid) = std::fs::read_to_string(self.root().join("run/daemon.lock"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let ours = format!("SWARMLINK_HOME={}", self.root().display());
            if environ.split(|b| *b == 0).any(|v| v == ours.as_bytes()) {
                pids.push(pid);
            }
        }
        for pid in pids {
            if Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

impl Drop for Home {
    fn drop(&mut self) {
        self.stop_daemons();
    }
}

/// A native-messaging host as the browser sees it.
pub struct Host {
    pub child: Child,
    stdin: Option<ChildStdin>,
    frames: mpsc::Receiver<Option<Vec<u8>>>,
    next_id: u64,
    /// Events that arrived while waiting for a reply.
    pub pending_events: Vec<Value>,
    /// Every event received, in order.
    pub history: Vec<Value>,
    /// When each incremental (not full-snapshot) progress event arrived.
    pub progress_at: Vec<Instant>,
}

impl Host {
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    pub fn send_frame(&mut self, payload: &[u8]) {
        let mut frame = (payload.len() as u32).to_ne_bytes().to_vec();
        frame.extend_from_slice(payload);
        self.send_raw(&frame);
    }

    pub fn send(&mut self, message: &Value) {
        self.send_frame(&serde_json::to_vec(message).unwrap());
    }

    /// The next frame, or None when the host closed stdout.
    pub fn recv_frame(&mut self, timeout: Duration) -> Option<Value> {
        match self.frames.recv_timeout(timeout) {
            Ok(Some(bytes)) => Some(serde_json::from_slice(&bytes).expect("the host sends JSON")),
            Ok(None) => None,
            Err(e) => panic!("no frame from the host within {timeout:?}: {e}"),
        }
    }

    pub fn recv(&mut self) -> Value {
        self.recv_frame(TIMEOUT)
            .expect("the host closed its stdout")
    }

    /// Sends a request and returns the whole reply (events in between are kept).
    pub fn request(&mut self, mut message: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        message["id"] = json!(id);
        self.send(&message);
        loop {
            let frame = self.recv();
            if frame.get("event").is_some() {
                self.record(&frame);
                self.pending_events.push(frame);
                continue;
            }
            assert_eq!(frame["id"], json!(id), "replies come in order: {frame}");
            return frame;
        }
    }

    /// Sends a request that must succeed and returns its result.
    pub fn call(&mut self, message: Value) -> Value {
        let reply = self.request(message.clone());
        assert_eq!(reply["ok"], json!(true), "{message} failed: {reply}");
        reply["result"].clone()
    }

    /// Sends a request that must fail and returns the error code.
    pub fn error_code(&mut self, message: Value) -> String {
        let reply = self.request(message.clone());
        assert_eq!(reply["ok"], json!(false), "{message} should fail: {reply}");
        reply["error"]["code"].as_str().unwrap().to_owned()
    }

    /// The next event (pending ones first).
    pub fn next_event(&mut self) -> Value {
        if !self.pending_events.is_empty() {
            return self.pending_events.remove(0);
        }
        let frame = self.recv();
        assert!(frame.get("event").is_some(), "expected an event: {frame}");
        self.record(&frame);
        frame
    }

    fn record(&mut self, event: &Value) {
        if event["event"] == "progress" && event["full"] == false && event["part"] == 1 {
            self.progress_at.push(Instant::now());
        }
        self.history.push(event.clone());
    }

    /// Reads events until one status of `info_hash` satisfies `done`; returns that status.
    pub fn wait_status(
        &mut self,
        info_hash: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let event = self.next_event();
            if event["event"] != "progress" {
                continue;
            }
            for t in event["torrents"].as_array().unwrap() {
                if t["info_hash"] == info_hash && done(t) {
                    return t.clone();
                }
            }
        }
    }

    /// Closes stdin as a browser closing the port does.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the relay to exit on its own and returns its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "the relay did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A single-file torrent over `data`, and its bytes as base64.
pub fn make_torrent(name: &str, data: &[u8], piece_len: u64) -> (protocol::Metainfo, Vec<u8>) {
    use sha1::Digest;
    let pieces = data
        .chunks(piece_len as usize)
        .map(|c| sha1::Sha1::digest(c).into())
        .collect();
    let built = protocol::MetainfoBuilder::single_file(name, data.len() as u64)
        .piece_length(piece_len)
        .pieces(pieces)
        .build()
        .unwrap();
    (built.metainfo, built.bytes)
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn test_data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 7919) as u8) ^ seed)
        .collect()
}

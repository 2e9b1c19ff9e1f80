//! The Windows build of bthelper (`bthelper.exe`, cross-built with MinGW) run under Wine, driven
//! the way Windows browsers drive it: `install`/`uninstall`/`doctor` against the registry, and the
//! native-messaging relay spawned with piped stdio, talking to a detached daemon over the named
//! pipe and downloading from a Linux seeder on 127.0.0.1.
//!
//! Gated: these tests run only when `SWARMLINK_WINE_EXE` names the .exe (and `WINEPREFIX` a
//! prepared prefix); scripts/test.d/60-windows.sh sets both. Without them each test prints that
//! it was skipped, so `cargo test -p bthelper` on a machine without Wine stays green.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{b64, make_torrent, test_data, Seeder, ORIGIN};

/// Wine starts processes slower than Linux: generous, but every wait is bounded.
const TIMEOUT: Duration = Duration::from_secs(60);
const CHROME_KEY: &str = r"HKCU\Software\Google\Chrome\NativeMessagingHosts\org.swarmlink.bthelper";
const FIREFOX_KEY: &str = r"HKCU\Software\Mozilla\NativeMessagingHosts\org.swarmlink.bthelper";

/// The .exe, or None (and a note on stderr) when the stage did not ask for these tests.
fn wine_exe(test: &str) -> Option<PathBuf> {
    let exe = std::env::var_os("SWARMLINK_WINE_EXE").filter(|v| !v.is_empty());
    let prefix = std::env::var_os("WINEPREFIX").filter(|v| !v.is_empty());
    match (exe, prefix) {
        (Some(exe), Some(_)) => {
            let exe = PathBuf::from(exe);
            assert!(
                exe.is_file(),
                "SWARMLINK_WINE_EXE={} is not a file",
                exe.display()
            );
            Some(exe)
        }
        _ => {
            eprintln!("{test}: skipped (run scripts/test.d/60-windows.sh: it sets SWARMLINK_WINE_EXE and WINEPREFIX)");
            None
        }
    }
}

/// How Windows programs under Wine name a Linux path (drive Z: is `/`).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// Runs a command to completion within `TIMEOUT` (killed and failed otherwise). Its output goes
/// to files, read once it exited: the first Wine process of a session starts wineserver and
/// Wine's system processes, which inherit its stdio, so pipes might never reach EOF.
fn run(mut command: Command) -> Output {
    let out = tempfile::tempfile().unwrap();
    let err = tempfile::tempfile().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap())
        .spawn()
        .expect("starting wine");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            // Ours: the wine process this function started.
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |mut f: std::fs::File| {
        use std::io::Seek;
        let mut bytes = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut bytes).unwrap();
        bytes
    };
    Output {
        status,
        stdout: read(out),
        stderr: read(err),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An isolated helper root (SWARMLINK_HOME, as a Windows path) for bthelper.exe. Dropping it
/// stops the daemon started in it with `bthelper daemon --stop` (its Windows pid is not ours to
/// signal from Linux).
struct WinHome {
    exe: PathBuf,
    dir: tempfile::TempDir,
}

impl WinHome {
    fn new(exe: PathBuf) -> WinHome {
        let dir = tempfile::Builder::new()
            .prefix("slw")
            .tempdir_in("/tmp")
            .unwrap();
        WinHome { exe, dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let mut c = Command::new("wine");
        c.arg(&self.exe)
            .env("SWARMLINK_HOME", windows_path(self.root()))
            .env("SWARMLINK_LISTEN_IP", "127.0.0.1")
            .env("SWARMLINK_NO_DHT", "1")
            .env("SWARMLINK_NO_LSD", "1")
            .env("WINEDEBUG", "-all")
            .env_remove("SWARMLINK_LOG");
        c
    }

    fn bthelper(&self, args: &[&str]) -> Output {
        let mut c = self.command();
        c.args(args);
        run(c)
    }

    /// Starts a relay as Chrome on Windows does (origin, then `--parent-window`).
    fn relay(&self) -> Relay {
        self.relay_as(&[ORIGIN, "--parent-window=0"])
    }

    /// Starts a relay with the arguments a browser passes.
    fn relay_as(&self, args: &[&str]) -> Relay {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting wine");
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
            if n > 1024 * 1024 {
                // A CRLF-translated or otherwise corrupted stream shows up here.
                let _ = tx.send(Some(Err(format!("a frame of {n} bytes ({len:02x?})"))));
                return;
            }
            let mut buf = vec![0; n];
            if stdout.read_exact(&mut buf).is_err() {
                let _ = tx.send(None);
                return;
            }
            let _ = tx.send(Some(Ok(buf)));
        });
        Relay {
            child,
            stdin,
            frames: rx,
            next_id: 100,
            pending: Vec::new(),
        }
    }

    fn reg_query(&self, key: &str) -> Output {
        let mut c = Command::new("wine");
        c.args(["reg", "query", key, "/ve"])
            .env("WINEDEBUG", "-all");
        run(c)
    }
}

impl Drop for WinHome {
    fn drop(&mut self) {
        let mut c = self.command();
        c.args(["daemon", "--stop"]);
        let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// A native-messaging host as the browser sees it.
struct Relay {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: mpsc::Receiver<Option<Result<Vec<u8>, String>>>,
    next_id: u64,
    pending: Vec<Value>,
}

impl Relay {
    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn send_frame(&mut self, payload: &[u8]) {
        let mut frame = (payload.len() as u32).to_ne_bytes().to_vec();
        frame.extend_from_slice(payload);
        self.send_raw(&frame);
    }

    /// The next frame's raw payload, or None once the relay closed its stdout.
    fn recv_raw(&mut self) -> Option<Vec<u8>> {
        match self.frames.recv_timeout(TIMEOUT) {
            Ok(Some(Ok(bytes))) => Some(bytes),
            Ok(Some(Err(e))) => panic!("the relay's stdout is not framed: {e}"),
            Ok(None) => None,
            Err(e) => panic!("no frame from the relay within {TIMEOUT:?}: {e}"),
        }
    }

    fn recv(&mut self) -> Value {
        let bytes = self.recv_raw().expect("the relay closed its stdout");
        serde_json::from_slice(&bytes).expect("the relay sends JSON")
    }

    /// The reply to `id` (events meanwhile are kept), with its payload's length.
    fn reply_to(&mut self, id: u64) -> (Value, usize) {
        loop {
            let bytes = self.recv_raw().expect("the relay closed its stdout");
            let frame: Value = serde_json::from_slice(&bytes).expect("the relay sends JSON");
            if frame.get("event").is_some() {
                self.pending.push(frame);
                continue;
            }
            assert_eq!(frame["id"], json!(id), "replies come in order: {frame}");
            return (frame, bytes.len());
        }
    }

    fn call(&mut self, mut message: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        message["id"] = json!(id);
        self.send_frame(&serde_json::to_vec(&message).unwrap());
        let (reply, _) = self.reply_to(id);
        assert_eq!(reply["ok"], json!(true), "{message} failed: {reply}");
        reply["result"].clone()
    }

    fn next_event(&mut self) -> Value {
        if !self.pending.is_empty() {
            return self.pending.remove(0);
        }
        let frame = self.recv();
        assert!(frame.get("event").is_some(), "expected an event: {frame}");
        frame
    }

    /// Reads progress events until `info_hash`'s status satisfies `done`.
    fn wait_status(&mut self, info_hash: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
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

    /// After the relay exited: it sent nothing more (its stdout may stay open in Wine's system
    /// processes, see `run`, so EOF is not what is checked).
    fn sent_nothing_more(&mut self) {
        if let Ok(Some(frame)) = self.frames.try_recv() {
            let frame = frame.map(|b| String::from_utf8_lossy(&b).into_owned());
            panic!("unexpected frame after the end: {frame:?}");
        }
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the relay to exit by itself and checks that it exited cleanly; returns how long
    /// that took.
    ///
    /// Clean is exit code 0, or SIGKILL: under load (2 cores, parallel tests) Wine reports about
    /// 2% of relay exits as SIGKILL, in every exit path including plain stdin EOF, apparently
    /// wineserver finishing off a process whose ExitProcess (stopping its other threads) takes
    /// too long. The Windows exit code a browser would see is hidden from Linux then; but
    /// bthelper never sends SIGKILL, and its own failures (an error exit, a panic) show as a
    /// non-zero exit code, which fails the test.
    fn wait_exit(&mut self) -> Duration {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                assert!(
                    status.code() == Some(0) || status.signal() == Some(9),
                    "the relay exited with {status}"
                );
                return start.elapsed();
            }
            assert!(start.elapsed() < TIMEOUT, "the relay did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `doctor` sees the running daemon and names its pipe; the pipe carries the owner-only DACL
/// (read back with tests/windows/pipe_dacl.c; Wine stores but does not enforce it).
fn check_pipe(home: &WinHome) {
    let doctor = home.bthelper(&["doctor", "--browser", "chrome"]);
    let report = text(&doctor.stdout);
    assert!(report.contains("daemon: running"), "{report}");
    let pipe = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("socket"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{report}"));
    assert!(pipe.starts_with(r"\\.\pipe\swarmlink-"), "{pipe}");
    let probe = std::env::var_os("SWARMLINK_WINE_PIPE_PROBE")
        .expect("SWARMLINK_WINE_PIPE_PROBE (pipe_dacl.exe, built by 60-windows.sh)");
    let mut c = Command::new("wine");
    c.arg(probe).arg(pipe).env("WINEDEBUG", "-all");
    let out = run(c);
    assert!(out.status.success(), "pipe_dacl: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "D:P(A;;GA;;;OW)");
}

#[test]
fn install_writes_registry_keys_and_uninstall_removes_them() {
    let Some(exe) = wine_exe("install_writes_registry_keys_and_uninstall_removes_them") else {
        return;
    };
    let home = WinHome::new(exe.clone());
    let exe_win = windows_path(&exe);

    let out = home.bthelper(&["install", "--browser", "chrome", "--browser", "firefox"]);
    assert!(out.status.success(), "install: {}", text(&out.stderr));
    for (browser, key, field, allowed) in [
        ("chrome", CHROME_KEY, "allowed_origins", ORIGIN),
        (
            "firefox",
            FIREFOX_KEY,
            "allowed_extensions",
            "swarmlink@swarmlink.org",
        ),
    ] {
        let manifest = home
            .root()
            .join("NativeMessagingHosts")
            .join(browser)
            .join("org.swarmlink.bthelper.json");
        let m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
        assert_eq!(m["name"], "org.swarmlink.bthelper");
        assert_eq!(m["path"], exe_win.as_str(), "the manifest names the .exe");
        assert!(
            m[field].as_array().unwrap().contains(&json!(allowed)),
            "{browser}: {m}"
        );
        let q = home.reg_query(key);
        assert!(q.status.success(), "reg query {key}: {}", text(&q.stderr));
        let shown = text(&q.stdout);
        let value = shown
            .lines()
            .find_map(|l| l.split_once("REG_SZ").map(|(_, v)| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no REG_SZ default value under {key}: {shown}"));
        assert_eq!(
            value,
            windows_path(&manifest),
            "{key} points at the manifest"
        );
    }

    let doctor = home.bthelper(&["doctor", "--browser", "chrome", "--browser", "firefox"]);
    assert!(doctor.status.success());
    let report = text(&doctor.stdout);
    for key in [CHROME_KEY, FIREFOX_KEY] {
        let line = report
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("{report}"));
        assert!(
            line.contains("installed:") && line.contains("(ok)"),
            "{line}"
        );
    }
    assert!(report.contains(r"\\.\pipe\swarmlink-"), "{report}");
    assert!(report.contains("daemon: not running"), "{report}");

    // Chrome on Windows reads no manifest directory: the flag is refused, not ignored.
    let udd = home.bthelper(&["install", "--user-data-dir", "C:\\profile"]);
    assert!(!udd.status.success());
    assert!(
        text(&udd.stderr).contains("registry"),
        "{}",
        text(&udd.stderr)
    );

    let out = home.bthelper(&["uninstall", "--browser", "chrome"]);
    assert!(out.status.success(), "uninstall: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(CHROME_KEY),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !home.reg_query(CHROME_KEY).status.success(),
        "the chrome key is gone"
    );
    assert!(!home
        .root()
        .join(r"NativeMessagingHosts/chrome/org.swarmlink.bthelper.json")
        .exists());
    assert!(
        home.reg_query(FIREFOX_KEY).status.success(),
        "firefox's key stays"
    );
    let report = text(&home.bthelper(&["doctor", "--browser", "chrome"]).stdout);
    assert!(report.contains("not registered"), "{report}");

    let out = home.bthelper(&["uninstall"]);
    assert!(out.status.success());
    assert!(
        !home.reg_query(FIREFOX_KEY).status.success(),
        "the firefox key is gone"
    );

    // Without --browser: the browsers whose Windows profile directory exists. A Chrome profile
    // is made in the prefix (and removed again); this prefix has no Firefox profile.
    let local = linux_dir_of("%LOCALAPPDATA%");
    let firefox_profile = linux_dir_of("%APPDATA%").join("Mozilla/Firefox");
    assert!(!firefox_profile.exists(), "the test prefix has no Firefox");
    let chrome_vendor = local.join("Google");
    assert!(!chrome_vendor.exists(), "the test prefix has no Chrome yet");
    let _cleanup = RemoveOnDrop(chrome_vendor.clone());
    std::fs::create_dir_all(chrome_vendor.join("Chrome/User Data")).unwrap();
    let out = home.bthelper(&["install"]);
    assert!(out.status.success(), "install: {}", text(&out.stderr));
    let installed: Vec<String> = text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|w| {
            ["chrome", "chromium", "brave", "edge", "vivaldi", "firefox"].contains(&w.as_str())
        })
        .collect();
    assert_eq!(installed, ["chrome"], "{}", text(&out.stdout));
    assert!(home.reg_query(CHROME_KEY).status.success());
    assert!(!home.reg_query(FIREFOX_KEY).status.success());
    assert!(home.bthelper(&["uninstall"]).status.success());
    assert!(!home.reg_query(CHROME_KEY).status.success());
}

/// The Linux directory behind a Windows environment variable's directory in the prefix.
fn linux_dir_of(var: &str) -> PathBuf {
    let mut c = Command::new("wine");
    c.args(["cmd", "/c", "echo", var]).env("WINEDEBUG", "-all");
    let windows = text(&run(c).stdout).trim().to_owned();
    assert!(windows.contains(':'), "{var} is {windows:?}");
    let mut c = Command::new("winepath");
    c.args(["-u", &windows]).env("WINEDEBUG", "-all");
    let linux = PathBuf::from(text(&run(c).stdout).trim());
    assert!(linux.is_absolute(), "{windows} is {}", linux.display());
    linux
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn relay_downloads_through_the_pipe_daemon() {
    let Some(exe) = wine_exe("relay_downloads_through_the_pipe_daemon") else {
        return;
    };
    let home = WinHome::new(exe);
    let data = test_data(300_000, 7);
    let (metainfo, torrent) = make_torrent("wine.bin", &data, 32 * 1024);
    let seeder = Seeder::start(metainfo, "wine.bin", &data);
    let info_hash = seeder.info_hash.to_string();

    let started = Instant::now();
    let mut first = home.relay();
    let hello = first.call(json!({"cmd": "hello", "client": "wine-test"}));
    eprintln!(
        "relay + detached daemon answered hello in {:?}",
        started.elapsed()
    );
    let pid = hello["pid"].clone();
    let port = hello["listen_port"].as_u64().unwrap() as u16;
    assert_eq!(
        hello["settings"]["download_dir"],
        windows_path(&home.root().join("downloads")).as_str()
    );
    check_pipe(&home);
    first.call(json!({"cmd": "subscribe"}));
    let added = first.call(json!({
        "cmd": "add",
        "torrent_b64": b64(&torrent),
        "source_url": "http://127.0.0.1/wine.torrent",
    }));
    assert_eq!(added["info_hash"], info_hash.as_str(), "{added}");
    seeder.dial(port);
    let done = first.wait_status(&info_hash, "seeding", |t| t["state"] == "seeding");
    assert_eq!(done["have_bytes"], json!(data.len()));
    assert_eq!(
        std::fs::read(home.root().join("downloads/wine.bin")).unwrap(),
        data,
        "the bytes on disk"
    );

    // A second relay (another browser) reaches the same daemon and sees the download.
    let mut second = home.relay();
    assert_eq!(second.call(json!({"cmd": "hello"}))["pid"], pid);
    let list = second.call(json!({"cmd": "list"}));
    let listed = list["torrents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["info_hash"] == info_hash.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(listed["state"], "seeding");

    // Closing the port (stdin EOF) ends the relay promptly and cleanly; the daemon stays.
    first.close_stdin();
    let took = first.wait_exit();
    eprintln!("relay exited {took:?} after stdin EOF");
    assert!(took < Duration::from_secs(5), "relay took {took:?} to exit");

    // A second daemon finds the first (lock and pipe) and exits successfully.
    let again = home.bthelper(&["daemon"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("already running"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(second.call(json!({"cmd": "hello"}))["pid"], pid);

    // Terminal commands use the same pipe.
    let listed = home.bthelper(&["list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(
        text(&listed.stdout).contains("wine.bin"),
        "{}",
        text(&listed.stdout)
    );

    // `daemon --stop` ends it: the connected relay sees the pipe close and exits.
    let stop = home.bthelper(&["daemon", "--stop"]);
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    assert!(text(&stop.stdout).contains("daemon stopped"));
    second.wait_exit(); // the relay ends with the daemon
    second.sent_nothing_more();
}

#[test]
fn frames_are_binary_and_lying_prefixes_end_cleanly() {
    let Some(exe) = wine_exe("frames_are_binary_and_lying_prefixes_end_cleanly") else {
        return;
    };
    let home = WinHome::new(exe);
    let mut relay = home.relay();
    let pid = relay.call(json!({"cmd": "hello"}))["pid"].clone();

    // Requests whose length prefix holds LF (10), CR (13) and CR LF (0x0d0a): any text-mode
    // translation of stdin would shift every later byte.
    for (id, len) in [(1u64, 10usize), (2, 13), (3, 0x0d0a)] {
        let mut payload = if len > 100 {
            serde_json::to_vec(&json!({"id": id, "cmd": "hello", "client": "crlf"})).unwrap()
        } else {
            format!("{{\"id\":{id}}}").into_bytes()
        };
        payload.resize(len, b' ');
        relay.send_frame(&payload);
        let (reply, _) = relay.reply_to(id);
        if len > 100 {
            assert_eq!(reply["ok"], json!(true), "{reply}");
        } else {
            assert_eq!(reply["error"]["code"], "bad_request", "{reply}");
        }
    }

    // Replies of exactly 266 (0x10a) and 269 (0x10d) bytes: the daemon echoes an unknown
    // command's name, so its length sets the reply's. Text-mode stdout would break them.
    let probe = |relay: &mut Relay, id: u64, name_len: usize| {
        let name = "x".repeat(name_len);
        let request = json!({"id": id, "cmd": name});
        relay.send_frame(&serde_json::to_vec(&request).unwrap());
        let (reply, len) = relay.reply_to(id);
        assert_eq!(reply["error"]["code"], "unknown_command", "{reply}");
        len
    };
    let base = probe(&mut relay, 4, 1) - 1;
    for (id, want) in [(5u64, 0x10ausize), (6, 0x10d)] {
        assert_eq!(probe(&mut relay, id, want - base), want);
    }

    // A length over the limit: an error reply, then the daemon closes and the relay exits 0.
    relay.send_raw(&u32::MAX.to_ne_bytes());
    let reply = relay.recv();
    assert_eq!(reply["error"]["code"], "frame_too_large", "{reply}");
    relay.wait_exit();
    relay.sent_nothing_more();

    // A prefix promising more than ever comes, then EOF: a clean exit, no reply.
    let mut liar = home.relay();
    liar.send_raw(&100u32.to_ne_bytes());
    liar.send_raw(b"{\"id\"");
    liar.close_stdin();
    liar.wait_exit();
    liar.sent_nothing_more();

    // The daemon carried on; here reached as Firefox on Windows starts a host (the manifest's
    // absolute Windows path, then the add-on id).
    let manifest = windows_path(&home.root().join("org.swarmlink.bthelper.json"));
    let mut after = home.relay_as(&[&manifest, "swarmlink@swarmlink.org"]);
    assert_eq!(after.call(json!({"cmd": "hello"}))["pid"], pid);
}

/// `install --system` (issue 14 §5): a missing `%ProgramData%\Swarmlink` is created and used
/// (Wine 8 keeps no security descriptor for folders: it shows one made from the Unix mode, so the
/// administrators-only DACL cannot be read back here), and one that a standard user made
/// beforehand (here: made from Linux, so Wine reports the user's own SID as its owner) is
/// refused, with nothing written into it and no HKLM key set. Uses the test prefix's own
/// `%ProgramData%` (Wine ignores a `ProgramData` variable).
#[test]
fn install_system_makes_an_administrators_only_folder_and_refuses_a_users() {
    let Some(exe) =
        wine_exe("install_system_makes_an_administrators_only_folder_and_refuses_a_users")
    else {
        return;
    };
    const SYSTEM_CHROME_KEY: &str =
        r"HKLM\Software\Google\Chrome\NativeMessagingHosts\org.swarmlink.bthelper";
    let home = WinHome::new(exe);
    let root = linux_dir_of("%ProgramData%").join("Swarmlink");
    assert!(!root.exists(), "the test prefix has no {}", root.display());
    let _cleanup = RemoveOnDrop(root.clone());
    let system = |args: &[&str]| {
        let mut c = home.command();
        c.args(args);
        run(c)
    };

    let out = system(&["install", "--system", "--browser", "chrome"]);
    assert!(
        out.status.success(),
        "install --system: {}",
        text(&out.stderr)
    );
    let manifest = root.join("NativeMessagingHosts/chrome/org.swarmlink.bthelper.json");
    assert!(manifest.is_file(), "{}", text(&out.stdout));
    assert!(home.reg_query(SYSTEM_CHROME_KEY).status.success());
    assert!(system(&["uninstall", "--system"]).status.success());
    assert!(!home.reg_query(SYSTEM_CHROME_KEY).status.success());

    // A standard user's folder: refused, untouched.
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::create_dir_all(root.join("NativeMessagingHosts")).unwrap();
    let out = system(&["install", "--system", "--browser", "chrome"]);
    assert!(
        !out.status.success(),
        "a user's folder was used: {}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    assert!(err.contains("not by Administrators or SYSTEM"), "{err}");
    assert!(!root.join("NativeMessagingHosts/chrome").exists());
    assert!(!home.reg_query(SYSTEM_CHROME_KEY).status.success());
}

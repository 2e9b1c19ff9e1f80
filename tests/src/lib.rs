//! Shared plumbing for the cross-part tests in `tests/tests/`: finding the workspace's binaries,
//! free ports, test data, processes that are always stopped (by their own PID) when a test ends
//! and whose output is read line by line ([`process`]), `bthelper download` ([`bthelper`]) and
//! python3-libtorrent peers ([`libtorrent`]), bttrack ([`tracker`]) and scripted hostile peers
//! ([`hostile`]).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;

pub mod bthelper;
pub mod daemon;
pub mod files;
pub mod gateway;
pub mod hostile;
pub mod libtorrent;
pub mod netns;
pub mod process;
pub mod tracker;

pub use files::write_random;
pub use process::{spawn, Running};

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
        .to_path_buf()
}

/// Set (to anything but "" or "0") when the workspace's binaries were just built with
/// `cargo build --workspace --bins` (scripts/test.sh does): `bin` then uses them as they are.
pub const BINS_BUILT: &str = "SWARMLINK_BINS_BUILT";

/// Path to a workspace binary (`bthelper`, `bttrack`, `btpublish`), built on first use.
///
/// Integration tests of this package cannot use `CARGO_BIN_EXE_*` for other packages' binaries, so
/// the binaries are built here, once per test process, which keeps `cargo test -p swarmlink-tests`
/// honest even when nothing else was built first. With `SWARMLINK_BINS_BUILT` set, no build.
///
/// Two things keep that build a no-op once the binaries are current:
/// - cargo runs a test with `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME` etc. of this package in its
///   environment; ring's build script declares `rerun-if-env-changed` on exactly those, so a cargo
///   inheriting them found ring dirty whenever the last build came from a shell (and the next
///   shell build found it dirty again): ring, rustls, the engine and the binaries were compiled
///   again (70-90 s on a loaded 2-core machine). They are removed from the build's environment.
/// - all binaries are built in one call, the command scripts/test.sh runs before the tests: one
///   `--bin` at a time resolves each package's dependency features on its own (libc with or
///   without bttrack's `extra_traits`, ...), so each would compile its own copy of the dependencies.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    // Tests reach neither the internet nor the LAN: the bthelpers they start run without the
    // DHT (public routers) and local service discovery (multicast) unless a test turns them
    // back on for its own loopback setup (`Command::env_remove`).
    for off in ["SWARMLINK_NO_DHT", "SWARMLINK_NO_LSD"] {
        if std::env::var_os(off).is_none() {
            std::env::set_var(off, "1");
        }
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let prebuilt = std::env::var(BINS_BUILT).is_ok_and(|v| !v.is_empty() && v != "0");
    if !prebuilt {
        BUILT.get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .current_dir(workspace_root())
                .args(["build", "--quiet", "--workspace", "--bins"]);
            for (key, _) in std::env::vars_os() {
                if key.to_str().is_some_and(set_by_cargo_for_this_test) {
                    build.env_remove(key);
                }
            }
            let status = build.status().expect("cargo runs");
            assert!(status.success(), "building the workspace's binaries failed");
        });
    }
    let path = target_dir.join("debug").join(name);
    assert!(
        path.is_file(),
        "no {} (with {BINS_BUILT} set, build it first: cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// Whether cargo sets `var` for the test binary it runs (it describes this package and target),
/// as opposed to the variables that configure cargo itself (`CARGO_HOME`, `CARGO_TARGET_DIR`, ...).
fn set_by_cargo_for_this_test(var: &str) -> bool {
    [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_CRATE_",
        "CARGO_BIN_",
    ]
    .iter()
    .any(|prefix| var.starts_with(prefix))
        || [
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
        ]
        .contains(&var)
}

/// A child process that is killed (by its own PID) and reaped when dropped, so a failing test never
/// leaves a tracker or seeder running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// The interpreter that can import python3-libtorrent: Debian's, not the pyenv one first on PATH.
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// A port whose TCP and UDP sides are both free right now (bttrack takes both). Another process
/// may still take it before the caller binds it: callers that start a server on it retry.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = tcp.local_addr().expect("a bound socket's address").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `cond` every 100 ms until it holds, failing the test after `secs` (no sleep-and-hope:
/// real clients announce and finish when they choose to).
pub fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

//! Shared plumbing for the cross-part tests in `tests/tests/`: finding the workspace's binaries,
//! scratch directories, and processes that are always stopped (by their own PID) when a test ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
        .to_path_buf()
}

/// Path to a workspace binary (`bthelper`, `bttrack`, `btpublish`), built on first use.
///
/// Integration tests of this package cannot use `CARGO_BIN_EXE_*` for other packages' binaries, so
/// the binary is built here once per test process: that keeps `cargo test -p swarmlink-tests` honest
/// even when nothing else was built first.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
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
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--quiet", "--bin", name])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building {name} failed");
        built.push(name.to_owned());
    }
    target_dir.join("debug").join(name)
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

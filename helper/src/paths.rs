//! Where the helper keeps things. Every path derives from one root so that tests and the browser
//! end-to-end runs can isolate a whole helper (daemon socket, state, downloads, logs) by setting
//! `SWARMLINK_HOME`.
//!
//! With `SWARMLINK_HOME=<root>`:
//! `<root>/state` (download list, settings, .torrent copies, resume data), `<root>/run` (0700:
//! `daemon.sock`, `daemon.lock`), `<root>/log`, and downloads default to `<root>/downloads`.
//! Without it, XDG: `$XDG_DATA_HOME/swarmlink` (default `~/.local/share/swarmlink`) for state and
//! logs, `$XDG_RUNTIME_DIR/swarmlink` for the socket (falling back to `<data>/run`), and
//! `$XDG_DOWNLOAD_DIR` or `~/Downloads` for downloads.
//!
//! On Windows, without `SWARMLINK_HOME`: `%LOCALAPPDATA%\Swarmlink\{state,run,log}` and
//! `%USERPROFILE%\Downloads`; the daemon listens on a named pipe instead of `run/daemon.sock`
//! (see `crate::ipc`), and `run` keeps only the lock file.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The environment variable that relocates everything the helper touches.
pub const HOME_ENV: &str = "SWARMLINK_HOME";

#[derive(Debug, Clone)]
pub struct Paths {
    /// The helper's own directory (the root, or the platform's per-user data directory): state,
    /// logs and, on Windows, the native-messaging manifests the registry points at.
    pub data_dir: PathBuf,
    pub state_dir: PathBuf,
    pub run_dir: PathBuf,
    pub log_dir: PathBuf,
    pub default_download_dir: PathBuf,
}

impl Paths {
    /// Resolves the paths from the environment (no directories are created).
    pub fn from_env() -> anyhow::Result<Paths> {
        if let Some(root) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
            let root = absolute(Path::new(&root))?;
            return Ok(Paths::under_root(&root));
        }
        #[cfg(windows)]
        return Paths::windows();
        #[cfg(not(windows))]
        Paths::xdg()
    }

    #[cfg(not(windows))]
    fn xdg() -> anyhow::Result<Paths> {
        let home = home_dir().context("neither SWARMLINK_HOME nor HOME is set")?;
        let data = env_dir("XDG_DATA_HOME")
            .unwrap_or_else(|| home.join(".local/share"))
            .join("swarmlink");
        let run_dir = env_dir("XDG_RUNTIME_DIR")
            .map(|d| d.join("swarmlink"))
            .unwrap_or_else(|| data.join("run"));
        let default_download_dir =
            env_dir("XDG_DOWNLOAD_DIR").unwrap_or_else(|| home.join("Downloads"));
        Ok(Paths {
            state_dir: data.join("state"),
            run_dir,
            log_dir: data.join("log"),
            data_dir: data,
            default_download_dir,
        })
    }

    /// `%LOCALAPPDATA%` is per user and per machine (not roaming): the right place for resume
    /// data and a lock file. Downloads go to the profile's Downloads folder (its default place;
    /// a user who moved that known folder can pick the directory in the settings).
    #[cfg(windows)]
    fn windows() -> anyhow::Result<Paths> {
        let data = env_dir("LOCALAPPDATA")
            .context("neither SWARMLINK_HOME nor LOCALAPPDATA is set")?
            .join("Swarmlink");
        let default_download_dir = home_dir()
            .map(|h| h.join("Downloads"))
            .unwrap_or_else(|| data.join("downloads"));
        Ok(Paths {
            state_dir: data.join("state"),
            run_dir: data.join("run"),
            log_dir: data.join("log"),
            data_dir: data,
            default_download_dir,
        })
    }

    pub fn under_root(root: &Path) -> Paths {
        Paths {
            data_dir: root.to_path_buf(),
            state_dir: root.join("state"),
            run_dir: root.join("run"),
            log_dir: root.join("log"),
            default_download_dir: root.join("downloads"),
        }
    }

    pub fn lock_file(&self) -> PathBuf {
        self.run_dir.join("daemon.lock")
    }

    pub fn daemon_log(&self) -> PathBuf {
        self.log_dir.join("daemon.log")
    }

    /// Creates the run directory readable by its owner only: the socket inside accepts commands
    /// that add and delete files, so nobody else may reach it.
    #[cfg(unix)]
    pub fn create_run_dir(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.run_dir)
            .with_context(|| format!("creating {}", self.run_dir.display()))?;
        // `mode` only applies to directories it creates; an existing one is tightened too.
        std::fs::set_permissions(&self.run_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", self.run_dir.display()))?;
        Ok(())
    }

    /// On Windows the run directory holds only the lock file; what needs protecting is the pipe,
    /// which carries its own owner-only security descriptor (`crate::ipc`). The directory itself
    /// inherits the ACL of `%LOCALAPPDATA%` (the user, SYSTEM and administrators).
    #[cfg(windows)]
    pub fn create_run_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.run_dir)
            .with_context(|| format!("creating {}", self.run_dir.display()))
    }
}

/// The user's home: `HOME`, or on Windows the profile directory `USERPROFILE`.
pub fn home_dir() -> Option<PathBuf> {
    if cfg!(windows) {
        env_dir("USERPROFILE").or_else(|| env_dir("HOME"))
    } else {
        env_dir("HOME")
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_lives_under_the_root() {
        let p = Paths::under_root(Path::new("/tmp/x"));
        #[cfg(unix)]
        assert_eq!(
            crate::ipc::endpoint(&p),
            Path::new("/tmp/x/run/daemon.sock")
        );
        assert_eq!(p.default_download_dir, Path::new("/tmp/x/downloads"));
        assert!(p.state_dir.starts_with("/tmp/x"));
        assert!(p.log_dir.starts_with("/tmp/x"));
    }

    #[cfg(unix)]
    #[test]
    fn run_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = Paths::under_root(dir.path());
        std::fs::create_dir_all(&p.run_dir).unwrap();
        std::fs::set_permissions(&p.run_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        p.create_run_dir().unwrap();
        let mode = std::fs::metadata(&p.run_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

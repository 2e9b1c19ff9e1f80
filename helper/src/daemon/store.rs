//! What the daemon remembers across restarts: the download list (with a copy of each `.torrent`)
//! and the settings. Files are replaced atomically (temp file, fsync, rename), so a crash at any
//! moment leaves either the old or the new list, never half of one.
//!
//! Layout under the state directory: `downloads.json`, `settings.json`, `torrents/<hash>.torrent`,
//! and `resume/` (the engine's resume data).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// One download as the daemon persists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// 40 lowercase hex digits; also names the `.torrent` copy.
    pub info_hash: String,
    pub name: String,
    /// The magnet link, when the torrent was added from one (no `.torrent` copy then).
    #[serde(default)]
    pub magnet: Option<String>,
    #[serde(default)]
    pub source_url: Option<String>,
    pub save_dir: PathBuf,
    /// Paused by the user; restored paused.
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub sequential: bool,
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub added_at: u64,
    /// This torrent's own rate limits, bytes per second (`add`, `set_limits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_limit: Option<u64>,
    /// The files chosen at the add (`files`, `so=`, `--only`), until `priorities` replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Vec<u32>>,
    /// One priority per file, once the user set them (`select`, `priority`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priorities: Option<Vec<engine::FilePriority>>,
    /// Waits for the user's choice of files (`choose_files: ask`); nothing is written until then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_selection: bool,
    /// This torrent's own seed goals (`set_goals`); left out while they follow the settings.
    #[serde(
        default,
        with = "crate::goals",
        skip_serializing_if = "protocol::Goal::is_follow"
    )]
    pub seed_ratio: protocol::Goal<f64>,
    #[serde(
        default,
        with = "crate::goals",
        skip_serializing_if = "protocol::Goal::is_follow"
    )]
    pub seed_time_secs: protocol::Goal<u64>,
}

impl Entry {
    /// The seed goals that apply to this download: its own, else the settings'.
    pub fn seed_goals(&self, settings: &Settings) -> protocol::SeedGoals {
        protocol::SeedGoals::resolve(self.seed_ratio, self.seed_time_secs, settings.seed_goals())
    }
}

#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        for d in [dir.to_path_buf(), dir.join("torrents"), dir.join("resume")] {
            crate::private::create_dir(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    pub fn resume_dir(&self) -> PathBuf {
        self.dir.join("resume")
    }

    fn torrent_path(&self, info_hash: &str) -> PathBuf {
        self.dir
            .join("torrents")
            .join(format!("{info_hash}.torrent"))
    }

    /// The saved list; a missing file is an empty list, and an unparsable one is kept aside as
    /// `downloads.json.corrupt` (never silently overwritten).
    pub fn load_entries(&self) -> anyhow::Result<Vec<Entry>> {
        read_json(&self.dir.join("downloads.json")).map(Option::unwrap_or_default)
    }

    pub fn save_entries(&self, entries: &[Entry]) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join("downloads.json"),
            &serde_json::to_vec_pretty(entries)?,
        )
    }

    pub fn load_settings(&self, default_download_dir: &Path) -> anyhow::Result<Settings> {
        let settings = read_json(&self.dir.join("settings.json"))?
            .unwrap_or_else(|| Settings::with_download_dir(default_download_dir.to_path_buf()));
        Ok(settings)
    }

    pub fn save_settings(&self, settings: &Settings) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join("settings.json"),
            &serde_json::to_vec_pretty(settings)?,
        )
    }

    pub fn save_torrent(&self, info_hash: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write_atomic(&self.torrent_path(info_hash), bytes)
    }

    pub fn load_torrent(&self, info_hash: &str) -> anyhow::Result<Vec<u8>> {
        let path = self.torrent_path(info_hash);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    }

    pub fn delete_torrent(&self, info_hash: &str) {
        let _ = std::fs::remove_file(self.torrent_path(info_hash));
    }
}

/// Reads a JSON file; a missing file is `None`. A file that does not parse (hand-edited, a disk
/// gone bad) is moved aside to `<name>.corrupt` and treated as missing, so the helper still
/// starts and the old contents stay on disk for the user to recover.
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Some(value)),
            Err(error) => {
                let aside = path.with_extension("json.corrupt");
                tracing::error!(path = %path.display(), %error, aside = %aside.display(), "unreadable; moved aside");
                std::fs::rename(path, &aside)
                    .with_context(|| format!("moving {} aside", path.display()))?;
                Ok(None)
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    // 0600 from the start: a `.torrent` may carry a private tracker's passkey.
    let mut file = crate::private::file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_settings_and_torrents_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.load_entries().unwrap().is_empty());
        let entry = Entry {
            info_hash: "ab".repeat(20),
            name: "x".into(),
            magnet: None,
            source_url: Some("http://t/x.torrent".into()),
            save_dir: "/d".into(),
            paused: true,
            sequential: false,
            added_at: 5,
            down_limit: None,
            up_limit: Some(4096),
            only: Some(vec![0, 2]),
            priorities: Some(vec![engine::FilePriority::High, engine::FilePriority::Skip]),
            awaiting_selection: true,
            seed_ratio: protocol::Goal::Unlimited,
            seed_time_secs: protocol::Goal::Value(3600),
        };
        store.save_entries(std::slice::from_ref(&entry)).unwrap();
        store
            .save_torrent(&entry.info_hash, b"d4:infod...e")
            .unwrap();
        let mut settings = store.load_settings(Path::new("/dl")).unwrap();
        assert_eq!(settings.download_dir, Path::new("/dl"));
        settings.upload_rate_limit = Some(9);
        store.save_settings(&settings).unwrap();

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.load_entries().unwrap(), vec![entry.clone()]);
        assert_eq!(
            store.load_torrent(&entry.info_hash).unwrap(),
            b"d4:infod...e"
        );
        assert_eq!(store.load_settings(Path::new("/other")).unwrap(), settings);
        store.delete_torrent(&entry.info_hash);
        assert!(store.load_torrent(&entry.info_hash).is_err());
    }

    #[test]
    fn a_corrupt_list_is_moved_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::write(dir.path().join("downloads.json"), b"[{").unwrap();
        std::fs::write(dir.path().join("settings.json"), b"{\"download_dir\": 5}").unwrap();
        assert!(store.load_entries().unwrap().is_empty());
        let settings = store.load_settings(Path::new("/dl")).unwrap();
        assert_eq!(settings.download_dir, Path::new("/dl"));
        assert_eq!(
            std::fs::read(dir.path().join("downloads.json.corrupt")).unwrap(),
            b"[{"
        );
        assert!(dir.path().join("settings.json.corrupt").exists());
        assert!(!dir.path().join("downloads.json").exists());
    }
}

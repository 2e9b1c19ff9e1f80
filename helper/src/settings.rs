//! The user's settings, as `get_settings`/`set_settings` carry them and the daemon persists them,
//! and the one rule that depends on them: where a download may be saved.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Where downloads go unless `add` names a `save_dir`.
    pub download_dir: PathBuf,
    /// Further directories an `add` may name as `save_dir` (besides `download_dir`).
    #[serde(default)]
    pub allowed_dirs: Vec<PathBuf>,
    /// Bytes per second over all torrents; null = unlimited.
    #[serde(default)]
    pub download_rate_limit: Option<u64>,
    #[serde(default)]
    pub upload_rate_limit: Option<u64>,
    /// TCP port for peers; 0 = any free port. Takes effect when the daemon restarts.
    #[serde(default)]
    pub listen_port: u16,
    /// Seeding goal: stop seeding a torrent once uploaded/size reaches this; null = forever.
    #[serde(default)]
    pub seed_ratio: Option<f64>,
    /// Seeding goal: stop seeding a torrent once it seeded this many seconds; null = forever.
    #[serde(default)]
    pub seed_time_secs: Option<u64>,
    /// What reaching a seeding goal does: pause the torrent, or remove it (files stay).
    #[serde(default)]
    pub seed_goal_action: SeedGoalAction,
    /// Keep seeding when no browser is connected; when false, finished torrents pause as the last
    /// subscriber disconnects and resume when one subscribes again.
    #[serde(default = "yes")]
    pub keep_seeding: bool,
    /// Peer connection encryption: "prefer" (plaintext, retried encrypted when refused),
    /// "require" (RC4 only) or "off". Takes effect when the daemon restarts.
    #[serde(default)]
    pub encryption: engine::EncryptionPolicy,
    /// Find peers through the Mainline DHT (BEP 5); private torrents never do. Takes effect
    /// when the daemon restarts, as do the other DHT and LSD keys.
    #[serde(default = "yes")]
    pub dht: bool,
    /// UDP port of the DHT node; 0 = the same number as the peer port.
    #[serde(default)]
    pub dht_port: u16,
    /// DHT nodes to bootstrap from, `host:port`; empty = the public routers.
    #[serde(default)]
    pub dht_bootstrap: Vec<String>,
    /// Local service discovery (BEP 14 multicast on the LAN); private torrents never use it.
    #[serde(default = "yes")]
    pub lsd: bool,
    /// Let a torrent that came from a public web page contact trackers, web seeds and PEX
    /// peers on loopback, private or link-local addresses (off: a web page cannot use a
    /// torrent to make the helper send requests into the LAN). Applies to torrents added, or
    /// restored at daemon start, after the change.
    #[serde(default)]
    pub allow_lan_for_web_torrents: bool,
    /// A torrent of several files added without a selection: start with every file (`all`) or
    /// wait in `awaiting_selection` until the user chooses (`ask`).
    #[serde(default)]
    pub choose_files: ChooseFiles,
    /// Downloads running at once; past it they wait `queued`, in queue order. Null = no cap.
    #[serde(default = "five")]
    pub max_active_downloads: Option<u32>,
    /// Finished torrents seeding at once; null = no cap.
    #[serde(default)]
    pub max_active_seeds: Option<u32>,
    /// A download that moved no payload for this long does not hold a slot.
    #[serde(default = "five_minutes")]
    pub stalled_secs: u64,
    /// Ask the router (NAT-PMP, else UPnP IGD) to forward the peer port, TCP and UDP, while
    /// the daemon runs. Takes effect when the daemon restarts.
    #[serde(default = "yes")]
    pub port_mapping: bool,
    /// Loopback TCP port of the streaming server; 0 = any free port. Takes effect when the
    /// daemon restarts.
    #[serde(default)]
    pub stream_port: u16,
}

fn five() -> Option<u32> {
    Some(5)
}

fn five_minutes() -> u64 {
    300
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChooseFiles {
    #[default]
    All,
    Ask,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedGoalAction {
    #[default]
    Pause,
    Remove,
}

fn yes() -> bool {
    true
}

impl Settings {
    pub fn with_download_dir(download_dir: PathBuf) -> Self {
        Settings {
            download_dir,
            allowed_dirs: Vec::new(),
            download_rate_limit: None,
            upload_rate_limit: None,
            listen_port: 0,
            seed_ratio: None,
            seed_time_secs: None,
            seed_goal_action: SeedGoalAction::Pause,
            keep_seeding: true,
            encryption: engine::EncryptionPolicy::Prefer,
            dht: true,
            dht_port: 0,
            dht_bootstrap: Vec::new(),
            lsd: true,
            allow_lan_for_web_torrents: false,
            choose_files: ChooseFiles::All,
            max_active_downloads: five(),
            max_active_seeds: None,
            stalled_secs: five_minutes(),
            port_mapping: true,
            stream_port: 0,
        }
    }

    /// Applies a patch, returning the new settings, or why the patch is refused (nothing changes
    /// then).
    pub fn patched(&self, patch: &SettingsPatch) -> Result<Settings, ApiError> {
        let mut s = self.clone();
        if let Some(d) = &patch.download_dir {
            s.download_dir = d.clone();
        }
        if let Some(d) = &patch.allowed_dirs {
            s.allowed_dirs = d.clone();
        }
        if let Some(v) = patch.download_rate_limit {
            s.download_rate_limit = v;
        }
        if let Some(v) = patch.upload_rate_limit {
            s.upload_rate_limit = v;
        }
        if let Some(v) = patch.listen_port {
            s.listen_port = v;
        }
        if let Some(v) = patch.stream_port {
            s.stream_port = v;
        }
        if let Some(v) = patch.seed_ratio {
            s.seed_ratio = v;
        }
        if let Some(v) = patch.seed_time_secs {
            s.seed_time_secs = v;
        }
        if let Some(v) = patch.seed_goal_action {
            s.seed_goal_action = v;
        }
        if let Some(v) = patch.keep_seeding {
            s.keep_seeding = v;
        }
        if let Some(v) = patch.encryption {
            s.encryption = v;
        }
        if let Some(v) = patch.dht {
            s.dht = v;
        }
        if let Some(v) = patch.dht_port {
            s.dht_port = v;
        }
        if let Some(v) = &patch.dht_bootstrap {
            s.dht_bootstrap = v.clone();
        }
        if let Some(v) = patch.allow_lan_for_web_torrents {
            s.allow_lan_for_web_torrents = v;
        }
        if let Some(v) = patch.lsd {
            s.lsd = v;
        }
        if let Some(v) = patch.choose_files {
            s.choose_files = v;
        }
        if let Some(v) = patch.max_active_downloads {
            s.max_active_downloads = v;
        }
        if let Some(v) = patch.max_active_seeds {
            s.max_active_seeds = v;
        }
        if let Some(v) = patch.stalled_secs {
            s.stalled_secs = v;
        }
        if let Some(v) = patch.port_mapping {
            s.port_mapping = v;
        }
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        let bad = |m: String| Err(ApiError::new(ErrorCode::InvalidSettings, m));
        for dir in std::iter::once(&self.download_dir).chain(&self.allowed_dirs) {
            if !is_plain_absolute(dir) {
                return bad(format!(
                    "{} must be an absolute path without `..`",
                    dir.display()
                ));
            }
        }
        if self.download_rate_limit == Some(0) || self.upload_rate_limit == Some(0) {
            return bad(
                "a rate limit is a positive number of bytes per second, or null for none".into(),
            );
        }
        for node in &self.dht_bootstrap {
            let port = node
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok());
            if port.is_none_or(|p| p == 0) {
                return bad(format!("dht_bootstrap entry {node:?} is not host:port"));
            }
        }
        if self.max_active_downloads == Some(0) || self.max_active_seeds == Some(0) {
            return bad("max_active_downloads and max_active_seeds are at least 1, or null".into());
        }
        if self.stalled_secs == 0 {
            return bad("stalled_secs is at least 1".into());
        }
        if let Some(r) = self.seed_ratio {
            if !r.is_finite() || r < 0.0 {
                return bad(format!("seed_ratio {r} is not a ratio >= 0"));
            }
        }
        Ok(())
    }

    /// The global seed goals, which a torrent follows unless `set_goals` gave it its own.
    pub fn seed_goals(&self) -> protocol::SeedGoals {
        protocol::SeedGoals {
            ratio: self.seed_ratio,
            time_secs: self.seed_time_secs,
        }
    }

    /// Where an `add` saves: the download directory, or the requested `save_dir` if it lies inside
    /// the download directory or an allowed directory. Symlinks are resolved where the path
    /// exists, so a link inside the download directory cannot point the download elsewhere.
    pub fn resolve_save_dir(&self, requested: Option<&str>) -> Result<PathBuf, ApiError> {
        let Some(requested) = requested else {
            return Ok(self.download_dir.clone());
        };
        let path = PathBuf::from(requested);
        let refuse = || {
            Err(ApiError::new(
                ErrorCode::SaveDirNotAllowed,
                format!(
                    "save_dir {requested:?} is outside the download directory {} and the allowed directories",
                    self.download_dir.display()
                ),
            ))
        };
        if !is_plain_absolute(&path) {
            return refuse();
        }
        let resolved = resolve_existing_prefix(&path);
        let inside = std::iter::once(&self.download_dir)
            .chain(&self.allowed_dirs)
            .any(|root| resolved.starts_with(resolve_existing_prefix(root)));
        if inside {
            Ok(path)
        } else {
            refuse()
        }
    }
}

fn is_plain_absolute(path: &Path) -> bool {
    path.is_absolute()
        && path
            .components()
            .all(|c| !matches!(c, Component::ParentDir | Component::CurDir))
}

/// Canonicalises the longest existing ancestor and appends the rest unchanged.
fn resolve_existing_prefix(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            let mut out = canonical;
            out.extend(rest.iter().rev());
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// `set_settings`: only the fields present change; `null` clears a nullable one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default)]
    pub download_dir: Option<PathBuf>,
    #[serde(default)]
    pub allowed_dirs: Option<Vec<PathBuf>>,
    #[serde(default, deserialize_with = "present")]
    pub download_rate_limit: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    pub upload_rate_limit: Option<Option<u64>>,
    #[serde(default)]
    pub listen_port: Option<u16>,
    #[serde(default)]
    pub stream_port: Option<u16>,
    #[serde(default, deserialize_with = "present")]
    pub seed_ratio: Option<Option<f64>>,
    #[serde(default, deserialize_with = "present")]
    pub seed_time_secs: Option<Option<u64>>,
    #[serde(default)]
    pub seed_goal_action: Option<SeedGoalAction>,
    #[serde(default)]
    pub keep_seeding: Option<bool>,
    #[serde(default)]
    pub encryption: Option<engine::EncryptionPolicy>,
    #[serde(default)]
    pub dht: Option<bool>,
    #[serde(default)]
    pub dht_port: Option<u16>,
    #[serde(default)]
    pub dht_bootstrap: Option<Vec<String>>,
    #[serde(default)]
    pub lsd: Option<bool>,
    #[serde(default)]
    pub allow_lan_for_web_torrents: Option<bool>,
    #[serde(default)]
    pub choose_files: Option<ChooseFiles>,
    #[serde(default, deserialize_with = "present")]
    pub max_active_downloads: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    pub max_active_seeds: Option<Option<u32>>,
    #[serde(default)]
    pub stalled_secs: Option<u64>,
    pub port_mapping: Option<bool>,
}

/// Tells "absent" (outer None, via `default`) from "null" (Some(None)).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path) -> Settings {
        Settings::with_download_dir(dir.to_path_buf())
    }

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let mut s = settings(Path::new("/d"));
        s.download_rate_limit = Some(100);
        let p: SettingsPatch = serde_json::from_str(r#"{"upload_rate_limit": 5}"#).unwrap();
        let s2 = s.patched(&p).unwrap();
        assert_eq!(s2.download_rate_limit, Some(100));
        assert_eq!(s2.upload_rate_limit, Some(5));
        let p: SettingsPatch = serde_json::from_str(r#"{"download_rate_limit": null}"#).unwrap();
        assert_eq!(s2.patched(&p).unwrap().download_rate_limit, None);
    }

    #[test]
    fn invalid_patches_are_refused() {
        let s = settings(Path::new("/d"));
        for bad in [
            r#"{"download_dir": "relative"}"#,
            r#"{"download_dir": "/a/../b"}"#,
            r#"{"upload_rate_limit": 0}"#,
            r#"{"seed_ratio": -1}"#,
            r#"{"allowed_dirs": ["x"]}"#,
            r#"{"dht_bootstrap": ["no-port"]}"#,
            r#"{"dht_bootstrap": ["host:0"]}"#,
        ] {
            let p: SettingsPatch = serde_json::from_str(bad).unwrap();
            assert_eq!(
                s.patched(&p).unwrap_err().code,
                ErrorCode::InvalidSettings,
                "{bad}"
            );
        }
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"typo": 1}"#).is_err());
        for bad in [
            r#"{"seed_time_secs": -1}"#,
            r#"{"seed_goal_action": "delete"}"#,
        ] {
            assert!(serde_json::from_str::<SettingsPatch>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seed_goal_settings_patch_and_make_the_global_goals() {
        let s = settings(Path::new("/d"));
        assert_eq!(s.seed_goals(), protocol::SeedGoals::default());
        assert_eq!(s.seed_goal_action, SeedGoalAction::Pause);
        let p: SettingsPatch = serde_json::from_str(
            r#"{"seed_ratio": 1.5, "seed_time_secs": 3600, "seed_goal_action": "remove"}"#,
        )
        .unwrap();
        let s = s.patched(&p).unwrap();
        assert_eq!(s.seed_goals().ratio, Some(1.5));
        assert_eq!(s.seed_goals().time_secs, Some(3600));
        assert_eq!(s.seed_goal_action, SeedGoalAction::Remove);
        let p: SettingsPatch = serde_json::from_str(r#"{"seed_time_secs": null}"#).unwrap();
        assert_eq!(s.patched(&p).unwrap().seed_time_secs, None);
    }

    #[test]
    fn save_dir_must_stay_inside_allowed_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let dl = tmp.path().join("dl");
        let other = tmp.path().join("other");
        std::fs::create_dir_all(&dl).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        let mut s = settings(&dl);
        assert_eq!(s.resolve_save_dir(None).unwrap(), dl);
        let inside = dl.join("movies/new");
        assert_eq!(s.resolve_save_dir(inside.to_str()).unwrap(), inside);
        for bad in [
            other.to_str().unwrap().to_owned(),
            format!("{}/../other", dl.display()),
            "relative/dir".to_owned(),
            "/etc".to_owned(),
        ] {
            let e = s.resolve_save_dir(Some(&bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::SaveDirNotAllowed, "{bad}");
        }
        // A symlink inside the download directory that points out of it is not a way out.
        std::os::unix::fs::symlink(&other, dl.join("escape")).unwrap();
        let via_link = dl.join("escape/x");
        assert!(s.resolve_save_dir(via_link.to_str()).is_err());
        s.allowed_dirs.push(other.clone());
        assert!(s.resolve_save_dir(other.join("x").to_str()).is_ok());
    }
}

//! Where host manifests go: the browsers we know, their per-user and system directories (or a
//! Chromium `--user-data-dir`), which of them look installed, and what a location holds.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

pub const HOST_NAME: &str = "org.swarmlink.bthelper";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Chromium,
    Firefox,
}

pub struct Browser {
    pub key: &'static str,
    pub family: Family,
    /// Per-user host directory relative to HOME, on Linux and on macOS.
    linux_user: &'static str,
    mac_user: &'static str,
    linux_system: &'static str,
    mac_system: &'static str,
    /// Under HKCU/HKLM; the host name is appended.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(super) windows_key: &'static str,
    /// The browser's profile directory on Windows (under an environment variable's directory):
    /// its presence is how `install` without `--browser` tells the browser is there.
    #[cfg_attr(not(windows), allow(dead_code))]
    windows_profile: (&'static str, &'static str),
}

pub const BROWSERS: &[Browser] = &[
    Browser {
        key: "chrome",
        family: Family::Chromium,
        linux_user: ".config/google-chrome/NativeMessagingHosts",
        mac_user: "Library/Application Support/Google/Chrome/NativeMessagingHosts",
        linux_system: "/etc/opt/chrome/native-messaging-hosts",
        mac_system: "/Library/Google/Chrome/NativeMessagingHosts",
        windows_key: r"Software\Google\Chrome\NativeMessagingHosts",
        windows_profile: ("LOCALAPPDATA", r"Google\Chrome\User Data"),
    },
    Browser {
        key: "chromium",
        family: Family::Chromium,
        linux_user: ".config/chromium/NativeMessagingHosts",
        mac_user: "Library/Application Support/Chromium/NativeMessagingHosts",
        linux_system: "/etc/chromium/native-messaging-hosts",
        mac_system: "/Library/Application Support/Chromium/NativeMessagingHosts",
        windows_key: r"Software\Chromium\NativeMessagingHosts",
        windows_profile: ("LOCALAPPDATA", r"Chromium\User Data"),
    },
    Browser {
        key: "brave",
        family: Family::Chromium,
        linux_user: ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
        mac_user: "Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
        linux_system: "/etc/opt/chrome/native-messaging-hosts",
        mac_system: "/Library/Google/Chrome/NativeMessagingHosts",
        windows_key: r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
        windows_profile: ("LOCALAPPDATA", r"BraveSoftware\Brave-Browser\User Data"),
    },
    Browser {
        key: "edge",
        family: Family::Chromium,
        linux_user: ".config/microsoft-edge/NativeMessagingHosts",
        mac_user: "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
        linux_system: "/etc/opt/edge/native-messaging-hosts",
        mac_system: "/Library/Microsoft/Edge/NativeMessagingHosts",
        windows_key: r"Software\Microsoft\Edge\NativeMessagingHosts",
        windows_profile: ("LOCALAPPDATA", r"Microsoft\Edge\User Data"),
    },
    Browser {
        key: "vivaldi",
        family: Family::Chromium,
        linux_user: ".config/vivaldi/NativeMessagingHosts",
        mac_user: "Library/Application Support/Vivaldi/NativeMessagingHosts",
        linux_system: "/etc/opt/chrome/native-messaging-hosts",
        mac_system: "/Library/Google/Chrome/NativeMessagingHosts",
        windows_key: r"Software\Vivaldi\NativeMessagingHosts",
        windows_profile: ("LOCALAPPDATA", r"Vivaldi\User Data"),
    },
    Browser {
        key: "firefox",
        family: Family::Firefox,
        linux_user: ".mozilla/native-messaging-hosts",
        mac_user: "Library/Application Support/Mozilla/NativeMessagingHosts",
        linux_system: "/usr/lib/mozilla/native-messaging-hosts",
        mac_system: "/Library/Application Support/Mozilla/NativeMessagingHosts",
        windows_key: r"Software\Mozilla\NativeMessagingHosts",
        windows_profile: ("APPDATA", r"Mozilla\Firefox"),
    },
];

/// One place a manifest goes.
pub(super) struct Target {
    pub browser: &'static Browser,
    pub dir: PathBuf,
}

impl Target {
    pub(super) fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{HOST_NAME}.json"))
    }
}

pub(super) fn home() -> anyhow::Result<PathBuf> {
    crate::paths::home_dir().context("HOME is not set")
}

/// What per-user manifest directories hang off: HOME on Linux and macOS, the helper's own
/// `NativeMessagingHosts` directory on Windows.
pub(super) fn user_base() -> anyhow::Result<PathBuf> {
    if cfg!(windows) {
        Ok(crate::paths::Paths::from_env()?
            .data_dir
            .join("NativeMessagingHosts"))
    } else {
        home()
    }
}

pub(super) fn user_dir(b: &Browser, base: &Path) -> PathBuf {
    base.join(if cfg!(windows) {
        b.key
    } else if cfg!(target_os = "macos") {
        b.mac_user
    } else {
        b.linux_user
    })
}

/// `%ProgramData%\Swarmlink`: what `install --system` keeps on Windows (`install_acl.rs`).
#[cfg_attr(not(windows), allow(dead_code))]
pub(super) fn windows_system_root() -> PathBuf {
    let data = std::env::var_os("ProgramData")
        .map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from);
    data.join("Swarmlink")
}

pub(super) fn system_dir(b: &Browser) -> PathBuf {
    if cfg!(windows) {
        return windows_system_root()
            .join("NativeMessagingHosts")
            .join(b.key);
    }
    PathBuf::from(if cfg!(target_os = "macos") {
        b.mac_system
    } else {
        b.linux_system
    })
}

/// Whether the browser looks installed: its profile directory exists (on Linux and macOS the
/// parent of its hosts directory; on Windows its profile under %LOCALAPPDATA% or %APPDATA%).
pub(super) fn looks_installed(b: &Browser, dir: &Path) -> bool {
    if cfg!(windows) {
        let (var, sub) = b.windows_profile;
        return std::env::var_os(var).is_some_and(|d| Path::new(&d).join(sub).exists());
    }
    dir.parent().is_some_and(Path::exists)
}

pub(super) fn selected(names: &[String]) -> Vec<&'static Browser> {
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return BROWSERS.iter().collect();
    }
    BROWSERS
        .iter()
        .filter(|b| names.iter().any(|n| n == b.key))
        .collect()
}

/// Where manifests go for a selection. `only_found` keeps browsers that look installed (their
/// profile directory, the parent of the hosts directory, exists).
pub(super) fn targets(
    names: &[String],
    user_data_dir: Option<&Path>,
    system: bool,
    only_found: bool,
) -> anyhow::Result<Vec<Target>> {
    if let Some(dir) = user_data_dir {
        if cfg!(windows) {
            bail!("--user-data-dir does not apply on Windows: browsers there find native hosts through the registry only");
        }
        let browsers: Vec<&'static Browser> = if names.is_empty() {
            BROWSERS.iter().filter(|b| b.key == "chromium").collect()
        } else {
            selected(names)
        };
        if browsers.iter().any(|b| b.family == Family::Firefox) {
            bail!("--user-data-dir is a Chromium option; Firefox reads ~/.mozilla/native-messaging-hosts (set HOME to isolate it)");
        }
        let dir = std::path::absolute(dir)?.join("NativeMessagingHosts");
        // One directory serves every Chromium browser using that profile: write it once.
        let browser = browsers.first().copied().context("no browser selected")?;
        return Ok(vec![Target { browser, dir }]);
    }
    let base = user_base()?;
    let mut out = Vec::new();
    for b in selected(names) {
        let dir = if system {
            system_dir(b)
        } else {
            user_dir(b, &base)
        };
        if only_found && !looks_installed(b, &dir) {
            continue;
        }
        if out.iter().any(|t: &Target| t.dir == dir) {
            continue;
        }
        out.push(Target { browser: b, dir });
    }
    Ok(out)
}

pub(super) fn targets_all(system: bool) -> anyhow::Result<Vec<Target>> {
    targets(&[], None, system, false)
}

/// What `doctor` finds for one manifest location.
pub fn describe(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return "not installed".into();
    };
    let Ok(m) = serde_json::from_str::<Value>(&text) else {
        return format!("BROKEN: {} is not JSON", path.display());
    };
    let exe = m["path"].as_str().unwrap_or("");
    let allowed: Vec<&str> = ["allowed_origins", "allowed_extensions"]
        .iter()
        .filter_map(|f| m[*f].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let exe_state = if Path::new(exe).is_file() {
        "ok"
    } else {
        "MISSING"
    };
    format!(
        "installed: {} -> {exe} ({exe_state}); allows {}",
        path.display(),
        allowed.join(", ")
    )
}

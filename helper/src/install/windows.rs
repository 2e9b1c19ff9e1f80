//! Registry keys through `reg.exe`, which every Windows has, rather than a registry crate.
//! The key's default value is the manifest's path; browsers read HKCU first, then HKLM.
use super::locate::{describe, Browser, Target, HOST_NAME};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn key(b: &Browser, system: bool) -> String {
    let hive = if system { "HKLM" } else { "HKCU" };
    format!(r"{hive}\{}\{HOST_NAME}", b.windows_key)
}

fn reg(args: &[&std::ffi::OsStr]) -> anyhow::Result<Output> {
    Command::new("reg")
        .args(args)
        .output()
        .context("running reg.exe")
}

pub fn register(b: &Browser, manifest: &Path, system: bool) -> anyhow::Result<()> {
    let key = key(b, system);
    let out = reg(&[
        "add".as_ref(),
        key.as_ref(),
        "/ve".as_ref(),
        "/t".as_ref(),
        "REG_SZ".as_ref(),
        "/f".as_ref(),
        "/d".as_ref(),
        manifest.as_os_str(),
    ])?;
    if !out.status.success() {
        bail!(
            "reg add {key} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Deletes the key; true if there was one.
pub fn unregister(b: &Browser, system: bool) -> bool {
    let key = key(b, system);
    registered(&key).is_some()
        && reg(&["delete".as_ref(), key.as_ref(), "/f".as_ref()]).is_ok_and(|o| o.status.success())
}

/// The manifest path the key names, if the key exists. `reg query` prints
/// `    (Default)    REG_SZ    <value>` (the name is localised; the type is not).
fn registered(key: &str) -> Option<PathBuf> {
    let out = reg(&["query".as_ref(), key.as_ref(), "/ve".as_ref()]).ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let (_, value) = line.split_once("REG_SZ")?;
            Some(PathBuf::from(value.trim()))
        })
}

/// `doctor`'s line: the key, the manifest it names (checked like on other systems), and a
/// warning when that is not the manifest this helper would write.
pub fn describe_key(t: &Target, system: bool) -> String {
    let key = key(t.browser, system);
    match registered(&key) {
        None => format!("not registered ({key})"),
        Some(path) => {
            let elsewhere = if path == t.manifest_path() {
                String::new()
            } else {
                format!(" (expected {})", t.manifest_path().display())
            };
            format!("{key} -> {}{elsewhere}", describe(&path))
        }
    }
}

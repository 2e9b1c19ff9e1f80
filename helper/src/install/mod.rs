//! `bthelper install | uninstall | doctor`: register this binary as the native-messaging host
//! `org.swarmlink.bthelper` with browsers, remove it, and report what is registered where.
//!
//! A host manifest (from manifests/host-*.json, with `path` set to this executable) goes in the
//! browser's per-user directory, in `/etc`/`/Library` with `--system`, or for a Chromium browser
//! started with `--user-data-dir DIR` in `DIR/NativeMessagingHosts` (the only per-user place such
//! a browser reads).
//!
//! On Windows the manifests live in the helper's own directory (`%LOCALAPPDATA%\Swarmlink\
//! NativeMessagingHosts\<browser>`, under `SWARMLINK_HOME` if set; `%ProgramData%\Swarmlink\...`
//! with `--system`) and a registry key (`HKCU`, or `HKLM` with `--system`)
//! `Software\<vendor>\NativeMessagingHosts\<name>` points to each: browsers there look up the
//! key and read no manifest directory, so `--user-data-dir` does not apply. See
//! helper/PROTOCOL.md.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

#[cfg(windows)]
mod acl;
mod locate;
#[cfg(windows)]
mod windows;

#[cfg(windows)]
use self::locate::windows_system_root;
use self::locate::{targets, targets_all};
pub use self::locate::{Family, HOST_NAME};

const CHROMIUM_TEMPLATE: &str = include_str!("../../../manifests/host-chromium.json");
const FIREFOX_TEMPLATE: &str = include_str!("../../../manifests/host-firefox.json");

#[derive(clap::Args)]
pub struct InstallArgs {
    /// Which browser(s); default: every browser whose profile directory exists (or the one
    /// `--user-data-dir` belongs to).
    #[arg(long, value_parser = ["chrome", "chromium", "brave", "edge", "vivaldi", "firefox", "all"])]
    pub browser: Vec<String>,
    /// Also allow this extension id (Chromium: 32 letters a-p; Firefox: the add-on id). Repeatable.
    /// The released Swarmlink ids are always allowed.
    #[arg(long = "extension-id")]
    pub extension_ids: Vec<String>,
    /// A Chromium-family browser's --user-data-dir: the manifest goes in DIR/NativeMessagingHosts.
    #[arg(long)]
    pub user_data_dir: Option<PathBuf>,
    /// Install for every user of this machine (needs root).
    #[arg(long)]
    pub system: bool,
}

#[derive(clap::Args)]
pub struct LocateArgs {
    /// Which browser(s); default: all.
    #[arg(long, value_parser = ["chrome", "chromium", "brave", "edge", "vivaldi", "firefox", "all"])]
    pub browser: Vec<String>,
    /// A Chromium-family browser's --user-data-dir.
    #[arg(long)]
    pub user_data_dir: Option<PathBuf>,
    #[arg(long)]
    pub system: bool,
}

/// The manifest for `family`, pointing at `exe` and allowing the released id plus `extra_ids`
/// that fit the family's id syntax.
pub fn manifest(family: Family, exe: &Path, extra_ids: &[String]) -> anyhow::Result<Value> {
    let template = match family {
        Family::Chromium => CHROMIUM_TEMPLATE,
        Family::Firefox => FIREFOX_TEMPLATE,
    };
    let mut m: Value = serde_json::from_str(template).context("the built-in manifest template")?;
    m["path"] = Value::String(
        exe.to_str()
            .context("the executable's path is not UTF-8")?
            .to_owned(),
    );
    let (field, ids): (&str, Vec<String>) = match family {
        Family::Chromium => (
            "allowed_origins",
            extra_ids
                .iter()
                .filter(|id| is_chromium_id(id))
                .map(|id| format!("chrome-extension://{id}/"))
                .collect(),
        ),
        Family::Firefox => (
            "allowed_extensions",
            extra_ids
                .iter()
                .filter(|id| !is_chromium_id(id))
                .cloned()
                .collect(),
        ),
    };
    if let Some(list) = m[field].as_array_mut() {
        for id in ids {
            if !list.iter().any(|v| v.as_str() == Some(&id)) {
                list.push(Value::String(id));
            }
        }
    }
    Ok(m)
}

pub fn is_chromium_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

fn is_firefox_id(id: &str) -> bool {
    // Add-on ids are `name@domain` or a `{GUID}`.
    (id.contains('@') || (id.starts_with('{') && id.ends_with('}')))
        && !id.contains(['/', '\\', '"'])
        && !id.chars().any(char::is_whitespace)
}

pub fn install(args: InstallArgs) -> anyhow::Result<()> {
    for id in &args.extension_ids {
        if !is_chromium_id(id) && !is_firefox_id(id) {
            bail!("{id:?} is neither a Chromium extension id (32 letters a-p) nor a Firefox add-on id (name@domain or {{GUID}})");
        }
    }
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map(without_verbatim_prefix)
        .context("finding the bthelper executable")?;
    let explicit = !args.browser.is_empty();
    let mut targets = targets(
        &args.browser,
        args.user_data_dir.as_deref(),
        args.system,
        !explicit,
    )?;
    if targets.is_empty() {
        // No browser profile found: install for all, so a browser installed later finds us.
        targets = targets_all(args.system)?;
    }
    #[cfg(windows)]
    if args.system {
        for t in &targets {
            acl::secure_system_dir(&windows_system_root(), &t.dir)?;
        }
    }
    for t in &targets {
        let m = manifest(t.browser.family, &exe, &args.extension_ids)?;
        std::fs::create_dir_all(&t.dir).with_context(|| format!("creating {}", t.dir.display()))?;
        let path = t.manifest_path();
        let mut text = serde_json::to_string_pretty(&m)?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        #[cfg(windows)]
        windows::register(t.browser, &path, args.system)?;
        println!("{:<9} {}", t.browser.key, path.display());
        #[cfg(windows)]
        println!("{:<9} {}", "", windows::key(t.browser, args.system));
    }
    println!(
        "bthelper ({}) is the native host {HOST_NAME} for the browsers above",
        exe.display()
    );
    Ok(())
}

/// Windows' canonical paths are verbatim (`\\?\C:\...`), which browsers do not expect in a
/// manifest's `path`: the plain form names the same file. No-op elsewhere.
fn without_verbatim_prefix(path: PathBuf) -> PathBuf {
    let Some(s) = path.to_str() else {
        return path;
    };
    if let Some(unc) = s.strip_prefix(r"\\?\UNC\") {
        return PathBuf::from(format!(r"\\{unc}"));
    }
    match s.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => PathBuf::from(rest),
        _ => path,
    }
}

pub fn uninstall(args: LocateArgs) -> anyhow::Result<()> {
    let mut removed = 0;
    for t in targets(
        &args.browser,
        args.user_data_dir.as_deref(),
        args.system,
        false,
    )? {
        let path = t.manifest_path();
        match std::fs::remove_file(&path) {
            Ok(()) => {
                removed += 1;
                println!("removed {}", path.display());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
        }
        #[cfg(windows)]
        if windows::unregister(t.browser, args.system) {
            removed += 1;
            println!("removed {}", windows::key(t.browser, args.system));
        }
    }
    if removed == 0 {
        println!("no host manifest of {HOST_NAME} was installed there");
    }
    Ok(())
}

pub fn doctor(args: LocateArgs) -> anyhow::Result<()> {
    println!("native host {HOST_NAME}:");
    for t in targets(
        &args.browser,
        args.user_data_dir.as_deref(),
        args.system,
        false,
    )? {
        #[cfg(not(windows))]
        println!(
            "  {:<9} {}",
            t.browser.key,
            locate::describe(&t.manifest_path())
        );
        #[cfg(windows)]
        println!(
            "  {:<9} {}",
            t.browser.key,
            windows::describe_key(&t, args.system)
        );
    }
    let paths = crate::paths::Paths::from_env()?;
    println!("helper root:");
    println!("  state     {}", paths.state_dir.display());
    println!("  socket    {}", crate::ipc::endpoint(&paths).display());
    println!("  log       {}", paths.daemon_log().display());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let hello = runtime.block_on(async {
        let stream = crate::client::connect(&paths).await.ok()?;
        let mut client = crate::client::Client::new(stream);
        let call = client.call(serde_json::json!({"cmd": "hello", "client": "doctor"}));
        tokio::time::timeout(std::time::Duration::from_secs(5), call)
            .await
            .ok()?
            .ok()
    });
    match &hello {
        Some(h) => println!(
            "daemon: running (pid {}, version {}, {} torrents, {} active, peers on port {})",
            h["pid"],
            h["version"].as_str().unwrap_or("?"),
            h["torrents"],
            h["active"],
            h["listen_port"]
        ),
        None => println!("daemon: not running (a browser or `bthelper list` starts it)"),
    }
    if let Some(h) = &hello {
        println!("{}", crate::cli::reach::describe(h));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_point_at_the_exe_and_allow_released_and_extra_ids() {
        let extra = vec![
            "abcdefghijklmnopabcdefghijklmnop".to_owned(),
            "dev@example.org".to_owned(),
        ];
        let c = manifest(Family::Chromium, Path::new("/opt/bthelper"), &extra).unwrap();
        assert_eq!(c["name"], HOST_NAME);
        assert_eq!(c["type"], "stdio");
        assert_eq!(c["path"], "/opt/bthelper");
        assert_eq!(
            c["allowed_origins"],
            serde_json::json!([
                "chrome-extension://lndipfiddjhiiddghlniicdhbfpnielh/",
                "chrome-extension://abcdefghijklmnopabcdefghijklmnop/"
            ])
        );
        let f = manifest(Family::Firefox, Path::new("/opt/bthelper"), &extra).unwrap();
        assert_eq!(
            f["allowed_extensions"],
            serde_json::json!(["swarmlink@swarmlink.org", "dev@example.org"])
        );
        assert!(f.get("allowed_origins").is_none());
    }

    #[test]
    fn templates_match_the_fixed_identity() {
        let ids: Value =
            serde_json::from_str(include_str!("../../../manifests/extension-ids.json")).unwrap();
        let c: Value = serde_json::from_str(CHROMIUM_TEMPLATE).unwrap();
        let f: Value = serde_json::from_str(FIREFOX_TEMPLATE).unwrap();
        assert_eq!(c["name"], ids["native_host_name"]);
        assert_eq!(f["name"], ids["native_host_name"]);
        let origin = format!(
            "chrome-extension://{}/",
            ids["chromium_extension_id"].as_str().unwrap()
        );
        assert_eq!(c["allowed_origins"][0], origin.as_str());
        assert_eq!(f["allowed_extensions"][0], ids["firefox_addon_id"]);
        assert!(is_chromium_id(
            ids["chromium_extension_id"].as_str().unwrap()
        ));
    }

    #[test]
    fn manifests_name_the_exe_without_the_verbatim_prefix() {
        let plain = |p: &str| without_verbatim_prefix(PathBuf::from(p));
        assert_eq!(
            plain(r"\\?\C:\Tools\bthelper.exe"),
            PathBuf::from(r"C:\Tools\bthelper.exe")
        );
        assert_eq!(
            plain(r"\\?\UNC\server\share\bthelper.exe"),
            PathBuf::from(r"\\server\share\bthelper.exe")
        );
        // Verbatim paths with no plain spelling, and ordinary paths, stay as they are.
        assert_eq!(
            plain(r"\\?\Volume{x}\b.exe"),
            PathBuf::from(r"\\?\Volume{x}\b.exe")
        );
        assert_eq!(plain("/opt/bthelper"), PathBuf::from("/opt/bthelper"));
    }

    #[test]
    fn id_syntax() {
        assert!(is_firefox_id("swarmlink@swarmlink.org"));
        assert!(is_firefox_id("{8a1b2c3d-0000-1111-2222-333344445555}"));
        assert!(!is_firefox_id("../../etc"));
        assert!(!is_chromium_id("lndipfiddjhiiddghlniicdhbfpniel"));
        assert!(!is_chromium_id("zndipfiddjhiiddghlniicdhbfpnielh"));
    }
}

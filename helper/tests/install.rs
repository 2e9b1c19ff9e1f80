//! `bthelper install | uninstall | doctor` against a temporary HOME and user-data-dir, for each
//! browser family.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::{json, Value};

const HOST: &str = "org.swarmlink.bthelper.json";

fn run(home: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(EXE)
        .env("HOME", home)
        .env("SWARMLINK_HOME", home.join("swarmlink"))
        .args(args)
        .output()
        .unwrap();
    out
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(home, args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn exe() -> String {
    Path::new(EXE)
        .canonicalize()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn dirs(home: &Path) -> Vec<(&'static str, PathBuf)> {
    [
        ("chrome", ".config/google-chrome/NativeMessagingHosts"),
        ("chromium", ".config/chromium/NativeMessagingHosts"),
        (
            "brave",
            ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
        ),
        ("edge", ".config/microsoft-edge/NativeMessagingHosts"),
        ("vivaldi", ".config/vivaldi/NativeMessagingHosts"),
        ("firefox", ".mozilla/native-messaging-hosts"),
    ]
    .into_iter()
    .map(|(b, d)| (b, home.join(d)))
    .collect()
}

#[test]
fn installs_for_the_browsers_found_and_each_family_gets_its_manifest() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    std::fs::create_dir_all(h.join(".config/chromium")).unwrap();
    std::fs::create_dir_all(h.join(".mozilla")).unwrap();
    let out = ok(h, &["install"]);
    assert!(out.contains("chromium") && out.contains("firefox"), "{out}");
    for (browser, dir) in dirs(h) {
        let installed = dir.join(HOST).exists();
        assert_eq!(
            installed,
            browser == "chromium" || browser == "firefox",
            "{browser}"
        );
    }
    let chromium = read(&h.join(".config/chromium/NativeMessagingHosts").join(HOST));
    assert_eq!(
        chromium,
        json!({
            "name": "org.swarmlink.bthelper",
            "description": chromium["description"],
            "path": exe(),
            "type": "stdio",
            "allowed_origins": ["chrome-extension://lndipfiddjhiiddghlniicdhbfpnielh/"],
        })
    );
    let firefox = read(&h.join(".mozilla/native-messaging-hosts").join(HOST));
    assert_eq!(firefox["path"], exe());
    assert_eq!(firefox["type"], "stdio");
    assert_eq!(
        firefox["allowed_extensions"],
        json!(["swarmlink@swarmlink.org"])
    );
    assert!(firefox.get("allowed_origins").is_none());

    let doctor = ok(h, &["doctor"]);
    assert!(doctor.contains("installed:"), "{doctor}");
    assert!(doctor.contains("daemon: not running"), "{doctor}");

    ok(h, &["uninstall"]);
    for (browser, dir) in dirs(h) {
        assert!(!dir.join(HOST).exists(), "{browser}");
    }
}

#[test]
fn every_browser_explicitly_with_extra_ids() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let dev_id = "abcdefghijklmnopabcdefghijklmnop";
    ok(
        h,
        &[
            "install",
            "--browser",
            "all",
            "--extension-id",
            dev_id,
            "--extension-id",
            "dev@example.org",
        ],
    );
    for (browser, dir) in dirs(h) {
        let m = read(&dir.join(HOST));
        assert_eq!(m["path"], exe(), "{browser}");
        if browser == "firefox" {
            assert_eq!(
                m["allowed_extensions"],
                json!(["swarmlink@swarmlink.org", "dev@example.org"])
            );
        } else {
            assert_eq!(
                m["allowed_origins"],
                json!([
                    "chrome-extension://lndipfiddjhiiddghlniicdhbfpnielh/",
                    format!("chrome-extension://{dev_id}/")
                ]),
                "{browser}"
            );
        }
    }
    ok(h, &["install", "--browser", "edge"]);
    let out = ok(h, &["uninstall", "--browser", "edge"]);
    assert!(out.contains("removed"), "{out}");
    assert!(!h
        .join(".config/microsoft-edge/NativeMessagingHosts")
        .join(HOST)
        .exists());
    assert!(h
        .join(".config/chromium/NativeMessagingHosts")
        .join(HOST)
        .exists());
}

#[test]
fn user_data_dir_gets_its_own_hosts_directory() {
    let home = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let h = home.path();
    let p = profile.path().to_str().unwrap();
    ok(
        h,
        &["install", "--browser", "chromium", "--user-data-dir", p],
    );
    let m = read(&profile.path().join("NativeMessagingHosts").join(HOST));
    assert_eq!(
        m["allowed_origins"][0],
        "chrome-extension://lndipfiddjhiiddghlniicdhbfpnielh/"
    );
    assert_eq!(m["path"], exe());
    // Nothing in HOME.
    assert!(dirs(h).iter().all(|(_, d)| !d.join(HOST).exists()));
    let doctor = ok(h, &["doctor", "--user-data-dir", p]);
    assert!(doctor.contains("installed:"), "{doctor}");
    ok(h, &["uninstall", "--user-data-dir", p]);
    assert!(!profile
        .path()
        .join("NativeMessagingHosts")
        .join(HOST)
        .exists());
}

#[test]
fn bad_install_requests_fail_without_writing() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    assert!(!run(
        h,
        &[
            "install",
            "--browser",
            "chromium",
            "--extension-id",
            "../../evil"
        ]
    )
    .status
    .success());
    assert!(!run(
        h,
        &[
            "install",
            "--browser",
            "firefox",
            "--user-data-dir",
            "/tmp/x"
        ]
    )
    .status
    .success());
    assert!(!run(h, &["install", "--browser", "netscape"])
        .status
        .success());
    assert!(dirs(h).iter().all(|(_, d)| !d.join(HOST).exists()));
}

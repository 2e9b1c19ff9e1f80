//! A bthelper daemon of a test's own (its own SWARMLINK_HOME under /tmp, on 127.0.0.1, no DHT
//! or local discovery), driven by the terminal commands as a user drives it; stopped on drop.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::{bin, free_port};

pub struct Daemon {
    pub home: tempfile::TempDir,
    /// Its peer port.
    pub port: u16,
    exe: PathBuf,
}

impl Daemon {
    /// A daemon whose settings are the defaults for tests plus `settings` (a JSON object; its
    /// keys win). It starts with the first command run.
    pub fn start(settings: Value) -> Daemon {
        let home = tempfile::Builder::new()
            .prefix("sld")
            .tempdir_in("/tmp")
            .unwrap();
        let port = free_port();
        let state = home.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let mut all = json!({"download_dir": home.path().join("downloads"), "listen_port": port,
            "dht": false, "lsd": false});
        for (k, v) in settings.as_object().expect("settings are an object") {
            all[k] = v.clone();
        }
        std::fs::write(state.join("settings.json"), all.to_string()).unwrap();
        Daemon {
            home,
            port,
            exe: bin("bthelper"),
        }
    }

    /// `bthelper ARGS`, which must succeed.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.try_run(args);
        assert!(
            out.status.success(),
            "bthelper {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn try_run(&self, args: &[&str]) -> Output {
        Command::new(&self.exe)
            .args(args)
            .env("SWARMLINK_HOME", self.home.path())
            .env("SWARMLINK_LISTEN_IP", "127.0.0.1")
            .env("SWARMLINK_NO_DHT", "1")
            .env("SWARMLINK_NO_LSD", "1")
            .output()
            .expect("bthelper runs")
    }

    /// `bthelper ARGS`, which must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_slice(&self.run(args).stdout).expect("JSON")
    }

    /// The torrent's status, or null (also while a daemon stops or starts).
    pub fn status(&self, hash: &str) -> Value {
        let out = self.try_run(&["list", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (list.as_array().into_iter().flatten())
            .find(|t| t["info_hash"] == hash)
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn downloads(&self) -> PathBuf {
        self.home.path().join("downloads")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new(&self.exe)
            .args(["daemon", "--stop"])
            .env("SWARMLINK_HOME", self.home.path())
            .output();
    }
}

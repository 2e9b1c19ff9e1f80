//! `bthelper queue|set`: the queue order and the daemon's settings from the terminal.

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use super::control::resolve_hash;
use crate::client::{connect_or_start, Client};
use crate::paths::Paths;

#[derive(clap::Args)]
pub struct QueueArgs {
    /// The torrent's info-hash (40 hex digits, or a unique prefix as `list` shows it).
    pub info_hash: String,
    /// Where it moves in the queue.
    #[arg(value_parser = ["up", "down", "top", "bottom"])]
    pub to: String,
}

#[derive(clap::Args)]
pub struct SetArgs {
    /// Settings as KEY=VALUE (e.g. `max_active_downloads=2 choose_files=ask`); a value that
    /// parses as JSON is taken as such (`null`, numbers, `true`, lists), else as a string.
    /// Without any, print the settings.
    pub settings: Vec<String>,
}

pub enum Manage {
    Queue(QueueArgs),
    Set(SetArgs),
}

/// `KEY=VALUE` pairs as the `settings` object of `set_settings`.
pub fn settings_patch(pairs: &[String]) -> anyhow::Result<Value> {
    let mut patch = Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("{pair:?} is not KEY=VALUE");
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
        patch.insert(key.trim().to_owned(), value);
    }
    Ok(Value::Object(patch))
}

pub fn run(command: Manage) -> anyhow::Result<()> {
    let paths = Paths::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut client = Client::new(connect_or_start(&paths).await?);
        match command {
            Manage::Queue(a) => {
                let hash = resolve_hash(&mut client, &a.info_hash).await?;
                let result = client
                    .call(json!({"cmd": "queue", "info_hash": hash, "to": a.to}))
                    .await?;
                println!("queue position {}: {hash}", result["queue_position"]);
            }
            Manage::Set(a) => {
                let result = if a.settings.is_empty() {
                    client.call(json!({"cmd": "get_settings"})).await?
                } else {
                    let patch = settings_patch(&a.settings)?;
                    client
                        .call(json!({"cmd": "set_settings", "settings": patch}))
                        .await?
                };
                let text = serde_json::to_string_pretty(&result).context("printing")?;
                println!("{text}");
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_become_a_settings_patch() {
        let patch = settings_patch(&[
            "max_active_downloads=2".into(),
            "choose_files=ask".into(),
            "max_active_seeds=null".into(),
            "download_dir=/home/u/Videos".into(),
        ])
        .unwrap();
        assert_eq!(
            patch,
            json!({"max_active_downloads": 2, "choose_files": "ask", "max_active_seeds": null,
                "download_dir": "/home/u/Videos"})
        );
        assert!(settings_patch(&["nokey".into()]).is_err());
    }
}

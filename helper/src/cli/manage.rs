//! `bthelper queue|move|goals|set`: the queue order, moving a torrent's files, a torrent's seed
//! goals and the daemon's settings from the terminal.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Map, Value};

use super::control::resolve_hash;
use crate::client::with_daemon;

#[derive(clap::Args)]
pub struct QueueArgs {
    /// The torrent's info-hash (40 hex digits, or a unique prefix as `list` shows it).
    pub info_hash: String,
    /// Where it moves in the queue.
    #[arg(value_parser = ["up", "down", "top", "bottom"])]
    pub to: String,
}

#[derive(clap::Args)]
pub struct MoveArgs {
    /// The torrent's info-hash (40 hex digits, or a unique prefix as `list` shows it).
    pub info_hash: String,
    /// The folder to move its files into: the download folder or one of `allowed_dirs`.
    #[arg(required_unless_present = "cancel")]
    pub dir: Option<std::path::PathBuf>,
    /// Return once the move started instead of waiting for it to end.
    #[arg(long)]
    pub no_wait: bool,
    /// Stop the torrent's move under way instead: a copy across file systems stops, what it
    /// copied is removed, and the files stay where they were.
    #[arg(long, conflicts_with_all = ["dir", "no_wait"])]
    pub cancel: bool,
}

#[derive(clap::Args)]
pub struct SetArgs {
    /// Settings as KEY=VALUE (e.g. `max_active_downloads=2 choose_files=ask`); a value that
    /// parses as JSON is taken as such (`null`, numbers, `true`, lists), else as a string.
    /// Without any, print the settings.
    pub settings: Vec<String>,
}

#[derive(clap::Args)]
pub struct GoalsArgs {
    /// The torrent's info-hash (40 hex digits, or a unique prefix as `list` shows it).
    pub info_hash: String,
    /// Seed until it uploaded R times its size; `unlimited`, or `default` to follow the
    /// `seed_ratio` setting.
    #[arg(long, value_name = "R|unlimited|default", value_parser = parse_ratio_goal)]
    pub ratio: Option<Value>,
    /// Seed for at most SECS seconds; `unlimited`, or `default` to follow the `seed_time_secs`
    /// setting.
    #[arg(long, value_name = "SECS|unlimited|default", value_parser = parse_time_goal)]
    pub time: Option<Value>,
}

pub enum Manage {
    Queue(QueueArgs),
    Move(MoveArgs),
    Goals(GoalsArgs),
    Set(SetArgs),
}

/// A goal as `set_goals` takes it: `default` is null (follow the setting), `unlimited` stays a
/// word, anything else must be a number of the right kind.
fn parse_goal(text: &str, number: impl Fn(&str) -> Option<Value>) -> Result<Value, String> {
    match text {
        "default" => Ok(Value::Null),
        "unlimited" => Ok(json!("unlimited")),
        _ => number(text).ok_or_else(|| format!("{text:?} is not a number, unlimited or default")),
    }
}

/// A goal as a reply gives it (a number or `"unlimited"`), for people.
fn goal_text(goal: &Value, unit: &str) -> String {
    match goal {
        Value::String(word) => word.clone(),
        number => format!("{number}{unit}"),
    }
}

fn parse_ratio_goal(text: &str) -> Result<Value, String> {
    parse_goal(text, |t| {
        let r = t
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r >= 0.0)?;
        Some(json!(r))
    })
}

fn parse_time_goal(text: &str) -> Result<Value, String> {
    parse_goal(text, |t| t.parse::<u64>().ok().map(|s| json!(s)))
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

/// Waits until the torrent's status shows no move under way; its `save_path` then.
async fn wait_moved(client: &mut crate::client::Client, hash: &str) -> anyhow::Result<String> {
    loop {
        let list = client.call(json!({"cmd": "list"})).await?;
        let status = (list["torrents"].as_array())
            .and_then(|all| all.iter().find(|t| t["info_hash"] == hash))
            .context("the torrent left the download list")?;
        if status.get("moving").is_none_or(Value::is_null) {
            return Ok(status["save_path"].as_str().unwrap_or_default().to_owned());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

pub fn run(command: Manage) -> anyhow::Result<()> {
    with_daemon(|mut client| async move {
        match command {
            Manage::Queue(a) => {
                let hash = resolve_hash(&mut client, &a.info_hash).await?;
                let result = client
                    .call(json!({"cmd": "queue", "info_hash": hash, "to": a.to}))
                    .await?;
                println!("queue position {}: {hash}", result["queue_position"]);
            }
            Manage::Move(a) if a.cancel => {
                let hash = resolve_hash(&mut client, &a.info_hash).await?;
                client
                    .call(json!({"cmd": "cancel_move", "info_hash": hash}))
                    .await?;
                let path = wait_moved(&mut client, &hash).await?;
                println!("move cancelled; the files stay at {path}: {hash}");
            }
            Manage::Move(a) => {
                let hash = resolve_hash(&mut client, &a.info_hash).await?;
                // clap asks for the folder unless `--cancel`.
                let dir = a.dir.as_deref().context("the folder")?;
                let dir = std::path::absolute(dir).context("the folder")?;
                client
                    .call(json!({"cmd": "move", "info_hash": hash, "save_dir": dir}))
                    .await?;
                if a.no_wait {
                    println!("moving to {}: {hash}", dir.display());
                } else {
                    let path = wait_moved(&mut client, &hash).await?;
                    if !Path::new(&path).starts_with(&dir) {
                        bail!("the move failed: the files stayed at {path} (see the daemon's log)");
                    }
                    println!("moved to {path}: {hash}");
                }
            }
            Manage::Goals(a) => {
                let hash = resolve_hash(&mut client, &a.info_hash).await?;
                let mut request = json!({"cmd": "set_goals", "info_hash": hash});
                if let Some(r) = a.ratio {
                    request["seed_ratio"] = r;
                }
                if let Some(t) = a.time {
                    request["seed_time_secs"] = t;
                }
                let result = client.call(request).await?;
                println!(
                    "seed ratio {}, seeding time {}: {hash}",
                    goal_text(&result["seed_ratio"], ""),
                    goal_text(&result["seed_time_secs"], " s")
                );
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

    #[test]
    fn goal_flags_become_set_goals_values() {
        assert_eq!(parse_ratio_goal("1.5"), Ok(json!(1.5)));
        assert_eq!(parse_ratio_goal("unlimited"), Ok(json!("unlimited")));
        assert_eq!(parse_ratio_goal("default"), Ok(Value::Null));
        assert!(parse_ratio_goal("-1").is_err());
        assert!(parse_ratio_goal("lots").is_err());
        assert_eq!(parse_time_goal("3600"), Ok(json!(3600)));
        assert!(parse_time_goal("1.5").is_err());
        assert_eq!(goal_text(&json!(3600), " s"), "3600 s");
        assert_eq!(goal_text(&json!("unlimited"), " s"), "unlimited");
    }
}

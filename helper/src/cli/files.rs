//! `bthelper files|priority|select`: what a download's files are and which of them it fetches.

use std::path::PathBuf;

use anyhow::Context;
use protocol::text::printable;
use serde_json::{json, Value};

use super::control::{human_bytes, parse_file_list, resolve_hash};
use crate::client::{with_daemon, Client};

#[derive(clap::Args)]
pub struct FilesArgs {
    /// The torrent's info-hash (40 hex digits, or a unique prefix as `list` shows it).
    pub info_hash: String,
    /// Print the daemon's answer as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct PriorityArgs {
    pub info_hash: String,
    /// Which files: `all` or indices such as `0,2,4-6`.
    #[arg(value_parser = parse_files)]
    pub files: Value,
    /// skip, low, normal or high.
    #[arg(value_parser = ["skip", "low", "normal", "high"])]
    pub priority: String,
}

#[derive(clap::Args)]
pub struct SelectArgs {
    pub info_hash: String,
    /// The files to download: `all` or indices such as `0,2,4-6`; the others are skipped.
    #[arg(value_parser = parse_files)]
    pub files: Value,
    /// Save into this directory instead (only while the torrent waits for its selection).
    #[arg(long)]
    pub save_dir: Option<PathBuf>,
}

fn parse_files(text: &str) -> Result<Value, String> {
    if text == "all" {
        return Ok(json!("all"));
    }
    parse_file_list(text).map(|v| json!(v.0))
}

pub enum FilesCommand {
    Files(FilesArgs),
    Priority(PriorityArgs),
    Select(SelectArgs),
}

pub fn run(command: FilesCommand) -> anyhow::Result<()> {
    with_daemon(|mut client| async move {
        match command {
            FilesCommand::Files(a) => files(&mut client, a).await,
            FilesCommand::Priority(a) => {
                let hash = resolve_hash(&mut client, &a.info_hash).await?;
                let request = json!({"cmd": "priority", "info_hash": hash, "files": a.files,
                    "priority": a.priority});
                client.call(request).await?;
                println!("priority {}: {hash}", a.priority);
                Ok(())
            }
            FilesCommand::Select(a) => {
                let hash = resolve_hash(&mut client, &a.info_hash).await?;
                let mut request = json!({"cmd": "select", "info_hash": hash, "files": a.files});
                if let Some(dir) = a.save_dir {
                    let dir = std::path::absolute(&dir)
                        .with_context(|| format!("resolving {}", dir.display()))?;
                    request["save_dir"] = json!(dir);
                }
                let result = client.call(request).await?;
                println!("selected {}: {hash}", result["files"]);
                Ok(())
            }
        }
    })
}

async fn files(client: &mut Client, args: FilesArgs) -> anyhow::Result<()> {
    let hash = resolve_hash(client, &args.info_hash).await?;
    let mut offset = 0u64;
    let mut first: Option<Value> = None;
    let mut all = Vec::new();
    loop {
        let page = client
            .call(json!({"cmd": "files", "info_hash": hash, "offset": offset}))
            .await?;
        all.extend(page["files"].as_array().cloned().unwrap_or_default());
        let next = page["next_offset"].as_u64();
        first.get_or_insert(page);
        match next {
            Some(n) if n > offset => offset = n,
            _ => break,
        }
    }
    let mut result = first.unwrap_or_default();
    result["files"] = json!(all);
    result["next_offset"] = Value::Null;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    print!("{}", table(&result));
    Ok(())
}

/// The `files` table: index, priority, progress, size, path.
pub fn table(result: &Value) -> String {
    let mut out = String::new();
    if result["metadata"] == json!(false) {
        return "the torrent's metadata has not arrived yet: its files are not known\n".into();
    }
    if result["awaiting_selection"] == json!(true) {
        out.push_str("waiting for a choice of files (`bthelper select HASH LIST|all`)\n");
    }
    out.push_str("INDEX  PRIORITY  DONE    SIZE        PATH\n");
    for f in result["files"].as_array().into_iter().flatten() {
        let done = f["progress"].as_f64().unwrap_or(0.0) * 100.0;
        out.push_str(&format!(
            "{:<5}  {:<8}  {:>5.1}%  {:<10}  {}\n",
            f["index"].as_u64().unwrap_or(0),
            f["priority"].as_str().unwrap_or("?"),
            done,
            human_bytes(f["length"].as_u64().unwrap_or(0)),
            printable(f["path"].as_str().unwrap_or("")),
        ));
    }
    out.push_str(&format!(
        "selected {} of {}\n",
        human_bytes(result["selected_bytes"].as_u64().unwrap_or(0)),
        human_bytes(result["total_bytes"].as_u64().unwrap_or(0))
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_file_and_escapes_names() {
        let result = json!({"metadata": true, "awaiting_selection": true, "total_bytes": 3072,
            "selected_bytes": 1024, "files": [
                {"index": 0, "path": "Show/e01.mkv", "length": 1024, "priority": "normal",
                 "progress": 0.5},
                {"index": 2, "path": "Show/\u{1b}[31me02.mkv", "length": 2048, "priority": "skip",
                 "progress": 0.0}]});
        let t = table(&result);
        assert!(
            t.contains("0      normal     50.0%  1.0 KiB     Show/e01.mkv"),
            "{t}"
        );
        assert!(t.contains("2      skip"), "{t}");
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(t.contains("selected 1.0 KiB of 3.0 KiB"), "{t}");
        assert!(t.starts_with("waiting for a choice"));
    }

    #[test]
    fn file_lists_parse_as_all_or_indices() {
        assert_eq!(parse_files("all").unwrap(), json!("all"));
        assert_eq!(parse_files("0,2-3").unwrap(), json!([0, 2, 3]));
        assert!(parse_files("x").is_err());
    }
}

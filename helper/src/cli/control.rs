//! `bthelper add|list|pause|resume|remove`: the terminal's remote control for the daemon the
//! browser uses too (started on demand, like the browser's relay does).

use std::path::PathBuf;

use anyhow::{bail, Context};
use base64::Engine as _;
use protocol::text::printable;
use serde_json::{json, Value};

use crate::client::{with_daemon, Client};

#[derive(clap::Args)]
pub struct AddArgs {
    /// A .torrent file, a magnet link, or an http(s) URL of a .torrent.
    pub source: String,
    /// Save into this directory (inside the download directory or an allowed directory).
    #[arg(long)]
    pub save_dir: Option<PathBuf>,
    /// Add without starting.
    #[arg(long)]
    pub paused: bool,
    /// Download only these files (indices as `bthelper inspect` lists them, e.g. `0,2,4-6`);
    /// the others are never created.
    #[arg(long, value_name = "LIST", value_parser = parse_file_list)]
    pub only: Option<FileIndices>,
}

/// File indices from a list like `0,2,4-6` (one clap value, not several).
#[derive(Debug, Clone, PartialEq)]
pub struct FileIndices(pub Vec<u32>);

/// `0,2,4-6` as clap parses it for `--only` and the file commands.
pub fn parse_file_list(text: &str) -> Result<FileIndices, String> {
    (protocol::file_selection::parse_indices(text))
        .map(FileIndices)
        .map_err(|e| e.to_string())
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Print the statuses as JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct TorrentArg {
    /// The torrent's info-hash (40 hex digits, or a unique prefix as `list` shows it).
    pub info_hash: String,
}

#[derive(clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub torrent: TorrentArg,
    /// Also delete the downloaded files.
    #[arg(long)]
    pub delete_files: bool,
}

pub enum Control {
    Add(AddArgs),
    List(ListArgs),
    Pause(TorrentArg),
    Resume(TorrentArg),
    Remove(RemoveArgs),
}

pub fn run(command: Control) -> anyhow::Result<()> {
    with_daemon(|mut client| async move {
        match command {
            Control::Add(args) => add(&mut client, args).await,
            Control::List(args) => list(&mut client, args).await,
            Control::Pause(t) => simple(&mut client, "pause", &t.info_hash, json!({})).await,
            Control::Resume(t) => simple(&mut client, "resume", &t.info_hash, json!({})).await,
            Control::Remove(r) => {
                let extra = json!({"delete_files": r.delete_files});
                simple(&mut client, "remove", &r.torrent.info_hash, extra).await
            }
        }
    })
}

/// The `add` request for a .torrent file, a magnet link or an http(s) URL of a .torrent.
pub(crate) fn add_request(source: &str) -> anyhow::Result<Value> {
    let source = source.trim();
    Ok(
        if source
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
        {
            json!({"cmd": "add", "magnet": source})
        } else if source.starts_with("http://") || source.starts_with("https://") {
            json!({"cmd": "add", "url": source})
        } else {
            let bytes = std::fs::read(source).with_context(|| format!("reading {source}"))?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            json!({"cmd": "add", "torrent_b64": b64})
        },
    )
}

async fn add(client: &mut Client, args: AddArgs) -> anyhow::Result<()> {
    let mut request = add_request(&args.source)?;
    if let Some(dir) = args.save_dir {
        let dir =
            std::path::absolute(&dir).with_context(|| format!("resolving {}", dir.display()))?;
        request["save_dir"] = json!(dir);
    }
    request["paused"] = json!(args.paused);
    if let Some(only) = args.only {
        request["files"] = json!(only.0);
    }
    let result = client.call(request).await?;
    let hash = result["info_hash"].as_str().unwrap_or("?");
    println!("added {} ({hash})", result["name"].as_str().unwrap_or("?"));
    if result["awaiting_selection"] == json!(true) {
        println!("waiting for a choice of files: `bthelper files {hash}`, then `bthelper select {hash} LIST|all`");
    }
    Ok(())
}

async fn all_statuses(client: &mut Client) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    let mut offset = 0u64;
    loop {
        let page = client
            .call(json!({"cmd": "list", "offset": offset}))
            .await?;
        if let Some(torrents) = page["torrents"].as_array() {
            all.extend(torrents.iter().cloned());
        }
        match page["next_offset"].as_u64() {
            Some(next) if next > offset => offset = next,
            _ => return Ok(all),
        }
    }
}

async fn list(client: &mut Client, args: ListArgs) -> anyhow::Result<()> {
    let statuses = all_statuses(client).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
        return Ok(());
    }
    if statuses.is_empty() {
        println!("no torrents (add one with `bthelper add FILE.torrent|MAGNET|URL`)");
        return Ok(());
    }
    print!("{}", table(&statuses));
    Ok(())
}

/// The `list` table: one row per torrent, widths fitted to the content.
pub fn table(statuses: &[Value]) -> String {
    let header = [
        "HASH", "NAME", "STATE", "DONE", "SIZE", "DOWN", "UP", "PEERS", "ETA",
    ];
    let rows: Vec<[String; 9]> = statuses
        .iter()
        .map(|s| {
            let u = |k: &str| s[k].as_u64().unwrap_or(0);
            [
                s["info_hash"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(8)
                    .collect(),
                // A magnet's `dn` is not a checked file name: escapes are spelled out.
                printable(s["name"].as_str().unwrap_or(""))
                    .chars()
                    .take(40)
                    .collect(),
                s["state"].as_str().unwrap_or("").to_owned(),
                format!("{:.1}%", s["progress"].as_f64().unwrap_or(0.0) * 100.0),
                human_bytes(u("total_bytes")),
                format!("{}/s", human_bytes(u("down_rate"))),
                format!("{}/s", human_bytes(u("up_rate"))),
                format!("{} ({})", u("peers"), u("seeds")),
                s["eta_secs"]
                    .as_u64()
                    .map(human_duration)
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    out
}

pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// Expands a unique prefix to the full info-hash, so `list`'s short column can be typed back.
pub(crate) async fn resolve_hash(client: &mut Client, prefix: &str) -> anyhow::Result<String> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.len() == 40 {
        return Ok(prefix);
    }
    let matches: Vec<String> = all_statuses(client)
        .await?
        .iter()
        .filter_map(|s| s["info_hash"].as_str())
        .filter(|h| h.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no torrent's info-hash starts with {prefix:?}"),
        _ => bail!(
            "{prefix:?} matches {} torrents; type more digits",
            matches.len()
        ),
    }
}

async fn simple(
    client: &mut Client,
    cmd: &str,
    hash: &str,
    mut extra: Value,
) -> anyhow::Result<()> {
    let info_hash = resolve_hash(client, hash).await?;
    extra["cmd"] = json!(cmd);
    extra["info_hash"] = json!(info_hash);
    client.call(extra).await?;
    println!("{cmd}: {info_hash}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_and_formats() {
        let s = json!({"info_hash": "0123456789abcdef0123456789abcdef01234567", "name": "movie.mpeg",
            "state": "downloading", "progress": 0.5, "total_bytes": 3u64 << 20, "down_rate": 2048,
            "up_rate": 0, "peers": 3, "seeds": 1, "eta_secs": 75});
        let t = table(&[s]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("HASH      NAME"));
        assert!(
            lines[1].contains(
                "01234567  movie.mpeg  downloading  50.0%  3.0 MiB  2.0 KiB/s  0 B/s  3 (1)  1m15s"
            ),
            "{t}"
        );
    }

    #[test]
    fn names_cannot_drive_the_terminal() {
        let s = json!({"info_hash": "00", "name": "dn\u{1b}[31mred\u{202E}txt.exe", "state": "connecting"});
        let t = table(&[s]);
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(t.contains("dn\\u{1b}[31mred\\u{202e}txt.exe"), "{t}");
    }
}

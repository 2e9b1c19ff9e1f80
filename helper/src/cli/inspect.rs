//! `bthelper inspect <FILE.torrent | MAGNET> [--json]`: what a torrent or magnet link describes.
//!
//! The JSON form is a stable interface (tests and scripts compare it with other tools):
//! `info_hash` (40 lowercase hex), `name`, `total_length`, `piece_length`, `piece_count`,
//! `private`, `announce` (tiers, each a list of URLs) and `files` (`{"path": "dir/file",
//! "length": N}` in torrent order, paths inside the torrent's directory; a single-file torrent
//! lists its one file by its name; BEP 47 pad files are listed too, marked `"pad": true`).
//! A magnet prints what the link carries: `info_hash`, `name` (or null), `announce` (one tier
//! per tracker), `web_seeds`, `peers`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use protocol::metainfo::MAX_METAINFO_SIZE;
use protocol::{Magnet, Metainfo};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// A .torrent file, a magnet link, or `-` to read a .torrent from stdin.
    pub source: PathBuf,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let text = match args.source.to_str() {
        Some(s)
            if s.trim_start()
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("magnet:")) =>
        {
            let magnet = Magnet::parse(s).context("not a usable magnet link")?;
            if args.json {
                json_line(&magnet_json(&magnet))
            } else {
                magnet_summary(&magnet)
            }
        }
        _ => {
            let bytes = read_limited(&args.source)?;
            let metainfo = Metainfo::from_bytes(&bytes).with_context(|| {
                if args.source == Path::new("-") {
                    "stdin is not a valid torrent".to_owned()
                } else {
                    format!("{} is not a valid torrent", args.source.display())
                }
            })?;
            if args.json {
                json_line(&torrent_json(&metainfo))
            } else {
                torrent_summary(&metainfo)
            }
        }
    };
    print_all(&text)
}

/// Reads at most one byte past the limit, so a huge file given by mistake is refused without
/// being loaded. `-` is stdin.
fn read_limited(path: &Path) -> anyhow::Result<Vec<u8>> {
    let reader: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_METAINFO_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > MAX_METAINFO_SIZE {
        anyhow::bail!(
            "{} is larger than {} MiB: not a torrent file",
            path.display(),
            MAX_METAINFO_SIZE >> 20
        );
    }
    Ok(bytes)
}

/// Writes to stdout; a closed pipe (`| head`) is a normal end, not an error or a panic.
fn print_all(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

fn json_line(value: &serde_json::Value) -> String {
    format!("{value}\n")
}

pub fn torrent_json(m: &Metainfo) -> serde_json::Value {
    let files: Vec<serde_json::Value> = m
        .info
        .files
        .iter()
        .map(|f| {
            let mut file = json!({ "path": f.display_path(), "length": f.length });
            if f.pad {
                file["pad"] = json!(true);
            }
            file
        })
        .collect();
    json!({
        "info_hash": m.info_hash.to_hex(),
        "name": m.info.name,
        "total_length": m.info.total_length,
        "piece_length": m.info.piece_length,
        "piece_count": m.info.piece_count(),
        "private": m.info.private,
        "announce": m.tiers(),
        "files": files,
    })
}

pub fn magnet_json(m: &Magnet) -> serde_json::Value {
    let tiers: Vec<Vec<&String>> = m.trackers.iter().map(|t| vec![t]).collect();
    json!({
        "info_hash": m.info_hash.to_hex(),
        "name": m.display_name,
        "announce": tiers,
        "web_seeds": m.web_seeds,
        "peers": m.peers,
    })
}

/// How many files the readable summary lists before it says "and N more".
const LISTED_FILES: usize = 100;

fn torrent_summary(m: &Metainfo) -> String {
    let info = &m.info;
    let mut s = String::new();
    let mut line = |label: &str, value: String| s.push_str(&format!("{label:<12}{value}\n"));
    line("name:", info.name.clone());
    line("info-hash:", m.info_hash.to_hex());
    line(
        "size:",
        format!(
            "{} ({} bytes)",
            human_size(info.total_length),
            info.total_length
        ),
    );
    line(
        "pieces:",
        format!("{} x {}", info.piece_count(), human_size(info.piece_length)),
    );
    line("private:", if info.private { "yes" } else { "no" }.into());
    if let Some(by) = &m.created_by {
        line("created by:", by.clone());
    }
    if let Some(date) = m.creation_date {
        line("created:", utc_date(date));
    }
    if let Some(comment) = &m.comment {
        line("comment:", comment.clone());
    }
    let real_files = info.files.iter().filter(|f| !f.pad).count();
    line("files:", real_files.to_string());
    for f in info.files.iter().filter(|f| !f.pad).take(LISTED_FILES) {
        s.push_str(&format!(
            "  {:>10}  {}\n",
            human_size(f.length),
            f.display_path()
        ));
    }
    if real_files > LISTED_FILES {
        s.push_str(&format!("  ... and {} more\n", real_files - LISTED_FILES));
    }
    push_list(&mut s, "trackers:", &m.tiers());
    if !m.url_list.is_empty() {
        push_list(&mut s, "web seeds:", std::slice::from_ref(&m.url_list));
    }
    s
}

fn magnet_summary(m: &Magnet) -> String {
    let mut s = String::new();
    s.push_str(&format!("{:<12}{}\n", "magnet:", m.info_hash.to_hex()));
    let name = m.display_name.as_deref().unwrap_or("(none given)");
    s.push_str(&format!("{:<12}{name}\n", "name:"));
    s.push_str("size, files: unknown until the metadata is fetched from peers\n");
    let tiers: Vec<Vec<String>> = m.trackers.iter().map(|t| vec![t.clone()]).collect();
    push_list(&mut s, "trackers:", &tiers);
    if !m.web_seeds.is_empty() {
        push_list(&mut s, "web seeds:", std::slice::from_ref(&m.web_seeds));
    }
    if !m.peers.is_empty() {
        push_list(&mut s, "peers:", std::slice::from_ref(&m.peers));
    }
    s
}

fn push_list(s: &mut String, label: &str, tiers: &[Vec<String>]) {
    if tiers.is_empty() {
        s.push_str(&format!("{label:<12}none\n"));
        return;
    }
    s.push_str(&format!("{label}\n"));
    for (i, tier) in tiers.iter().enumerate() {
        for url in tier {
            if tiers.len() > 1 {
                s.push_str(&format!("  [tier {}] {url}\n", i + 1));
            } else {
                s.push_str(&format!("  {url}\n"));
            }
        }
    }
}

/// `1.5 MiB`-style sizes (binary units, as BitTorrent tools print them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let digits = if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}").trim_end_matches(".0").to_owned()
    };
    format!("{digits} {}", UNITS[unit])
}

/// `YYYY-MM-DD HH:MM:SS UTC` from Unix seconds, without a date crate (civil-from-days).
fn utc_date(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1 KiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
        assert_eq!(human_size(700 << 20), "700 MiB");
        assert_eq!(human_size(41_000), "40 KiB");
        assert_eq!(human_size(1023 * 1024), "1023 KiB");
        assert_eq!(human_size(u64::MAX), "16 EiB");
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date(-1), "1969-12-31 23:59:59 UTC");
        // Absurd dates from hostile files must not overflow.
        let _ = utc_date(i64::MAX);
        let _ = utc_date(i64::MIN);
    }

    #[test]
    fn json_has_the_documented_fields() {
        let built = protocol::MetainfoBuilder::multi_file(
            "set",
            vec![(vec!["d".into(), "a".into()], 10), (vec!["b".into()], 5)],
        )
        .piece_length(16384)
        .pad_files(true)
        .pieces(vec![[0; 20]; 2])
        .announce_tiers(vec![vec!["http://t/a".into()]])
        .build()
        .unwrap();
        let v = torrent_json(&built.metainfo);
        assert_eq!(v["info_hash"], built.info_hash.to_hex());
        assert_eq!(v["name"], "set");
        assert_eq!(v["total_length"], 16384 + 5);
        assert_eq!(v["piece_length"], 16384);
        assert_eq!(v["piece_count"], 2);
        assert_eq!(v["private"], false);
        assert_eq!(v["announce"], json!([["http://t/a"]]));
        assert_eq!(
            v["files"],
            json!([
                {"path": "d/a", "length": 10},
                {"path": ".pad/16374", "length": 16374, "pad": true},
                {"path": "b", "length": 5}
            ])
        );
        let summary = torrent_summary(&built.metainfo);
        assert!(summary.contains("files:      2\n"), "{summary}");
        assert!(!summary.contains(".pad"), "{summary}");
    }
}

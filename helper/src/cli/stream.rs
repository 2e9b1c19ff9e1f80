//! `bthelper stream SOURCE|HASH [--file N] [--open]`: the loopback URL that plays a torrent's
//! file while it downloads, from the daemon's streaming server (adding the torrent first if it
//! is not in the list yet).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use protocol::{Magnet, Metainfo};
use serde_json::{json, Value};

use crate::client::{with_daemon, Client};

/// How long a magnet may take to bring its file list.
const METADATA_WAIT: Duration = Duration::from_secs(120);

#[derive(clap::Args)]
pub struct StreamArgs {
    /// A .torrent file, a magnet link, an http(s) URL of a .torrent, or the info-hash of a
    /// download already in the list.
    pub source: String,
    /// The file to stream (an index as `bthelper files` lists them); default: the largest.
    #[arg(long, value_name = "N")]
    pub file: Option<usize>,
    /// Hand the URL to the desktop's player as well.
    #[arg(long)]
    pub open: bool,
}

pub fn run(args: StreamArgs) -> anyhow::Result<()> {
    with_daemon(|mut client| async move {
        let hash = torrent_hash(&mut client, args.source.trim()).await?;
        let file = match args.file {
            Some(file) => file,
            None => largest_file(&mut client, &hash).await?,
        };
        let reply = client
            .call(json!({"cmd": "stream_url", "info_hash": hash, "file": file}))
            .await?;
        let url = reply["url"].as_str().context("the daemon sent no url")?;
        println!("{url}");
        if args.open {
            open_url(url).with_context(|| format!("opening {url}"))?;
        }
        Ok(())
    })
}

fn is_info_hash(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The info-hash of the source, added to the list unless it is there already.
async fn torrent_hash(client: &mut Client, source: &str) -> anyhow::Result<String> {
    if is_info_hash(source) && !std::path::Path::new(source).exists() {
        return Ok(source.to_ascii_lowercase());
    }
    // Known locally for a file or a magnet: an `add` of a listed torrent would be refused.
    let local = if source
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
    {
        Magnet::parse(source).ok().map(|m| m.info_hash.to_hex())
    } else if std::path::Path::new(source).is_file() {
        (std::fs::read(source).ok())
            .and_then(|b| Metainfo::from_bytes(&b).ok())
            .map(|m| m.info_hash.to_hex())
    } else {
        None
    };
    if let Some(hash) = local {
        if listed(client, &hash).await? {
            return Ok(hash);
        }
    }
    let added = client.call(super::control::add_request(source)?).await?;
    (added["info_hash"].as_str().map(str::to_owned)).context("the daemon sent no info_hash")
}

async fn listed(client: &mut Client, hash: &str) -> anyhow::Result<bool> {
    let reply = client
        .call(json!({"cmd": "files", "info_hash": hash}))
        .await;
    Ok(reply.is_ok())
}

/// The index of the largest file, waiting (bounded) for a magnet's metadata.
async fn largest_file(client: &mut Client, hash: &str) -> anyhow::Result<usize> {
    let deadline = Instant::now() + METADATA_WAIT;
    loop {
        let reply = client
            .call(json!({"cmd": "files", "info_hash": hash}))
            .await?;
        if reply["metadata"] == json!(true) {
            let files = reply["files"].as_array().cloned().unwrap_or_default();
            return (files.iter())
                .max_by_key(|f| f["length"].as_u64().unwrap_or(0))
                .and_then(|f: &Value| f["index"].as_u64())
                .map(|i| i as usize)
                .context("the torrent has no files");
        }
        if Instant::now() > deadline {
            bail!("the torrent's metadata did not arrive within {METADATA_WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `SWARMLINK_OPENER` names a program to run instead of the desktop's handler (tests).
fn open_url(url: &str) -> std::io::Result<()> {
    match std::env::var_os("SWARMLINK_OPENER").filter(|v| !v.is_empty()) {
        Some(program) => {
            let mut child = std::process::Command::new(program).arg(url).spawn()?;
            std::thread::spawn(move || child.wait());
            Ok(())
        }
        None => open::that_detached(url),
    }
}

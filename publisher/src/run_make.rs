//! `btpublish make`: the torrent-writing half on its own.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::cli::{MakeArgs, TorrentArgs};
use crate::hash::HashOptions;
use crate::make::{make, Hashing, Made, MakeError, MakeOptions};
use crate::progress::{hashing_bar, show_on_terminal};
use crate::source::Source;
use crate::units::human_bytes;

/// What goes in the torrent's `created by`.
pub const CREATED_BY: &str = concat!("btpublish/", env!("CARGO_PKG_VERSION"), " (Swarmlink)");

/// Make options from the shared flags.
pub fn make_options(torrent: &TorrentArgs, announce: Option<String>) -> MakeOptions {
    let mut hash = HashOptions::default();
    if let Some(threads) = torrent.threads {
        hash.threads = threads.max(1);
    }
    MakeOptions {
        announce,
        piece_length: torrent.piece_size,
        private: torrent.private,
        webseeds: torrent.webseed.clone(),
        comment: torrent.comment.clone(),
        created_by: Some(CREATED_BY.to_owned()),
        creation_date: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok()),
        hash,
    }
}

/// Scans `path` and writes its torrent to `out`, with a progress bar; a file that changes while
/// it is hashed is scanned and hashed again, a few times.
pub fn make_with_bar(
    path: &Path,
    options: &MakeOptions,
    out: &Path,
) -> anyhow::Result<(Source, Made)> {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let source = Source::scan(path)?;
        let bar = hashing_bar(&source.name, source.total_length());
        let shown = std::sync::Once::new();
        let outcome = make(&source, options, out, &|n| {
            shown.call_once(|| show_on_terminal(&bar));
            bar.inc(n);
        });
        bar.finish_and_clear();
        match outcome {
            Err(MakeError::Changed(changed)) if attempt < ATTEMPTS => {
                tracing::warn!(path = %changed.display(), "changed while hashing; hashing again");
            }
            other => return Ok((source, other?)),
        }
    }
    unreachable!("the last attempt returns")
}

pub fn run(args: MakeArgs) -> anyhow::Result<()> {
    if args.announce.is_none() && args.torrent.private {
        // BEP 27: a private torrent's peers come only from its trackers: with none it is dead.
        anyhow::bail!(
            "a --private torrent needs --announce URL: its peers come only from its tracker"
        );
    }
    let out = match &args.output {
        Some(out) => out.clone(),
        None => {
            let name = Source::scan(&args.source)?.name;
            PathBuf::from(format!("{name}.torrent"))
        }
    };
    let options = make_options(&args.torrent, args.announce.clone());
    let (_, made) = make_with_bar(&args.source, &options, &out)
        .with_context(|| format!("cannot make a torrent of {}", args.source.display()))?;
    print_made(&made);
    if args.announce.is_none() {
        eprintln!(
            "btpublish: no --announce: a trackerless torrent (peers come from the DHT, PEX{})",
            if args.torrent.webseed.is_empty() {
                ""
            } else {
                " and its web seeds"
            }
        );
    }
    Ok(())
}

pub fn print_made(made: &Made) {
    let info = &made.torrent.metainfo.info;
    let how = match made.hashing {
        Hashing::Hashed => "hashed",
        Hashing::Cached => "unchanged since it was hashed",
    };
    println!(
        "{}: {} ({}, {} pieces of {}; {how})",
        made.path.display(),
        made.torrent.info_hash,
        human_bytes(info.total_length as f64),
        info.pieces.len(),
        human_bytes(info.piece_length as f64),
    );
}

//! `bthelper download <FILE.torrent | URL | MAGNET> [-o DIR] [--port N] [--seed | --seed-ratio R]
//! [--peer ADDR]...`: the foreground client of the original `btdownloadheadless`.
//!
//! Saves into `DIR/<torrent name>`; data already there is checked first, so pointing it at a
//! complete copy simply seeds it. Exits 0 once every piece is verified (or, with `--seed-ratio`,
//! once the ratio is reached); `--seed` keeps seeding until Ctrl-C. Ctrl-C stops cleanly and
//! saves resume data. A progress bar on a terminal, one plain line every few seconds otherwise.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use engine::{
    AddTorrent, Session, SessionConfig, SessionEvent, TorrentSource, TorrentState, TorrentStatus,
};
use protocol::metainfo::MAX_METAINFO_SIZE;
use protocol::text::printable;
use protocol::{Magnet, Metainfo};

#[derive(clap::Args)]
pub struct Args {
    /// A .torrent file, an http(s) URL of one, or a magnet link.
    pub source: String,
    /// The directory the torrent is saved in.
    #[arg(short = 'o', long = "output", default_value = ".")]
    pub output: PathBuf,
    /// Port to accept peers on (0 = any).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Keep seeding after the download completes, until Ctrl-C.
    #[arg(long, conflicts_with = "seed_ratio")]
    pub seed: bool,
    /// Seed until uploaded/size reaches this ratio, then exit.
    #[arg(long)]
    pub seed_ratio: Option<f64>,
    /// A peer to connect to (repeatable), besides those from trackers.
    #[arg(long = "peer")]
    pub peers: Vec<SocketAddr>,
    /// Where resume data is kept (default: $XDG_STATE_HOME/swarmlink or ~/.local/state/swarmlink).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Download only these files (indices as `bthelper inspect` lists them, e.g. `0,2,4-6`);
    /// the others are never created.
    #[arg(long, value_name = "LIST", value_parser = crate::cli::control::parse_file_list)]
    pub only: Option<crate::cli::control::FileIndices>,
    /// Download pieces in order (for playing while downloading).
    #[arg(long)]
    pub sequential: bool,
    /// Download/upload limits in KiB/s.
    #[arg(long)]
    pub max_download_kib: Option<u64>,
    #[arg(long)]
    pub max_upload_kib: Option<u64>,
    /// Peer connection encryption (MSE/PE): prefer = connect in plaintext and retry
    /// encrypted when a peer refuses, accept both; require = only RC4-encrypted connections,
    /// both ways; off = only plaintext.
    #[arg(long, value_name = "prefer|require|off", default_value_t = engine::EncryptionPolicy::Prefer)]
    pub encryption: engine::EncryptionPolicy,
    /// Find no peers through the Mainline DHT (BEP 5). Private torrents never use it.
    #[arg(long, env = "SWARMLINK_NO_DHT", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_dht: bool,
    /// UDP port of the DHT node (default: the same number as the peer port, else any free one).
    #[arg(long)]
    pub dht_port: Option<u16>,
    /// A DHT node to bootstrap from, HOST:PORT (repeatable; default: the public routers, plus
    /// the nodes saved in the state directory by the last run).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// No local service discovery (BEP 14 multicast announces on the LAN). Private torrents
    /// never use it.
    #[arg(long, env = "SWARMLINK_NO_LSD", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_lsd: bool,
    /// Most peer connections the torrent holds at once, both directions (default 50).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_peers: Option<u32>,
    /// Do not ask the router (NAT-PMP, else UPnP IGD) to forward the peer port, TCP and UDP.
    #[arg(long, env = "SWARMLINK_NO_PORT_MAPPING", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_port_mapping: bool,
    /// No uTP (BEP 29): peers are reached and accepted over TCP only, and the UDP peer port
    /// is left to the DHT.
    #[arg(long, env = "SWARMLINK_NO_UTP", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_utp: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    crate::init_logging("warn");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(download(args))
}

fn default_state_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("swarmlink"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/swarmlink"))
}

async fn load_source(source: &str) -> anyhow::Result<AddTorrent> {
    let lower = source.trim_start().to_ascii_lowercase();
    if lower.starts_with("magnet:") {
        let magnet = Magnet::parse(source.trim()).context("not a usable magnet link")?;
        return Ok(AddTorrent::magnet(magnet));
    }
    let bytes = if lower.starts_with("http://") || lower.starts_with("https://") {
        crate::fetch::fetch_torrent(source.trim())
            .await
            .with_context(|| format!("fetching {source}"))?
    } else {
        let len = std::fs::metadata(source)
            .with_context(|| format!("reading {source}"))?
            .len();
        if len > MAX_METAINFO_SIZE as u64 {
            bail!("{source} is {len} bytes, too large for a .torrent");
        }
        std::fs::read(source).with_context(|| format!("reading {source}"))?
    };
    let metainfo =
        Metainfo::from_bytes(&bytes).with_context(|| format!("{source} is not a valid torrent"))?;
    Ok(AddTorrent::metainfo(metainfo))
}

async fn download(args: Args) -> anyhow::Result<()> {
    let mut add = load_source(&args.source).await?;
    if let Some(crate::cli::control::FileIndices(only)) = &args.only {
        if let TorrentSource::Metainfo(m) = &add.source {
            if let Some(bad) = only.iter().find(|&&i| i as usize >= m.info.files.len()) {
                bail!(
                    "--only: file {bad} is past the last file ({} files)",
                    m.info.files.len()
                );
            }
        }
        add.only_files = Some(only.clone());
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let config = SessionConfig {
        listen: SocketAddr::from(([0, 0, 0, 0], args.port)),
        download_dir: args.output.clone(),
        state_dir: args.state_dir.clone().or_else(default_state_dir),
        download_rate_limit: args.max_download_kib.map(|k| k * 1024),
        upload_rate_limit: args.max_upload_kib.map(|k| k * 1024),
        encryption: args.encryption,
        dht: (!args.no_dht)
            .then(|| engine::DhtConfig::with_bootstrap(args.dht_bootstrap.clone(), args.dht_port)),
        lsd: (!args.no_lsd).then(engine::LsdConfig::default),
        port_mapping: !args.no_port_mapping,
        max_peers_per_torrent: args
            .max_peers
            .map_or(SessionConfig::default().max_peers_per_torrent, |n| {
                n as usize
            }),
        utp: !args.no_utp,
        ..Default::default()
    };
    let session = Session::start(config)
        .await
        .context("starting the session")?;
    add.peers.extend(args.peers.iter().copied());
    add.seed_goals.ratio = args.seed_ratio;
    add.sequential = args.sequential;
    let mut events = session.events();
    let ih = session.add(add).await.context("adding the torrent")?;
    eprintln!("listening on port {}", session.local_addr().port());
    if let Some(port) = session.dht_port() {
        eprintln!("DHT node on UDP port {port}");
    }

    let mut display = Display::new(std::io::stdout().is_terminal());
    let mut ticker = tokio::time::interval(Duration::from_millis(if display.bar.is_some() {
        250
    } else {
        2000
    }));
    let mut completed = false;
    let outcome: anyhow::Result<()> = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                display.finish("interrupted: saving resume data");
                break if completed { Ok(()) } else { Err(anyhow::anyhow!("interrupted before the download completed")) };
            }
            ev = events.recv() => match ev {
                Ok(SessionEvent::Completed(done)) if done == ih => {
                    completed = true;
                    if let Some(s) = session.status(ih) { display.show(&s); }
                    display.println("download complete: every piece verified");
                    if !args.seed && args.seed_ratio.is_none() {
                        break Ok(());
                    }
                }
                Ok(SessionEvent::Error(e, msg)) if e == ih => break Err(anyhow::anyhow!("{msg}")),
                _ => {}
            },
            _ = ticker.tick() => {
                let Some(s) = session.status(ih) else { break Err(anyhow::anyhow!("the torrent vanished")) };
                display.show(&s);
                display.dht(session.dht_nodes());
                if s.state == TorrentState::Error {
                    // The error may quote a tracker's failure reason: escapes are spelled out.
                    let error = s.error.unwrap_or_else(|| "unknown error".into());
                    break Err(anyhow::anyhow!("{}", printable(&error)));
                }
                if completed && args.seed_ratio.is_some() && s.state == TorrentState::Paused {
                    display.println("seed ratio reached");
                    break Ok(());
                }
            }
        }
    };
    session.shutdown().await;
    display.finish("");
    outcome
}

struct Display {
    bar: Option<indicatif::ProgressBar>,
    last_activity: Option<&'static str>,
    /// Whether the DHT had nodes when last said (`None`: not said yet).
    dht_reachable: Option<bool>,
}

impl Display {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(1000);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        Display {
            bar,
            last_activity: None,
            dht_reachable: None,
        }
    }

    /// Says once that the DHT reaches nobody (on a LAN without a route to the public routers,
    /// the usual case, and harmless: the other peer sources work on), and again only when
    /// that changes.
    fn dht(&mut self, nodes: Option<usize>) {
        let Some(nodes) = nodes else { return };
        let reachable = nodes > 0;
        if self.dht_reachable == Some(reachable) {
            return;
        }
        if reachable {
            self.println(&format!("DHT: {nodes} nodes reachable"));
        } else {
            self.println("DHT: no nodes reachable yet (trackers, local discovery, PEX and --peer work without it)");
        }
        self.dht_reachable = Some(reachable);
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }
    }

    fn show(&mut self, s: &TorrentStatus) {
        // A magnet link's torrent has no size until its metadata arrives.
        let doing = if s.state == TorrentState::Connecting && s.total_bytes == 0 {
            "fetching the torrent's metadata from peers (magnet link)"
        } else {
            activity(s.state)
        };
        if self.last_activity != Some(doing) {
            self.last_activity = Some(doing);
            self.println(doing);
        }
        let line = format!(
            "{:.1}% of {} down {}/s up {}/s peers {} ({} seeds) eta {}",
            s.progress * 100.0,
            bytes(s.total_bytes),
            bytes(s.down_rate),
            bytes(s.up_rate),
            s.peers,
            s.seeds,
            s.eta_secs.map_or_else(|| "-".to_string(), eta),
        );
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(printable(&s.name).chars().take(30).collect::<String>());
                bar.set_position((s.progress * 1000.0) as u64);
                bar.set_message(format!(
                    "{} down {}/s up {}/s peers {} eta {}",
                    bytes(s.total_bytes),
                    bytes(s.down_rate),
                    bytes(s.up_rate),
                    s.peers,
                    s.eta_secs.map_or_else(|| "-".to_string(), eta)
                ));
            }
            None => self.println(&format!("{}: {line}", printable(&s.name))),
        }
    }

    fn finish(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
        if !line.is_empty() {
            eprintln!("{line}");
        }
    }
}

fn activity(state: TorrentState) -> &'static str {
    match state {
        TorrentState::Checking => "checking existing file",
        TorrentState::Allocating => "allocating files",
        TorrentState::Connecting => "connecting to peers",
        TorrentState::Downloading => "downloading",
        TorrentState::Seeding => "seeding",
        TorrentState::Paused => "paused",
        TorrentState::Queued => "queued",
        TorrentState::AwaitingSelection => "waiting for a choice of files",
        TorrentState::Error => "error",
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn eta(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
    }
}

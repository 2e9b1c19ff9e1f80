//! The command line (the original's `--port --ip --file --dfile` plus operator options) and
//! the resolved configuration `run` takes.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// bttrack: the Swarmlink tracker. Serves announce/scrape over HTTP and UDP (same port), the
/// listing page of published torrents, their .torrent files, and /publish/ for btpublish.
#[derive(Debug, Clone, Parser)]
#[command(name = "bttrack", version)]
pub struct Args {
    /// Port for HTTP (TCP) and the UDP tracker.
    #[arg(long, default_value_t = 80)]
    pub port: u16,
    /// Address or DNS name written into the URLs the tracker hands out (default: the request's Host).
    #[arg(long)]
    pub ip: Option<String>,
    /// Published torrents and their publishers (read at start, rewritten atomically on publish).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Swarm peers (snapshotted every few seconds and on shutdown, restored at start).
    #[arg(long)]
    pub dfile: Option<PathBuf>,
    /// Address to listen on (IPv4 or IPv6; `::` listens on both where the system allows).
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Seconds between announces asked of clients.
    #[arg(long, default_value_t = 1800)]
    pub interval: u32,
    /// Seconds clients must wait at least between announces.
    #[arg(long, default_value_t = 300)]
    pub min_interval: u32,
    /// Seconds after its last announce that a peer is forgotten (default: twice the interval).
    #[arg(long)]
    pub peer_timeout: Option<u64>,
    /// Most peers sent in one reply, whatever numwant asks.
    #[arg(long, default_value_t = 200)]
    pub max_numwant: usize,
    /// Shared secret publishers send in X-Publish-Key. Without it only this host may publish.
    #[arg(long, env = "BTTRACK_PUBLISH_KEY")]
    pub publish_key: Option<String>,
    /// Proxies whose X-Forwarded-For is believed.
    #[arg(long, num_args = 1..)]
    pub trust_proxy: Vec<IpAddr>,
    /// Web log file in Combined Log Format (default: stdout; `-` for none).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Track any torrent, not only published ones (as public trackers do).
    #[arg(long)]
    pub open: bool,
    /// Seconds between peer snapshots to --dfile.
    #[arg(long, default_value_t = 5)]
    pub snapshot_secs: u64,
    /// Threads serving HTTP (default: half the CPUs, at least one).
    #[arg(long)]
    pub http_threads: Option<usize>,
    /// With --open: at this many swarms, an announce for an unpublished torrent that would
    /// start one more is refused (published torrents are always tracked).
    #[arg(long, default_value_t = 1_000_000)]
    pub max_swarms: usize,
    /// With --open: most peers one address (IPv6: one /64) may hold in a swarm of an
    /// unpublished torrent; loopback is not capped; 0 for no cap.
    #[arg(long, default_value_t = 32)]
    pub max_peers_per_ip: usize,
    /// Most HTTP connections open at once (beyond one-shot announces answered on accept); more
    /// are closed as they come.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,
    /// Seconds a reply may wait for a client that does not read it before the connection is
    /// dropped.
    #[arg(long, default_value_t = 30)]
    pub write_timeout: u64,
    /// The listing page's title (also the feed's).
    #[arg(long, default_value = "Published torrents")]
    pub title: String,
    /// A short description under the listing page's title (also the feed's).
    #[arg(long, default_value = "")]
    pub about: String,
    /// Where visitors without the extension get Swarmlink: linked from the listing page,
    /// nothing is fetched from it.
    #[arg(long, value_name = "URL")]
    pub extension_url: Option<String>,
    /// Serve no listing page, feed or JSON listing (announce, scrape, .torrent files and
    /// /publish/ stay).
    #[arg(long)]
    pub hide_listing: bool,
}

/// Where the web log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    None,
    Stdout,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub public_host: Option<String>,
    pub state_file: Option<PathBuf>,
    pub peer_file: Option<PathBuf>,
    pub interval: u32,
    pub min_interval: u32,
    pub peer_timeout_secs: u64,
    pub default_numwant: usize,
    pub max_numwant: usize,
    pub publish_key: Option<String>,
    pub trust_proxy: Vec<IpAddr>,
    pub log: LogTarget,
    pub open: bool,
    pub snapshot_every: Duration,
    /// A client that has not sent its whole request head by then is dropped.
    pub header_timeout: Duration,
    pub max_publish_bytes: usize,
    /// Threads serving HTTP, each with its own single-threaded runtime.
    pub http_threads: usize,
    /// Answer one-shot announces without hyper when the whole request came in the first read.
    pub http_fast_path: bool,
    pub title: String,
    pub about: String,
    pub extension_url: Option<String>,
    pub hide_listing: bool,
    /// See `--max-swarms`.
    pub max_swarms: usize,
    /// See `--max-peers-per-ip` (0: no cap).
    pub max_peers_per_ip: usize,
    /// See `--max-connections`.
    pub max_connections: usize,
    /// A reply that makes no progress for this long drops its connection.
    pub write_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_host: None,
            state_file: None,
            peer_file: None,
            interval: 1800,
            min_interval: 300,
            peer_timeout_secs: 3600,
            default_numwant: 50,
            max_numwant: 200,
            publish_key: None,
            trust_proxy: Vec::new(),
            log: LogTarget::None,
            open: false,
            snapshot_every: Duration::from_secs(5),
            header_timeout: Duration::from_secs(5),
            max_publish_bytes: 10 << 20,
            // Half the CPUs: the kernel's TCP work for each connection runs on the others, and
            // threads sharing one listening socket wake each other for every connection (on 2
            // cores one thread served as many requests as two, with 30% less CPU).
            http_threads: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            http_fast_path: true,
            title: "Published torrents".into(),
            about: String::new(),
            extension_url: None,
            hide_listing: false,
            max_swarms: 1_000_000,
            max_peers_per_ip: 32,
            max_connections: 10_000,
            write_timeout: Duration::from_secs(30),
        }
    }
}

impl Args {
    pub fn into_config(self) -> Config {
        let log = match self.log {
            None => LogTarget::Stdout,
            Some(p) if p.as_os_str() == "-" => LogTarget::None,
            Some(p) => LogTarget::File(p),
        };
        // The public host is written into URLs with the port; a bare host gets ours.
        let public_host = self.ip.map(|h| match h.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            _ if h.contains(':') => h,
            _ => format!("{h}:{}", self.port),
        });
        Config {
            public_host,
            state_file: self.file,
            peer_file: self.dfile,
            interval: self.interval.max(1),
            min_interval: self.min_interval.min(self.interval),
            peer_timeout_secs: self
                .peer_timeout
                .unwrap_or(u64::from(self.interval) * 2)
                .max(1),
            max_numwant: self.max_numwant,
            default_numwant: 50.min(self.max_numwant),
            publish_key: self.publish_key.filter(|k| !k.is_empty()),
            trust_proxy: self.trust_proxy,
            log,
            open: self.open,
            snapshot_every: Duration::from_secs(self.snapshot_secs.max(1)),
            http_threads: self
                .http_threads
                .unwrap_or_else(|| Config::default().http_threads),
            title: self.title,
            about: self.about,
            extension_url: self.extension_url.filter(|u| !u.is_empty()),
            hide_listing: self.hide_listing,
            max_swarms: self.max_swarms,
            max_peers_per_ip: self.max_peers_per_ip,
            max_connections: self.max_connections.max(1),
            write_timeout: Duration::from_secs(self.write_timeout.max(1)),
            ..Config::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        Args::try_parse_from(std::iter::once("bttrack").chain(args.iter().copied()))
            .unwrap()
            .into_config()
    }

    #[test]
    fn every_flag_reaches_the_configuration() {
        let c = config(&[
            "--port",
            "8080",
            "--ip",
            "69.69.69.69",
            "--file",
            "btstate",
            "--dfile",
            "dstate",
            "--bind",
            "::1",
            "--interval",
            "900",
            "--min-interval",
            "60",
            "--peer-timeout",
            "120",
            "--max-numwant",
            "30",
            "--publish-key",
            "k",
            "--trust-proxy",
            "10.0.0.1",
            "::1",
            "--log",
            "web.log",
            "--open",
            "--snapshot-secs",
            "2",
            "--http-threads",
            "3",
            "--title",
            "Ann's files",
            "--about",
            "Home videos",
            "--extension-url",
            "https://swarmlink.example/get",
            "--hide-listing",
            "--max-swarms",
            "500",
            "--max-peers-per-ip",
            "4",
            "--max-connections",
            "64",
            "--write-timeout",
            "7",
        ]);
        assert_eq!(c.public_host.as_deref(), Some("69.69.69.69:8080"));
        assert_eq!(c.state_file, Some(PathBuf::from("btstate")));
        assert_eq!(c.peer_file, Some(PathBuf::from("dstate")));
        assert_eq!(
            (c.interval, c.min_interval, c.peer_timeout_secs),
            (900, 60, 120)
        );
        assert_eq!((c.max_numwant, c.default_numwant), (30, 30));
        assert_eq!(c.publish_key.as_deref(), Some("k"));
        let proxies: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        assert_eq!(c.trust_proxy, proxies);
        assert_eq!(c.log, LogTarget::File(PathBuf::from("web.log")));
        assert!(c.open);
        assert_eq!(c.snapshot_every, Duration::from_secs(2));
        assert_eq!(c.http_threads, 3);
        assert_eq!(
            (c.title.as_str(), c.about.as_str()),
            ("Ann's files", "Home videos")
        );
        assert_eq!(
            c.extension_url.as_deref(),
            Some("https://swarmlink.example/get")
        );
        assert!(c.hide_listing);
        assert_eq!((c.max_swarms, c.max_connections), (500, 64));
        assert_eq!(c.max_peers_per_ip, 4);
        assert_eq!(c.write_timeout, Duration::from_secs(7));
        let a = Args::try_parse_from(["bttrack", "--bind", "::1"]).unwrap();
        assert_eq!(a.bind, "::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn defaults_and_corrections() {
        let c = config(&[
            "--port",
            "6969",
            "--interval",
            "100",
            "--min-interval",
            "500",
        ]);
        // The web log goes to stdout unless told otherwise; `-` turns it off.
        assert_eq!(c.log, LogTarget::Stdout);
        assert_eq!(config(&["--log", "-"]).log, LogTarget::None);
        // min interval never exceeds the interval; the timeout defaults to two intervals.
        assert_eq!(
            (c.interval, c.min_interval, c.peer_timeout_secs),
            (100, 100, 200)
        );
        assert_eq!((c.max_numwant, c.default_numwant), (200, 50));
        assert!(!c.open && c.publish_key.is_none() && c.public_host.is_none());
        // An empty key is no key (only this host may publish), not a key anyone can send.
        assert!(config(&["--publish-key", ""]).publish_key.is_none());
        // --ip: a bare name or IPv4 gets the port, IPv6 gets brackets, host:port stays.
        let host = |ip: &str| config(&["--port", "81", "--ip", ip]).public_host.unwrap();
        assert_eq!(host("tracker.example"), "tracker.example:81");
        assert_eq!(host("2001:db8::1"), "[2001:db8::1]:81");
        assert_eq!(host("tracker.example:8080"), "tracker.example:8080");
        // Bad values are errors from the parser, not panics later.
        for bad in [
            &["--port", "65536"][..],
            &["--bind", "localhost"],
            &["--interval", "-1"],
            &["--trust-proxy", "proxy.example"],
            &["--max-numwant", "lots"],
        ] {
            let args = std::iter::once("bttrack").chain(bad.iter().copied());
            assert!(Args::try_parse_from(args).is_err(), "{bad:?}");
        }
    }
}

//! The command line: `btpublish [OPTIONS] FILE...` publishes and seeds; `btpublish make` only
//! writes a `.torrent`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::units::{parse_bytes, parse_piece_size};

#[derive(Debug, Parser)]
#[command(
    name = "btpublish",
    version,
    about = "Publish files on a Swarmlink tracker and seed them for as long as this runs.",
    long_about = "Publish files on a Swarmlink tracker and seed them for as long as this runs.\n\n\
        btpublish --ip 69.69.69.69 --port 5989 --location http://69.69.69.69:8080/publish/ mymovie.mpeg\n\n\
        hashes mymovie.mpeg with every core, writes mymovie.mpeg.torrent beside it, registers it at \
        the tracker, prints the link people will click, and seeds it until Ctrl-C. Several files \
        publish several torrents; a directory publishes one multi-file torrent.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub publish: PublishArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a .torrent without publishing or seeding (the job of mktorrent and btmakemetafile).
    Make(MakeArgs),
}

/// Options that shape the torrent, shared by both modes.
#[derive(Debug, Clone, Args)]
pub struct TorrentArgs {
    /// Piece size: 256K, 1M, ... (a power of two from 16K to 64M) or an exponent like 20.
    /// Default: the size mainstream tools pick (at most 2000 pieces).
    #[arg(long, value_name = "SIZE", value_parser = parse_piece_size)]
    pub piece_size: Option<u64>,
    /// Mark the torrent private (BEP 27): peers come only from its tracker.
    #[arg(long)]
    pub private: bool,
    /// A web seed URL (BEP 19); repeat for several.
    #[arg(long, value_name = "URL")]
    pub webseed: Vec<String>,
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Hashing threads (default: every core).
    #[arg(long, value_name = "N", hide = true)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct MakeArgs {
    /// The file or directory to describe.
    pub source: PathBuf,
    /// The tracker's announce URL. Without it the torrent is trackerless (as mktorrent makes
    /// them): peers come from the DHT, PEX and --webseed URLs. Required with --private.
    #[arg(long, short = 'a', value_name = "URL")]
    pub announce: Option<String>,
    /// Where to write the torrent (default: NAME.torrent in the current directory).
    #[arg(long, short = 'o', value_name = "OUT.torrent")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub torrent: TorrentArgs,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Files or directories to publish: one torrent each.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The tracker's publish URL, e.g. http://HOST:8080/publish/ (announces go to .../announce).
    #[arg(long, value_name = "URL")]
    pub location: Option<String>,
    /// The address the tracker should hand out for this publisher (default: as it sees us).
    #[arg(long, value_name = "HOST")]
    pub ip: Option<String>,
    /// The port to listen on for peers.
    #[arg(long, default_value_t = 6881)]
    pub port: u16,
    /// The tracker's publish key.
    #[arg(long, env = "BTPUBLISH_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Peers uploaded to at once, per torrent.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_uploads: usize,
    /// Upload limit in bytes per second over all torrents: 4M, 500K, ... (default: none).
    #[arg(long, value_name = "RATE", value_parser = parse_bytes)]
    pub upload_rate: Option<u64>,
    /// Peer connection encryption (MSE/PE): prefer = plaintext, retried encrypted when a peer
    /// refuses, both accepted; require = only RC4-encrypted connections; off = only plaintext.
    #[arg(long, value_name = "prefer|require|off", default_value_t = engine::EncryptionPolicy::Prefer)]
    pub encryption: engine::EncryptionPolicy,
    /// Do not ask the router (NAT-PMP, else UPnP IGD) to forward the peer port. Mapping is
    /// tried only when the publisher listens on all interfaces or a LAN address.
    #[arg(long, env = "BTPUBLISH_NO_PORT_MAPPING", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_port_mapping: bool,
    /// No uTP (BEP 29): peers connect over TCP only, and the UDP peer port is left free.
    #[arg(long, env = "BTPUBLISH_NO_UTP", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_utp: bool,
    /// Write the .torrent files here instead of beside the sources (for read-only sources).
    #[arg(long, value_name = "DIR")]
    pub torrent_dir: Option<PathBuf>,
    #[command(flatten)]
    pub torrent: TorrentArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_command_line_parses() {
        let cli = Cli::try_parse_from([
            "btpublish",
            "--ip",
            "69.69.69.69",
            "--port",
            "5989",
            "--location",
            "http://69.69.69.69:8080/publish/",
            "mymovie.mpeg",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        let p = cli.publish;
        assert_eq!(p.files, vec![PathBuf::from("mymovie.mpeg")]);
        assert_eq!(p.port, 5989);
        assert_eq!(p.ip.as_deref(), Some("69.69.69.69"));
        assert_eq!(
            p.location.as_deref(),
            Some("http://69.69.69.69:8080/publish/")
        );
    }

    #[test]
    fn make_and_its_options_parse() {
        let cli = Cli::try_parse_from([
            "btpublish",
            "make",
            "dir",
            "--announce",
            "http://t/announce",
            "-o",
            "x.torrent",
            "--piece-size",
            "256K",
            "--private",
            "--webseed",
            "http://a/",
            "--webseed",
            "http://b/",
            "--comment",
            "hi",
        ])
        .unwrap();
        let Some(Command::Make(m)) = cli.command else {
            panic!("not make: {cli:?}")
        };
        assert_eq!(m.torrent.piece_size, Some(256 << 10));
        assert!(m.torrent.private);
        assert_eq!(m.torrent.webseed.len(), 2);
        assert_eq!(m.output, Some(PathBuf::from("x.torrent")));
    }

    #[test]
    fn rates_and_bad_piece_sizes() {
        let cli = Cli::try_parse_from(["btpublish", "--upload-rate", "4M", "f"]).unwrap();
        assert_eq!(cli.publish.upload_rate, Some(4 << 20));
        assert!(Cli::try_parse_from(["btpublish", "--piece-size", "3K", "f"]).is_err());
        assert!(Cli::try_parse_from(["btpublish", "--upload-rate", "fast", "f"]).is_err());
    }

    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

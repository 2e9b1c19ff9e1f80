//! `bthelper`: the downloading peer of Swarmlink as a library. One binary (`main.rs`, which only
//! calls [`run`]) has several modes: a terminal client (`inspect`, `download`, `add`, `list`,
//! ...), the download daemon ([`daemon`]), and the native-messaging host a browser starts
//! ([`relay`]), recognised from its arguments before any command-line parsing, because a
//! browser's arguments are not ours to validate and nothing but frames may reach its stdout.
//!
//! Invariants: nothing but native-messaging frames is ever written to stdout in host mode (logs
//! go to stderr or the daemon's log file); the daemon is the only process that touches the
//! download list, settings and resume data; every message to the browser stays under 1 MiB.
//!
//! The modules are layered: [`error`] and [`api`] (messages) below everything that answers
//! requests, [`daemon`] above the engine, [`client`] and [`relay`] beside it, talking to it only
//! through the local socket (`ipc`).

pub mod api;
mod cli;
pub mod client;
pub mod daemon;
pub mod error;
mod fetch;
pub mod frame;
mod goals;
mod install;
pub mod ipc;
pub mod paths;
mod private;
pub mod relay;
pub mod settings;

use clap::{Parser, Subcommand};

use crate::cli::control::{self, Control};
use crate::cli::files::{self, FilesCommand};
use crate::cli::manage::{self, Manage};

const ENV_HELP: &str = "Environment:
  SWARMLINK_HOME       put everything (daemon socket, download list, settings, resume data, logs,
                       default download directory) under this directory instead of the XDG places
  SWARMLINK_LISTEN_IP  the address the daemon accepts peers on (default: all interfaces); on a
                       loopback address the DHT and local discovery stay on loopback too
  SWARMLINK_NO_DHT     =1: no Mainline DHT (daemon and `download`, whatever the settings say)
  SWARMLINK_NO_LSD     =1: no local service discovery (daemon and `download`)
  SWARMLINK_OPENER     a program the daemon runs for `open`/`reveal` instead of the desktop's
                       handler
  SWARMLINK_LOG        log filter (e.g. debug, bthelper=trace); logs go to stderr (the daemon's
                       to its log file)";

#[derive(Parser)]
#[command(
    name = "bthelper",
    version,
    about = "Swarmlink's BitTorrent helper: download from the terminal or the browser",
    after_help = ENV_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what a .torrent file or magnet link describes.
    Inspect(cli::inspect::Args),
    /// Download a torrent in the foreground (a .torrent file, an http(s) URL of one, or a magnet).
    Download(cli::download::Args),
    /// Run the download daemon in the foreground (browsers and terminal commands start it on demand).
    Daemon(daemon::Args),
    /// Add a .torrent file, magnet link or URL to the daemon's downloads.
    Add(control::AddArgs),
    /// List the daemon's downloads.
    List(control::ListArgs),
    /// Pause a download.
    Pause(control::TorrentArg),
    /// Resume a paused download.
    Resume(control::TorrentArg),
    /// Remove a download (its files stay unless --delete-files).
    Remove(control::RemoveArgs),
    /// List a download's files with their priorities and progress.
    Files(files::FilesArgs),
    /// Set the priority (skip, low, normal, high) of some of a download's files.
    Priority(files::PriorityArgs),
    /// Choose the files of a download that waits for a choice (or change the choice).
    Select(files::SelectArgs),
    /// Print the loopback URL that plays a file of a torrent while it downloads (adds it if needed).
    Stream(cli::stream::StreamArgs),
    /// Move a download in the queue (up, down, top, bottom).
    Queue(manage::QueueArgs),
    /// Move a download's files to another allowed folder while it runs.
    Move(manage::MoveArgs),
    /// Set a download's seed goals (ratio, seeding time), or print those that apply.
    Goals(manage::GoalsArgs),
    /// Change the daemon's settings (KEY=VALUE...), or print them.
    Set(manage::SetArgs),
    /// Register bthelper as the browsers' native-messaging host (org.swarmlink.bthelper).
    Install(install::InstallArgs),
    /// Remove the native-messaging host registrations.
    Uninstall(install::LocateArgs),
    /// Show where the host is registered, whether its manifests are sound, and whether the daemon runs.
    Doctor(install::LocateArgs),
}

/// The whole program: what `main` runs.
pub fn run() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // A browser's first argument is an origin or a manifest path, never this flag.
    docgen::intercept(<Cli as clap::CommandFactory>::command);
    if let Some(caller) = relay::started_by_browser(&args) {
        init_logging("warn");
        relay::run(&caller);
    }
    // The daemon's peers, files and clients need descriptors: the soft limit goes up to the
    // hard one (the relay above needs only a few).
    let _ = engine::raise_fd_limit();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => cli::inspect::run(args),
        Command::Download(args) => cli::download::run(args),
        Command::Daemon(args) => {
            init_logging("info");
            daemon::main(args)
        }
        Command::Add(a) => with_logging(|| control::run(Control::Add(a))),
        Command::List(a) => with_logging(|| control::run(Control::List(a))),
        Command::Pause(a) => with_logging(|| control::run(Control::Pause(a))),
        Command::Resume(a) => with_logging(|| control::run(Control::Resume(a))),
        Command::Remove(a) => with_logging(|| control::run(Control::Remove(a))),
        Command::Files(a) => with_logging(|| files::run(FilesCommand::Files(a))),
        Command::Priority(a) => with_logging(|| files::run(FilesCommand::Priority(a))),
        Command::Select(a) => with_logging(|| files::run(FilesCommand::Select(a))),
        Command::Stream(a) => with_logging(|| cli::stream::run(a)),
        Command::Queue(a) => with_logging(|| manage::run(Manage::Queue(a))),
        Command::Move(a) => with_logging(|| manage::run(Manage::Move(a))),
        Command::Goals(a) => with_logging(|| manage::run(Manage::Goals(a))),
        Command::Set(a) => with_logging(|| manage::run(Manage::Set(a))),
        Command::Install(a) => with_logging(|| install::install(a)),
        Command::Uninstall(a) => with_logging(|| install::uninstall(a)),
        Command::Doctor(a) => with_logging(|| install::doctor(a)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bthelper: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn with_logging(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    init_logging("warn");
    f()
}

/// Logs go to stderr, never stdout: in host mode stdout is the browser's channel. By default
/// only our own crates log, at `level`: libraries (the DHT's `mainline` above all, which logs
/// an ERROR whenever it cannot reach its routers, the normal case on a LAN) stay quiet, and
/// what matters reaches the user through the status instead. `SWARMLINK_LOG` (or `RUST_LOG`)
/// replaces the filter. Colour codes only on a terminal, never in a file or pipe.
pub(crate) fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWARMLINK_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter(level)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// `level` for our crates, nothing from anyone else's.
fn default_filter(level: &str) -> String {
    format!("off,bthelper={level},engine={level},protocol={level}")
}

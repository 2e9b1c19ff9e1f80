//! `bthelper`: the downloading peer. One binary, several modes: a terminal client (`inspect`,
//! `download`, ...), the download daemon, and the native-messaging host a browser starts.

mod cli;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bthelper", version, about = "Swarmlink's BitTorrent helper: download from the terminal or the browser")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what a .torrent file or magnet link describes.
    Inspect(cli::inspect::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => cli::inspect::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bthelper: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

use std::process::ExitCode;

use btpublish::cli::{Cli, Command};
use clap::Parser;

fn main() -> ExitCode {
    docgen::intercept(<Cli as clap::CommandFactory>::command);
    // Warnings of our own crates only by default: libraries (the DHT's `mainline`, which logs an
    // ERROR whenever its routers are unreachable, as on any LAN) stay out of the terminal.
    // SWARMLINK_LOG or RUST_LOG replaces the filter; colour codes only on a terminal.
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWARMLINK_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("off,btpublish=warn,engine=warn,protocol=warn")
        });
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
    // Peers and files need descriptors: the soft limit goes up to the hard one.
    let _ = engine::raise_fd_limit();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Make(args)) => btpublish::run_make::run(args),
        None => btpublish::run_publish::run(cli.publish),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("btpublish: {e:#}");
            ExitCode::FAILURE
        }
    }
}

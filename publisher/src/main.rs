use std::process::ExitCode;

use btpublish::cli::{Cli, Command};
use clap::Parser;

fn main() -> ExitCode {
    docgen::intercept(<Cli as clap::CommandFactory>::command);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
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

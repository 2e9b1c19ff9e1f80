//! `bthelper inspect`: owned by the protocol-data engineer; this placeholder only parses its arguments.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A .torrent file or a magnet link.
    pub source: PathBuf,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::bail!("inspect is not implemented yet ({})", args.source.display())
}

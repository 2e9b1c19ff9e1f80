//! The bttrack binary: parse the command line, bind TCP and UDP on the same port, run until
//! SIGINT or SIGTERM (then a last peer snapshot is written).

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use tokio::net::{TcpListener, UdpSocket};

fn main() {
    docgen::intercept(<bttrack::Args as clap::CommandFactory>::command);
    if let Err(e) = real_main() {
        eprintln!("bttrack: {e:#}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn real_main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bttrack=info".into()),
        )
        .init();
    let args = bttrack::Args::parse();
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on tcp {addr}"))?;
    // Port 0 picks a TCP port; the UDP tracker takes the same number.
    let udp_addr = SocketAddr::new(args.bind, listener.local_addr()?.port());
    let udp = UdpSocket::bind(udp_addr)
        .await
        .with_context(|| format!("binding udp {udp_addr}"))?;
    let config = args.into_config();
    bttrack::run(listener, udp, config, shutdown_signal())
        .await
        .context("tracker failed")
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

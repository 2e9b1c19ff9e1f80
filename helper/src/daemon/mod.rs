//! `bthelper daemon`: owns the engine session, the download list, settings and resume data, and
//! serves any number of clients on a Unix socket in a 0700 directory (on Windows a named pipe
//! only its user can open; `crate::ipc`).
//!
//! Exactly one daemon runs per helper root: it holds an exclusive lock on `run/daemon.lock` for
//! its whole life. A second daemon fails to take the lock and exits successfully (the one that
//! runs is what the caller wanted). The kernel drops the lock when a daemon dies, even by
//! kill -9, so the next daemon takes it and replaces the socket file that was left behind.
//! (Windows releases the lock of a killed process as well; there the lock also keeps other
//! processes from reading the pid in it, so the "already running" message may lack the pid.)

mod choose;
mod conn;
mod core;
mod detail;
mod goals;
mod moving;
mod opening;
mod publish;
mod queue;
mod signals;
mod store;
mod stream;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use engine::{Session, SessionConfig};

use self::core::Core;
use self::store::Store;
use crate::paths::Paths;

#[derive(clap::Args)]
pub struct Args {
    /// Ask the running daemon to stop (it saves resume data first) instead of starting one.
    #[arg(long)]
    pub stop: bool,
    /// Serve streams on this loopback port instead of the `stream_port` setting (0 = a free
    /// port).
    #[arg(long, value_name = "PORT")]
    pub stream_port: Option<u16>,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let paths = Paths::from_env()?;
    if args.stop {
        return stop(&paths);
    }
    match run(&paths, args.stream_port)? {
        Outcome::Stopped | Outcome::AlreadyRunning => Ok(()),
    }
}

fn stop(paths: &Paths) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let Ok(stream) = crate::client::connect(paths).await else {
            println!("no daemon is running");
            return Ok(());
        };
        let mut client = crate::client::Client::new(stream);
        // The daemon may close the connection before its reply is written; either way, what
        // counts is that it goes away.
        let _ = client.call(serde_json::json!({"cmd": "shutdown"})).await;
        // The lock is released when the daemon process ends: wait for that.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while crate::client::connect(paths).await.is_ok() {
            if std::time::Instant::now() > deadline {
                anyhow::bail!("the daemon did not stop within 30 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        println!("daemon stopped");
        Ok(())
    })
}

/// What `run` found: started and later stopped, or another daemon already serving.
pub enum Outcome {
    Stopped,
    AlreadyRunning,
}

/// `stream_port` overrides the setting of that name.
pub fn run(paths: &Paths, stream_port: Option<u16>) -> anyhow::Result<Outcome> {
    paths.create_run_dir()?;
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(paths.lock_file())
        .with_context(|| format!("opening {}", paths.lock_file().display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(paths.lock_file()).unwrap_or_default();
            let pid = pid.trim();
            tracing::info!(pid, "a daemon is already running");
            if pid.is_empty() {
                eprintln!("bthelper: a daemon is already running");
            } else {
                eprintln!("bthelper: a daemon is already running (pid {pid})");
            }
            return Ok(Outcome::AlreadyRunning);
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).context("locking the daemon lock file");
        }
    }
    // We hold the lock, so any socket file is a dead daemon's leftover.
    lock.set_len(0)?;
    write!(lock, "{}", std::process::id())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(serve(paths, stream_port));
    crate::ipc::cleanup(paths);
    drop(lock);
    result.map(|()| Outcome::Stopped)
}

/// The address peers connect to: every interface, unless `SWARMLINK_LISTEN_IP` names one (tests
/// keep the daemon on loopback with it).
fn listen_ip() -> anyhow::Result<std::net::IpAddr> {
    match std::env::var("SWARMLINK_LISTEN_IP") {
        Ok(ip) if !ip.is_empty() => ip
            .parse()
            .with_context(|| format!("SWARMLINK_LISTEN_IP={ip:?} is not an IP address")),
        _ => Ok(std::net::IpAddr::from([0, 0, 0, 0])),
    }
}

/// An environment switch like `bthelper download`'s (`SWARMLINK_NO_DHT=1`): set, non-empty,
/// and not `0`/`false`. Tests use it to keep daemons off the DHT and the LAN.
fn turned_off(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

async fn serve(paths: &Paths, stream_port: Option<u16>) -> anyhow::Result<()> {
    let store = Store::open(&paths.state_dir)?;
    let settings = store.load_settings(&paths.default_download_dir)?;
    let entries = store.load_entries()?;
    std::fs::create_dir_all(&settings.download_dir)
        .with_context(|| format!("creating {}", settings.download_dir.display()))?;

    let mut config = SessionConfig {
        listen: SocketAddr::new(listen_ip()?, settings.listen_port),
        download_dir: settings.download_dir.clone(),
        state_dir: Some(store.resume_dir()),
        download_rate_limit: settings.download_rate_limit,
        upload_rate_limit: settings.upload_rate_limit,
        encryption: settings.encryption,
        // With SWARMLINK_LISTEN_IP on loopback, the DHT and LSD stay on loopback too.
        dht: (settings.dht && !turned_off("SWARMLINK_NO_DHT")).then(|| {
            let port = (settings.dht_port != 0).then_some(settings.dht_port);
            engine::DhtConfig::with_bootstrap(settings.dht_bootstrap.clone(), port)
        }),
        lsd: (settings.lsd && !turned_off("SWARMLINK_NO_LSD")).then(engine::LsdConfig::default),
        port_mapping: settings.port_mapping && !turned_off("SWARMLINK_NO_PORT_MAPPING"),
        ..SessionConfig::default()
    };
    let session = match Session::start(config.clone()).await {
        Ok(s) => s,
        Err(error) if settings.listen_port != 0 => {
            tracing::warn!(%error, "listen port taken; using any free port");
            config.listen.set_port(0);
            Session::start(config).await?
        }
        Err(error) => return Err(error.into()),
    };
    tracing::info!(addr = %session.local_addr(), "engine listening");

    let stream_port = stream_port.unwrap_or(settings.stream_port);
    let core = Core::new(session, store, entries, settings);
    core.restore().await;
    let streaming = stream::start(Arc::clone(&core), stream_port).await?;
    let _ = core.stream.set(streaming);

    let mut listener = crate::ipc::Listener::bind(paths)?;
    tracing::info!(socket = %paths.socket().display(), pid = std::process::id(), "daemon ready");

    tokio::spawn(Arc::clone(&core).publish());
    tokio::spawn(Arc::clone(&core).run_queue());
    let mut stop = core.shutdown_signal();
    let mut signals = signals::Signals::new()?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    tokio::spawn(conn::serve(Arc::clone(&core), stream));
                }
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
            _ = stop.changed() => break,
            () = signals.stop_requested() => break,
        }
    }
    tracing::info!("daemon stopping");
    drop(listener);
    crate::ipc::cleanup(paths);
    core.session().shutdown().await;
    Ok(())
}

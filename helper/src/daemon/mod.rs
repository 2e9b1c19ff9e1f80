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

mod add;
mod choose;
mod commands;
mod conn;
mod detail;
mod goals;
mod moving;
mod opening;
mod publish;
mod queue;
mod signals;
mod state;
mod store;
mod stream;
#[cfg(test)]
mod tests_push;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use engine::{Session, SessionConfig};

use self::state::Core;
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
    match run_locked(&paths, Options::from_env(args.stream_port)?)? {
        Outcome::Stopped | Outcome::AlreadyRunning => Ok(()),
    }
}

/// How a daemon runs besides its paths: what `bthelper daemon` takes from its flags and the
/// environment, and what a test sets directly (no environment is read once a daemon runs).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the `stream_port` setting (0 = a free port).
    pub stream_port: Option<u16>,
    /// The address peers connect to; `None` = every interface. On loopback the DHT and local
    /// discovery stay on loopback too.
    pub listen_ip: Option<std::net::IpAddr>,
    /// No Mainline DHT, no local service discovery, no port mapping, whatever the settings say.
    pub no_dht: bool,
    pub no_lsd: bool,
    pub no_port_mapping: bool,
    pub no_utp: bool,
}

impl Options {
    /// `SWARMLINK_LISTEN_IP`, `SWARMLINK_NO_DHT`, `SWARMLINK_NO_LSD`,
    /// `SWARMLINK_NO_PORT_MAPPING`, `SWARMLINK_NO_UTP`, and the `--stream-port` flag.
    pub fn from_env(stream_port: Option<u16>) -> anyhow::Result<Options> {
        Ok(Options {
            stream_port,
            listen_ip: listen_ip()?,
            no_dht: turned_off("SWARMLINK_NO_DHT"),
            no_lsd: turned_off("SWARMLINK_NO_LSD"),
            no_port_mapping: turned_off("SWARMLINK_NO_PORT_MAPPING"),
            no_utp: turned_off("SWARMLINK_NO_UTP"),
        })
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

/// Takes the daemon lock of `paths`, binds its socket and serves until asked to stop (a
/// `shutdown` command, SIGTERM/SIGINT or Ctrl-C); or finds another daemon holding the lock.
pub fn run_locked(paths: &Paths, options: Options) -> anyhow::Result<Outcome> {
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
    let result = runtime.block_on(async {
        let listener = crate::ipc::Listener::bind(paths)?;
        let mut signals = signals::Signals::new()?;
        run(listener, paths, options, signals.stop_requested()).await
    });
    crate::ipc::cleanup(paths);
    drop(lock);
    result.map(|()| Outcome::Stopped)
}

/// The address peers connect to: every interface, unless `SWARMLINK_LISTEN_IP` names one (tests
/// keep the daemon on loopback with it).
fn listen_ip() -> anyhow::Result<Option<std::net::IpAddr>> {
    match std::env::var("SWARMLINK_LISTEN_IP") {
        Ok(ip) if !ip.is_empty() => ip
            .parse()
            .map(Some)
            .with_context(|| format!("SWARMLINK_LISTEN_IP={ip:?} is not an IP address")),
        _ => Ok(None),
    }
}

/// An environment switch like `bthelper download`'s (`SWARMLINK_NO_DHT=1`): set, non-empty,
/// and not `0`/`false`. Tests use it to keep daemons off the DHT and the LAN.
fn turned_off(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The daemon itself: serves the clients `listener` accepts until a client's `shutdown` command
/// or until `shutdown` completes, then stops the engine (resume data saved). The caller holds the
/// daemon lock of `paths` (`run_locked`); tests call this with a listener in a temporary root.
pub async fn run(
    mut listener: crate::ipc::Listener,
    paths: &Paths,
    options: Options,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let store = Store::open(&paths.state_dir)?;
    let settings = store.load_settings(&paths.default_download_dir)?;
    let entries = store.load_entries()?;
    std::fs::create_dir_all(&settings.download_dir)
        .with_context(|| format!("creating {}", settings.download_dir.display()))?;

    let mut config = SessionConfig {
        listen: SocketAddr::new(
            (options.listen_ip).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
            settings.listen_port,
        ),
        download_dir: settings.download_dir.clone(),
        state_dir: Some(store.resume_dir()),
        download_rate_limit: settings.download_rate_limit,
        upload_rate_limit: settings.upload_rate_limit,
        encryption: settings.encryption,
        // With SWARMLINK_LISTEN_IP on loopback, the DHT and LSD stay on loopback too.
        dht: (settings.dht && !options.no_dht).then(|| {
            let port = (settings.dht_port != 0).then_some(settings.dht_port);
            engine::DhtConfig::with_bootstrap(settings.dht_bootstrap.clone(), port)
        }),
        lsd: (settings.lsd && !options.no_lsd).then(engine::LsdConfig::default),
        port_mapping: settings.port_mapping && !options.no_port_mapping,
        utp: !options.no_utp,
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

    let stream_port = options.stream_port.unwrap_or(settings.stream_port);
    let core = Core::new(session, store, entries, settings);
    core.restore().await;
    let streaming = stream::start(Arc::clone(&core), stream_port).await?;
    let _ = core.stream.set(streaming);

    tracing::info!(socket = %crate::ipc::endpoint(paths).display(), pid = std::process::id(), "daemon ready");

    tokio::spawn(Arc::clone(&core).forward_events());
    tokio::spawn(Arc::clone(&core).publish_progress());
    tokio::spawn(Arc::clone(&core).run_queue());
    let mut stop = core.shutdown_signal();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    tokio::spawn(conn::serve(Arc::clone(&core), stream));
                }
                Err(error) => tracing::warn!(%error, "accept failed"),
            },
            _ = stop.changed() => break,
            () = &mut shutdown => break,
        }
    }
    tracing::info!("daemon stopping");
    drop(listener);
    crate::ipc::cleanup(paths);
    core.session().shutdown().await;
    Ok(())
}

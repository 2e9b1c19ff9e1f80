//! The client side of the daemon's socket (or pipe), shared by the browser relay and the terminal
//! commands: find the daemon (starting it detached when absent) and exchange framed messages.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::frame::{self, MAX_FROM_BROWSER, MAX_TO_BROWSER};
use crate::ipc::{self, Stream};
use crate::paths::Paths;
use anyhow::{bail, Context};
use serde_json::Value;

/// A daemon log past this size is rotated when the next daemon starts.
const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;

/// How long a fresh daemon may take to open its socket (it restores every download first).
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `session` with a client of the daemon (started if none answers) on a single-threaded
/// runtime: the one way in for the terminal commands that talk to the daemon.
pub fn with_daemon<T, F>(session: impl FnOnce(Client) -> F) -> anyhow::Result<T>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let paths = Paths::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = Client::new(connect_or_start(&paths).await?);
        session(client).await
    })
}

/// Connects to the running daemon, starting one if none answers.
pub async fn connect_or_start(paths: &Paths) -> anyhow::Result<Stream> {
    if let Ok(stream) = ipc::connect(paths).await {
        return Ok(stream);
    }
    let mut child = start_daemon(paths)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(stream) = ipc::connect(paths).await {
            reap_later(child);
            return Ok(stream);
        }
        // A daemon that lost the start race exits 0 while the winner opens the socket, so only
        // a failing exit is an error.
        if let Ok(Some(status)) = child.try_wait() {
            if !status.success() {
                bail!(
                    "the daemon exited ({status}); see {}",
                    paths.daemon_log().display()
                );
            }
        }
        if Instant::now() > deadline {
            reap_later(child);
            bail!(
                "the daemon did not open {} within {:?}; see {}",
                crate::ipc::endpoint(paths).display(),
                START_TIMEOUT,
                paths.daemon_log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Connects to a running daemon without starting one.
pub async fn connect(paths: &Paths) -> std::io::Result<Stream> {
    ipc::connect(paths).await
}

/// Starts `bthelper daemon` detached: its own process group (so a browser killing the relay's
/// group leaves it running), no terminal or console, output appended to the daemon log.
pub fn start_daemon(paths: &Paths) -> anyhow::Result<std::process::Child> {
    crate::private::create_dir(&paths.log_dir)
        .with_context(|| format!("creating {}", paths.log_dir.display()))?;
    // One previous log is kept; a log is never allowed to grow without bound across starts.
    let log_path = paths.daemon_log();
    if std::fs::metadata(&log_path).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        let _ = std::fs::rename(&log_path, log_path.with_extension("log.old"));
    }
    let log = crate::private::file_options()
        .create(true)
        .append(true)
        .open(paths.daemon_log())
        .with_context(|| format!("opening {}", paths.daemon_log().display()))?;
    let exe = std::env::current_exe().context("finding the bthelper executable")?;
    let mut command = Command::new(exe);
    command
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let child = spawn_detached(command).context("starting the daemon")?;
    tracing::info!(pid = child.id(), "started the daemon");
    Ok(child)
}

#[cfg(unix)]
fn spawn_detached(mut command: Command) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    command.process_group(0).spawn()
}

/// Windows: no console (DETACHED_PROCESS; CREATE_NO_WINDOW for good measure), its own process
/// group (a Ctrl-C or Ctrl-Break sent to the relay's group does not reach it), and out of the
/// browser's job object: Firefox (and Chrome, when it does not break the host away itself) runs
/// the host in a job that is killed with the port, and only CREATE_BREAKAWAY_FROM_JOB lets the
/// daemon outlive it. A job that forbids breaking away makes that spawn fail with access denied;
/// then the daemon starts inside the job (it lives as long as the browser keeps the host).
#[cfg(windows)]
fn spawn_detached(mut command: Command) -> std::io::Result<std::process::Child> {
    use std::os::windows::process::CommandExt;
    use windows_sys::Win32::System::Threading::{
        CREATE_BREAKAWAY_FROM_JOB, CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, DETACHED_PROCESS,
    };
    let flags = DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW;
    match command
        .creation_flags(flags | CREATE_BREAKAWAY_FROM_JOB)
        .spawn()
    {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            tracing::warn!("the job object forbids breaking away; the daemon starts inside it");
            command.creation_flags(flags).spawn()
        }
        spawned => spawned,
    }
}

/// The daemon outlives us normally; if it exits first, don't leave a zombie behind.
fn reap_later(mut child: std::process::Child) {
    std::thread::spawn(move || child.wait());
}

/// A request/reply conversation with the daemon (terminal commands and tests).
pub struct Client {
    stream: Stream,
    next_id: u64,
}

impl Client {
    pub fn new(stream: Stream) -> Client {
        Client { stream, next_id: 1 }
    }

    /// Sends `request` (an object; its `id` is set here) and returns the matching reply's
    /// `result`, or the daemon's error as an error. Events arriving meanwhile are skipped.
    pub async fn call(&mut self, mut request: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        request["id"] = Value::from(id);
        let bytes = serde_json::to_vec(&request)?;
        frame::write_frame(&mut self.stream, &bytes, MAX_FROM_BROWSER).await?;
        loop {
            let payload = frame::read_frame(&mut self.stream, MAX_TO_BROWSER)
                .await?
                .context("the daemon closed the connection")?;
            let reply: Value =
                serde_json::from_slice(&payload).context("the daemon sent bad JSON")?;
            if reply.get("id") != Some(&Value::from(id)) {
                continue;
            }
            if reply.get("ok") == Some(&Value::Bool(true)) {
                return Ok(reply.get("result").cloned().unwrap_or(Value::Null));
            }
            let error = &reply["error"];
            bail!(
                "{} ({})",
                error["message"].as_str().unwrap_or("unknown error"),
                error["code"].as_str().unwrap_or("?")
            );
        }
    }
}

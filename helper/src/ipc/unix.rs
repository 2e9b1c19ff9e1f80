//! Unix: a socket file in the run directory, which `Paths::create_run_dir` keeps at 0700; the
//! socket itself is 0600 as well, in case the directory's mode is ever loosened.

use std::path::PathBuf;

use anyhow::Context;
use tokio::net::{UnixListener, UnixStream};

use crate::paths::Paths;

/// A client's connection (`into_split()` gives owned halves).
pub type Stream = UnixStream;

pub fn endpoint(paths: &Paths) -> PathBuf {
    paths.run_dir.join("daemon.sock")
}

pub async fn connect(paths: &Paths) -> std::io::Result<Stream> {
    UnixStream::connect(endpoint(paths)).await
}

pub fn cleanup(paths: &Paths) {
    let _ = std::fs::remove_file(endpoint(paths));
}

pub struct Listener {
    inner: UnixListener,
}

impl Listener {
    /// Binds the socket. The caller holds the daemon lock, so an existing socket file is a dead
    /// daemon's leftover and is replaced.
    pub fn bind(paths: &Paths) -> anyhow::Result<Listener> {
        use std::os::unix::fs::PermissionsExt;
        let socket = endpoint(paths);
        let _ = std::fs::remove_file(&socket);
        let inner =
            UnixListener::bind(&socket).with_context(|| format!("binding {}", socket.display()))?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", socket.display()))?;
        Ok(Listener { inner })
    }

    pub async fn accept(&mut self) -> std::io::Result<UnixStream> {
        self.inner.accept().await.map(|(stream, _)| stream)
    }
}

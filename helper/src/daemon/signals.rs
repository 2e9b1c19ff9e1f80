//! What stops the daemon from outside besides the `shutdown` command: SIGTERM and Ctrl-C on
//! Unix (a hangup is logged, not fatal: a daemon started from a terminal must outlive it); on
//! Windows Ctrl-C, Ctrl-Break and the console closing (a daemon started detached has no console
//! and is stopped with `bthelper daemon --stop`).

pub struct Signals {
    #[cfg(unix)]
    sigterm: tokio::signal::unix::Signal,
    #[cfg(unix)]
    sighup: tokio::signal::unix::Signal,
    #[cfg(windows)]
    ctrl_break: tokio::signal::windows::CtrlBreak,
    #[cfg(windows)]
    ctrl_close: tokio::signal::windows::CtrlClose,
}

impl Signals {
    #[cfg(unix)]
    pub fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            sigterm: signal(SignalKind::terminate())?,
            sighup: signal(SignalKind::hangup())?,
        })
    }

    #[cfg(windows)]
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            ctrl_break: tokio::signal::windows::ctrl_break()?,
            ctrl_close: tokio::signal::windows::ctrl_close()?,
        })
    }

    /// Resolves when the daemon should stop.
    #[cfg(unix)]
    pub async fn stop_requested(&mut self) {
        loop {
            tokio::select! {
                _ = self.sigterm.recv() => return,
                _ = tokio::signal::ctrl_c() => return,
                _ = self.sighup.recv() => tracing::info!("hangup ignored"),
            }
        }
    }

    #[cfg(windows)]
    pub async fn stop_requested(&mut self) {
        tokio::select! {
            _ = self.ctrl_break.recv() => {}
            _ = self.ctrl_close.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
}

//! Native-messaging host mode: what runs when a browser starts `bthelper`. It relays bytes
//! between the browser (stdin/stdout) and the daemon's socket, starting the daemon if needed.
//!
//! The daemon speaks the browser's framing on its socket, so the relay copies bytes without
//! parsing them: one process validates frames (the daemon), and the relay has nothing to get
//! wrong. Browsers kill the host about 2 s after the port closes, so no state lives here.
//! Nothing but frames is ever written to stdout; logs go to stderr, which browsers capture.

use crate::paths::Paths;

/// How a browser starts a native host: Chromium passes the caller's origin
/// (`chrome-extension://<id>/`, and on Windows `--parent-window=N`), Firefox the host manifest's
/// path and the add-on's id. Returns the caller's identity for the log.
pub fn started_by_browser(args: &[std::ffi::OsString]) -> Option<String> {
    let first = args.get(1)?.to_str()?;
    if first.starts_with("chrome-extension://") {
        return Some(first.to_owned());
    }
    let second = args.get(2).and_then(|a| a.to_str());
    if first.ends_with(".json") && std::path::Path::new(first).is_absolute() {
        if let Some(addon) = second.filter(|s| !s.starts_with('-')) {
            return Some(format!("firefox add-on {addon}"));
        }
    }
    None
}

/// Runs the relay to completion and exits the process: stdin's reader thread cannot be
/// cancelled, so returning normally could wait on it forever after the daemon hangs up.
pub fn run(caller: &str) -> ! {
    let code = match relay(caller) {
        Ok(()) => 0,
        Err(error) => {
            tracing::error!("relay: {error:#}");
            tell_browser(&error);
            1
        }
    };
    std::process::exit(code)
}

/// When no daemon can be reached, the browser gets one reply-shaped frame saying why (id null,
/// code `daemon_unavailable`) before the port closes, so the extension can show the reason.
fn tell_browser(error: &anyhow::Error) {
    use std::io::Write;
    let reply = crate::api::error_reply(
        &serde_json::Value::Null,
        &crate::api::ApiError::new(
            crate::api::ErrorCode::DaemonUnavailable,
            format!("the Swarmlink helper could not start its daemon: {error:#}"),
        ),
    );
    let Ok(payload) = serde_json::to_vec(&reply) else {
        return;
    };
    if let Ok(frame) = crate::frame::encode(&payload, crate::frame::MAX_TO_BROWSER) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(&frame);
        let _ = stdout.flush();
    }
}

fn relay(caller: &str) -> anyhow::Result<()> {
    tracing::info!(caller, "native-messaging host started");
    let paths = Paths::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let stream = crate::client::connect_or_start(&paths).await?;
        let (mut from_daemon, mut to_daemon) = stream.into_split();
        let mut stdin = tokio::io::stdin();
        let mut stdout = tokio::io::stdout();
        tokio::select! {
            up = tokio::io::copy(&mut stdin, &mut to_daemon) => {
                tracing::info!(bytes = ?up.ok(), "browser closed the port");
            }
            down = tokio::io::copy(&mut from_daemon, &mut stdout) => {
                tracing::info!(bytes = ?down.ok(), "daemon closed the connection");
            }
        }
        use tokio::io::AsyncWriteExt;
        let _ = stdout.flush().await;
        anyhow::Ok(())
    });
    // Dropping the runtime normally would wait for the blocked stdin reader thread.
    runtime.shutdown_background();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<std::ffi::OsString> {
        a.iter().map(Into::into).collect()
    }

    #[test]
    fn recognises_how_browsers_start_hosts() {
        let chrome = args(&[
            "bthelper",
            "chrome-extension://lndipfiddjhiiddghlniicdhbfpnielh/",
        ]);
        assert!(started_by_browser(&chrome).is_some());
        let windows = args(&["bthelper", "chrome-extension://abc/", "--parent-window=5"]);
        assert!(started_by_browser(&windows).is_some());
        let firefox = args(&[
            "bthelper",
            "/home/u/.mozilla/native-messaging-hosts/org.swarmlink.bthelper.json",
            "swarmlink@swarmlink.org",
        ]);
        assert_eq!(
            started_by_browser(&firefox).as_deref(),
            Some("firefox add-on swarmlink@swarmlink.org")
        );
        for terminal in [
            args(&["bthelper", "list"]),
            args(&["bthelper", "inspect", "x.json"]),
            args(&["bthelper", "/tmp/x.json"]),
            args(&["bthelper"]),
        ] {
            assert!(started_by_browser(&terminal).is_none(), "{terminal:?}");
        }
    }
}

//! `open` and `reveal`, and the mark of origin on finished files.
//!
//! "Open" hands a file to the desktop, which *runs* programs and scripts: a torrent named
//! `movie.mkv.exe`, `setup.lnk` or `install.sh` (or any file with an execute bit) would run with
//! one click in the popup. So `open` refuses those unless the request carries
//! `"confirm_executable": true`, with the error code `confirm_executable` and a message naming the
//! file type, for the extension to ask the user. Paths come from the daemon's own records, never
//! from the message, and a symbolic link where the download should be is never opened.
//!
//! Finished files carry the mark browsers give downloads, so the desktop warns before running
//! one just as it does for a browser download: Linux `user.xdg.origin.url` (the freedesktop
//! convention, shown by file managers), macOS `com.apple.quarantine` (Gatekeeper), Windows a
//! `Zone.Identifier` stream with `ZoneId=3` (SmartScreen, Office's protected view). A file system
//! without extended attributes or streams just goes without (logged).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::state::Core;
use crate::api::{ApiError, ErrorCode};

/// Extensions the desktop runs (or hands to an interpreter) when a file is opened, with what to
/// call them in the question to the user.
const RUNNABLE: &[(&str, &str)] = &[
    ("exe", "Windows program"),
    ("com", "Windows program"),
    ("scr", "Windows screen saver (a program)"),
    ("msi", "Windows installer"),
    ("bat", "Windows batch script"),
    ("cmd", "Windows batch script"),
    ("lnk", "Windows shortcut"),
    ("js", "Windows script"),
    ("jse", "Windows script"),
    ("vbs", "Windows script"),
    ("wsf", "Windows script"),
    ("ps1", "PowerShell script"),
    ("hta", "HTML application"),
    ("desktop", "desktop launcher"),
    ("sh", "shell script"),
    ("appimage", "Linux program (AppImage)"),
    ("jar", "Java program"),
];

/// What kind of program `path` is, e.g. "Windows program (.exe)", or `None` for a document. A
/// file with an execute bit is a program whatever its name.
pub fn runnable_kind(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok();
    if meta.as_ref().is_some_and(|m| m.is_dir()) {
        return None;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if let Some((e, kind)) = RUNNABLE.iter().find(|(e, _)| e.eq_ignore_ascii_case(ext)) {
        return Some(format!("{kind} (.{e})"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.is_some_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0) {
            return Some("executable file (execute permission set)".to_owned());
        }
    }
    None
}

impl Core {
    /// `open` opens a finished torrent's file (or directory); `reveal` opens the directory that
    /// holds it. Both paths come from the daemon's own records, never from the message.
    pub(super) async fn open(
        &self,
        info_hash: &str,
        reveal: bool,
        confirm_executable: bool,
    ) -> Result<Value, ApiError> {
        let ih = self.known(info_hash).await?;
        let status = self.session.status(ih).ok_or_else(|| {
            ApiError::new(ErrorCode::UnknownTorrent, "the torrent is not running")
        })?;
        let hex = ih.to_hex();
        let (save_dir, source_url) = {
            let state = self.state.lock().await;
            match state.entries.iter().find(|e| e.info_hash == hex) {
                Some(e) => (
                    e.save_dir.clone(),
                    e.source_url.clone().or(e.magnet.clone()),
                ),
                None => return Err(ApiError::new(ErrorCode::UnknownTorrent, "no such torrent")),
            }
        };
        let target = if reveal {
            save_dir
        } else {
            if status.progress < 1.0 {
                return Err(ApiError::new(
                    ErrorCode::NotComplete,
                    format!("{} is not complete yet", status.name),
                ));
            }
            let target = PathBuf::from(&status.save_path);
            if std::fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(ApiError::new(
                    ErrorCode::Internal,
                    format!("{} is a symbolic link; not opened", target.display()),
                ));
            }
            if let Some(kind) = runnable_kind(&target).filter(|_| !confirm_executable) {
                return Err(ApiError::new(
                    ErrorCode::ConfirmExecutable,
                    format!(
                        "{} is a {kind}: opening it runs it. Open it only if you trust where it came from.",
                        protocol::text::printable(&status.name)
                    ),
                ));
            }
            // Marked at completion already; again here in case the daemon was not running then.
            if let Some(url) = &source_url {
                mark_origin(&target, url);
            }
            target
        };
        open_path(&target).map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot open {}: {e}", target.display()),
            )
        })?;
        Ok(json!({"path": target}))
    }

    /// Marks the finished torrent's files with where they came from (off the async threads).
    pub(super) async fn mark_finished(&self, ih: protocol::InfoHash) {
        let hex = ih.to_hex();
        let url = {
            let state = self.state.lock().await;
            state
                .entries
                .iter()
                .find(|e| e.info_hash == hex)
                .and_then(|e| e.source_url.clone().or(e.magnet.clone()))
        };
        let (Some(url), Some(status)) = (url, self.session.status(ih)) else {
            return;
        };
        let path = status.save_path;
        let _ = tokio::task::spawn_blocking(move || mark_origin(&path, &url)).await;
    }
}

/// Most files one mark walks: a torrent's tree is bounded by its metainfo, but the walk must not
/// wander through whatever else a user put in the directory.
const MARK_LIMIT: usize = 100_000;

/// Marks `path` (a file, or every regular file below a directory; links are neither followed nor
/// marked) as downloaded from `url`.
pub fn mark_origin(path: &Path, url: &str) {
    let mut stack = vec![path.to_path_buf()];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > MARK_LIMIT {
            tracing::warn!(path = %path.display(), "too many files to mark them all");
            return;
        }
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if meta.is_file() {
            if let Err(error) = origin::mark(&p, url) {
                tracing::info!(path = %p.display(), %error, "no mark of origin (unsupported here?)");
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod origin {
    use std::path::Path;

    /// The freedesktop.org convention for downloaded files (shown by file managers, read by
    /// desktop security tools).
    pub const ATTRIBUTE: &str = "user.xdg.origin.url";

    pub fn mark(path: &Path, url: &str) -> std::io::Result<()> {
        // `l`: a link is never followed (and links are skipped before this anyway).
        rustix::fs::lsetxattr(
            path,
            ATTRIBUTE,
            url.as_bytes(),
            rustix::fs::XattrFlags::empty(),
        )
        .map_err(std::io::Error::from)
    }
}

#[cfg(target_os = "macos")]
mod origin {
    use std::path::Path;

    /// Gatekeeper's quarantine flag: `flags;hex time;agent;`. 0081 = downloaded, not yet
    /// approved by the user.
    pub fn mark(path: &Path, _url: &str) -> std::io::Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let value = format!("0081;{now:x};Swarmlink;");
        rustix::fs::lsetxattr(
            path,
            "com.apple.quarantine",
            value.as_bytes(),
            rustix::fs::XattrFlags::empty(),
        )
        .map_err(std::io::Error::from)
    }
}

#[cfg(windows)]
mod origin {
    use std::path::Path;

    /// The Internet zone (3) in the file's `Zone.Identifier` stream, as browsers write it: the
    /// shell, SmartScreen and Office then treat the file as downloaded.
    pub fn mark(path: &Path, url: &str) -> std::io::Result<()> {
        let mut stream = path.as_os_str().to_owned();
        stream.push(":Zone.Identifier");
        // A URL with a line break would add lines of its own to the stream.
        let url: String = url.chars().filter(|c| !c.is_control()).collect();
        std::fs::write(
            stream,
            format!("[ZoneTransfer]\r\nZoneId=3\r\nHostUrl={url}\r\n"),
        )
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod origin {
    pub fn mark(_path: &std::path::Path, _url: &str) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// Opens a path with the desktop's handler. `SWARMLINK_OPENER` names a program to run instead
/// (tests use it to observe what would be opened without starting a file manager).
fn open_path(path: &Path) -> std::io::Result<()> {
    match std::env::var_os("SWARMLINK_OPENER").filter(|v| !v.is_empty()) {
        Some(program) => {
            let mut child = std::process::Command::new(program).arg(path).spawn()?;
            std::thread::spawn(move || child.wait());
            Ok(())
        }
        None => open::that_detached(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_and_scripts_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, b"x").unwrap();
            path
        };
        assert_eq!(
            runnable_kind(&p("setup.EXE")).unwrap(),
            "Windows program (.exe)"
        );
        assert_eq!(
            runnable_kind(&p("a.lnk")).unwrap(),
            "Windows shortcut (.lnk)"
        );
        assert_eq!(
            runnable_kind(&p("x.AppImage")).unwrap(),
            "Linux program (AppImage) (.appimage)"
        );
        for name in [
            "a.bat",
            "a.cmd",
            "a.com",
            "a.js",
            "a.jse",
            "a.vbs",
            "a.wsf",
            "a.msi",
            "a.ps1",
            "a.scr",
            "a.hta",
            "a.desktop",
            "a.sh",
            "a.jar",
        ] {
            assert!(runnable_kind(&p(name)).is_some(), "{name}");
        }
        assert_eq!(runnable_kind(&p("movie.mkv")), None);
        assert_eq!(runnable_kind(&p("notes.txt")), None);
        assert_eq!(
            runnable_kind(dir.path()),
            None,
            "a directory is browsed, not run"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let script = p("harmless-looking.mp3");
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert!(runnable_kind(&script)
                .unwrap()
                .contains("execute permission"));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn finished_files_carry_their_origin() {
        // The real file system of the temp dir (tmpfs has user xattrs only since Linux 6.6).
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.bin"), b"a").unwrap();
        std::fs::write(dir.path().join("sub/b.bin"), b"b").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("c"), b"c").unwrap();
        std::os::unix::fs::symlink(outside.path().join("c"), dir.path().join("link")).unwrap();
        let url = "https://example.org/a.torrent";
        let read = |p: &Path| -> Option<Vec<u8>> {
            let mut buf = vec![0; 256];
            let n = rustix::fs::lgetxattr(p, origin::ATTRIBUTE, &mut buf).ok()?;
            buf.truncate(n);
            Some(buf)
        };
        if rustix::fs::lsetxattr(
            dir.path().join("a.bin"),
            "user.probe",
            b"1",
            rustix::fs::XattrFlags::empty(),
        )
        .is_err()
        {
            eprintln!(
                "skipped: {} has no user extended attributes",
                dir.path().display()
            );
            return;
        }
        mark_origin(dir.path(), url);
        assert_eq!(read(&dir.path().join("a.bin")).unwrap(), url.as_bytes());
        assert_eq!(read(&dir.path().join("sub/b.bin")).unwrap(), url.as_bytes());
        assert_eq!(
            read(&outside.path().join("c")),
            None,
            "links are not followed"
        );
    }
}

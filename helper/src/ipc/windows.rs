//! Windows: a named pipe per user and helper root, `\\.\pipe\swarmlink-<user>-<hash of the run
//! directory>`, that only the current user can open and that refuses remote (SMB) clients.
//!
//! Access: the pipe is created with the security descriptor `D:P(A;;GA;;;OW)`: a protected DACL
//! (nothing inherited) with one entry granting everything to OWNER RIGHTS, i.e. to the pipe's
//! owner, which is the creating token's default owner: the user running the daemon (for an
//! elevated administrator it is the Administrators group, whose members could already do
//! anything to this user). Everyone else, including other users' relays, gets access denied
//! when opening the pipe. Without it the default DACL would also grant read access to Everyone
//! and the anonymous logon. Wine 8 stores a pipe's DACL but does not enforce it (a pipe with
//! the empty DACL `D:P` still opens), and runs every process as one user: the tests under Wine
//! read the descriptor back from the daemon's pipe and check that the owner connects; that other
//! users are refused is Windows' access check, untested here (see the README's Windows section).
//!
//! One daemon per root: the daemon lock file decides (as on Unix; `LockFileEx` under the hood),
//! and the first instance of the pipe is created with FILE_FLAG_FIRST_PIPE_INSTANCE, so on
//! Windows a second daemon that somehow got past the lock fails to create the pipe instead of
//! serving beside the first. (Wine 8 ignores that flag; there the lock alone does it.)
//!
//! Known limit (as for any per-user pipe name): a process of another user that creates the name
//! before our daemon starts could squat it; our daemon then fails to start (first instance) and
//! says so in its log. Clients connect with the default SECURITY_IDENTIFICATION quality of
//! service, so such a server can identify but never impersonate them, and they send nothing to
//! a server that does not run as their own user (`windows_owner.rs`).

// The workspace denies unsafe code; Win32 calls need it here: building the security descriptor
// from SDDL (and freeing it), handing it to CreateNamedPipeW through tokio, and the user's name.
#![allow(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};
use windows_sys::Win32::Foundation::{LocalFree, ERROR_ACCESS_DENIED, ERROR_PIPE_BUSY};
use windows_sys::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES};

use crate::paths::Paths;

#[path = "windows_owner.rs"]
mod owner;

/// Protected DACL, full access for the owner only (see the module comment).
const OWNER_ONLY_SDDL: &str = "D:P(A;;GA;;;OW)";

/// How long a client keeps retrying while every pipe instance is busy (the daemon creates the
/// next instance right after each connection, so this is a short window, not a queue).
const BUSY_WAIT: Duration = Duration::from_secs(5);

pub fn endpoint(paths: &Paths) -> PathBuf {
    PathBuf::from(pipe_name(&paths.run_dir))
}

/// Per user (pipe names are machine-wide) and per helper root (tests and `SWARMLINK_HOME` users
/// run separate daemons). Windows paths are case-insensitive, so the hash is over the lowercase
/// path; FNV-1a because it must be the same in every process and every build.
fn pipe_name(run_dir: &Path) -> String {
    let user: String = user_name()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let key = run_dir.to_string_lossy().to_lowercase();
    format!(r"\\.\pipe\swarmlink-{user}-{:016x}", fnv1a(key.as_bytes()))
}

/// The account's name from the process token (GetUserNameW), so that relays started with
/// different environments (a browser's, a terminal's) agree; `USERNAME` only if that fails.
fn user_name() -> String {
    use windows_sys::Win32::System::WindowsProgramming::GetUserNameW;
    let mut buf = [0u16; 257]; // UNLEN + 1
    let mut len = buf.len() as u32;
    // SAFETY: `buf` has room for `len` UTF-16 units; on success `len` counts those written,
    // including the terminating NUL.
    let ok = unsafe { GetUserNameW(buf.as_mut_ptr(), &mut len) };
    if ok != 0 && len > 0 {
        return String::from_utf16_lossy(&buf[..len as usize - 1]);
    }
    std::env::var("USERNAME").unwrap_or_default()
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Pipes disappear with their last handle: nothing to remove.
pub fn cleanup(_paths: &Paths) {}

/// A client's end of the pipe. A newtype rather than `NamedPipeClient` itself so that it offers
/// `into_split()` like `UnixStream` does.
pub struct Stream(NamedPipeClient);

impl Stream {
    pub fn into_split(self) -> (tokio::io::ReadHalf<Stream>, tokio::io::WriteHalf<Stream>) {
        tokio::io::split(self)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Connects to the daemon's pipe, and refuses it (before sending anything) unless the process
/// serving it runs as this user (`windows_owner.rs`).
pub async fn connect(paths: &Paths) -> io::Result<Stream> {
    let name = pipe_name(&paths.run_dir);
    let deadline = Instant::now() + BUSY_WAIT;
    loop {
        match ClientOptions::new().open(&name) {
            Ok(client) => return checked(client, &name).map(Stream),
            Err(e)
                if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)
                    && Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn checked(client: NamedPipeClient, name: &str) -> io::Result<NamedPipeClient> {
    let refused = |why: String| io::Error::new(io::ErrorKind::PermissionDenied, why);
    match owner::server_is_this_user(&client) {
        Ok(true) => Ok(client),
        Ok(false) => Err(refused(format!(
            "{name} is served by a process of another user: not talking to it"
        ))),
        Err(e) => Err(refused(format!(
            "cannot tell which user serves {name} ({e}): not talking to it"
        ))),
    }
}

/// A security descriptor built from SDDL, owned (LocalAlloc'd by Windows, freed on drop).
pub(crate) struct SecurityDescriptor(pub(crate) PSECURITY_DESCRIPTOR);

// The descriptor is plain memory that nothing mutates after creation.
unsafe impl Send for SecurityDescriptor {}
unsafe impl Sync for SecurityDescriptor {}

impl SecurityDescriptor {
    pub(crate) fn from_sddl(sddl: &str) -> io::Result<SecurityDescriptor> {
        let wide: Vec<u16> = sddl.encode_utf16().chain(Some(0)).collect();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated and outlives the call; on success `sd` receives a
        // descriptor allocated with LocalAlloc, which `Drop` frees exactly once.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                wide.as_ptr(),
                SDDL_REVISION_1,
                &mut sd,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 || sd.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(SecurityDescriptor(sd))
    }
}

impl Drop for SecurityDescriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
        unsafe {
            LocalFree(self.0);
        }
    }
}

pub struct Listener {
    name: String,
    security: SecurityDescriptor,
    /// The instance the next client connects to (a pipe instance serves one client).
    next: NamedPipeServer,
}

impl Listener {
    pub fn bind(paths: &Paths) -> anyhow::Result<Listener> {
        let name = pipe_name(&paths.run_dir);
        let security = SecurityDescriptor::from_sddl(OWNER_ONLY_SDDL)
            .context("building the pipe's owner-only security descriptor")?;
        let next = match create(&name, &security, true) {
            Ok(server) => server,
            Err(e) if e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => {
                anyhow::bail!("{name} already exists: another daemon (or another program) owns it")
            }
            Err(e) => return Err(e).with_context(|| format!("creating the pipe {name}")),
        };
        Ok(Listener {
            name,
            security,
            next,
        })
    }

    pub async fn accept(&mut self) -> io::Result<NamedPipeServer> {
        let connected = self.next.connect().await;
        // Whatever happened to this instance, the next client gets a fresh one.
        let fresh = create(&self.name, &self.security, false)?;
        let server = std::mem::replace(&mut self.next, fresh);
        connected.map(|()| server)
    }
}

/// One instance of the pipe: byte mode (the framing is ours), local clients only.
fn create(name: &str, security: &SecurityDescriptor, first: bool) -> io::Result<NamedPipeServer> {
    let mut attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: security.0,
        bInheritHandle: 0,
    };
    let mut options = ServerOptions::new();
    options
        .first_pipe_instance(first)
        .reject_remote_clients(true);
    // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES for the duration of the call, and its
    // descriptor outlives it (CreateNamedPipeW copies what it needs).
    unsafe {
        options
            .create_with_security_attributes_raw(name, std::ptr::from_mut(&mut attributes).cast())
    }
}

//! The daemon's local transport, the one place that knows the platform: a Unix socket in a 0700
//! directory, or on Windows a named pipe only the current user can open. Both ends see plain
//! byte streams (`AsyncRead + AsyncWrite`) carrying the browser's framing, so the daemon's
//! connection handler, the relay and the terminal commands are the same code everywhere.
//!
//! - `Listener::bind(paths)` (daemon) and `listener.accept()` give a server-side stream;
//! - `connect(paths)` (clients) gives a `Stream` that has `into_split()`;
//! - `endpoint(paths)` names the socket path or pipe name for logs and `doctor`;
//! - `cleanup(paths)` removes what a stopped daemon leaves behind (the socket file; pipes vanish
//!   with their last handle).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use self::unix::{cleanup, connect, endpoint, Listener, Stream};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use self::windows::SecurityDescriptor;
#[cfg(windows)]
pub use self::windows::{cleanup, connect, endpoint, Listener, Stream};

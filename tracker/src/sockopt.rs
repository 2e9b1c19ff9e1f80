//! Socket options neither std, tokio, nix nor socket2 expose: `TCP_DEFER_ACCEPT` on the HTTP
//! listener.
//!
//! With it, the kernel completes a connection's accept only once the client's first bytes
//! (its request) have arrived. Without it, about 8% of connection-per-request announces were
//! accepted before their request: each then cost a reactor registration, a wake-up and a task
//! instead of the fast path's accept, recv, send, close. Measured with `bench/tracker.sh`, close
//! mode, together with the fast path's `MSG_MORE` (see `accept::send_reply`): 24-27 µs of
//! tracker CPU per request down to 17-22 µs on a loaded 2-core machine (bench/results/tracker.md).
//! A client that connects and stays silent is held in the SYN queue (no socket, no task) until
//! the deadline, then accepted as before and dropped by the header timeout.

use std::io;
use std::os::fd::AsRawFd;

/// Sets `TCP_DEFER_ACCEPT` to `secs` on a listening socket (Linux; elsewhere a no-op).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
pub fn defer_accept(listener: &impl AsRawFd, secs: u32) -> io::Result<()> {
    let secs = libc::c_int::try_from(secs).unwrap_or(libc::c_int::MAX);
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the fd is a live socket borrowed for the call; the option value points to a c_int
    // on our stack that outlives the call, and `len` is its exact size.
    let r = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            std::ptr::from_ref(&secs).cast::<libc::c_void>(),
            len,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn defer_accept(_listener: &impl AsRawFd, _secs: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn sets_the_option_and_reports_a_bad_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        defer_accept(&l, 5).unwrap();
        // A UDP socket has no TCP options: the error comes back instead of being ignored.
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(defer_accept(&u, 5).is_err());
    }
}

//! The HTTP accept loop: every connection the listener has queued is taken in one wake-up, and
//! a one-shot announce already fully received is answered on the spot (see `fast_path`), with
//! a blocking-mode socket that is never registered with the reactor: `accept4`, `recvfrom`,
//! `sendto`, `close`. Every other connection becomes non-blocking and goes to hyper in a task
//! of its own, with whatever was read first.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{recv, send, MsgFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::fast_path;
use crate::server::serve_connection;
use crate::state::Tracker;

/// Largest first read: a client's announce head is 200 to 800 bytes; longer requests are
/// completed by hyper.
const FIRST_READ: usize = 2048;
/// Connections accepted per wake-up before other tasks (hyper's connections) get a turn.
const ACCEPT_BUDGET: usize = 64;

/// Accepts connections until `shutdown` turns true.
pub async fn serve(listener: TcpListener, t: Arc<Tracker>, mut shutdown: watch::Receiver<bool>) {
    // Bound to one address, every connection's local address is that one: no getsockname per
    // connection (it shows in the per-request syscall count when clients close every time).
    let fixed_local = listener
        .local_addr()
        .ok()
        .filter(|a| !a.ip().is_unspecified());
    // AsyncFd::new is deprecated because a type that merely names an fd it does not own could
    // close it while registered; a std TcpListener owns its fd, so registering it is sound (the
    // replacement, `register`, is an unsafe fn, and this crate denies unsafe code).
    #[allow(deprecated)]
    let listener = match listener.into_std().and_then(AsyncFd::new) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("http listener: {e}");
            return;
        }
    };
    loop {
        let mut ready = tokio::select! {
            r = listener.readable() => match r {
                Ok(g) => g,
                Err(e) => {
                    tracing::error!("http listener: {e}");
                    return;
                }
            },
            _ = shutdown.changed() => return,
        };
        let mut exhausted = true;
        for _ in 0..ACCEPT_BUDGET {
            match listener.get_ref().accept() {
                Ok((stream, remote)) => connection(&t, stream, remote, fixed_local),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready.clear_ready();
                    exhausted = false;
                    break;
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    exhausted = false;
                    break;
                }
            }
        }
        drop(ready);
        if exhausted {
            // Connections still queued: let hyper's tasks run first.
            tokio::task::yield_now().await;
        }
    }
}

/// One accepted connection (a blocking-mode socket: accept does not inherit O_NONBLOCK).
fn connection(
    t: &Arc<Tracker>,
    stream: TcpStream,
    remote: SocketAddr,
    fixed_local: Option<SocketAddr>,
) {
    let local = |stream: &TcpStream| fixed_local.or_else(|| stream.local_addr().ok());
    if !t.config.http_fast_path {
        let local = local(&stream);
        let Some(slot) = t.connection_slot() else {
            return; // dropped: closed
        };
        if let Some(stream) = nonblocking(stream, remote) {
            let t = t.clone();
            tokio::spawn(async move {
                serve_connection(t, stream, remote, local, Vec::new()).await;
                drop(slot);
            });
        }
        return;
    }
    let mut buf = [0u8; FIRST_READ];
    match recv(stream.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
        // Closed before sending anything: nothing to answer or log.
        Ok(0) => {}
        Ok(n) => {
            let head = buf.get(..n).unwrap_or_default();
            // The stream comes back when hyper is to serve it.
            let unanswered = REPLY.with(|r| {
                let Ok(mut reply) = r.try_borrow_mut() else {
                    return Some(stream);
                };
                if !fast_path::answer_into(t, head, remote, &mut reply) {
                    return Some(stream);
                }
                send_reply(t, stream, &reply);
                None
            });
            if let Some(stream) = unanswered {
                let (local, prefix) = (local(&stream), head.to_vec());
                let Some(slot) = t.connection_slot() else {
                    return;
                };
                if let Some(stream) = nonblocking(stream, remote) {
                    let t = t.clone();
                    tokio::spawn(async move {
                        serve_connection(t, stream, remote, local, prefix).await;
                        drop(slot);
                    });
                }
            }
        }
        // Accepted before its request arrived: wait for it, then try the fast path again.
        Err(Errno::EAGAIN) => {
            let local = local(&stream);
            let Some(slot) = t.connection_slot() else {
                return;
            };
            if let Some(stream) = nonblocking(stream, remote) {
                let t = t.clone();
                tokio::spawn(async move {
                    late_request(t, stream, remote, local).await;
                    drop(slot);
                });
            }
        }
        Err(_) => {}
    }
}

/// A connection whose request had not arrived when it was accepted.
async fn late_request(
    t: Arc<Tracker>,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    local: Option<SocketAddr>,
) {
    let mut buf = [0u8; FIRST_READ];
    let first = tokio::time::timeout(t.config.header_timeout, async {
        loop {
            stream.readable().await?;
            match stream.try_read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return r,
            }
        }
    });
    let n = match first.await {
        Ok(Ok(n)) if n > 0 => n,
        // Closed, reset, or silent until the header timeout (nothing of a request to log).
        _ => return,
    };
    let head = buf.get(..n).unwrap_or_default();
    match fast_path::answer(&t, head, remote) {
        Some(reply) => {
            t.metrics.http_fast.fetch_add(1, Ordering::Relaxed);
            let mut stream = stream;
            let _ = tokio::time::timeout(t.config.write_timeout, stream.write_all(&reply)).await;
        }
        None => serve_connection(t, stream, remote, local, head.to_vec()).await,
    }
}

thread_local! {
    /// The fast path's reply buffer, reused from connection to connection on this thread.
    static REPLY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Sends a fast-path reply (the caller then closes). A fresh connection's send buffer takes a
/// reply whole; if not, the rest goes out from a task.
///
/// `MSG_MORE` holds the reply in the socket until the `close` that follows, which then sends
/// it with the FIN in one segment: on loopback (and any path) that is one segment through the
/// stack and one ACK back instead of two of each, most of the kernel time a one-shot announce
/// costs the tracker beside accept. No extra system call; `close` always pushes what is held.
fn send_reply(t: &Tracker, stream: TcpStream, reply: &[u8]) {
    t.metrics.http_fast.fetch_add(1, Ordering::Relaxed);
    let flags = MsgFlags::MSG_DONTWAIT
        | MsgFlags::MSG_NOSIGNAL
        | MsgFlags::from_bits_retain(libc::MSG_MORE);
    let rest = |sent: usize| reply.get(sent..).unwrap_or_default().to_vec();
    match send(stream.as_raw_fd(), reply, flags) {
        Ok(sent) if sent == reply.len() => {}
        Ok(sent) => finish_write(stream, rest(sent)),
        Err(Errno::EAGAIN) => finish_write(stream, rest(0)),
        Err(_) => {}
    }
}

fn nonblocking(stream: TcpStream, remote: SocketAddr) -> Option<tokio::net::TcpStream> {
    match stream
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpStream::from_std(stream))
    {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::debug!("connection from {remote}: {e}");
            None
        }
    }
}

/// Sends the rest of a fast-path reply the kernel did not take at once, then closes.
fn finish_write(stream: TcpStream, rest: Vec<u8>) {
    let Some(mut stream) = nonblocking(stream, SocketAddr::from(([0, 0, 0, 0], 0))) else {
        return;
    };
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(30), stream.write_all(&rest)).await;
        let _ = stream.shutdown().await;
    });
}

//! One uTP connection as the peer code sees it: [`UtpStream`], an `AsyncRead + AsyncWrite`
//! that clones into a reading and a writing half; and the per-connection timer task.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use protocol::utp::{Connection, UtpError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::Shared;

/// A connection and who waits on it.
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    /// Wakes the timer task when the connection's next deadline may have moved.
    timer: Notify,
    addr: SocketAddr,
    recv_id: u16,
}

struct SlotState {
    conn: Connection,
    reader: Option<Waker>,
    /// The writer, or the dialer waiting for the SYN's answer.
    writer: Option<Waker>,
}

impl Slot {
    pub(crate) fn new(conn: Connection, addr: SocketAddr) -> Arc<Slot> {
        let recv_id = conn.recv_id();
        Arc::new(Slot {
            state: Mutex::new(SlotState {
                conn,
                reader: None,
                writer: None,
            }),
            timer: Notify::new(),
            addr,
            recv_id,
        })
    }

    pub(crate) fn recv_id(&self) -> u16 {
        self.recv_id
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // A panic while holding it would be a bug in this file; the state is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn handle_datagram(&self, now: std::time::Instant, bytes: &[u8]) {
        let _ = self.lock().conn.handle_datagram(now, bytes);
    }

    /// After datagrams: send the acks (and data the window now allows), wake whoever can go on.
    pub(crate) fn after_input(&self, shared: &Shared, now: std::time::Instant) {
        let mut st = self.lock();
        shared.flush(&mut st.conn, self.addr, now);
        st.wake();
        drop(st);
        self.timer.notify_one();
    }
}

impl SlotState {
    fn wake(&mut self) {
        if self.conn.readable() > 0 || self.conn.read_closed() {
            if let Some(w) = self.reader.take() {
                w.wake();
            }
        }
        if self.conn.writable() || self.conn.is_connected() || self.conn.is_closed() {
            if let Some(w) = self.writer.take() {
                w.wake();
            }
        }
    }
}

/// What the stream's clones share; its drop closes the connection.
pub(crate) struct Handle {
    slot: Arc<Slot>,
    shared: Weak<Shared>,
}

impl Handle {
    pub(crate) fn new(slot: Arc<Slot>, shared: &Arc<Shared>) -> Handle {
        Handle {
            slot,
            shared: Arc::downgrade(shared),
        }
    }

    fn flush(&self, st: &mut SlotState) {
        if let Some(shared) = self.shared.upgrade() {
            shared.flush(&mut st.conn, self.slot.addr, now());
        }
        self.slot.timer.notify_one();
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut st = self.slot.lock();
        if st.conn.is_connected() {
            st.conn.close(now());
        } else {
            st.conn.reset();
        }
        self.flush(&mut st);
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// A uTP connection as a byte stream. Clones share the connection: one may read while another
/// writes (the peer task's halves); the last one dropped closes it (FIN after what was written).
#[derive(Clone)]
pub struct UtpStream {
    handle: Arc<Handle>,
}

impl UtpStream {
    pub(crate) fn new(handle: Handle) -> UtpStream {
        UtpStream {
            handle: Arc::new(handle),
        }
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.handle.slot.addr
    }

    pub(crate) fn flush_now(&self) {
        let mut st = self.handle.slot.lock();
        self.handle.flush(&mut st);
    }

    /// Aborts the connection with a RESET.
    pub(crate) fn reset_now(&self) {
        let mut st = self.handle.slot.lock();
        st.conn.reset();
        self.handle.flush(&mut st);
    }

    /// Resolves when the SYN was answered, or fails when the connection gave up.
    pub(crate) async fn connected(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| {
            let mut st = self.handle.slot.lock();
            if st.conn.is_connected() {
                return Poll::Ready(Ok(()));
            }
            if st.conn.is_closed() {
                return Poll::Ready(Err(to_io(st.conn.error())));
            }
            st.writer = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

fn to_io(e: Option<UtpError>) -> io::Error {
    match e {
        Some(UtpError::Reset) => io::Error::new(io::ErrorKind::ConnectionReset, "uTP reset"),
        Some(UtpError::ConnectTimedOut) => {
            io::Error::new(io::ErrorKind::TimedOut, "uTP peer did not answer")
        }
        Some(UtpError::TimedOut) => io::Error::new(io::ErrorKind::TimedOut, "uTP peer went silent"),
        None => io::Error::new(io::ErrorKind::BrokenPipe, "uTP connection closed"),
    }
}

impl AsyncRead for UtpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut st = self.handle.slot.lock();
        let n = st.conn.read(buf.initialize_unfilled());
        if n > 0 {
            buf.advance(n);
            // The read may have opened our window: tell the peer.
            self.handle.flush(&mut st);
            return Poll::Ready(Ok(()));
        }
        if st.conn.read_closed() {
            return match st.conn.error() {
                Some(e) => Poll::Ready(Err(to_io(Some(e)))),
                None => Poll::Ready(Ok(())),
            };
        }
        st.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for UtpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut st = self.handle.slot.lock();
        if st.conn.is_closed() {
            return Poll::Ready(Err(to_io(st.conn.error())));
        }
        let n = st.conn.write(buf);
        if n > 0 || buf.is_empty() {
            self.handle.flush(&mut st);
            return Poll::Ready(Ok(n));
        }
        st.writer = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.handle.slot.lock();
        st.conn.close(now());
        self.handle.flush(&mut st);
        Poll::Ready(Ok(()))
    }
}

/// Runs the connection's timers until it is closed, then forgets it at the socket.
pub(crate) fn spawn_timer(slot: Arc<Slot>, shared: Weak<Shared>, key: (SocketAddr, u16)) {
    tokio::spawn(async move {
        loop {
            let deadline = {
                let st = slot.lock();
                if st.conn.is_closed() {
                    break;
                }
                st.conn.poll_timeout()
            };
            // Without a deadline the connection waits on the peer or the application, both of
            // which notify; the minute is only a backstop.
            let until = deadline.map_or_else(
                || tokio::time::Instant::now() + Duration::from_secs(60),
                tokio::time::Instant::from_std,
            );
            tokio::select! {
                _ = tokio::time::sleep_until(until) => {}
                _ = slot.timer.notified() => {}
            }
            let Some(s) = shared.upgrade() else { break };
            let now = now();
            let mut st = slot.lock();
            if st.conn.poll_timeout().is_some_and(|t| t <= now) {
                st.conn.handle_timeout(now);
                s.flush(&mut st.conn, slot.addr, now);
            }
            st.wake();
        }
        // One last flush: the ack of the peer's FIN, or our RESET.
        if let Some(s) = shared.upgrade() {
            let mut st = slot.lock();
            tracing::debug!("uTP {} closed: {}", slot.addr, st.conn.stats());
            s.flush(&mut st.conn, slot.addr, now());
            st.wake();
            drop(st);
            s.remove(key);
        }
    });
}

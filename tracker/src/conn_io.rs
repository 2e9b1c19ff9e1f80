//! The connection's socket as hyper sees it, minus one syscall where it is safe to drop, plus
//! what the web log needs to record a request hyper refuses before our service sees it.
//!
//! Before closing, hyper calls `shutdown(SHUT_WR)`. That matters when the client may still have
//! unread bytes in our receive buffer (a body we refused, say): closing with unread data sends
//! RST, and an RST can destroy the reply before the client reads it, while a shutdown first
//! delivers the reply and the FIN. After a request without a body that was read whole, nothing is
//! left to read, and close alone sends the same FIN: the shutdown is a wasted syscall on every
//! connection-per-request announce (most announces, from clients that close each time).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};

/// How much of the connection's first bytes is kept for the log (the request line's start).
const FIRST_LINE_MAX: usize = 512;

/// What a connection's socket wrapper and its service share (one task, so uncontended atomics).
#[derive(Default)]
pub struct ConnState {
    /// Set by the service for each request, from [`last_and_bodyless`].
    skip_shutdown: AtomicBool,
    /// Reads that returned data (or end of stream) so far.
    reads: AtomicU64,
    /// `reads` when the last request was answered; more since then means a request was under
    /// way when the connection ended (an idle keep-alive connection completes no read).
    answered_at: AtomicU64,
    /// The first line the client sent, kept only when the web log is on.
    first_line: Option<OnceLock<Box<str>>>,
    /// The last write found the socket full (the client is not reading).
    write_blocked: AtomicBool,
    /// Writes that went through, to tell a stalled reply from a slow one.
    writes: AtomicU64,
}

impl ConnState {
    /// `keep_first_line`: capture the start of the first bytes (for the web log).
    pub fn new(keep_first_line: bool) -> ConnState {
        ConnState {
            first_line: keep_first_line.then(OnceLock::new),
            ..ConnState::default()
        }
    }

    /// The service saw a request (its head read whole).
    pub fn on_request<B>(&self, req: &http::Request<B>) {
        self.skip_shutdown
            .store(last_and_bodyless(req), Ordering::Relaxed);
    }

    /// The service answered (any body it wanted was read).
    pub fn on_answered(&self) {
        // Never 0 once a request was answered: `refused_line` tells "none answered" by 0.
        let reads = self.reads.load(Ordering::Relaxed).max(1);
        self.answered_at.store(reads, Ordering::Relaxed);
    }

    /// Whether bytes of a request nobody answered arrived (not just an idle connection).
    pub fn unanswered_bytes(&self) -> bool {
        self.reads.load(Ordering::Relaxed) > self.answered_at.load(Ordering::Relaxed)
    }

    /// Sleeps until a reply has made no progress for a whole `timeout` (the client reads
    /// nothing); never returns while the connection keeps moving. No clock read per write: a
    /// timer per `timeout` compares write counts.
    pub async fn write_stalled(&self, timeout: std::time::Duration) {
        loop {
            let seen = self.writes.load(Ordering::Relaxed);
            tokio::time::sleep(timeout).await;
            if self.write_blocked.load(Ordering::Relaxed)
                && self.writes.load(Ordering::Relaxed) == seen
            {
                return;
            }
        }
    }

    fn on_write<T>(&self, r: &Poll<io::Result<T>>) {
        match r {
            Poll::Pending => self.write_blocked.store(true, Ordering::Relaxed),
            Poll::Ready(_) => {
                self.write_blocked.store(false, Ordering::Relaxed);
                self.writes.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The request line to log for a request hyper refused: the first line of the connection
    /// when no request was answered before (else it is unknown).
    pub fn refused_line(&self) -> Option<&str> {
        if self.answered_at.load(Ordering::Relaxed) != 0 {
            return None;
        }
        self.first_line.as_ref()?.get().map(|l| &**l)
    }
}

pub struct ConnIo<T> {
    inner: T,
    state: Arc<ConnState>,
    /// Bytes read before hyper took the connection (the fast path's look), served first.
    prefix: Vec<u8>,
    prefix_at: usize,
}

impl<T> ConnIo<T> {
    pub fn new(inner: T, state: Arc<ConnState>, prefix: Vec<u8>) -> Self {
        ConnIo {
            inner,
            state,
            prefix,
            prefix_at: 0,
        }
    }

    /// Hands out the next part of the prefix.
    fn read_prefix(&mut self, mut buf: ReadBufCursor<'_>) {
        let rest = self.prefix.get(self.prefix_at..).unwrap_or_default();
        let chunk = rest
            .get(..buf.remaining().min(rest.len()))
            .unwrap_or_default();
        if self.prefix_at == 0 {
            self.keep_first_line(chunk);
        }
        buf.put_slice(chunk);
        self.prefix_at += chunk.len();
    }

    fn keep_first_line(&self, got: &[u8]) {
        if let (Some(cell), false) = (&self.state.first_line, got.is_empty()) {
            let line = got
                .split(|&b| b == b'\r' || b == b'\n')
                .next()
                .unwrap_or(got);
            let line = line.get(..FIRST_LINE_MAX).unwrap_or(line);
            let _ = cell.set(String::from_utf8_lossy(line).into());
        }
    }
}

impl<T: Read + Unpin> ConnIo<T> {
    /// The first read, through a small buffer of our own so its start can be kept.
    fn poll_first_read(
        &mut self,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut tmp = [0u8; FIRST_LINE_MAX];
        let n = buf.remaining().min(FIRST_LINE_MAX);
        let mut rb = ReadBuf::new(&mut tmp[..n]);
        ready!(Pin::new(&mut self.inner).poll_read(cx, rb.unfilled()))?;
        let got = rb.filled();
        self.keep_first_line(got);
        buf.put_slice(got);
        Poll::Ready(Ok(()))
    }
}

/// Whether the connection can close without a shutdown after answering `req`: it is the last
/// request (the client asked to close) and it carries no body (so once its head is parsed, it was
/// read whole). Keep-alive connections keep the shutdown: their end comes later, for reasons
/// (a timeout, an oversized next request) that may leave bytes unread.
pub fn last_and_bodyless<B>(req: &http::Request<B>) -> bool {
    let headers = req.headers();
    let connection = headers
        .get(http::header::CONNECTION)
        .map(|v| v.as_bytes().to_ascii_lowercase());
    let closes = match req.version() {
        http::Version::HTTP_10 => {
            !connection.is_some_and(|c| c.windows(10).any(|w| w == b"keep-alive"))
        }
        _ => connection.is_some_and(|c| c.windows(5).any(|w| w == b"close")),
    };
    closes
        && !headers.contains_key(http::header::TRANSFER_ENCODING)
        && headers
            .get(http::header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
}

impl<T: Read + Unpin> Read for ConnIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let first = (self.state.first_line.as_ref()).is_some_and(|c| c.get().is_none());
        if self.prefix_at < self.prefix.len() {
            self.read_prefix(buf);
        } else if first {
            ready!(self.poll_first_read(cx, buf))?;
        } else {
            ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        }
        self.state.reads.fetch_add(1, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

impl<T: Write + Unpin> Write for ConnIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.state.on_write(&r);
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.state.on_write(&r);
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.state.skip_shutdown.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.state.on_write(&r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closing_request_without_body_skips_the_shutdown() {
        let req = |v: http::Version, headers: &[(&str, &str)]| {
            let mut b = http::Request::builder().version(v);
            for (k, val) in headers {
                b = b.header(*k, *val);
            }
            b.body(()).unwrap()
        };
        const HTTP_10: http::Version = http::Version::HTTP_10;
        const HTTP_11: http::Version = http::Version::HTTP_11;
        assert!(last_and_bodyless(&req(HTTP_11, &[("connection", "Close")])));
        assert!(last_and_bodyless(&req(HTTP_10, &[])));
        assert!(!last_and_bodyless(&req(HTTP_11, &[])));
        assert!(!last_and_bodyless(&req(
            HTTP_10,
            &[("connection", "keep-alive")]
        )));
        assert!(!last_and_bodyless(&req(
            HTTP_11,
            &[("connection", "close"), ("content-length", "5")]
        )));
        assert!(!last_and_bodyless(&req(
            HTTP_11,
            &[("connection", "close"), ("transfer-encoding", "chunked")]
        )));
    }
}

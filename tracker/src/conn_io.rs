//! The connection's socket as hyper sees it, minus one syscall where it is safe to drop.
//!
//! Before closing, hyper calls `shutdown(SHUT_WR)`. That matters when the client may still have
//! unread bytes in our receive buffer (a body we refused, say): closing with unread data sends
//! RST, and an RST can destroy the reply before the client reads it, while a shutdown first
//! delivers the reply and the FIN. After a request without a body that was read whole, nothing is
//! left to read, and close alone sends the same FIN: the shutdown is a wasted syscall on every
//! connection-per-request announce (most announces, from clients that close each time).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};

pub struct ConnIo<T> {
    inner: T,
    /// Set by the service for each request, from [`last_and_bodyless`].
    skip_shutdown: Arc<AtomicBool>,
}

impl<T> ConnIo<T> {
    pub fn new(inner: T, skip_shutdown: Arc<AtomicBool>) -> Self {
        ConnIo {
            inner,
            skip_shutdown,
        }
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
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for ConnIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.skip_shutdown.load(Ordering::Relaxed) {
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
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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

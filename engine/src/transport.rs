//! What a peer connection runs over, TCP or uTP, as one type the MSE handshake and the peer
//! task read and write without knowing which.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::utp::UtpStream;

/// What a peer connection runs over.
pub enum Transport {
    Tcp(TcpStream),
    Utp(UtpStream),
}

impl From<TcpStream> for Transport {
    fn from(t: TcpStream) -> Transport {
        Transport::Tcp(t)
    }
}

impl From<UtpStream> for Transport {
    fn from(u: UtpStream) -> Transport {
        Transport::Utp(u)
    }
}

/// A transport's receiving half.
pub(crate) enum ReadIo {
    Tcp(OwnedReadHalf),
    Utp(UtpStream),
}

/// A transport's sending half.
pub(crate) enum WriteIo {
    Tcp(OwnedWriteHalf),
    Utp(UtpStream),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(t) => Pin::new(t).poll_read(cx, buf),
            Transport::Utp(u) => Pin::new(u).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Tcp(t) => Pin::new(t).poll_write(cx, buf),
            Transport::Utp(u) => Pin::new(u).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(t) => Pin::new(t).poll_flush(cx),
            Transport::Utp(u) => Pin::new(u).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Tcp(t) => Pin::new(t).poll_shutdown(cx),
            Transport::Utp(u) => Pin::new(u).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for ReadIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadIo::Tcp(t) => Pin::new(t).poll_read(cx, buf),
            ReadIo::Utp(u) => Pin::new(u).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteIo::Tcp(t) => Pin::new(t).poll_write(cx, buf),
            WriteIo::Utp(u) => Pin::new(u).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteIo::Tcp(t) => Pin::new(t).poll_flush(cx),
            WriteIo::Utp(u) => Pin::new(u).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteIo::Tcp(t) => Pin::new(t).poll_shutdown(cx),
            WriteIo::Utp(u) => Pin::new(u).poll_shutdown(cx),
        }
    }
}

//! A peer connection's byte stream: TCP, RC4-encrypted after an MSE handshake or plain. The
//! peer task reads and writes it like a socket and never knows which it got.
//!
//! Writing encrypted bytes has one subtlety: RC4 is a stream cipher, so each byte must be
//! encrypted exactly once and in order. A write that the socket takes only partly keeps the
//! encrypted remainder and reports only what went out; the caller (`write_all`) offers the
//! rest again, which must be the same bytes (checked: a mismatch is an error, never a silently
//! desynchronised stream).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use protocol::wire::mse::Rc4;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::transport::{ReadIo, Transport, WriteIo};

/// Most plaintext taken per write: the peer task writes batches of up to 256 KiB.
const WRITE_CHUNK: usize = 256 * 1024;

/// A connection to a peer, plaintext or RC4.
pub struct PeerStream {
    reader: PeerReader,
    writer: PeerWriter,
}

/// The receiving half: decrypts what it reads when the stream is RC4.
pub struct PeerReader {
    tcp: ReadIo,
    /// Boxed: the 256-byte RC4 state would make every stream (and the command carrying an
    /// incoming one) large.
    decrypt: Option<Box<Rc4>>,
}

/// The sending half: encrypts what it writes when the stream is RC4.
pub struct PeerWriter {
    tcp: WriteIo,
    encrypt: Option<Box<Encrypting>>,
}

struct Encrypting {
    rc4: Rc4,
    /// The plaintext of the chunk being written and its ciphertext; `sent` bytes are out.
    plain: Vec<u8>,
    cipher: Vec<u8>,
    sent: usize,
}

impl PeerStream {
    /// A plaintext connection.
    pub fn plain(io: impl Into<Transport>) -> PeerStream {
        PeerStream::new(io, None)
    }

    /// A connection after MSE: `Some((encrypt_outgoing, decrypt_incoming))` for RC4, `None`
    /// when the handshake chose plaintext for the stream.
    pub fn new(io: impl Into<Transport>, cipher: Option<(Rc4, Rc4)>) -> PeerStream {
        let (read, write) = match io.into() {
            Transport::Tcp(tcp) => {
                let (r, w) = tcp.into_split();
                (ReadIo::Tcp(r), WriteIo::Tcp(w))
            }
            Transport::Utp(u) => (ReadIo::Utp(u.clone()), WriteIo::Utp(u)),
        };
        let (encrypt, decrypt) = match cipher {
            Some((e, d)) => (Some(e), Some(Box::new(d))),
            None => (None, None),
        };
        PeerStream {
            reader: PeerReader { tcp: read, decrypt },
            writer: PeerWriter {
                tcp: write,
                encrypt: encrypt.map(|rc4| {
                    Box::new(Encrypting {
                        rc4,
                        plain: Vec::new(),
                        cipher: Vec::new(),
                        sent: 0,
                    })
                }),
            },
        }
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match &self.reader.tcp {
            ReadIo::Tcp(t) => t.peer_addr(),
            ReadIo::Utp(u) => Ok(u.peer_addr()),
        }
    }

    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        match &self.writer.tcp {
            WriteIo::Tcp(t) => t.as_ref().set_nodelay(nodelay),
            WriteIo::Utp(_) => Ok(()),
        }
    }

    pub fn into_split(self) -> (PeerReader, PeerWriter) {
        (self.reader, self.writer)
    }
}

impl AsyncRead for PeerReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.tcp).poll_read(cx, buf))?;
        if let Some(rc4) = &mut this.decrypt {
            rc4.apply(&mut buf.filled_mut()[before..]);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for PeerWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(enc) = this.encrypt.as_deref_mut() else {
            return Pin::new(&mut this.tcp).poll_write(cx, buf);
        };
        if enc.sent == enc.cipher.len() {
            let n = buf.len().min(WRITE_CHUNK);
            enc.plain.clear();
            enc.plain.extend_from_slice(&buf[..n]);
            enc.cipher.clear();
            enc.cipher.extend_from_slice(&buf[..n]);
            enc.rc4.apply(&mut enc.cipher);
            enc.sent = 0;
        } else if !buf.starts_with(&enc.plain[enc.sent..]) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an encrypted write was not resumed with the same bytes",
            )));
        }
        if enc.cipher.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = ready!(Pin::new(&mut this.tcp).poll_write(cx, &enc.cipher[enc.sent..]))?;
        enc.sent += n;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (a, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (a.unwrap(), b.unwrap().0)
    }

    /// Megabytes each way at once (so writes go out partially while the other side is busy),
    /// through a pair of encrypted streams with matching keys: the bytes arrive unchanged.
    #[tokio::test]
    async fn encrypted_streams_carry_bytes_both_ways_unchanged() {
        let (a, b) = pair().await;
        let (ka, kb) = ([1u8; 20], [2u8; 20]);
        let a = PeerStream::new(a, Some((Rc4::mse(&ka), Rc4::mse(&kb))));
        let b = PeerStream::new(b, Some((Rc4::mse(&kb), Rc4::mse(&ka))));
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 300) as u8).collect();
        let run = |s: PeerStream, data: Vec<u8>| async move {
            let (mut r, mut w) = s.into_split();
            let send = async {
                for chunk in data.chunks(700_001) {
                    w.write_all(chunk).await.unwrap();
                }
                w.shutdown().await.unwrap();
            };
            let recv = async {
                let mut got = Vec::new();
                r.read_to_end(&mut got).await.unwrap();
                got
            };
            tokio::join!(send, recv).1
        };
        let (got_b, got_a) = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            tokio::join!(run(b, data.clone()), run(a, data.clone()))
        })
        .await
        .unwrap();
        assert!(got_a == data && got_b == data);
    }

    /// What crosses the socket is the RC4 ciphertext, not the plaintext.
    #[tokio::test]
    async fn the_wire_carries_ciphertext() {
        let (a, mut raw) = pair().await;
        let key = [5u8; 20];
        let mut a = PeerStream::new(a, Some((Rc4::mse(&key), Rc4::mse(&[6; 20]))));
        a.write_all(b"\x13BitTorrent protocol").await.unwrap();
        let mut got = [0u8; 20];
        raw.read_exact(&mut got).await.unwrap();
        assert_ne!(&got, b"\x13BitTorrent protocol");
        Rc4::mse(&key).apply(&mut got);
        assert_eq!(&got, b"\x13BitTorrent protocol");
    }
}

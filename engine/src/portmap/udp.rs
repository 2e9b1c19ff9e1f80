//! The one request-and-answer exchange PCP and NAT-PMP share: a datagram to the gateway's port
//! 5351, sent again with doubling waits until an answer the caller accepts or refuses. RFC 6886
//! asks for up to 9 tries from 250 ms (over a minute) and RFC 6887 for waits from 3 s; a home
//! router answers the first or not at all, so three tries, under 2 s, tell us enough and keep
//! the fall-back to the next protocol quick. Datagrams that are no answer to this request are
//! ignored.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

const FIRST_WAIT: Duration = Duration::from_millis(250);
const TRIES: u32 = 3;

/// How an exchange ended without the answer we wanted.
#[derive(Debug)]
pub(super) enum Unanswered<E> {
    /// Nothing came back (or an ICMP "port unreachable", the same "no").
    Silent,
    /// The socket failed.
    Io(String),
    /// The gateway answered, and the answer says no.
    Answer(E),
}

/// A socket of the gateway's address family, connected to it (so only its datagrams arrive).
pub(super) async fn connect(server: SocketAddr) -> std::io::Result<UdpSocket> {
    let any: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(any).await?;
    socket.connect(server).await?;
    Ok(socket)
}

/// Sends `request` until `decode` returns `Ok`, or an `Err` that `is_final` (a refusal), or the
/// tries run out. Answers that are errors but not final are taken for strays and ignored.
pub(super) async fn ask<T, E>(
    socket: &UdpSocket,
    request: &[u8],
    max_len: usize,
    decode: impl Fn(&[u8]) -> Result<T, E>,
    is_final: impl Fn(&E) -> bool,
) -> Result<T, Unanswered<E>> {
    let mut wait = FIRST_WAIT;
    let mut buf = vec![0u8; max_len + 1];
    for _ in 0..TRIES {
        if socket.send(request).await.is_err() {
            // An earlier ICMP unreachable can surface here: the gateway is not listening.
            return Err(Unanswered::Silent);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(Unanswered::Silent)
                }
                Ok(Err(e)) => return Err(Unanswered::Io(e.to_string())),
                // One byte over the cap: longer than any answer, dropped unread.
                Ok(Ok(n)) if n > max_len => continue,
                Ok(Ok(n)) => match decode(&buf[..n]) {
                    Ok(v) => return Ok(v),
                    Err(e) if is_final(&e) => return Err(Unanswered::Answer(e)),
                    Err(_) => continue,
                },
            }
        }
        wait *= 2;
    }
    Err(Unanswered::Silent)
}

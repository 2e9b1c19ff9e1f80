//! The UDP tracker's socket loop: datagrams in and out by the batch (recvmmsg/sendmmsg).
//!
//! Under load a datagram used to cost a `recvfrom` and a `sendto` of its own. Here one
//! `recvmmsg` takes every datagram already queued (up to [`BATCH`]; it blocks only for the
//! first, MSG_WAITFORONE), they are answered in order into buffers reused from batch to batch
//! (no allocation per datagram), and one `sendmmsg` sends the replies. A quiet socket still
//! answers a lone datagram at once: the batch is whatever is there, never waited for.

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};
use tokio::sync::watch;

use crate::state::{now_secs, Tracker};
use crate::udp::{handle, Scratch};

/// Datagrams per system call. The bench keeps 64 in flight; more than 32 in one batch is rare
/// and only makes the first reply of a batch wait longer.
pub const BATCH: usize = 32;
/// Largest datagram read: BEP 15 requests are at most 98 bytes (announce with extensions) or
/// 16 + 20 * 74 (a full scrape); longer ones are truncated and refused by the decoder.
const MAX_DATAGRAM: usize = 2048;

/// Serves on the calling thread with a blocking socket until `stop` turns true.
pub fn serve_blocking(
    socket: std::net::UdpSocket,
    t: Arc<Tracker>,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    socket.set_nonblocking(false)?;
    // How often a quiet socket checks for shutdown.
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let fd = socket.as_raw_fd();
    let mut inbufs = vec![[0u8; MAX_DATAGRAM]; BATCH];
    let mut outbufs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1500)).collect();
    let mut dests: Vec<Option<SockaddrStorage>> = Vec::with_capacity(BATCH);
    let mut received: Vec<(usize, SocketAddr)> = Vec::with_capacity(BATCH);
    let mut rx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut tx_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut scratch = Scratch::default();
    while !*stop.borrow() {
        received.clear();
        {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = inbufs
                .iter_mut()
                .map(|b| [IoSliceMut::new(&mut b[..])])
                .collect();
            match recvmmsg(
                fd,
                &mut rx_headers,
                iovs.iter_mut(),
                MsgFlags::MSG_WAITFORONE,
                None,
            ) {
                Ok(msgs) => {
                    for m in msgs {
                        if let Some(from) = m.address.as_ref().and_then(std_addr) {
                            received.push((m.bytes, from));
                        } else {
                            // Keeps indexes aligned with `inbufs`; skipped below.
                            received.push((usize::MAX, SocketAddr::from(([0, 0, 0, 0], 0))));
                        }
                    }
                }
                // Timeouts (EAGAIN), signals, ICMP errors from earlier sends: keep going.
                Err(_) => continue,
            }
        }
        dests.clear();
        let mut replies = 0;
        let now = now_secs();
        for (i, &(len, from)) in received.iter().enumerate() {
            let Some(packet) = inbufs.get(i).and_then(|b| b.get(..len)) else {
                continue;
            };
            let Some(out) = outbufs.get_mut(replies) else {
                break;
            };
            out.clear();
            if handle(&t, packet, from, now, out, &mut scratch) {
                dests.push(Some(SockaddrStorage::from(from)));
                replies += 1;
            }
        }
        send_all(fd, &mut tx_headers, &outbufs[..replies], &dests);
    }
    Ok(())
}

fn std_addr(s: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(a) = s.as_sockaddr_in() {
        return Some(SocketAddr::from(*a));
    }
    s.as_sockaddr_in6().map(|a| SocketAddr::from(*a))
}

/// Sends `bufs[i]` to `dests[i]`; a destination the kernel refuses (unreachable, say) costs
/// only its own reply.
fn send_all(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    bufs: &[Vec<u8>],
    dests: &[Option<SockaddrStorage>],
) {
    let mut from = 0;
    while from < bufs.len() {
        let slices: Vec<[IoSlice<'_>; 1]> =
            bufs[from..].iter().map(|b| [IoSlice::new(b)]).collect();
        let none: [ControlMessage<'_>; 0] = [];
        match sendmmsg(
            fd,
            headers,
            slices.iter(),
            &dests[from..],
            none,
            MsgFlags::empty(),
        ) {
            Ok(sent) => from += sent.count().max(1),
            Err(Errno::EINTR) => {}
            Err(_) => from += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::SockaddrLike;

    #[test]
    fn addresses_convert_both_ways() {
        for a in ["127.0.0.1:6969", "[::1]:6969", "[::ffff:10.0.0.1]:1"] {
            let a: SocketAddr = a.parse().unwrap();
            let s = SockaddrStorage::from(a);
            assert_eq!(std_addr(&s), Some(a));
            assert!(s.len() > 0);
        }
    }
}

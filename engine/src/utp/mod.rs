//! The uTP driver: one UDP socket (on the peer port's number) shared by every uTP connection,
//! demultiplexed by (address, connection id); each connection is a `protocol::utp::Connection`
//! driven here and read and written by the peer code as a [`UtpStream`].
//!
//! Bounds: at most [`MAX_CONNS`] connections and [`MAX_PER_IP`] from one address, so a flood of
//! SYNs costs a few small maps, not memory per SYN; accepted connections wait in a bounded
//! queue and are reset when it is full.

mod stream;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};

use protocol::utp::{peek_conn_id, Config, Connection, PacketType};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub use stream::UtpStream;
use stream::{Handle, Slot};

/// Connections at once, at most (each may buffer up to about 2 MiB).
pub const MAX_CONNS: usize = 256;
/// Connections with one IP address, at most.
pub const MAX_PER_IP: usize = 16;
/// Accepted connections waiting for the session to take them.
const ACCEPT_QUEUE: usize = 32;
/// Datagrams handled before the acks they call for are sent (one ack answers the batch).
const BATCH: usize = 64;
/// The socket buffers asked of the kernel (it may grant less): a burst of a large window
/// should not overflow them.
const SOCKET_BUFFER: usize = 4 << 20;

/// The uTP endpoint: dial with [`UtpSocket::connect`], take incoming connections from the
/// receiver returned by [`UtpSocket::bind`].
#[derive(Clone)]
pub struct UtpSocket {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for UtpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

pub(crate) struct Shared {
    udp: UdpSocket,
    conns: Mutex<HashMap<(SocketAddr, u16), Arc<Slot>>>,
    accepted: mpsc::Sender<UtpStream>,
    config: Config,
}

impl UtpSocket {
    /// Binds `addr` (UDP) and starts receiving. Incoming connections arrive on the receiver.
    pub async fn bind(addr: SocketAddr) -> io::Result<(UtpSocket, mpsc::Receiver<UtpStream>)> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        let udp = UdpSocket::from_std(socket.into())?;
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        let shared = Arc::new(Shared {
            udp,
            conns: Mutex::new(HashMap::new()),
            accepted: tx,
            config: Config::default(),
        });
        tokio::spawn(receive_loop(Arc::downgrade(&shared)));
        Ok((UtpSocket { shared }, rx))
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.udp.local_addr()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.shared.conns.lock().map_or(0, |c| c.len())
    }

    /// Opens a connection to `addr`; resolves once the peer answered the SYN (the caller sets
    /// the timeout; the connection gives up by itself after three unanswered SYNs).
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<UtpStream> {
        let now = tokio::time::Instant::now().into_std();
        let slot = {
            let mut conns = self.shared.conns.lock().map_err(|_| poisoned())?;
            if conns.len() >= MAX_CONNS || per_ip(&conns, addr.ip()) >= MAX_PER_IP {
                return Err(io::Error::other("too many uTP connections"));
            }
            let id = loop {
                let id: u16 = rand::random();
                if !conns.contains_key(&(addr, id))
                    && !conns.contains_key(&(addr, id.wrapping_add(1)))
                {
                    break id;
                }
            };
            let conn = Connection::connect(self.shared.config, now, id);
            let slot = Slot::new(conn, addr);
            conns.insert((addr, id), slot.clone());
            slot
        };
        let stream = UtpStream::new(Handle::new(slot.clone(), &self.shared));
        stream::spawn_timer(
            slot.clone(),
            Arc::downgrade(&self.shared),
            (addr, slot.recv_id()),
        );
        stream.flush_now();
        stream.connected().await?;
        Ok(stream)
    }
}

fn poisoned() -> io::Error {
    io::Error::other("uTP state poisoned")
}

fn per_ip(conns: &HashMap<(SocketAddr, u16), Arc<Slot>>, ip: IpAddr) -> usize {
    conns.keys().filter(|(a, _)| a.ip() == ip).count()
}

impl Shared {
    /// Sends what the connection has to send now. A datagram the kernel refuses (its buffer
    /// full) is lost like one dropped on the path: the connection resends it.
    pub(crate) fn flush(&self, conn: &mut Connection, to: SocketAddr, now: std::time::Instant) {
        let mut out = Vec::with_capacity(1500);
        while conn.poll_transmit(now, &mut out) {
            let _ = self.udp.try_send_to(&out, to);
        }
    }

    pub(crate) fn remove(&self, key: (SocketAddr, u16)) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&key);
        }
    }
}

async fn receive_loop(shared: Weak<Shared>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Some(s) = shared.upgrade() else { return };
        // Waits with only a weak hold between batches would need a wake-up on drop; the
        // socket's readiness is enough: the session drops the socket at shutdown and the next
        // datagram or this timeout ends the loop.
        let ready = tokio::time::timeout(std::time::Duration::from_secs(1), s.udp.readable()).await;
        match ready {
            Err(_) => continue,
            Ok(Err(e)) => {
                tracing::warn!("uTP socket: {e}");
                return;
            }
            Ok(Ok(())) => {}
        }
        let now = tokio::time::Instant::now().into_std();
        let mut touched: Vec<Arc<Slot>> = Vec::new();
        for _ in 0..BATCH {
            let (n, from) = match s.udp.try_recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            };
            if let Some(slot) = dispatch(&s, &buf[..n], from, now) {
                if !touched.iter().any(|t| Arc::ptr_eq(t, &slot)) {
                    touched.push(slot);
                }
            }
        }
        for slot in touched {
            slot.after_input(&s, now);
        }
    }
}

/// Hands a datagram to its connection, or opens one for a SYN; returns the connection touched.
fn dispatch(
    s: &Arc<Shared>,
    bytes: &[u8],
    from: SocketAddr,
    now: std::time::Instant,
) -> Option<Arc<Slot>> {
    let (id, ty) = peek_conn_id(bytes)?;
    let key = if ty == PacketType::Syn {
        (from, id.wrapping_add(1))
    } else {
        (from, id)
    };
    let existing = s.conns.lock().ok()?.get(&key).cloned();
    if let Some(slot) = existing {
        slot.handle_datagram(now, bytes);
        return Some(slot);
    }
    if ty != PacketType::Syn {
        return None;
    }
    let (header, _) = protocol::utp::Header::decode(bytes).ok()?;
    let slot = {
        let mut conns = s.conns.lock().ok()?;
        if conns.len() >= MAX_CONNS || per_ip(&conns, from.ip()) >= MAX_PER_IP {
            return None;
        }
        let conn = Connection::accept(s.config, now, header.conn_id, header.seq_nr, rand::random());
        let slot = Slot::new(conn, from);
        conns.insert(key, slot.clone());
        slot
    };
    let stream = UtpStream::new(Handle::new(slot.clone(), s));
    stream::spawn_timer(slot.clone(), Arc::downgrade(s), key);
    if let Err(e) = s.accepted.try_send(stream) {
        tracing::debug!("uTP accept queue full; {from} refused");
        let stream = match e {
            mpsc::error::TrySendError::Full(st) | mpsc::error::TrySendError::Closed(st) => st,
        };
        stream.reset_now();
    }
    Some(slot)
}

#[cfg(test)]
mod tests;

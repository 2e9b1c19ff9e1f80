//! The driver's side of the connections: it spawns the dials and handshakes the core asks
//! for, feeds the core what peers say, and carries out what the core polls (frames to
//! writers, closes, disk jobs). It also keeps what only the driver has of a connection: the
//! writer and the byte counters. The BEP 10 state (handshakes, PEX, serving metadata) is the
//! core's.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use protocol::session::{CoreEvent, DiskOp, PeerError, Transmit};
use protocol::wire::{Extension, Message, Reserved};
use protocol::PeerId;

use super::Torrent;
use crate::disk::DiskJob;
use crate::peer::{self, OutQueue, Outgoing, PeerEvent, PeerKey, PeerMessage, PeerStats};
use crate::types::{PeerStatus, TorrentState};

/// What the driver keeps of a connected peer (its protocol state is the core's).
pub(crate) struct Conn {
    pub writer: OutQueue,
    stats: Arc<PeerStats>,
    /// A name from its peer id, until its extended handshake (the core's) says better.
    pub client: String,
    pub down_rate: u64,
    pub up_rate: u64,
    prev_down: u64,
    prev_up: u64,
}

impl Conn {
    pub fn new(writer: OutQueue, stats: Arc<PeerStats>, peer_id: &PeerId) -> Conn {
        Conn {
            writer,
            stats,
            client: client_from_id(peer_id),
            down_rate: 0,
            up_rate: 0,
            prev_down: 0,
            prev_up: 0,
        }
    }

    pub fn downloaded(&self) -> u64 {
        self.stats.downloaded.load(Ordering::Relaxed)
    }

    pub fn uploaded(&self) -> u64 {
        self.stats.uploaded.load(Ordering::Relaxed)
    }

    fn unsent(&self) -> usize {
        self.stats.unsent_blocks.load(Ordering::Relaxed) as usize
    }

    /// Rates over the last tick, smoothed so a pause of one tick does not read as zero.
    pub fn update_rates(&mut self, secs: f64) {
        let (d, u) = (self.downloaded(), self.uploaded());
        let now_down = ((d - self.prev_down) as f64 / secs) as u64;
        let now_up = ((u - self.prev_up) as f64 / secs) as u64;
        self.down_rate = (self.down_rate + 3 * now_down) / 4;
        self.up_rate = (self.up_rate + 3 * now_up) / 4;
        self.prev_down = d;
        self.prev_up = u;
    }

    /// Hands a block to the writer, counting it until it is on the socket.
    fn send_block(&self, block: protocol::wire::BlockRef, data: bytes::Bytes) {
        self.stats.unsent_blocks.fetch_add(1, Ordering::Relaxed);
        if self.writer.send(Outgoing::Block { block, data }).is_err() {
            self.stats.unsent_blocks.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A readable client name from an Azureus-style peer id (`-TR3000-`), until BEP 10 tells us.
fn client_from_id(id: &PeerId) -> String {
    let b = id.as_bytes();
    if b[0] == b'-' && b[7] == b'-' && b[1..7].iter().all(|c| c.is_ascii_alphanumeric()) {
        String::from_utf8_lossy(&b[1..7]).into_owned()
    } else {
        "unknown".into()
    }
}

impl Torrent {
    pub(super) fn add_candidates(&mut self, addrs: Vec<std::net::SocketAddr>) {
        self.core.add_candidates(addrs, Instant::now());
    }

    pub(super) fn accept(&mut self, stream: crate::mse_stream::PeerStream, buf: BytesMut) {
        let Ok(addr) = stream.peer_addr() else {
            return;
        };
        let Some(key) = self.core.admit_incoming(addr) else {
            return; // dropping the stream closes it
        };
        tokio::spawn(peer::run_incoming(self.ctx.clone(), key, stream, buf));
    }

    pub(super) fn on_peer_event(&mut self, ev: PeerEvent) {
        let now = Instant::now();
        match ev {
            PeerEvent::Connected(c) => {
                let peer::Connected {
                    key,
                    addr,
                    peer_id,
                    reserved,
                    writer,
                    stats,
                } = *c;
                self.connected(key, addr, peer_id, reserved, writer, stats, now)
            }
            PeerEvent::Message { key, msg } => self.on_message(key, msg, now),
            PeerEvent::Closed { key, reason } => {
                if let Some(p) = self.core.handle_closed(key, now) {
                    tracing::debug!("{}: closed: {reason}", p.addr);
                }
                self.forget_conn(key);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn connected(
        &mut self,
        key: PeerKey,
        addr: std::net::SocketAddr,
        peer_id: PeerId,
        reserved: Reserved,
        writer: OutQueue,
        stats: Arc<PeerStats>,
        now: Instant,
    ) {
        let fast = reserved.has(Extension::Fast);
        if let Err(why) = self.core.handle_connected(key, addr, peer_id, fast, now) {
            tracing::debug!("{addr}: {why}");
            let _ = writer.send(Outgoing::Close);
            return;
        }
        let addr = self.core.peer(key).map_or(addr, |p| p.addr);
        self.conns.insert(key, Conn::new(writer, stats, &peer_id));
        if reserved.has(Extension::ExtensionProtocol) {
            self.core.handle_extension_bit(key);
        }
        // The core's opening message (bitfield, have-all or have-none) goes first, then its
        // extended handshake.
        self.flush();
        if let (Some(dht), true) = (&self.ctx.dht, reserved.has(Extension::Dht)) {
            let mut port = Vec::new();
            Message::Port(dht.port()).encode(&mut port); // BEP 5
            self.send(key, Outgoing::Frame(port));
        }
        tracing::debug!("{addr}: connected ({} peers)", self.conns.len());
    }

    fn on_message(&mut self, key: PeerKey, msg: PeerMessage, now: Instant) {
        if let (PeerMessage::Request(_), Some(c)) = (&msg, self.conns.get(&key)) {
            self.core.set_unsent(key, c.unsent());
        }
        self.core.handle_message(key, msg, now);
    }

    /// The writers drained some of what they owed: the core reads more for them.
    pub(super) fn on_upload_room(&mut self) {
        for (&key, c) in &self.conns {
            self.core.set_unsent(key, c.unsent());
        }
        self.core.handle_upload_room(Instant::now());
    }

    /// A connection is gone: its bytes move to the torrent's totals.
    fn forget_conn(&mut self, key: PeerKey) {
        if let Some(c) = self.conns.remove(&key) {
            self.closed_down += c.downloaded();
            self.closed_up += c.uploaded();
        }
    }

    /// Carries out everything the core asked for since the last flush.
    pub(super) fn flush(&mut self) {
        while let Some((key, t)) = self.core.poll_transmit() {
            match t {
                Transmit::Frame(frame) => self.send(key, Outgoing::Frame(frame)),
                Transmit::Requests(blocks) => self.send(key, Outgoing::Requests(blocks)),
                Transmit::Block { block, data } => {
                    if let Some(c) = self.conns.get(&key) {
                        c.send_block(block, data);
                    }
                }
                Transmit::Close(why) => {
                    if let Some(c) = self.conns.get(&key) {
                        tracing::debug!("peer {key}: closing: {why}");
                        if matches!(why, PeerError::Banned(_)) {
                            // What it was told before the ban (the rejects of a request
                            // flood) still goes out, bounded by the queue's size and the write
                            // timeout; the ban itself holds from now on.
                            let _ = c.writer.send(Outgoing::Close);
                        } else {
                            c.writer.abort();
                        }
                    }
                    self.forget_conn(key);
                }
            }
        }
        while let Some(op) = self.core.poll_disk() {
            match op {
                DiskOp::Write { block, data } => {
                    (self.backlog.pending).fetch_add(data.len() as u64, Ordering::AcqRel);
                    let _ = self.disk.send(DiskJob::Write { block, data });
                }
                DiskOp::Read { key, block } => {
                    let _ = self.disk.send(DiskJob::Read { key, block });
                }
            }
        }
        while let Some(dial) = self.core.poll_connect() {
            tokio::spawn(peer::run_outgoing(self.ctx.clone(), dial.key, dial.addr));
        }
        while let Some(ev) = self.core.poll_event() {
            match ev {
                CoreEvent::Banned { addr, why } => tracing::info!("banning {addr} ({why})"),
            }
        }
    }

    /// The peers' rates, measured over the last `secs`, for the core and the status.
    pub(super) fn update_rates(&mut self, secs: f64) -> (u64, u64) {
        let (mut down, mut up) = (0, 0);
        for (&key, c) in self.conns.iter_mut() {
            c.update_rates(secs);
            self.core.set_rates(key, c.down_rate, c.up_rate);
            self.core.set_unsent(key, c.unsent());
            down += c.down_rate;
            up += c.up_rate;
        }
        (down, up)
    }

    pub(super) fn peer_statuses(&self) -> Vec<PeerStatus> {
        (self.core.peers())
            .filter_map(|(key, p)| {
                let c = self.conns.get(&key)?;
                Some(PeerStatus {
                    addr: p.addr,
                    client: p.ext.client.clone().unwrap_or_else(|| c.client.clone()),
                    am_choking: p.am_choking,
                    am_interested: p.am_interested,
                    peer_choking: p.peer_choking,
                    peer_interested: p.peer_interested,
                    down_rate: c.down_rate,
                    up_rate: c.up_rate,
                    progress: p.progress(),
                })
            })
            .collect()
    }

    /// Whether peers connect and data moves, as the core must know it.
    pub(super) fn sync_core_mode(&mut self) {
        let active =
            !self.paused && !matches!(self.state, TorrentState::Checking | TorrentState::Error);
        self.core.set_active(active, Instant::now());
        self.core.set_seeding(self.state == TorrentState::Seeding);
        self.flush();
    }
}

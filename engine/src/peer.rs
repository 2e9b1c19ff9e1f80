//! One peer connection: the handshake, then a reader that frames messages and forwards them to
//! the torrent actor, and a writer that drains the actor's queue onto the socket. The task only
//! moves bytes: every decision (what to request, whom to choke, whether data is good) is the
//! actor's. A wire error ends this connection only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use protocol::wire::{self, BlockRef, Handshake, Message, Reserved};
use protocol::{InfoHash, PeerId, BLOCK_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::connect::{Connector, HANDSHAKE_TIMEOUT};
use crate::mse_stream::{PeerReader, PeerStream, PeerWriter};
use crate::ratelimit::RateLimiter;
use protocol::session::PeerError;

/// A peer that sends nothing at all (not even keep-alives) for this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(150);
const KEEPALIVE_EVERY: Duration = Duration::from_secs(90);
/// The most a connection reads at once while data flows.
const READ_CHUNK: usize = 256 * 1024;
/// What a connection reads into at first, and again once it has gone quiet: an idle peer
/// (the usual case with hundreds of them) holds this, not a `READ_CHUNK`. A connection that
/// fills what it reads into doubles it, so a transfer reaches `READ_CHUNK` within a few reads.
const SMALL_READ: usize = 4 * 1024;
/// The writer's batch buffer is given back after a batch smaller than this (the peer went
/// quiet) if it had grown past that: a peer we uploaded to once does not keep it.
const SMALL_WRITE: usize = 4 * 1024;
/// What we queue for one peer at most, in bytes: twice the upload read-ahead (see
/// `torrent::uploads`), so only a peer that stopped reading while we keep answering it
/// (rejects, haves) ever reaches it.
pub const MAX_QUEUED_BYTES: u64 = 4 << 20;

/// A connection's id inside its torrent.
pub use protocol::session::PeerKey;

/// What the actor asks the writer to send.
#[derive(Debug)]
pub enum Outgoing {
    /// Already-encoded frames.
    Frame(Vec<u8>),
    Requests(Vec<BlockRef>),
    Block {
        block: BlockRef,
        data: Bytes,
    },
    Close,
}

pub use protocol::session::PeerMessage;

#[derive(Debug, Default)]
pub struct PeerStats {
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    /// Blocks handed to the writer and not yet on the socket: with the actor's count of reads
    /// in progress, this bounds what a peer that requests but never reads can make us hold.
    pub unsent_blocks: AtomicU64,
    /// Bytes (with a per-item overhead) queued for the writer and not yet on the socket.
    queued_bytes: AtomicU64,
    /// Woken when the queue went over its bound, or the actor dropped the peer: the connection
    /// ends at once, whatever is still queued.
    abort: tokio::sync::Notify,
    overflowed: std::sync::atomic::AtomicBool,
}

/// Memory one queued item costs besides its payload (channel slot, allocation headers).
const ITEM_OVERHEAD: u64 = 64;

fn item_cost(item: &Outgoing) -> u64 {
    ITEM_OVERHEAD
        + match item {
            Outgoing::Frame(f) => f.len() as u64,
            Outgoing::Requests(r) => 17 * r.len() as u64,
            Outgoing::Block { data, .. } => data.len() as u64 + 13,
            Outgoing::Close => 0,
        }
}

/// The actor's end of a connection's send queue. What it holds is bounded in bytes: a peer
/// that does not read (its socket does not drain) while we keep queueing replies, rejects or
/// haves for it is disconnected instead of growing our memory. Blocks are read ahead of the
/// socket only up to the upload read-ahead (see `torrent::uploads`), well under the bound, so
/// a peer that reads is never cut off by it.
#[derive(Debug, Clone)]
pub struct OutQueue {
    tx: mpsc::UnboundedSender<Outgoing>,
    stats: Arc<PeerStats>,
    max_bytes: u64,
}

/// The queue is over its bound (the connection is being closed) or the writer is gone.
#[derive(Debug)]
pub struct QueueClosed;

impl OutQueue {
    /// Queues `item`, or ends the connection if that would take the queue past its bound.
    pub fn send(&self, item: Outgoing) -> Result<(), QueueClosed> {
        let cost = item_cost(&item);
        let before = self.stats.queued_bytes.fetch_add(cost, Ordering::AcqRel);
        if before + cost > self.max_bytes && !matches!(item, Outgoing::Close) {
            self.stats.queued_bytes.fetch_sub(cost, Ordering::AcqRel);
            self.stats.overflowed.store(true, Ordering::Release);
            self.stats.abort.notify_one();
            return Err(QueueClosed);
        }
        self.tx.send(item).map_err(|_| {
            self.stats.queued_bytes.fetch_sub(cost, Ordering::AcqRel);
            QueueClosed
        })
    }

    /// Ends the connection now, dropping what is queued (a peer we drop gets nothing more; a
    /// polite `Close` would wait behind a queue a hostile peer does not read).
    pub fn abort(&self) {
        self.stats.abort.notify_one();
    }
}

/// A connection that finished its handshake.
#[derive(Debug)]
pub struct Connected {
    pub key: PeerKey,
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    pub reserved: Reserved,
    pub writer: OutQueue,
    pub stats: Arc<PeerStats>,
}

/// Boxed where large and rare (`Connected`): a channel allocates a block of 32 slots of the
/// largest variant up front, and every torrent has one, peers or not.
#[derive(Debug)]
pub enum PeerEvent {
    Connected(Box<Connected>),
    Message { key: PeerKey, msg: PeerMessage },
    Closed { key: PeerKey, reason: PeerError },
}

/// What every connection of a torrent shares.
#[derive(Clone)]
pub struct PeerContext {
    pub info_hash: InfoHash,
    pub our_id: PeerId,
    pub piece_count: u32,
    pub events: mpsc::Sender<PeerEvent>,
    pub down_limit: Arc<RateLimiter>,
    pub up_limit: Arc<RateLimiter>,
    /// The encryption policy: how `run_outgoing` dials.
    pub connector: Arc<Connector>,
    /// The session's DHT node, unless it has none or the torrent is private: sets the DHT bit
    /// of our handshake, and learns the nodes peers name in `port` messages.
    pub dht: Option<crate::dht::Dht>,
    /// Signalled when a writer put blocks on its socket: the uploader reads more then.
    pub upload_room: Arc<tokio::sync::Notify>,
    /// A connection whose socket accepts none of what we queued for this long is dropped.
    pub write_timeout: Duration,
    /// The bound of each connection's send queue in bytes (see [`OutQueue`]).
    pub max_queued_bytes: u64,
}

impl PeerContext {
    /// Our reserved handshake bits: the DHT bit only where we run a node for this torrent.
    pub(crate) fn reserved(&self) -> Reserved {
        match self.dht {
            Some(_) => Reserved::SWARMLINK.with(wire::Extension::Dht),
            None => Reserved::SWARMLINK,
        }
    }

    fn our_handshake(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Handshake::LEN);
        Handshake {
            reserved: self.reserved(),
            info_hash: self.info_hash,
            peer_id: self.our_id,
        }
        .encode(&mut out);
        out
    }

    /// Largest frame this torrent needs: a block, or a full bitfield, with room for BEP 10.
    fn max_frame(&self) -> usize {
        if self.piece_count == 0 {
            // A magnet link: the torrent's size is not known yet, so neither is its bitfield.
            return wire::DEFAULT_MAX_FRAME;
        }
        let bitfield = (self.piece_count as usize).div_ceil(8) + 1;
        bitfield.max(BLOCK_LEN as usize + 9) + 1024
    }
}

/// Dials `addr` (plaintext or MSE, as the session's policy says) and runs the connection
/// until it ends; the actor always gets `Closed`.
pub async fn run_outgoing(ctx: PeerContext, key: PeerKey, addr: SocketAddr) {
    let result = async {
        let ours = Handshake {
            reserved: ctx.reserved(),
            info_hash: ctx.info_hash,
            peer_id: ctx.our_id,
        };
        let (stream, hs, buf) = crate::connect::dial(&ctx.connector, ours, addr).await?;
        run_connected(&ctx, key, addr, stream, hs, buf).await
    }
    .await;
    let reason = result.err().unwrap_or(PeerError::Done("closed"));
    let _ = ctx.events.send(PeerEvent::Closed { key, reason }).await;
}

/// Runs a connection the session accepted; `buf` holds what was read so far (at least the
/// 48-byte prefix naming our info-hash).
pub async fn run_incoming(
    ctx: PeerContext,
    key: PeerKey,
    mut stream: PeerStream,
    mut buf: BytesMut,
) {
    let addr = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let result = async {
        let _ = stream.set_nodelay(true);
        stream
            .write_all(&ctx.our_handshake())
            .await
            .map_err(|e| PeerError::Io(format!("send handshake: {e}")))?;
        let hs = read_handshake(&mut stream, &mut buf).await?;
        run_connected(&ctx, key, addr, stream, hs, buf).await
    }
    .await;
    let reason = result.err().unwrap_or(PeerError::Done("closed"));
    let _ = ctx.events.send(PeerEvent::Closed { key, reason }).await;
}

async fn read_handshake(
    stream: &mut PeerStream,
    buf: &mut BytesMut,
) -> Result<Handshake, PeerError> {
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        match Handshake::decode(buf) {
            Ok(Some(hs)) => {
                let _ = buf.split_to(Handshake::LEN);
                return Ok(hs);
            }
            Ok(None) => {}
            Err(e) => return Err(PeerError::Malformed(format!("handshake: {e}"))),
        }
        buf.reserve(SMALL_READ);
        let n = tokio::time::timeout_at(deadline, stream.read_buf(buf))
            .await
            .map_err(|_| PeerError::Timeout("handshake"))?
            .map_err(|e| PeerError::Io(format!("read handshake: {e}")))?;
        if n == 0 {
            return Err(PeerError::Io("closed during handshake".into()));
        }
    }
}

async fn run_connected(
    ctx: &PeerContext,
    key: PeerKey,
    addr: SocketAddr,
    stream: PeerStream,
    hs: Handshake,
    buf: BytesMut,
) -> Result<(), PeerError> {
    let (reader, writer_half) = stream.into_split();
    let (tx, queue) = mpsc::unbounded_channel();
    let stats = Arc::new(PeerStats::default());
    let writer = OutQueue {
        tx,
        stats: stats.clone(),
        max_bytes: ctx.max_queued_bytes,
    };
    ctx.events
        .send(PeerEvent::Connected(Box::new(Connected {
            key,
            addr,
            peer_id: hs.peer_id,
            reserved: hs.reserved,
            writer,
            stats: stats.clone(),
        })))
        .await
        .map_err(|_| PeerError::Done("torrent stopped"))?;
    tokio::select! {
        r = read_loop(ctx, key, addr, reader, buf, &stats) => r,
        r = write_loop(ctx, writer_half, queue, &stats) => r,
        () = stats.abort.notified() => Err(if stats.overflowed.load(Ordering::Acquire) {
            PeerError::Timeout("reading: the send queue is over its bound")
        } else {
            PeerError::Done("dropped by us")
        }),
    }
}

async fn read_loop(
    ctx: &PeerContext,
    key: PeerKey,
    addr: SocketAddr,
    mut reader: PeerReader,
    mut buf: BytesMut,
    stats: &PeerStats,
) -> Result<(), PeerError> {
    let max_frame = ctx.max_frame();
    let mut chunk = SMALL_READ;
    loop {
        loop {
            if let (Some(dht), Some(port)) = (&ctx.dht, port_message(&buf)) {
                dht.learn_node(SocketAddr::new(addr.ip(), port));
            }
            let Some((msg, _)) = decode_owned(&mut buf, max_frame)? else {
                break;
            };
            if let PeerMessage::Piece { data, .. } = &msg {
                stats
                    .downloaded
                    .fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            ctx.events
                .send(PeerEvent::Message { key, msg })
                .await
                .map_err(|_| PeerError::Done("torrent stopped"))?;
        }
        if buf.is_empty() && chunk == SMALL_READ && buf.capacity() > 2 * SMALL_READ {
            // The peer went quiet with nothing half-read: let the big buffer go (payloads
            // already split off keep their own part of it alive until they are written).
            buf = BytesMut::new();
        }
        if buf.capacity() - buf.len() < chunk / 4 {
            buf.reserve(chunk);
        }
        let room = buf.capacity() - buf.len();
        let n = tokio::time::timeout(IDLE_TIMEOUT, reader.read_buf(&mut buf))
            .await
            .map_err(|_| PeerError::Timeout("idle connection"))?
            .map_err(|e| PeerError::Io(format!("read: {e}")))?;
        if n == 0 {
            return Err(PeerError::Io("peer closed the connection".into()));
        }
        chunk = next_chunk(chunk, n, room);
        ctx.down_limit.consume(n).await;
    }
}

/// How much to read into next, after a read of `n` bytes into `room`: double while reads fill
/// at least half of what they had (data is flowing), back to `SMALL_READ` after a read of less
/// than that (the peer sends little: keep-alives, haves, requests).
fn next_chunk(chunk: usize, n: usize, room: usize) -> usize {
    if n < SMALL_READ {
        SMALL_READ
    } else if n >= room / 2 {
        (chunk * 2).min(READ_CHUNK)
    } else {
        chunk
    }
}

/// The DHT port of a BEP 5 `port` message at the front of `buf`, if that is what it holds.
fn port_message(buf: &[u8]) -> Option<u16> {
    // Only a 3-byte frame can be one: skip the decode for everything else.
    if buf.get(..4) != Some(&[0, 0, 0, 3]) {
        return None;
    }
    match wire::decode(buf, 16) {
        Ok(Some((Message::Port(port), _))) => Some(port),
        _ => None,
    }
}

/// Decodes one frame from the front of `buf` and splits it off; payloads become `Bytes` slices.
fn decode_owned(
    buf: &mut BytesMut,
    max_frame: usize,
) -> Result<Option<(PeerMessage, usize)>, PeerError> {
    PeerMessage::decode(buf, max_frame).map_err(|e| PeerError::Malformed(format!("frame: {e}")))
}

async fn write_loop(
    ctx: &PeerContext,
    mut writer: PeerWriter,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    stats: &PeerStats,
) -> Result<(), PeerError> {
    let mut out = Vec::new();
    loop {
        let first = match tokio::time::timeout(KEEPALIVE_EVERY, queue.recv()).await {
            Err(_) => {
                write_draining(&mut writer, &[0, 0, 0, 0], ctx.write_timeout).await?;
                continue;
            }
            Ok(None) => return Err(PeerError::Done("torrent stopped")),
            Ok(Some(item)) => item,
        };
        out.clear();
        let mut uploaded = 0usize;
        let mut blocks = 0u64;
        let mut cost = item_cost(&first);
        let mut close = encode_item(first, &mut out, &mut uploaded, &mut blocks);
        while !close && out.len() < 256 * 1024 {
            match queue.try_recv() {
                Ok(item) => {
                    cost += item_cost(&item);
                    close = encode_item(item, &mut out, &mut uploaded, &mut blocks);
                }
                Err(_) => break,
            }
        }
        // The batch left the queue: it is counted by `out`'s one buffer from here on.
        stats.queued_bytes.fetch_sub(cost, Ordering::AcqRel);
        write_draining(&mut writer, &out, ctx.write_timeout).await?;
        if out.len() < SMALL_WRITE && out.capacity() > SMALL_WRITE {
            out = Vec::new();
        }
        stats.unsent_blocks.fetch_sub(blocks, Ordering::Relaxed);
        if blocks > 0 {
            ctx.upload_room.notify_one();
        }
        if uploaded > 0 {
            stats.uploaded.fetch_add(uploaded as u64, Ordering::Relaxed);
            ctx.up_limit.consume(uploaded).await;
        }
        if close {
            let _ = writer.shutdown().await;
            return Err(PeerError::Done("closed by us"));
        }
    }
}

/// Writes all of `buf`, failing when the socket takes none of it for `timeout`: a slow reader
/// is fine as long as it reads something, a peer that stopped reading is dropped.
async fn write_draining(
    writer: &mut PeerWriter,
    mut buf: &[u8],
    timeout: Duration,
) -> Result<(), PeerError> {
    while !buf.is_empty() {
        let n = tokio::time::timeout(timeout, writer.write(buf))
            .await
            .map_err(|_| PeerError::Timeout("writing: the peer reads nothing"))?
            .map_err(|e| PeerError::Io(format!("write: {e}")))?;
        if n == 0 {
            return Err(PeerError::Io("write: the connection is closed".into()));
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Appends one queued item; returns true for `Close`.
fn encode_item(item: Outgoing, out: &mut Vec<u8>, uploaded: &mut usize, blocks: &mut u64) -> bool {
    match item {
        Outgoing::Frame(frame) => out.extend_from_slice(&frame),
        Outgoing::Requests(blocks) => {
            for b in blocks {
                Message::Request(b).encode(out);
            }
        }
        Outgoing::Block { block, data } => {
            wire::encode_piece_header(block.piece, block.begin, data.len() as u32, out);
            out.extend_from_slice(&data);
            *uploaded += data.len();
            *blocks += 1;
        }
        Outgoing::Close => return true,
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_decode_the_same() {
        let mut wire_bytes = Vec::new();
        Message::Piece {
            index: 3,
            begin: 16384,
            data: &[7; 100],
        }
        .encode(&mut wire_bytes);
        Message::Have(9).encode(&mut wire_bytes);
        Message::Bitfield(&[0xF0]).encode(&mut wire_bytes);
        for cut in 0..wire_bytes.len() {
            let mut buf = BytesMut::from(&wire_bytes[..cut]);
            let mut got = Vec::new();
            while let Some((m, _)) = decode_owned(&mut buf, 1 << 20).unwrap() {
                got.push(m);
            }
            buf.extend_from_slice(&wire_bytes[cut..]);
            while let Some((m, _)) = decode_owned(&mut buf, 1 << 20).unwrap() {
                got.push(m);
            }
            assert_eq!(
                got,
                vec![
                    PeerMessage::Piece {
                        index: 3,
                        begin: 16384,
                        data: Bytes::from(vec![7; 100])
                    },
                    PeerMessage::Have(9),
                    PeerMessage::Bitfield(Bytes::from_static(&[0xF0])),
                ]
            );
        }
    }

    #[test]
    fn oversized_frames_are_refused_before_arriving() {
        let mut buf = BytesMut::from(&(1u32 << 30).to_be_bytes()[..]);
        assert!(decode_owned(&mut buf, 1 << 20).is_err());
    }
}

//! The torrent actor's side of its connections: who to dial, handshakes completed and lost,
//! choking, interest, request pipelines and stalls.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::wire::{Extension, Message, Reserved};
use protocol::{Bitfield, ChokerPeer, PeerId, ValidBlock, BLOCK_LEN};

use super::{Candidate, Torrent};
use crate::peer::{self, OutQueue, Outgoing, PeerEvent, PeerKey, PeerStats};
use crate::types::{PeerStatus, TorrentState};

/// A peer with requests outstanding that sends no block for this long is dropped, and its
/// requests go to others.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests we queue at a peer: at least this many...
const MIN_QUEUE: usize = 128;
/// ...and at most this many (or the peer's `reqq`, if lower).
const MAX_QUEUE: usize = 500;
/// Requests from one peer we hold at once (waiting, being read, or read and not yet sent);
/// more are rejected, and a peer that keeps sending them is dropped (see `on_request`).
pub(super) const MAX_IN_REQUESTS: usize = 500;

pub(crate) struct Peer {
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    pub writer: OutQueue,
    stats: Arc<PeerStats>,
    pub has: Bitfield,
    pub client: String,
    /// We dialed it (rather than it us).
    pub outgoing: bool,
    pub fast: bool,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    /// Blocks requested from this peer and not yet received.
    pub outstanding: HashSet<ValidBlock>,
    /// Requests we withdrew (choke, cancel): an answer may still be on its way and is not a
    /// sign of a hostile peer.
    pub withdrawn: HashSet<ValidBlock>,
    /// Reads queued on the disk thread for this peer.
    pub serving: usize,
    pub cancelled: HashSet<protocol::wire::BlockRef>,
    pub reqq: Option<u32>,
    pub last_block: Instant,
    pub unrequested: u32,
    pub bad_requests: u32,
    /// Valid requests refused since we last unchoked it (see `on_request`).
    pub refused: u32,
    pub down_rate: u64,
    pub up_rate: u64,
    prev_down: u64,
    prev_up: u64,
    /// What the peer said in its BEP 10 handshake, and our PEX/metadata exchange with it.
    pub ext: super::ext::PeerExt,
    /// BEP 6: pieces this peer lets us fetch while it chokes us (bounded, see `allowed_fast`).
    pub allowed_in: Vec<u32>,
    /// BEP 6: pieces we let this peer fetch while we choke it, once we sent them.
    pub allowed_out: Vec<u32>,
    pub sent_allowed_fast: bool,
    /// Blocks served while choking it: capped so allowed-fast cannot become a free ride.
    pub fast_served: u32,
}

impl Peer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        addr: SocketAddr,
        peer_id: PeerId,
        writer: OutQueue,
        stats: Arc<PeerStats>,
        piece_count: u32,
        outgoing: bool,
        fast: bool,
    ) -> Peer {
        Peer {
            addr,
            peer_id,
            writer,
            stats,
            has: Bitfield::new(piece_count),
            client: client_from_id(&peer_id),
            outgoing,
            fast,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            outstanding: HashSet::new(),
            withdrawn: HashSet::new(),
            serving: 0,
            cancelled: HashSet::new(),
            reqq: None,
            last_block: Instant::now(),
            unrequested: 0,
            bad_requests: 0,
            refused: 0,
            down_rate: 0,
            up_rate: 0,
            prev_down: 0,
            prev_up: 0,
            ext: Default::default(),
            allowed_in: Vec::new(),
            allowed_out: Vec::new(),
            sent_allowed_fast: false,
            fast_served: 0,
        }
    }

    pub fn downloaded(&self) -> u64 {
        self.stats.downloaded.load(Ordering::Relaxed)
    }

    pub fn uploaded(&self) -> u64 {
        self.stats.uploaded.load(Ordering::Relaxed)
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

    /// How many requests to keep queued: about a second of data at the measured rate.
    fn queue_target(&self) -> usize {
        let by_rate = (self.down_rate / u64::from(BLOCK_LEN)) as usize;
        let cap = self
            .reqq
            .map_or(MAX_QUEUE, |q| (q as usize).clamp(1, MAX_QUEUE));
        by_rate
            .clamp(MIN_QUEUE, MAX_QUEUE)
            .min(cap)
            .max(MIN_QUEUE.min(cap))
    }

    /// Forgets a request we no longer want answered, remembering it as withdrawn.
    pub fn withdraw(&mut self, block: ValidBlock) -> bool {
        if !self.outstanding.remove(&block) {
            return false;
        }
        if self.withdrawn.len() >= 4 * MAX_QUEUE {
            self.withdrawn.clear();
        }
        self.withdrawn.insert(block);
        true
    }

    /// Withdraws every outstanding request, returning them.
    pub fn withdraw_all(&mut self) -> Vec<ValidBlock> {
        let all: Vec<ValidBlock> = self.outstanding.iter().copied().collect();
        for b in &all {
            self.withdraw(*b);
        }
        all
    }

    /// Blocks we owe this peer: reads in progress plus blocks waiting for its socket.
    pub fn owed_blocks(&self) -> usize {
        self.serving + self.stats.unsent_blocks.load(Ordering::Relaxed) as usize
    }

    /// Hands a block to the writer, counting it until it is on the socket.
    pub fn send_block(&self, block: protocol::wire::BlockRef, data: bytes::Bytes) {
        self.stats.unsent_blocks.fetch_add(1, Ordering::Relaxed);
        if self.writer.send(Outgoing::Block { block, data }).is_err() {
            self.stats.unsent_blocks.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn status(&self, piece_count: u32) -> PeerStatus {
        PeerStatus {
            addr: self.addr,
            client: self.client.clone(),
            am_choking: self.am_choking,
            am_interested: self.am_interested,
            peer_choking: self.peer_choking,
            peer_interested: self.peer_interested,
            down_rate: self.down_rate,
            up_rate: self.up_rate,
            progress: f64::from(self.has.count_ones()) / f64::from(piece_count.max(1)),
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
    pub(super) fn add_candidates(&mut self, addrs: Vec<SocketAddr>) {
        let now = Instant::now();
        for addr in addrs {
            self.candidates.entry(addr).or_insert(Candidate {
                next_attempt: now,
                failures: 0,
            });
        }
        self.maybe_connect(now);
    }

    fn active(&self) -> bool {
        !self.paused && !matches!(self.state, TorrentState::Checking | TorrentState::Error)
    }

    pub(super) fn maybe_connect(&mut self, now: Instant) {
        if !self.active() {
            return;
        }
        let connected: HashSet<SocketAddr> = self
            .peers
            .values()
            .map(|p| p.addr)
            .chain(self.connecting.values().copied())
            .collect();
        let mut due: Vec<SocketAddr> = self
            .candidates
            .iter()
            .filter(|(a, c)| {
                c.next_attempt <= now
                    && !connected.contains(a)
                    && !self.banned_addrs.contains(a)
                    && !self.bans.is_banned(a.ip())
            })
            .map(|(a, _)| *a)
            .collect();
        due.sort();
        for addr in due {
            if self.peers.len() + self.connecting.len() + self.handshaking.len()
                >= self.shared.max_peers
            {
                break;
            }
            if !self.room_for(addr.ip()) {
                continue;
            }
            let key = self.next_key;
            self.next_key += 1;
            self.connecting.insert(key, addr);
            if let Some(c) = self.candidates.get_mut(&addr) {
                // Not again before this attempt has had its chance.
                c.next_attempt = now + Duration::from_secs(30);
            }
            tokio::spawn(peer::run_outgoing(self.ctx.clone(), key, addr));
        }
    }

    pub(super) fn accept(&mut self, stream: crate::mse_stream::PeerStream, buf: BytesMut) {
        let Ok(addr) = stream.peer_addr() else {
            return;
        };
        if !self.active() || self.bans.is_banned(addr.ip()) || !self.room_for(addr.ip()) {
            return; // dropping the stream closes it
        }
        let key = self.next_key;
        self.next_key += 1;
        self.handshaking.insert(key, addr);
        tokio::spawn(peer::run_incoming(self.ctx.clone(), key, stream, buf));
    }

    pub(super) fn on_peer_event(&mut self, ev: PeerEvent) {
        match ev {
            PeerEvent::Connected {
                key,
                addr,
                peer_id,
                reserved,
                writer,
                stats,
            } => {
                self.handshaking.remove(&key);
                let dialed = self.connecting.remove(&key);
                let outgoing = dialed.is_some();
                let addr = dialed.unwrap_or(addr);
                self.connected(key, addr, outgoing, peer_id, reserved, writer, stats)
            }
            PeerEvent::Message { key, msg } => self.on_message(key, msg),
            PeerEvent::Closed { key, reason } => self.closed(key, &reason),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn connected(
        &mut self,
        key: PeerKey,
        addr: SocketAddr,
        outgoing: bool,
        peer_id: PeerId,
        reserved: Reserved,
        writer: OutQueue,
        stats: Arc<PeerStats>,
    ) {
        let refuse = if peer_id == self.shared.our_id {
            // Trackers list us among the peers: never dial that address again.
            self.banned_addrs.insert(addr);
            Some("connected to ourselves")
        } else if self.bans.is_banned(addr.ip()) || self.banned_addrs.contains(&addr) {
            Some("banned")
        } else if let Some((&old, existing)) = self.peers.iter().find(|(_, p)| p.peer_id == peer_id)
        {
            // Both sides dialed at once. Both keep the connection opened by the smaller peer
            // id, so exactly one survives instead of each side closing a different one.
            let initiator = |out: bool| if out { self.shared.our_id } else { peer_id };
            if initiator(outgoing) < initiator(existing.outgoing) {
                self.close_peer(old, "duplicate connection");
                None
            } else {
                Some("already connected")
            }
        } else if !self.active() {
            Some("not active")
        } else {
            None
        };
        if let Some(why) = refuse {
            tracing::debug!("{addr}: {why}");
            let _ = writer.send(Outgoing::Close);
            return;
        }
        if let Some(c) = self.candidates.get_mut(&addr) {
            c.failures = 0;
        }
        let fast = reserved.has(Extension::Fast);
        let mut hello = Vec::new();
        if reserved.has(Extension::ExtensionProtocol) {
            hello.extend_from_slice(&self.our_extended_handshake(addr));
        }
        let have = self.picker.have();
        if fast && have.is_full() {
            Message::HaveAll.encode(&mut hello);
        } else if fast && have.count_ones() == 0 {
            Message::HaveNone.encode(&mut hello);
        } else {
            let mut bits = Vec::new();
            Message::Bitfield(have.as_bytes()).encode(&mut bits);
            // The bitfield must be the first message after the handshake.
            bits.extend_from_slice(&hello);
            hello = bits;
        }
        if let (Some(dht), true) = (&self.ctx.dht, reserved.has(Extension::Dht)) {
            Message::Port(dht.port()).encode(&mut hello); // BEP 5
        }
        let _ = writer.send(Outgoing::Frame(hello));
        let peer = Peer::new(
            addr,
            peer_id,
            writer,
            stats,
            self.lengths.piece_count(),
            outgoing,
            fast,
        );
        self.peers.insert(key, peer);
        tracing::debug!("{addr}: connected ({} peers)", self.peers.len());
    }

    fn closed(&mut self, key: PeerKey, reason: &str) {
        let now = Instant::now();
        if let Some(addr) = self.handshaking.remove(&key) {
            tracing::debug!("{addr}: {reason}");
            return;
        }
        if let Some(addr) = self.connecting.remove(&key) {
            tracing::debug!("{addr}: {reason}");
            if let Some(c) = self.candidates.get_mut(&addr) {
                c.failures += 1;
                c.next_attempt = now + Duration::from_secs(2u64.pow(c.failures.min(8)));
            }
            return;
        }
        let Some(peer) = self.peers.remove(&key) else {
            return;
        };
        tracing::debug!("{}: closed: {reason}", peer.addr);
        self.closed_down += peer.downloaded();
        self.closed_up += peer.uploaded();
        self.picker.remove_peer_pieces(&peer.has);
        for b in &peer.outstanding {
            self.picker.release(*b);
        }
        let both_seeds = peer.has.is_full() && self.state == TorrentState::Seeding;
        if let Some(c) = self.candidates.get_mut(&peer.addr) {
            // Two seeds have nothing to say to each other: don't redial soon.
            c.next_attempt = now + Duration::from_secs(if both_seeds { 3600 } else { 5 });
        }
        self.choker.force();
        self.request_from_all();
    }

    /// Closes a connection now; its `Closed` event will finish the bookkeeping.
    pub(super) fn close_peer(&mut self, key: PeerKey, why: &str) {
        if let Some(p) = self.peers.get(&key) {
            tracing::debug!("{}: closing: {why}", p.addr);
            p.writer.abort();
        }
        // Forget it at once so nothing more is requested from or sent to it.
        self.closed(key, why);
    }

    /// Interested exactly when the peer has a piece we want.
    pub(super) fn update_interest(&mut self, key: PeerKey) {
        let Some(p) = self.peers.get(&key) else {
            return;
        };
        let want = self.state != TorrentState::Seeding && self.picker.is_interesting(&p.has);
        if want != p.am_interested {
            let mut frame = Vec::new();
            if want {
                Message::Interested
            } else {
                Message::NotInterested
            }
            .encode(&mut frame);
            if let Some(p) = self.peers.get_mut(&key) {
                p.am_interested = want;
                let _ = p.writer.send(Outgoing::Frame(frame));
            }
        }
    }

    /// Tops up the peer's request pipeline.
    pub(super) fn fill_requests(&mut self, key: PeerKey) {
        if !self.active() || self.state == TorrentState::Seeding {
            return;
        }
        if !self.backlog.has_room() {
            return; // the disk thread wakes us with `Drained`
        }
        let Torrent {
            peers, picker, rng, ..
        } = self;
        let Some(p) = peers.get_mut(&key) else { return };
        if !p.am_interested {
            return;
        }
        // Choked, only the pieces it allowed fast (BEP 6) that it has can be asked for.
        let choked_mask = if p.peer_choking {
            match super::allowed_fast::choked_mask(p) {
                Some(mask) => Some(mask),
                None => return,
            }
        } else {
            None
        };
        let target = p.queue_target();
        // Refill in batches of a quarter of the pipeline: one write of many requests costs both
        // sides far fewer syscalls and wake-ups than a request per received block.
        if p.outstanding.len() + (target / 2).max(1) > target && !p.outstanding.is_empty() {
            return;
        }
        let room = target.saturating_sub(p.outstanding.len());
        let outstanding = &p.outstanding;
        let offered = choked_mask.as_ref().unwrap_or(&p.has);
        let blocks = picker.next_blocks(offered, room, rng, &|b| outstanding.contains(&b));
        if blocks.is_empty() {
            return;
        }
        if p.outstanding.is_empty() {
            p.last_block = Instant::now();
        }
        p.outstanding.extend(blocks.iter().copied());
        let _ = p.writer.send(Outgoing::Requests(
            blocks.iter().map(|b| b.as_ref()).collect(),
        ));
    }

    pub(super) fn request_from_all(&mut self) {
        let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
        for key in keys {
            self.fill_requests(key);
        }
    }

    /// Drops peers that sit on our requests without answering.
    pub(super) fn check_stalls(&mut self, now: Instant) {
        let stalled: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                !p.outstanding.is_empty() && now.duration_since(p.last_block) > STALL_TIMEOUT
            })
            .map(|(k, _)| *k)
            .collect();
        for key in stalled {
            self.close_peer(key, "stalled: requests unanswered");
        }
    }

    pub(super) fn rechoke(&mut self, now: Instant) {
        if self.shared.upload_slots == 0 {
            // No upload slots: everyone stays choked (they start so), and gets only the
            // allowed-fast pieces we sent them.
            return;
        }
        let list: Vec<ChokerPeer> = self
            .peers
            .iter()
            .map(|(&key, p)| ChokerPeer {
                key,
                interested: p.peer_interested,
                down_rate: p.down_rate,
                up_rate: p.up_rate,
            })
            .collect();
        let seeding = self.state == TorrentState::Seeding;
        let Some(unchoked) = self
            .choker
            .poll(now, &list, seeding, &mut self.rng)
            .cloned()
        else {
            return;
        };
        for (key, p) in self.peers.iter_mut() {
            let choke = !unchoked.contains(key);
            if choke != p.am_choking {
                p.am_choking = choke;
                if !choke {
                    p.refused = 0;
                }
                let mut frame = Vec::new();
                if choke {
                    Message::Choke
                } else {
                    Message::Unchoke
                }
                .encode(&mut frame);
                let _ = p.writer.send(Outgoing::Frame(frame));
            }
        }
    }
}

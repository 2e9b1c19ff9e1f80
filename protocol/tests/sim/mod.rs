//! A deterministic swarm of `TorrentCore`s in one process, on a virtual clock: the harness
//! plays driver for every node (the connections, the disk, the timers) and checks the core's
//! invariants as messages go by. Links have a bandwidth, a latency and a loss rate (a lost
//! segment costs a retransmission timeout, as on TCP: order is kept). Scripted hostile nodes
//! lie about data or never read.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::choker::{OPTIMISTIC_INTERVAL, RECHOKE_INTERVAL};
use protocol::session::{
    CoreConfig, CoreEvent, DiskOp, PeerKey, PeerMessage, TorrentCore, Transmit,
    READ_AHEAD_UNCAPPED, STALL_TIMEOUT,
};
use protocol::wire::{BlockRef, Message};
use protocol::{Bitfield, InfoHash, Lengths, PeerId};
use rand::{Rng, RngCore, SeedableRng};
use sha1::Digest;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Seed,
    Leecher,
    /// A seed whose every block is corrupt.
    Liar,
    /// Says it has every piece and unchokes, but never sends a block.
    Hoarder,
    /// A leecher that asks for far more than a peer's queue allows, choked or not.
    Flooder,
    /// A leecher that stops reading its socket once the first block is on its way to it.
    Sink,
}

impl Role {
    /// Honest leechers are the nodes a swarm waits for.
    fn waited_for(self) -> bool {
        self == Role::Leecher
    }

    /// Plays by the rules.
    pub fn honest(self) -> bool {
        matches!(self, Role::Seed | Role::Leecher)
    }

    /// What it starts with: every piece, or none.
    fn starts_full(self) -> bool {
        matches!(self, Role::Seed | Role::Liar | Role::Hoarder)
    }
}

#[derive(Debug, Clone)]
pub struct Link {
    /// Each node's upload, bytes per second.
    pub bandwidth: u64,
    pub latency: Duration,
    /// Chance that a message meets a lost segment (costs `RTO`).
    pub loss: f64,
}

const RTO: Duration = Duration::from_millis(200);
const DISK_DELAY: Duration = Duration::from_micros(200);
const TICK: Duration = Duration::from_millis(500);
/// Requests a flooder adds to each batch its core sends.
const FLOOD: u32 = 600;
/// Requests a sink adds to its first batch to a seed: within our queue limit (500).
const SINK_DEPTH: u32 = 300;
/// How a connection's rates are smoothed, per tick (a few seconds' memory, as a driver's).
const RATE_KEEP: f64 = 0.8;

pub struct SwarmSpec {
    pub pieces: u32,
    pub piece_len: u32,
    pub roles: Vec<Role>,
    pub link: Link,
    pub upload_slots: usize,
    /// Queue depth every node asks of its peers (as `reqq`); `None` leaves the default.
    pub reqq: Option<u32>,
    pub seed: u64,
    /// Leechers know each other (as a tracker would tell them); otherwise each knows only the
    /// nodes that start with every piece, so all it gets comes from them.
    pub mesh: bool,
}

struct Node {
    role: Role,
    addr: SocketAddr,
    core: TorrentCore,
    /// Blocks written, per piece not yet verified.
    parts: BTreeMap<u32, BTreeMap<u32, Bytes>>,
    /// Verified pieces.
    verified: BTreeSet<u32>,
    verify_count: HashMap<u32, u32>,
    /// Connection key -> (remote node, remote key).
    conns: BTreeMap<PeerKey, (usize, PeerKey)>,
    done_at: Option<Duration>,
    banned: Vec<SocketAddr>,
    /// Per connection: payload bytes in and out since the last tick, and the smoothed rates.
    traffic: HashMap<PeerKey, Traffic>,
    /// Interested peers this node keeps choked: since when, and how many waited before them.
    waiting: HashMap<PeerKey, (Duration, usize)>,
}

#[derive(Default)]
struct Traffic {
    down: u64,
    up: u64,
    down_rate: f64,
    up_rate: f64,
    /// Since when our requests on it wait for a block: since the first went out, or since the
    /// last block came.
    asked_since: Option<Duration>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A frame reaches `to`'s connection `key`.
    Deliver {
        to: usize,
        key: PeerKey,
        frame: Vec<u8>,
        /// Block bytes in it (for the rates).
        payload: u64,
    },
    /// `to`'s connection `key` was closed by the other side.
    Closed {
        to: usize,
        key: PeerKey,
    },
    Written {
        node: usize,
        piece: u32,
    },
    Read {
        node: usize,
        key: PeerKey,
        block: BlockRef,
    },
    Tick {
        node: usize,
    },
}

pub struct Swarm {
    pub t0: Instant,
    pub now: Duration,
    nodes: Vec<Node>,
    queue: BinaryHeap<Reverse<(Duration, u64, Ev)>>,
    seq: u64,
    /// Per node: when its uplink is free to send the next byte (a node's upload is shared by
    /// all its connections, as a home line's is).
    busy: HashMap<usize, Duration>,
    /// Delivery times of blocks in flight per (node, key): the "unsent" count of the driver.
    in_flight: HashMap<(usize, PeerKey), Vec<Duration>>,
    rng: rand::rngs::StdRng,
    spec_link: Link,
    lengths: Lengths,
    data: Vec<Bytes>,
    hashes: Vec<[u8; 20]>,
    pub violations: Vec<String>,
    pub events: u64,
    /// Connections (sender, key) to a sink whose socket is full for good.
    stuck: HashSet<(usize, PeerKey)>,
    /// The flooder's next block to ask for.
    flood_next: u32,
    /// Connections (sink, key) on which the sink asked deep.
    deep: HashSet<(usize, PeerKey)>,
    upload_slots: usize,
    reqq: Option<u32>,
}

fn addr_of(i: usize) -> SocketAddr {
    // Distinct hosts (10.x.y.z), so per-host caps and bans act per node.
    let ip = Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, i as u8);
    SocketAddr::new(IpAddr::V4(ip), 6881)
}

impl Swarm {
    pub fn new(spec: SwarmSpec) -> Swarm {
        let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
        let total = u64::from(spec.pieces) * u64::from(spec.piece_len) - 1000;
        let lengths =
            Lengths::new(total, u64::from(spec.piece_len), spec.pieces as usize).expect("lengths");
        let data: Vec<Bytes> = (0..spec.pieces)
            .map(|i| {
                let len = lengths.piece_len(lengths.validate_piece(i).unwrap()) as usize;
                let mut v = vec![0u8; len];
                rng.fill_bytes(&mut v);
                Bytes::from(v)
            })
            .collect();
        let hashes = data.iter().map(|d| sha1::Sha1::digest(d).into()).collect();
        let info_hash = InfoHash([7; 20]);
        let t0 = Instant::now();
        let nodes = (spec.roles.iter().enumerate())
            .map(|(i, &role)| {
                let mut id = [0u8; 20];
                rng.fill_bytes(&mut id);
                let config = CoreConfig {
                    our_id: PeerId(id),
                    info_hash,
                    upload_slots: spec.upload_slots,
                    max_peers: 80,
                    max_peers_per_ip: 8,
                };
                let mut core = TorrentCore::new(config, lengths, rng.random(), t0);
                let have = if role.starts_full() {
                    Bitfield::full(spec.pieces)
                } else {
                    Bitfield::new(spec.pieces)
                };
                core.replace_picker(protocol::Picker::new(lengths, have));
                core.set_active(true, t0);
                core.set_seeding(role.starts_full());
                Node {
                    role,
                    addr: addr_of(i),
                    core,
                    parts: BTreeMap::new(),
                    verified: BTreeSet::new(),
                    verify_count: HashMap::new(),
                    conns: BTreeMap::new(),
                    done_at: (!role.waited_for()).then_some(Duration::ZERO),
                    banned: Vec::new(),
                    traffic: HashMap::new(),
                    waiting: HashMap::new(),
                }
            })
            .collect();
        let mut swarm = Swarm {
            t0,
            now: Duration::ZERO,
            nodes,
            queue: BinaryHeap::new(),
            seq: 0,
            busy: HashMap::new(),
            in_flight: HashMap::new(),
            rng,
            spec_link: spec.link,
            lengths,
            data,
            hashes,
            violations: Vec::new(),
            events: 0,
            stuck: HashSet::new(),
            flood_next: 0,
            deep: HashSet::new(),
            upload_slots: spec.upload_slots,
            reqq: spec.reqq,
        };
        // Every leecher knows every other node, or only the full ones (see `mesh`).
        let known: Vec<SocketAddr> = (0..swarm.nodes.len())
            .filter(|&j| spec.mesh || swarm.nodes[j].role.starts_full())
            .map(addr_of)
            .collect();
        for i in 0..swarm.nodes.len() {
            if !swarm.nodes[i].role.starts_full() {
                let others: Vec<_> = known.iter().copied().filter(|a| *a != addr_of(i)).collect();
                swarm.nodes[i].core.add_candidates(others, t0);
            }
            swarm.at(Duration::from_millis(i as u64 % 500), Ev::Tick { node: i });
            swarm.drive(i);
        }
        swarm
    }

    fn at(&mut self, when: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((when, self.seq, ev)));
    }

    fn instant(&self) -> Instant {
        self.t0 + self.now
    }

    /// Runs until every honest leecher is done or `limit` of virtual time passed.
    pub fn run(&mut self, limit: Duration) -> bool {
        while let Some(Reverse((when, _, ev))) = self.queue.pop() {
            if when > limit {
                return false;
            }
            self.now = when;
            self.events += 1;
            self.handle(ev);
            if self.all_done() {
                return true;
            }
        }
        false
    }

    pub fn all_done(&self) -> bool {
        self.nodes.iter().all(|n| n.done_at.is_some())
    }

    pub fn finish_times(&self) -> Vec<Option<Duration>> {
        self.nodes.iter().map(|n| n.done_at).collect()
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].addr
    }

    /// Connections to a sink that stopped reading.
    pub fn stuck(&self) -> usize {
        self.stuck.len()
    }

    /// Who banned whom.
    pub fn bans(&self) -> Vec<(usize, SocketAddr)> {
        (self.nodes.iter().enumerate())
            .flat_map(|(i, n)| n.banned.iter().map(move |a| (i, *a)))
            .collect()
    }

    /// Pieces verified more than once at a node (should be none).
    pub fn verified_twice(&self) -> Vec<(usize, u32)> {
        (self.nodes.iter().enumerate())
            .flat_map(|(i, n)| {
                (n.verify_count.iter())
                    .filter(|(_, &c)| c > 1)
                    .map(move |(&p, _)| (i, p))
            })
            .collect()
    }

    fn handle(&mut self, ev: Ev) {
        let now = self.instant();
        match ev {
            Ev::Tick { node } => {
                self.refresh_unsent(node);
                self.update_rates(node);
                self.nodes[node].core.handle_timeout(now);
                self.drive(node);
                self.check_invariants(node);
                self.at(self.now + TICK, Ev::Tick { node });
            }
            Ev::Deliver {
                to,
                key,
                frame,
                payload,
            } => {
                self.count_payload(to, key, payload);
                let mut buf = BytesMut::from(&frame[..]);
                while let Ok(Some((msg, _))) = PeerMessage::decode(&mut buf, 1 << 20) {
                    if let PeerMessage::Request(_) = msg {
                        self.refresh_unsent(to);
                    }
                    self.nodes[to].core.handle_message(key, msg, now);
                }
                self.drive(to);
            }
            Ev::Closed { to, key } => {
                self.nodes[to].conns.remove(&key);
                self.nodes[to].core.handle_closed(key, now);
                self.drive(to);
            }
            Ev::Written { node, piece } => self.written(node, piece),
            Ev::Read { node, .. } if self.nodes[node].role == Role::Hoarder => {}
            Ev::Read { node, key, block } => {
                let n = &self.nodes[node];
                let mut data = self.data[block.piece as usize]
                    .slice(block.begin as usize..(block.begin + block.length) as usize);
                if n.role == Role::Liar {
                    let mut v = data.to_vec();
                    v[0] ^= 0xff;
                    data = Bytes::from(v);
                }
                let vb = self.lengths.validate_block(block).unwrap();
                self.nodes[node].core.handle_read_done(key, vb, data);
                self.drive(node);
            }
        }
    }

    fn refresh_unsent(&mut self, node: usize) {
        let now = self.now;
        let keys: Vec<PeerKey> = self.nodes[node].conns.keys().copied().collect();
        for key in keys {
            let list = self.in_flight.entry((node, key)).or_default();
            list.retain(|&t| t > now);
            let n = list.len();
            self.nodes[node].core.set_unsent(key, n);
        }
    }

    /// Carries out what node `i`'s core asks for.
    fn drive(&mut self, i: usize) {
        loop {
            let mut did = false;
            while let Some(dial) = self.nodes[i].core.poll_connect() {
                did = true;
                self.dial(i, dial.key, dial.addr);
            }
            while let Some((key, t)) = self.nodes[i].core.poll_transmit() {
                did = true;
                self.transmit(i, key, t);
            }
            while let Some(op) = self.nodes[i].core.poll_disk() {
                did = true;
                self.disk(i, op);
            }
            while let Some(ev) = self.nodes[i].core.poll_event() {
                did = true;
                let CoreEvent::Banned { addr, .. } = ev;
                self.nodes[i].banned.push(addr);
            }
            if !did {
                break;
            }
        }
        self.observe_choking(i);
        self.observe_stalls(i);
    }

    /// A peer that sits on our requests is dropped within the stall timeout (plus a tick of
    /// the clock), and its requests go to others.
    fn observe_stalls(&mut self, i: usize) {
        let now = self.now;
        let node = &mut self.nodes[i];
        for (key, p) in node.core.peers() {
            let t = node.traffic.entry(key).or_default();
            if p.outstanding.is_empty() {
                t.asked_since = None;
                continue;
            }
            let since = *t.asked_since.get_or_insert(now);
            if now - since > STALL_TIMEOUT + TICK {
                let msg = format!("node {i} waits on {key:?} past the stall timeout");
                if !self.violations.contains(&msg) && self.violations.len() < 100 {
                    self.violations.push(msg);
                }
            }
        }
    }

    fn dial(&mut self, from: usize, key: PeerKey, addr: SocketAddr) {
        let now = self.instant();
        let Some(to) = (0..self.nodes.len()).find(|&j| self.nodes[j].addr == addr) else {
            self.nodes[from].core.handle_closed(key, now);
            return;
        };
        let from_addr = self.nodes[from].addr;
        let Some(their_key) = self.nodes[to].core.admit_incoming(from_addr) else {
            self.nodes[from].core.handle_closed(key, now);
            return;
        };
        let (a_id, b_id) = (self.peer_id(from), self.peer_id(to));
        let ok_a = (self.nodes[from].core).handle_connected(key, addr, b_id, true, now);
        let ok_b = (self.nodes[to].core).handle_connected(their_key, from_addr, a_id, true, now);
        match (ok_a, ok_b) {
            (Ok(()), Ok(())) => {
                self.nodes[from].conns.insert(key, (to, their_key));
                self.nodes[to].conns.insert(their_key, (from, key));
                if let Some(q) = self.reqq {
                    self.nodes[from].core.set_reqq(key, Some(q));
                    self.nodes[to].core.set_reqq(their_key, Some(q));
                }
            }
            (a, b) => {
                if a.is_ok() {
                    self.nodes[from]
                        .core
                        .close_peer(key, protocol::session::PeerError::Io("refused".into()));
                } else {
                    self.nodes[from].core.handle_closed(key, now);
                }
                if b.is_ok() {
                    self.nodes[to].core.close_peer(
                        their_key,
                        protocol::session::PeerError::Io("refused".into()),
                    );
                } else {
                    self.nodes[to].core.handle_closed(their_key, now);
                }
                self.drive(to);
            }
        }
        self.drive(to);
    }

    fn peer_id(&self, i: usize) -> PeerId {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        PeerId(id)
    }

    fn transmit(&mut self, from: usize, key: PeerKey, t: Transmit) {
        let Some(&(to, their_key)) = self.nodes[from].conns.get(&key) else {
            return; // a close raced it
        };
        let mut frame = Vec::new();
        let mut payload = 0;
        match t {
            Transmit::Close(_) => {
                self.stuck.remove(&(from, key));
                self.nodes[from].conns.remove(&key);
                let when = self.now + self.spec_link.latency;
                self.at(when, Ev::Closed { to, key: their_key });
                return;
            }
            Transmit::Frame(f) => frame = f,
            Transmit::Requests(blocks) => {
                let role = self.nodes[from].role;
                if role == Role::Flooder {
                    self.flood(&mut frame, FLOOD);
                } else if role == Role::Sink
                    && self.nodes[to].role.starts_full()
                    && self.deep.insert((from, key))
                {
                    // Its first requests to a seed fill our whole queue (within the rules):
                    // what bounds the blocks read for it is the read-ahead.
                    self.flood(&mut frame, SINK_DEPTH);
                } else {
                    self.check_requests(from, key, &blocks);
                }
                for b in blocks {
                    Message::Request(b).encode(&mut frame);
                }
            }
            Transmit::Block { block, data } => {
                payload = data.len() as u64;
                Message::Piece {
                    index: block.piece,
                    begin: block.begin,
                    data: &data,
                }
                .encode(&mut frame);
            }
        }
        if self.nodes[to].role == Role::Sink && (payload > 0 || self.stuck.contains(&(from, key))) {
            // The sink's socket fills and stays full: nothing more reaches it, and what we
            // handed the connection never leaves it.
            self.stuck.insert((from, key));
            if payload > 0 {
                self.in_flight
                    .entry((from, key))
                    .or_default()
                    .push(Duration::MAX);
            }
            return;
        }
        let link = &self.spec_link;
        let free = self.busy.get(&from).copied().unwrap_or(Duration::ZERO);
        let start = free.max(self.now);
        let wire = Duration::from_secs_f64(frame.len() as f64 / link.bandwidth as f64);
        let lost = self.rng.random_bool(link.loss);
        let done = start + wire + if lost { RTO } else { Duration::ZERO };
        self.busy.insert(from, done);
        let arrive = done + link.latency;
        if payload > 0 {
            self.in_flight.entry((from, key)).or_default().push(done);
        }
        self.at(
            arrive,
            Ev::Deliver {
                to,
                key: their_key,
                frame,
                payload,
            },
        );
    }

    fn disk(&mut self, i: usize, op: DiskOp) {
        match op {
            DiskOp::Write { block, data } => {
                let piece = block.piece.get();
                let begin = block.as_ref().begin;
                let node = &mut self.nodes[i];
                if node.verified.contains(&piece) {
                    self.violations
                        .push(format!("node {i} wrote a block of verified piece {piece}"));
                }
                node.parts.entry(piece).or_default().insert(begin, data);
                let blocks = self.lengths.blocks_in_piece(block.piece) as usize;
                if node.parts[&piece].len() == blocks {
                    self.at(self.now + DISK_DELAY, Ev::Written { node: i, piece });
                }
            }
            DiskOp::Read { key, block } => {
                if !self.nodes[i].core.have().get(block.piece.get()) {
                    self.violations
                        .push(format!("node {i} read a piece it lacks"));
                }
                let block = block.as_ref();
                self.at(
                    self.now + DISK_DELAY,
                    Ev::Read {
                        node: i,
                        key,
                        block,
                    },
                );
            }
        }
    }

    fn written(&mut self, i: usize, piece: u32) {
        let Some(parts) = self.nodes[i].parts.remove(&piece) else {
            return;
        };
        let mut whole = Vec::new();
        for (_, b) in parts {
            whole.extend_from_slice(&b);
        }
        let ok: [u8; 20] = sha1::Sha1::digest(&whole).into();
        let p = self.lengths.validate_piece(piece).unwrap();
        let node = &mut self.nodes[i];
        if ok == self.hashes[piece as usize] {
            *node.verify_count.entry(piece).or_default() += 1;
            node.verified.insert(piece);
            node.core.handle_verified(p);
            if node.done_at.is_none() && node.core.picker().is_complete() {
                node.done_at = Some(self.now);
                node.core.set_seeding(true);
            }
        } else {
            node.core.handle_failed(p);
        }
        self.drive(i);
    }

    fn count_payload(&mut self, to: usize, key: PeerKey, payload: u64) {
        if payload == 0 {
            return;
        }
        let Some(&(from, from_key)) = self.nodes[to].conns.get(&key) else {
            return;
        };
        let t = self.nodes[to].traffic.entry(key).or_default();
        t.down += payload;
        t.asked_since = t.asked_since.map(|_| self.now);
        (self.nodes[from].traffic.entry(from_key).or_default()).up += payload;
    }

    /// Tells node `i`'s core each connection's smoothed rates, as a driver measures them.
    fn update_rates(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.traffic.retain(|k, _| node.conns.contains_key(k));
        let secs = TICK.as_secs_f64();
        for (key, t) in node.traffic.iter_mut() {
            t.down_rate = t.down_rate * RATE_KEEP + t.down as f64 / secs * (1.0 - RATE_KEEP);
            t.up_rate = t.up_rate * RATE_KEEP + t.up as f64 / secs * (1.0 - RATE_KEEP);
            (t.down, t.up) = (0, 0);
            node.core
                .set_rates(*key, t.down_rate as u64, t.up_rate as u64);
        }
    }

    /// Extra requests: the next `count` blocks of the torrent, whatever the peer has or allows.
    fn flood(&mut self, frame: &mut Vec<u8>, count: u32) {
        let blocks_per_piece = self
            .lengths
            .default_piece_len()
            .div_ceil(protocol::BLOCK_LEN);
        let total = self.lengths.piece_count() * blocks_per_piece;
        for _ in 0..count {
            let n = self.flood_next % total;
            self.flood_next = self.flood_next.wrapping_add(1);
            let piece = n / blocks_per_piece;
            let begin = (n % blocks_per_piece) * protocol::BLOCK_LEN;
            let p = self.lengths.validate_piece(piece).expect("piece");
            let len = self.lengths.piece_len(p);
            if begin < len {
                let length = (len - begin).min(protocol::BLOCK_LEN);
                Message::Request(BlockRef {
                    piece,
                    begin,
                    length,
                })
                .encode(frame);
            }
        }
    }

    /// Fairness, within the choker's rules: an interested peer that node `i` keeps choked is
    /// unchoked within one optimistic rotation (30 s, up to a rechoke and a tick late) for each
    /// peer that waited before it, plus one.
    fn observe_choking(&mut self, i: usize) {
        let now = self.now;
        let node = &mut self.nodes[i];
        let waiting_now: Vec<PeerKey> = (node.core.peers())
            .filter(|(_, p)| p.peer_interested && p.am_choking)
            .map(|(k, _)| k)
            .collect();
        node.waiting.retain(|k, _| waiting_now.contains(k));
        let before = node.waiting.len();
        let new: Vec<PeerKey> = (waiting_now.iter().copied())
            .filter(|k| !node.waiting.contains_key(k))
            .collect();
        for k in &new {
            node.waiting.insert(*k, (now, before + new.len() - 1));
        }
        let rotation = OPTIMISTIC_INTERVAL + RECHOKE_INTERVAL + TICK;
        for (k, &(since, ahead)) in &node.waiting {
            let bound = rotation * (ahead as u32 + 1);
            if now - since > bound {
                let msg = format!(
                    "node {i} kept interested peer {k:?} choked past {bound:?} ({ahead} ahead)"
                );
                if !self.violations.contains(&msg) && self.violations.len() < 100 {
                    self.violations.push(msg);
                }
            }
        }
    }

    /// Requests must be for pieces we lack, to a peer that has them, within its queue bound.
    fn check_requests(&mut self, i: usize, key: PeerKey, blocks: &[BlockRef]) {
        let node = &self.nodes[i];
        let Some(peer) = node.core.peer(key) else {
            return;
        };
        for b in blocks {
            if node.core.have().get(b.piece) {
                self.violations.push(format!(
                    "node {i} requested block of piece {} it has",
                    b.piece
                ));
            }
            if !peer.has.get(b.piece) && !peer.peer_choking {
                self.violations.push(format!(
                    "node {i} requested piece {} its peer lacks",
                    b.piece
                ));
            }
        }
        let bound = self.reqq.map_or(500, |q| q as usize);
        if peer.outstanding.len() > bound {
            self.violations.push(format!(
                "node {i} has {} requests outstanding at a peer allowing {bound}",
                peer.outstanding.len()
            ));
        }
    }

    fn check_invariants(&mut self, i: usize) {
        // What a sink makes us hold stays within the read-ahead bound.
        for &(from, key) in &self.stuck {
            let held = self.in_flight.get(&(from, key)).map_or(0, Vec::len);
            if from == i && held > READ_AHEAD_UNCAPPED {
                self.violations.push(format!(
                    "node {i} holds {held} blocks for a peer that does not read"
                ));
            }
        }
        let node = &self.nodes[i];
        let unchoked = node.core.peers().filter(|(_, p)| !p.am_choking).count();
        if unchoked > self.upload_slots {
            self.violations.push(format!(
                "node {i} unchokes {unchoked} peers with {} slots",
                self.upload_slots
            ));
        }
    }
}

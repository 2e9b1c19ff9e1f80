//! [`TorrentCore`]: the state one torrent's rules need, its inputs for connections coming and
//! going, and its polled outputs. The rules themselves are in the sibling modules: `inbound`
//! (what peers say), `requests` (asking), `serving` (answering), `choke`, `allowed_fast`,
//! `verdicts` (bad pieces and bans) and `dialing` (whom to connect to); the state they keep
//! apart from the peers is in `pool`, `strikes` and `uploads`.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use rand::SeedableRng;

use super::error::PeerError;
use super::ext_state::Extensions;
use super::outputs::{CoreConfig, CoreEvent, DiskOp, PeerKey, Transmit};
use super::peer::PeerSession;
use super::pool::DialPool;
use super::strikes::Strikes;
use super::uploads::Uploads;
use crate::wire::Message;
use crate::{Bitfield, Choker, Lengths, PeerId, Picker};

pub struct TorrentCore {
    pub(super) config: CoreConfig,
    pub(super) lengths: Lengths,
    pub(super) picker: Picker,
    pub(super) choker: Choker,
    pub(super) rng: rand::rngs::StdRng,
    pub(super) peers: BTreeMap<PeerKey, PeerSession>,
    pub(super) pool: DialPool,
    pub(super) strikes: Strikes,
    pub(super) uploads: Uploads,
    /// BEP 10 settings: our handshake, the metadata we serve, PEX (`extended.rs`).
    pub(super) extensions: Extensions,
    /// Peers are connected and data moves (not paused, checking or failed).
    pub(super) active: bool,
    /// Every wanted piece is here: we only serve.
    pub(super) seeding: bool,
    /// The upload is rate-limited: requests are served in `uploads`' order.
    pub(super) up_limited: bool,
    /// The disk can take more writes (the driver says when that changes).
    pub(super) disk_room: bool,
    /// The latest instant an input brought (time is never read here).
    pub(super) now: Instant,
    transmits: VecDeque<(PeerKey, Transmit)>,
    pub(super) disk: VecDeque<DiskOp>,
    pub(super) events: VecDeque<CoreEvent>,
}

impl TorrentCore {
    /// A core that has nothing yet and is not active; the driver hands it what the check found
    /// with [`TorrentCore::set_have`]. `seed` feeds the choker's and picker's random choices.
    pub fn new(config: CoreConfig, lengths: Lengths, seed: u64, now: Instant) -> TorrentCore {
        let pool = DialPool::new(config.max_peers, config.max_peers_per_ip);
        TorrentCore {
            choker: Choker::new(config.upload_slots),
            picker: Picker::new(lengths, Bitfield::new(lengths.piece_count())),
            config,
            lengths,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            peers: BTreeMap::new(),
            pool,
            strikes: Strikes::default(),
            uploads: Uploads::default(),
            extensions: Extensions::default(),
            active: false,
            seeding: false,
            up_limited: false,
            disk_room: true,
            now,
            transmits: VecDeque::new(),
            disk: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ---- what the driver asks and sets ----

    pub fn lengths(&self) -> Lengths {
        self.lengths
    }

    pub fn picker(&self) -> &Picker {
        &self.picker
    }

    /// For what lies outside the peer wire (web seeds, streaming deadlines, file priorities):
    /// changes that affect requests are followed by [`TorrentCore::request_from_all`].
    pub fn picker_mut(&mut self) -> &mut Picker {
        &mut self.picker
    }

    pub fn have(&self) -> &Bitfield {
        self.picker.have()
    }

    /// A new picker (the check found `picker.have()`, or pieces were withdrawn): it learns what
    /// every connected peer has, and interest is re-evaluated.
    pub fn replace_picker(&mut self, mut picker: Picker) {
        for p in self.peers.values() {
            picker.add_peer_pieces(&p.has);
        }
        self.picker = picker;
        self.update_interest_all();
    }

    pub fn peer(&self, key: PeerKey) -> Option<&PeerSession> {
        self.peers.get(&key)
    }

    pub fn peers(&self) -> impl Iterator<Item = (PeerKey, &PeerSession)> {
        self.peers.iter().map(|(&k, p)| (k, p))
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Whether data moves: the driver says so when it pauses, resumes, fails or finishes its
    /// check. Leaving the active state closes every connection.
    pub fn set_active(&mut self, active: bool, now: Instant) {
        self.now = now;
        let was = self.active;
        self.active = active;
        if was && !active {
            let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
            for key in keys {
                self.close_peer(key, PeerError::Done("torrent stopped or paused"));
            }
        } else if active && !was {
            self.connect_due(now);
            self.request_from_all();
        }
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Every wanted piece is here (or, false, wanted again after a new file selection).
    /// Becoming a seed withdraws the endgame's twin requests, drops interest, and closes
    /// connections to other seeds.
    pub fn set_seeding(&mut self, seeding: bool) {
        let was = self.seeding;
        self.seeding = seeding;
        if seeding && !was {
            for (&key, p) in self.peers.iter_mut() {
                let mut frames = Vec::new();
                for b in p.withdraw_all() {
                    Message::Cancel(b.as_ref()).encode(&mut frames);
                }
                if !frames.is_empty() {
                    self.transmits.push_back((key, Transmit::Frame(frames)));
                }
            }
            let keys: Vec<PeerKey> = self.peers.keys().copied().collect();
            for key in keys {
                self.update_interest(key);
                if self.peers.get(&key).is_some_and(|p| p.has.is_full()) {
                    self.close_peer(key, PeerError::Done("both seeding"));
                }
            }
        }
    }

    pub fn is_seeding(&self) -> bool {
        self.seeding
    }

    pub fn set_upload_limited(&mut self, limited: bool) {
        self.up_limited = limited;
    }

    pub fn set_upload_slots(&mut self, slots: usize) {
        self.config.upload_slots = slots;
        self.choker.set_slots(slots);
    }

    /// The disk's write queue has room again (`true`) or is full (`false`): while full, no new
    /// requests go out. Room again refills every pipeline.
    pub fn set_disk_room(&mut self, room: bool) {
        let was = self.disk_room;
        self.disk_room = room;
        if room && !was {
            self.request_from_all();
        }
    }

    /// The connection's count of blocks handed to it and not yet written to its socket.
    pub fn set_unsent(&mut self, key: PeerKey, unsent: usize) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.unsent = unsent;
        }
    }

    /// The peer's measured payload rates (bytes per second).
    pub fn set_rates(&mut self, key: PeerKey, down: u64, up: u64) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.down_rate = down;
            p.up_rate = up;
        }
    }

    /// The queue depth the peer asked for in its extended handshake.
    pub fn set_reqq(&mut self, key: PeerKey, reqq: Option<u32>) {
        if let Some(p) = self.peers.get_mut(&key) {
            p.reqq = reqq;
        }
    }

    // ---- connections ----

    /// A connection finished its handshake. Refused (`Err`) when it is ourselves, banned, a
    /// duplicate we drop, or the torrent is not active; the driver then closes it. Accepted,
    /// the core queues our opening message (bitfield, have-all or have-none): the driver sends
    /// its extended handshake after it.
    pub fn handle_connected(
        &mut self,
        key: PeerKey,
        addr: SocketAddr,
        peer_id: PeerId,
        fast: bool,
        now: Instant,
    ) -> Result<(), PeerError> {
        self.now = now;
        let (addr, outgoing) = self.pool.handshook(key, addr);
        if let Err(why) = self.admit_handshake(addr, outgoing, peer_id) {
            self.pool.ended(key, false, now);
            return Err(why);
        }
        let have = self.picker.have();
        let mut hello = Vec::new();
        if fast && have.is_full() {
            Message::HaveAll.encode(&mut hello);
        } else if fast && have.count_ones() == 0 {
            Message::HaveNone.encode(&mut hello);
        } else {
            Message::Bitfield(have.as_bytes()).encode(&mut hello);
        }
        self.transmits.push_back((key, Transmit::Frame(hello)));
        let peer = PeerSession::new(
            addr,
            peer_id,
            self.lengths.piece_count(),
            outgoing,
            fast,
            now,
        );
        self.peers.insert(key, peer);
        Ok(())
    }

    /// Whether a connection that got through its handshake may stay.
    fn admit_handshake(
        &mut self,
        addr: SocketAddr,
        outgoing: bool,
        peer_id: PeerId,
    ) -> Result<(), PeerError> {
        if peer_id == self.config.our_id {
            // Trackers list us among the peers: never dial that address again.
            self.pool.forbid(addr);
            return Err(PeerError::Done("connected to ourselves"));
        }
        if self.pool.is_banned(addr) {
            return Err(PeerError::Banned("banned before"));
        }
        if let Some((&old, existing)) = self.peers.iter().find(|(_, p)| p.peer_id == peer_id) {
            // Both sides dialed at once. Both keep the connection opened by the smaller peer
            // id, so exactly one survives instead of each side closing a different one.
            let our_id = self.config.our_id;
            let initiator = |out: bool| if out { our_id } else { peer_id };
            if initiator(outgoing) < initiator(existing.outgoing) {
                self.close_peer(old, PeerError::Done("duplicate connection"));
            } else {
                return Err(PeerError::Done("already connected"));
            }
        }
        if !self.active {
            return Err(PeerError::Done("not active"));
        }
        Ok(())
    }

    /// A connection ended (or never got through its handshake). Returns the peer's state if
    /// it was connected.
    pub fn handle_closed(&mut self, key: PeerKey, now: Instant) -> Option<PeerSession> {
        self.now = now;
        let seeding = self.seeding;
        let both_seeds = self.peers.get(&key).is_some_and(|p| p.has.is_full()) && seeding;
        if !self.pool.ended(key, both_seeds, now) {
            return None;
        }
        let peer = self.peers.remove(&key)?;
        self.strikes.let_go(peer.addr);
        self.picker.remove_peer_pieces(&peer.has);
        for b in &peer.outstanding {
            self.picker.release(*b);
        }
        self.uploads.forget(key);
        self.choker.force();
        self.request_from_all();
        Some(peer)
    }

    /// Closes a connection now: the driver hears of it through `poll_transmit`, and the core
    /// forgets the peer at once so nothing more is asked of it or sent to it.
    pub fn close_peer(&mut self, key: PeerKey, why: PeerError) {
        if self.peers.contains_key(&key) {
            self.transmits.push_back((key, Transmit::Close(why)));
        }
        let now = self.now;
        self.handle_closed(key, now);
    }

    // ---- outputs ----

    pub fn poll_transmit(&mut self) -> Option<(PeerKey, Transmit)> {
        self.transmits.pop_front()
    }

    pub fn poll_disk(&mut self) -> Option<DiskOp> {
        self.disk.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<CoreEvent> {
        self.events.pop_front()
    }

    /// The earliest instant at which `handle_timeout` has work: a rechoke, a dial due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // A rechoke with nobody connected changes nothing: a torrent without peers is not
        // woken for it (2,000 idle seeding torrents woke every 10 s for it alone). The first
        // peer makes the driver's clock run again, and the overdue rechoke runs then.
        let mut at = if self.peers.is_empty() {
            None
        } else {
            self.choker.next_deadline()
        };
        if self.active {
            at = earliest(at, self.pool.next_due());
            at = earliest(at, self.stall_deadline());
            at = earliest(at, self.pex_deadline());
        }
        at
    }

    pub(super) fn send(&mut self, key: PeerKey, t: Transmit) {
        self.transmits.push_back((key, t));
    }

    pub(super) fn send_frame(&mut self, key: PeerKey, msg: Message<'_>) {
        let mut frame = Vec::new();
        msg.encode(&mut frame);
        self.transmits.push_back((key, Transmit::Frame(frame)));
    }

    /// The connections' keys, for loops that change the core as they go.
    pub(super) fn keys(&self) -> Vec<PeerKey> {
        self.peers.keys().copied().collect()
    }

    /// Hosts of pieces each connected peer has, for tests and status.
    pub fn seeds(&self) -> usize {
        self.peers.values().filter(|p| p.has.is_full()).count()
    }

    /// The addresses of the connected peers.
    pub fn connected_addrs(&self) -> HashSet<SocketAddr> {
        self.peers.values().map(|p| p.addr).collect()
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

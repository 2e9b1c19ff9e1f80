//! A magnet link's first phase as a state machine: [`MetadataCore`] connects to peers, learns
//! what they say before we know the torrent, and fetches the info dictionary over BEP 9
//! (`metadata_fetch.rs`). Its shape is [`super::TorrentCore`]'s: `handle_*` inputs with `now`,
//! polled outputs. When the verified dictionary is out ([`MetadataEvent::Complete`]), the
//! torrent's core takes its pool and its peers over with [`super::TorrentCore::adopt_phase`],
//! so nobody has to reconnect.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::error::PeerError;
use super::ext_state::{decode_handshake, Extensions, OUR_UT_METADATA, OUR_UT_PEX};
use super::message::PeerMessage;
use super::outputs::{PeerKey, Transmit};
use super::pex::{added_peers, MIN_RECEIVE_GAP};
use super::pool::{Dial, DialPool};
use crate::wire::{ExtendedHandshake, Message, MetadataDownload};
use crate::{Bitfield, InfoHash, PeerId};

/// A metadata request unanswered this long goes to another peer.
pub const METADATA_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Have messages remembered per peer before the piece count is known; a peer sending more
/// (no real torrent has that many pieces) is dropped.
const MAX_EARLY_HAVES: usize = 1 << 20;
/// Messages a peer may send that make no sense before metadata (blocks we never asked for).
const MAX_NONSENSE: u32 = 64;

/// What the phase has to tell its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataEvent {
    /// The info dictionary, hashed to the info-hash: the torrent can start.
    Complete(Vec<u8>),
    /// Metadata from these addresses did not hash to the info-hash (or claimed a size we
    /// refuse): they are forbidden, and their connections closed.
    Distrusted {
        addrs: Vec<SocketAddr>,
        why: &'static str,
    },
}

/// A connection made before the metadata, and what it said.
#[derive(Debug)]
pub struct EarlyPeer {
    pub addr: SocketAddr,
    pub peer_id: PeerId,
    pub outgoing: bool,
    pub fast: bool,
    /// It set BEP 10's reserved bit.
    pub extended: bool,
    pub handshake: Option<ExtendedHandshake>,
    pub peer_choking: bool,
    pub peer_interested: bool,
    bitfield: Option<Bytes>,
    have_all: bool,
    haves: Vec<u32>,
    /// Metadata pieces we asked it for.
    pub(super) asked: HashSet<u32>,
    /// Metadata pieces it refused us (until its next extended handshake).
    pub(super) rejected: HashSet<u32>,
    last_pex: Option<Instant>,
    nonsense: u32,
}

impl EarlyPeer {
    /// What it has, from what it said before we knew the piece count; `None` if that does not
    /// fit the torrent.
    pub fn pieces(&self, piece_count: u32) -> Option<Bitfield> {
        let mut has = if self.have_all {
            Bitfield::full(piece_count)
        } else if let Some(bits) = &self.bitfield {
            Bitfield::from_wire(bits, piece_count).ok()?
        } else {
            Bitfield::new(piece_count)
        };
        for &i in &self.haves {
            if i >= piece_count {
                return None;
            }
            has.set(i);
        }
        Some(has)
    }

    /// The id it wants `ut_metadata` messages under, and the size it offers.
    pub(super) fn offer(&self) -> Option<(u8, u64)> {
        let hs = self.handshake.as_ref()?;
        Some((hs.id_of(crate::wire::UT_METADATA)?, hs.metadata_size?))
    }
}

pub struct MetadataCore {
    pub(super) info_hash: InfoHash,
    our_id: PeerId,
    pub(super) extensions: Extensions,
    pub(super) pool: DialPool,
    pub(super) active: bool,
    pub(super) peers: BTreeMap<PeerKey, EarlyPeer>,
    pub(super) download: Option<MetadataDownload>,
    /// Metadata piece -> who we asked, and when we give up on them.
    pub(super) requested: HashMap<u32, (PeerKey, Instant)>,
    /// Metadata piece -> who sent the bytes we hold.
    pub(super) contributors: HashMap<u32, SocketAddr>,
    /// The dictionary is out: nothing more is fetched.
    pub(super) done: bool,
    transmits: VecDeque<(PeerKey, Transmit)>,
    pub(super) events: VecDeque<MetadataEvent>,
}

impl MetadataCore {
    /// A phase that is active (connects and fetches) from the start unless `set_active(false)`.
    pub fn new(
        info_hash: InfoHash,
        our_id: PeerId,
        max_peers: usize,
        max_per_host: usize,
        extensions: Extensions,
    ) -> MetadataCore {
        MetadataCore {
            info_hash,
            our_id,
            extensions,
            pool: DialPool::new(max_peers, max_per_host),
            active: true,
            peers: BTreeMap::new(),
            download: None,
            requested: HashMap::new(),
            contributors: HashMap::new(),
            done: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn pool(&self) -> &DialPool {
        &self.pool
    }

    pub fn peers(&self) -> impl Iterator<Item = (PeerKey, &EarlyPeer)> {
        self.peers.iter().map(|(&k, p)| (k, p))
    }

    /// Addresses we may dial (the caller has applied its LAN rule).
    pub fn add_candidates(&mut self, addrs: impl IntoIterator<Item = SocketAddr>, now: Instant) {
        self.pool.add(addrs, now);
        self.connect_due(now);
    }

    fn connect_due(&mut self, now: Instant) {
        if self.active && !self.done {
            self.pool.connect_due(now);
        }
    }

    pub fn poll_connect(&mut self) -> Option<Dial> {
        self.pool.poll_dial()
    }

    pub fn admit_incoming(&mut self, addr: SocketAddr) -> Option<PeerKey> {
        if !self.active || self.done {
            return None;
        }
        self.pool.admit(addr)
    }

    /// Paused (`false`): every connection closes. Resumed: dialing and fetching go on.
    pub fn set_active(&mut self, active: bool, now: Instant) {
        self.active = active;
        if active {
            self.connect_due(now);
            self.request_metadata(now);
        } else {
            for key in self.peers.keys().copied().collect::<Vec<_>>() {
                self.close(key, PeerError::Done("paused"), now);
            }
        }
    }

    /// A connection finished its handshake; refused (`Err`: the driver closes it) when it is
    /// ourselves, a peer already connected, banned, or the phase is paused. Accepted, it hears
    /// have-none (BEP 6) and our extended handshake.
    pub fn handle_connected(
        &mut self,
        key: PeerKey,
        addr: SocketAddr,
        peer_id: PeerId,
        (fast, extended): (bool, bool),
        now: Instant,
    ) -> Result<(), PeerError> {
        let (addr, outgoing) = self.pool.handshook(key, addr);
        let refuse = if peer_id == self.our_id {
            self.pool.forbid(addr); // ourselves: never dial it again
            Some(PeerError::Done("connected to ourselves"))
        } else if self.peers.values().any(|p| p.peer_id == peer_id) {
            Some(PeerError::Done("already connected"))
        } else if !self.active || self.done || self.pool.is_banned(addr) {
            Some(PeerError::Done("not wanted"))
        } else {
            None
        };
        if let Some(why) = refuse {
            self.pool.ended(key, false, now);
            return Err(why);
        }
        let mut hello = Vec::new();
        if fast {
            Message::HaveNone.encode(&mut hello);
        }
        if extended {
            hello.extend_from_slice(&self.extensions.handshake_frame(addr, None));
        }
        if !hello.is_empty() {
            self.transmits.push_back((key, Transmit::Frame(hello)));
        }
        let peer = EarlyPeer {
            addr,
            peer_id,
            outgoing,
            fast,
            extended,
            handshake: None,
            peer_choking: true,
            peer_interested: false,
            bitfield: None,
            have_all: false,
            haves: Vec::new(),
            asked: HashSet::new(),
            rejected: HashSet::new(),
            last_pex: None,
            nonsense: 0,
        };
        self.peers.insert(key, peer);
        Ok(())
    }

    /// A connection ended (or never got through its handshake).
    pub fn handle_closed(&mut self, key: PeerKey, now: Instant) -> Option<EarlyPeer> {
        if !self.pool.ended(key, false, now) {
            return None;
        }
        let peer = self.peers.remove(&key)?;
        for piece in &peer.asked {
            self.requested.remove(piece);
        }
        self.request_metadata(now);
        Some(peer)
    }

    /// Closes a connection now: the driver hears of it through `poll_transmit`.
    pub(super) fn close(&mut self, key: PeerKey, why: PeerError, now: Instant) {
        if self.peers.contains_key(&key) {
            self.transmits.push_back((key, Transmit::Close(why)));
        }
        self.handle_closed(key, now);
    }

    pub(super) fn send(&mut self, key: PeerKey, frame: Vec<u8>) {
        self.transmits.push_back((key, Transmit::Frame(frame)));
    }

    /// A message from a connected peer.
    pub fn handle_message(&mut self, key: PeerKey, msg: PeerMessage, now: Instant) {
        let Some(p) = self.peers.get_mut(&key) else {
            return;
        };
        match msg {
            PeerMessage::Choke => p.peer_choking = true,
            PeerMessage::Unchoke => p.peer_choking = false,
            PeerMessage::Interested => p.peer_interested = true,
            PeerMessage::NotInterested => p.peer_interested = false,
            PeerMessage::Bitfield(bits) => {
                p.bitfield = Some(bits);
                p.have_all = false;
            }
            PeerMessage::HaveAll => p.have_all = true,
            PeerMessage::HaveNone => {
                p.have_all = false;
                p.bitfield = None;
                p.haves.clear();
            }
            PeerMessage::Have(i) => {
                if p.haves.len() >= MAX_EARLY_HAVES {
                    return self.close(key, PeerError::Protocol("too many have messages"), now);
                }
                p.haves.push(i);
            }
            PeerMessage::Request(b) => {
                // We have nothing yet; a fast peer is told so, as BEP 6 asks.
                if p.fast {
                    let mut frame = Vec::new();
                    Message::RejectRequest(b).encode(&mut frame);
                    self.send(key, frame);
                }
            }
            PeerMessage::Piece { .. } => {
                p.nonsense += 1;
                if p.nonsense > MAX_NONSENSE {
                    self.close(key, PeerError::Protocol("blocks we never asked for"), now);
                }
            }
            PeerMessage::Extended { id: 0, payload } => {
                if let Some(hs) = decode_handshake(&payload) {
                    p.rejected.clear();
                    p.handshake = Some(hs);
                }
                self.request_metadata(now);
            }
            PeerMessage::Extended {
                id: OUR_UT_METADATA,
                payload,
            } => self.on_metadata_message(key, &payload, now),
            PeerMessage::Extended {
                id: OUR_UT_PEX,
                payload,
            } => {
                // One message in twenty seconds is plenty (BEP 11 says one a minute).
                if (p.last_pex).is_some_and(|t| now.saturating_duration_since(t) < MIN_RECEIVE_GAP)
                {
                    return;
                }
                p.last_pex = Some(now);
                if let (true, Ok(added)) = (self.extensions.pex, added_peers(&payload)) {
                    let room = self.pool.room();
                    let fresh: Vec<SocketAddr> = (added.into_iter())
                        .filter(|a| self.extensions.may_learn(a.ip()))
                        .filter(|a| !self.pool.knows(a))
                        .take(room)
                        .collect();
                    self.add_candidates(fresh, now);
                }
            }
            PeerMessage::Cancel(_)
            | PeerMessage::Reject(_)
            | PeerMessage::AllowedFast(_)
            | PeerMessage::Extended { .. }
            | PeerMessage::Other => {}
        }
    }

    /// Requests nobody answered in time go elsewhere; dials that are due go out.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<u32> = (self.requested.iter())
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(piece, _)| *piece)
            .collect();
        for piece in expired {
            if let Some((key, _)) = self.requested.remove(&piece) {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.asked.remove(&piece);
                }
            }
        }
        self.connect_due(now);
        self.request_metadata(now);
    }

    pub fn poll_transmit(&mut self) -> Option<(PeerKey, Transmit)> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<MetadataEvent> {
        self.events.pop_front()
    }

    /// The earliest instant at which `handle_timeout` has work: a request's deadline, a dial.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let requests = self.requested.values().map(|(_, t)| *t).min();
        let dial = self.active.then(|| self.pool.next_due()).flatten();
        requests.into_iter().chain(dial).min()
    }

    /// Ends the phase: its pool and its peers, for the torrent's core to adopt.
    pub fn into_parts(self) -> (DialPool, Vec<(PeerKey, EarlyPeer)>) {
        (self.pool, self.peers.into_iter().collect())
    }
}

#[cfg(test)]
#[path = "metadata_core_tests.rs"]
mod tests;

//! Helpers for the unit tests of the BEP 10 rule files: a core with peers connected over the
//! extension protocol, and what it sent them decoded back into extended messages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::{CoreConfig, Extensions, PeerKey, PeerMessage, TorrentCore, Transmit};
use crate::wire::{self, ExtendedHandshake, Message, UT_METADATA, UT_PEX};
use crate::{Bitfield, InfoHash, Lengths, Metainfo, PeerId, Picker};

/// The ids our test peers want `ut_metadata` and `ut_pex` messages under.
pub const THEIR_UT_METADATA: u8 = 3;
pub const THEIR_UT_PEX: u8 = 7;

/// A torrent whose info dictionary is `pieces` * 20 bytes of hashes plus a little: 1,000
/// pieces make two metadata pieces.
pub fn metainfo(pieces: usize) -> Arc<Metainfo> {
    let mut t = format!(
        "d4:infod6:lengthi{}e4:name1:a12:piece lengthi16384e6:pieces{}:",
        pieces * 16384,
        pieces * 20
    )
    .into_bytes();
    t.extend(std::iter::repeat_n(b'x', pieces * 20));
    t.extend_from_slice(b"ee");
    Arc::new(Metainfo::from_bytes(&t).unwrap())
}

/// An active core of 8 pieces we lack, with `ext` as its BEP 10 settings.
pub fn core(ext: Extensions, now: Instant) -> TorrentCore {
    let lengths = Lengths::new(8 * 262144, 262144, 8).unwrap();
    let config = CoreConfig {
        our_id: PeerId([1; 20]),
        info_hash: InfoHash([2; 20]),
        upload_slots: 4,
        max_peers: 50,
        max_peers_per_ip: 8,
    };
    let mut core = TorrentCore::new(config, lengths, 3, now);
    core.replace_picker(Picker::new(lengths, Bitfield::new(8)));
    core.set_extensions(ext);
    core.set_active(true, now);
    core
}

/// Extensions that speak PEX, with no metadata to serve.
pub fn pex_on() -> Extensions {
    Extensions {
        listen_port: 6881,
        client: "Swarmlink test".into(),
        pex: true,
        ..Default::default()
    }
}

/// Connects a peer from `addr` that set the BEP 10 bit (`outgoing`: we dialed it).
pub fn connect(core: &mut TorrentCore, addr: &str, outgoing: bool, now: Instant) -> PeerKey {
    let addr: SocketAddr = addr.parse().unwrap();
    let key = if outgoing {
        core.add_candidates([addr], now);
        core.poll_connect().unwrap().key
    } else {
        core.admit_incoming(addr).unwrap()
    };
    // Distinct per address: two connections with one peer id are one peer connected twice.
    let mut id = [0xaa; 20];
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    id[..4].copy_from_slice(&ip[ip.len() - 4..]);
    id[4..6].copy_from_slice(&addr.port().to_be_bytes());
    let id = PeerId(id);
    core.handle_connected(key, addr, id, true, now).unwrap();
    core.handle_extension_bit(key);
    key
}

/// The peer's extended handshake, naming both extensions and `listen_port`.
pub fn their_handshake(listen_port: u16) -> ExtendedHandshake {
    let mut hs = ExtendedHandshake {
        p: Some(listen_port),
        ..Default::default()
    };
    hs.m.insert(UT_METADATA.into(), THEIR_UT_METADATA);
    hs.m.insert(UT_PEX.into(), THEIR_UT_PEX);
    hs
}

pub fn send_handshake(core: &mut TorrentCore, key: PeerKey, hs: &ExtendedHandshake, now: Instant) {
    let mut payload = Vec::new();
    hs.encode(&mut payload);
    send_ext(core, key, 0, payload, now);
}

pub fn send_ext(core: &mut TorrentCore, key: PeerKey, id: u8, payload: Vec<u8>, now: Instant) {
    let payload = Bytes::from(payload);
    core.handle_message(key, PeerMessage::Extended { id, payload }, now);
}

/// What the core sent since the last call: extended messages as (peer, id, payload), and the
/// peers it closed.
#[derive(Default, Debug)]
pub struct Sent {
    pub extended: Vec<(PeerKey, u8, Vec<u8>)>,
    pub closed: Vec<PeerKey>,
}

pub fn sent(core: &mut TorrentCore) -> Sent {
    let mut out = Sent::default();
    while let Some((key, t)) = core.poll_transmit() {
        match t {
            Transmit::Frame(mut bytes) => {
                while let Some((msg, used)) = wire::decode(&bytes, 1 << 24).unwrap() {
                    if let Message::Extended { id, payload } = msg {
                        out.extended.push((key, id, payload.to_vec()));
                    }
                    bytes.drain(..used);
                }
            }
            Transmit::Close(_) => out.closed.push(key),
            _ => {}
        }
    }
    out
}

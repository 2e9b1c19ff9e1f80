use std::time::Instant;

use bytes::Bytes;

use super::*;
use crate::lan::Origin;
use crate::session::test_peers::{metainfo, their_handshake, THEIR_UT_METADATA};
use crate::session::{CoreConfig, TorrentCore, OUR_UT_METADATA, OUR_UT_PEX};
use crate::wire::{self, MetadataMessage, PexFlags, PexMessage, METADATA_PIECE_LEN};
use crate::Lengths;

fn phase(ih: InfoHash, origin: Origin) -> MetadataCore {
    let ext = Extensions {
        listen_port: 6881,
        pex: true,
        origin,
        ..Default::default()
    };
    MetadataCore::new(ih, PeerId([1; 20]), 50, 8, ext)
}

fn connect(m: &mut MetadataCore, addr: &str, size: Option<u64>, now: Instant) -> PeerKey {
    let addr: SocketAddr = addr.parse().unwrap();
    let key = m.admit_incoming(addr).unwrap();
    let id = PeerId([addr.port() as u8; 20]);
    m.handle_connected(key, addr, id, (true, true), now)
        .unwrap();
    let mut hs = their_handshake(addr.port());
    hs.metadata_size = size;
    let mut payload = Vec::new();
    hs.encode(&mut payload);
    ext(m, key, 0, payload, now);
    key
}

fn ext(m: &mut MetadataCore, key: PeerKey, id: u8, payload: Vec<u8>, now: Instant) {
    let payload = Bytes::from(payload);
    m.handle_message(key, PeerMessage::Extended { id, payload }, now);
}

/// The metadata requests sent since the last call, as (peer, piece), and the peers closed.
fn drain(m: &mut MetadataCore) -> (Vec<(PeerKey, u32)>, Vec<PeerKey>) {
    let (mut asked, mut closed) = (Vec::new(), Vec::new());
    while let Some((key, t)) = m.poll_transmit() {
        match t {
            Transmit::Frame(mut bytes) => {
                while let Some((msg, used)) = wire::decode(&bytes, 1 << 24).unwrap() {
                    if let Message::Extended {
                        id: THEIR_UT_METADATA,
                        payload,
                    } = msg
                    {
                        if let Ok(MetadataMessage::Request { piece }) =
                            MetadataMessage::decode(payload)
                        {
                            asked.push((key, piece));
                        }
                    }
                    bytes.drain(..used);
                }
            }
            Transmit::Close(_) => closed.push(key),
            _ => {}
        }
    }
    (asked, closed)
}

fn data(m: &mut MetadataCore, key: PeerKey, piece: u32, info: &[u8], now: Instant) {
    let start = piece as usize * METADATA_PIECE_LEN;
    let chunk = &info[start..info.len().min(start + METADATA_PIECE_LEN)];
    let msg = MetadataMessage::Data {
        piece,
        total_size: info.len() as u64,
        data: chunk,
    };
    let mut payload = Vec::new();
    msg.encode(&mut payload);
    ext(m, key, OUR_UT_METADATA, payload, now);
}

#[test]
fn the_dictionary_is_fetched_verified_and_its_peers_adopted() {
    let now = Instant::now();
    let meta = metainfo(1000);
    let info = meta.info_bytes().to_vec();
    let mut m = phase(meta.info_hash, Origin::Local);
    let a = connect(&mut m, "10.0.0.1:7001", Some(info.len() as u64), now);
    m.handle_message(a, PeerMessage::Have(3), now);
    let (asked, _) = drain(&mut m);
    assert_eq!(asked, vec![(a, 0), (a, 1)]);
    data(&mut m, a, 1, &info, now);
    assert_eq!(m.poll_event(), None);
    data(&mut m, a, 0, &info, now);
    assert_eq!(m.poll_event(), Some(MetadataEvent::Complete(info.clone())));

    let lengths = Lengths::new(1000 * 16384, 16384, 1000).unwrap();
    let config = CoreConfig {
        our_id: PeerId([1; 20]),
        info_hash: meta.info_hash,
        upload_slots: 4,
        max_peers: 50,
        max_peers_per_ip: 8,
    };
    let mut core = TorrentCore::new(config, lengths, 1, now);
    core.adopt_phase(m, now);
    let p = core.peer(a).expect("adopted");
    assert!(p.has.get(3) && p.has.count_ones() == 1);
    assert_eq!(p.ext.ut_metadata, Some(THEIR_UT_METADATA));
}

#[test]
fn a_liars_pieces_fail_the_hash_and_it_is_forbidden_while_the_fetch_goes_on() {
    let now = Instant::now();
    let meta = metainfo(1000);
    let info = meta.info_bytes().to_vec();
    let size = Some(info.len() as u64);
    let mut m = phase(meta.info_hash, Origin::Local);
    let liar = connect(&mut m, "10.0.0.66:7066", size, now);
    let (asked, _) = drain(&mut m);
    assert_eq!(asked.len(), 2, "both pieces asked of the first peer");
    let lie: Vec<u8> = info.iter().map(|b| b ^ 1).collect();
    data(&mut m, liar, 0, &lie, now);
    data(&mut m, liar, 1, &lie, now);
    let liar_addr: SocketAddr = "10.0.0.66:7066".parse().unwrap();
    assert_eq!(
        m.poll_event(),
        Some(MetadataEvent::Distrusted {
            addrs: vec![liar_addr],
            why: "sent metadata that does not match the info-hash"
        })
    );
    assert_eq!(drain(&mut m).1, vec![liar]);
    assert!(m.pool().is_banned(liar_addr));
    // An honest peer finishes the job; the liar cannot come back.
    let honest = connect(&mut m, "10.0.0.2:7002", size, now);
    let again = m.admit_incoming(liar_addr).unwrap();
    let refused = m.handle_connected(again, liar_addr, PeerId([9; 20]), (true, true), now);
    assert!(refused.is_err());
    for (key, piece) in drain(&mut m).0 {
        assert_eq!(key, honest);
        data(&mut m, honest, piece, &info, now);
    }
    assert_eq!(m.poll_event(), Some(MetadataEvent::Complete(info)));
}

#[test]
fn an_oversized_or_bad_size_is_never_allocated_and_its_peer_dropped() {
    let now = Instant::now();
    let mut m = phase(InfoHash([7; 20]), Origin::Local);
    let big = connect(&mut m, "10.0.0.1:7001", Some(u64::MAX), now);
    assert!(m.download.is_none());
    assert!(matches!(
        m.poll_event(),
        Some(MetadataEvent::Distrusted {
            why: "metadata size refused",
            ..
        })
    ));
    assert_eq!(drain(&mut m).1, vec![big]);
    // A data message claiming a huge total is refused at decode, and its sender dropped.
    let b = connect(&mut m, "10.0.0.2:7002", Some(100), now);
    drain(&mut m);
    let bogus = b"d8:msg_typei1e5:piecei0e10:total_sizei99999999999ee".to_vec();
    ext(&mut m, b, OUR_UT_METADATA, bogus, now);
    assert_eq!(drain(&mut m).1, vec![b]);
}

#[test]
fn unanswered_requests_go_to_another_peer_after_the_timeout() {
    let now = Instant::now();
    let meta = metainfo(1000);
    let size = Some(meta.info_bytes().len() as u64);
    let mut m = phase(meta.info_hash, Origin::Local);
    let a = connect(&mut m, "10.0.0.1:7001", size, now);
    assert_eq!(drain(&mut m).0.len(), 2);
    let b = connect(&mut m, "10.0.0.2:7002", size, now);
    assert!(drain(&mut m).0.is_empty(), "nothing left to ask");
    assert_eq!(m.poll_timeout(), Some(now + METADATA_REQUEST_TIMEOUT));
    // a goes away: its pieces go to b at once.
    m.handle_closed(a, now);
    let asked = drain(&mut m).0;
    assert_eq!(asked, vec![(b, 0), (b, 1)]);
    // b sits on them: after the timeout they are asked again.
    let later = now + METADATA_REQUEST_TIMEOUT;
    m.handle_timeout(later);
    assert_eq!(drain(&mut m).0, vec![(b, 0), (b, 1)]);
}

#[test]
fn pex_before_the_metadata_follows_the_lan_rule_and_early_haves_are_bounded() {
    let now = Instant::now();
    let mut m = phase(InfoHash([7; 20]), Origin::PublicWeb);
    let a = connect(&mut m, "203.0.113.1:7001", None, now);
    let msg = PexMessage {
        added: vec![
            ("192.168.1.1:80".parse().unwrap(), PexFlags(0)),
            ("198.51.100.7:6881".parse().unwrap(), PexFlags(0)),
        ],
        dropped: Vec::new(),
    };
    let mut payload = Vec::new();
    msg.encode(&mut payload);
    ext(&mut m, a, OUR_UT_PEX, payload, now);
    assert!(!m.pool().knows(&"192.168.1.1:80".parse().unwrap()));
    assert!(m.pool().knows(&"198.51.100.7:6881".parse().unwrap()));
    // Have messages for pieces no torrent has: the peer is dropped at adoption.
    m.handle_message(a, PeerMessage::Have(5_000), now);
    let lengths = Lengths::new(4 * 16384, 16384, 4).unwrap();
    let config = CoreConfig {
        our_id: PeerId([1; 20]),
        info_hash: InfoHash([7; 20]),
        upload_slots: 4,
        max_peers: 50,
        max_peers_per_ip: 8,
    };
    let mut core = TorrentCore::new(config, lengths, 1, now);
    drain(&mut m);
    core.adopt_phase(m, now);
    assert!(core.peer(a).is_none());
    assert!(matches!(core.poll_transmit(), Some((k, Transmit::Close(_))) if k == a));
}

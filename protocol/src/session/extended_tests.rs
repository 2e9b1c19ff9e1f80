use std::time::Instant;

use super::*;
use crate::session::ext_state::*;
use crate::session::test_peers::*;
use crate::wire::{ExtendedHandshake, UT_METADATA, UT_PEX};

#[test]
fn our_handshake_follows_the_opening_message_and_says_what_we_serve() {
    let now = Instant::now();
    let meta = metainfo(1000);
    let ext = Extensions {
        metadata: Some(meta.clone()),
        ..pex_on()
    };
    let mut core = core(ext, now);
    let key = connect(&mut core, "10.0.0.9:7000", false, now);
    let out = sent(&mut core);
    assert_eq!(out.extended.len(), 1);
    let (to, id, payload) = &out.extended[0];
    assert_eq!((*to, *id), (key, 0));
    let hs = ExtendedHandshake::decode(payload).unwrap();
    assert_eq!(hs.id_of(UT_METADATA), Some(OUR_UT_METADATA));
    assert_eq!(hs.id_of(UT_PEX), Some(OUR_UT_PEX));
    assert_eq!(hs.p, Some(6881));
    assert_eq!(hs.v.as_deref(), Some("Swarmlink test"));
    assert_eq!(hs.reqq, Some(crate::session::MAX_IN_REQUESTS as u32));
    assert_eq!(hs.yourip, Some("10.0.0.9".parse().unwrap()));
    assert_eq!(hs.metadata_size, Some(meta.info_bytes().len() as u64));

    // A private torrent withdraws PEX with id 0 (BEP 27).
    let private = Extensions {
        pex: false,
        ..pex_on()
    };
    let mut core = self::core(private, now);
    connect(&mut core, "10.0.0.9:7000", false, now);
    let hs = ExtendedHandshake::decode(&sent(&mut core).extended[0].2).unwrap();
    assert_eq!(hs.m.get(UT_PEX), Some(&0));
    assert_eq!(hs.id_of(UT_PEX), None);
    assert_eq!(hs.metadata_size, None);
}

#[test]
fn a_peer_without_the_extension_bit_hears_no_handshake() {
    let now = Instant::now();
    let mut core = core(pex_on(), now);
    let key = core
        .admit_incoming("10.0.0.9:7000".parse().unwrap())
        .unwrap();
    let addr = "10.0.0.9:7000".parse().unwrap();
    core.handle_connected(key, addr, crate::PeerId([5; 20]), true, now)
        .unwrap();
    assert!(sent(&mut core).extended.is_empty());
}

#[test]
fn the_peers_handshake_is_learnt_and_may_be_updated() {
    let now = Instant::now();
    let mut core = core(pex_on(), now);
    let key = connect(&mut core, "10.0.0.9:7000", false, now);
    let mut hs = their_handshake(7001);
    hs.v = Some("x".repeat(1000));
    hs.reqq = Some(42);
    hs.metadata_size = Some(1234);
    hs.upload_only = true;
    hs.yourip = Some("203.0.113.5".parse().unwrap());
    send_handshake(&mut core, key, &hs, now);
    let p = core.peer(key).unwrap();
    assert_eq!(p.ext.ut_metadata, Some(THEIR_UT_METADATA));
    assert_eq!(p.ext.ut_pex, Some(THEIR_UT_PEX));
    assert_eq!(p.ext.listen_port, Some(7001));
    assert_eq!(p.ext.metadata_size, Some(1234));
    assert_eq!(p.ext.client.as_deref().map(str::len), Some(64), "name cut");
    assert!(p.ext.upload_only);
    assert_eq!(p.ext.yourip, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(p.reqq, Some(42));

    // A later handshake that drops PEX (id 0) is believed.
    hs.m.insert(UT_PEX.into(), 0);
    hs.upload_only = false;
    send_handshake(&mut core, key, &hs, now);
    let p = core.peer(key).unwrap();
    assert_eq!(p.ext.ut_pex, None);
    assert!(!p.ext.upload_only);
}

#[test]
fn oversized_and_malformed_handshakes_are_ignored_then_the_peer_is_dropped() {
    let now = Instant::now();
    let mut core = core(pex_on(), now);
    let key = connect(&mut core, "10.0.0.9:7000", false, now);
    sent(&mut core);
    // A valid dictionary, but past the bound: never decoded, nothing learnt.
    let mut big = their_handshake(7001);
    big.v = Some("y".repeat(MAX_HANDSHAKE_LEN));
    send_handshake(&mut core, key, &big, now);
    assert_eq!(core.peer(key).unwrap().ext.ut_pex, None);
    assert_eq!(core.peer(key).unwrap().ext.client, None);
    for _ in 0..MAX_BAD_EXTENSION_MESSAGES - 1 {
        send_ext(&mut core, key, 0, b"not bencode".to_vec(), now);
    }
    assert!(core.peer(key).is_some(), "a few odd messages are a quirk");
    assert!(sent(&mut core).closed.is_empty());
    send_ext(&mut core, key, 0, b"i3e".to_vec(), now);
    assert!(core.peer(key).is_none(), "a stream of them is abuse");
    assert_eq!(sent(&mut core).closed, vec![key]);
}

#[test]
fn ids_we_never_assigned_are_harmless() {
    let now = Instant::now();
    let mut core = core(pex_on(), now);
    let key = connect(&mut core, "10.0.0.9:7000", false, now);
    for _ in 0..100 {
        send_ext(&mut core, key, 99, b"whatever".to_vec(), now);
    }
    assert!(core.peer(key).is_some());
}

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::lan::Origin;
use crate::session::test_peers::*;
use crate::session::{Extensions, OUR_UT_PEX};
use crate::wire::{PexFlags, PexMessage};

fn pex_payload(added: &[&str]) -> Vec<u8> {
    let msg = PexMessage {
        added: (added.iter())
            .map(|a| (a.parse().unwrap(), PexFlags(0)))
            .collect(),
        dropped: Vec::new(),
    };
    let mut out = Vec::new();
    msg.encode(&mut out);
    out
}

fn pex_sent(core: &mut TorrentCore) -> Vec<(PeerKey, PexMessage)> {
    (sent(core).extended.into_iter())
        .filter(|(_, id, _)| *id == THEIR_UT_PEX)
        .map(|(k, _, p)| (k, PexMessage::decode(&p).unwrap()))
        .collect()
}

#[test]
fn each_peer_hears_the_others_once_a_minute_with_added_and_dropped() {
    let t0 = Instant::now();
    let mut core = core(pex_on(), t0);
    let a = connect(&mut core, "10.0.0.1:7001", true, t0);
    let b = connect(&mut core, "10.0.0.2:5555", false, t0);
    let c = connect(&mut core, "10.0.0.3:5555", false, t0);
    send_handshake(&mut core, a, &their_handshake(0), t0);
    send_handshake(&mut core, b, &their_handshake(7002), t0);
    // c speaks no PEX and gave no listen port: it hears nothing and is not passed on.
    send_handshake(&mut core, c, &Default::default(), t0);
    assert_eq!(core.poll_timeout().map(|t| t <= t0), Some(true));
    sent(&mut core);
    core.handle_timeout(t0);
    let mut msgs = pex_sent(&mut core);
    msgs.sort_by_key(|(k, _)| *k);
    assert_eq!(msgs.len(), 2);
    // a hears b at its listen port; b hears a, which we dialed, flagged reachable.
    assert_eq!(msgs[0].0, a);
    assert_eq!(
        msgs[0].1.added,
        vec![("10.0.0.2:7002".parse().unwrap(), PexFlags(0))]
    );
    assert_eq!(msgs[1].0, b);
    assert_eq!(
        msgs[1].1.added,
        vec![(
            "10.0.0.1:7001".parse().unwrap(),
            PexFlags(PexFlags::REACHABLE)
        )]
    );
    // Within the minute: nothing, even with news.
    core.handle_closed(a, t0 + Duration::from_secs(1));
    core.handle_timeout(t0 + Duration::from_secs(30));
    assert!(pex_sent(&mut core).is_empty());
    // After it: b hears that a is gone.
    let t1 = t0 + PEX_INTERVAL;
    core.handle_timeout(t1);
    let msgs = pex_sent(&mut core);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, b);
    assert!(msgs[0].1.added.is_empty());
    assert_eq!(msgs[0].1.dropped, vec!["10.0.0.1:7001".parse().unwrap()]);
}

#[test]
fn peers_learnt_over_pex_become_candidates_within_the_rules() {
    let t0 = Instant::now();
    let mut core = core(pex_on(), t0);
    let a = connect(&mut core, "10.0.0.1:7001", true, t0);
    send_handshake(&mut core, a, &their_handshake(0), t0);
    let payload = pex_payload(&[
        "10.0.0.50:6881",
        "0.0.0.0:6881",
        "10.0.0.51:0",
        "[ff02::1]:1",
    ]);
    send_ext(&mut core, a, OUR_UT_PEX, payload, t0);
    assert!(core.pool().knows(&"10.0.0.50:6881".parse().unwrap()));
    assert!(!core.pool().knows(&"0.0.0.0:6881".parse().unwrap()));
    assert!(!core.pool().knows(&"10.0.0.51:0".parse().unwrap()));
    // Too soon after the last one: ignored (and counted).
    send_ext(
        &mut core,
        a,
        OUR_UT_PEX,
        pex_payload(&["10.0.0.60:6881"]),
        t0 + MIN_RECEIVE_GAP / 2,
    );
    assert!(!core.pool().knows(&"10.0.0.60:6881".parse().unwrap()));
    assert_eq!(core.peer(a).unwrap().ext.bad_messages, 1);
    send_ext(
        &mut core,
        a,
        OUR_UT_PEX,
        pex_payload(&["10.0.0.60:6881"]),
        t0 + MIN_RECEIVE_GAP,
    );
    assert!(core.pool().knows(&"10.0.0.60:6881".parse().unwrap()));
}

#[test]
fn a_public_pages_torrent_learns_no_lan_peers() {
    let t0 = Instant::now();
    let ext = Extensions {
        origin: Origin::PublicWeb,
        ..pex_on()
    };
    let mut core = core(ext, t0);
    let a = connect(&mut core, "203.0.113.1:7001", true, t0);
    send_handshake(&mut core, a, &their_handshake(0), t0);
    send_ext(
        &mut core,
        a,
        OUR_UT_PEX,
        pex_payload(&["192.168.1.1:80", "198.51.100.7:6881"]),
        t0,
    );
    assert!(!core.pool().knows(&"192.168.1.1:80".parse().unwrap()));
    assert!(core.pool().knows(&"198.51.100.7:6881".parse().unwrap()));
}

#[test]
fn floods_fill_the_pool_no_further_and_oversized_lists_are_refused() {
    let mut t = Instant::now();
    let mut core = core(pex_on(), t);
    let keys: Vec<PeerKey> = (0..8)
        .map(|i| connect(&mut core, &format!("10.0.1.{i}:7000"), true, t))
        .collect();
    for &k in &keys {
        send_handshake(&mut core, k, &their_handshake(0), t);
    }
    // Each peer sends the most BEP 11 allows (200), fresh each time, as often as it may.
    let mut n = 0u32;
    for _round in 0..40 {
        for &k in &keys {
            let addrs: Vec<String> = (0..200)
                .map(|_| {
                    n += 1;
                    format!("10.{}.{}.{}:6881", n >> 16, (n >> 8) & 255, n & 255)
                })
                .collect();
            let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
            send_ext(&mut core, k, OUR_UT_PEX, pex_payload(&refs), t);
        }
        t += MIN_RECEIVE_GAP;
    }
    assert_eq!(core.pool().room(), 0, "the pool is full");
    // A list longer than BEP 11's limit is refused whole.
    let addrs: Vec<String> = (0..201)
        .map(|i| format!("10.9.0.{}:{}", i % 250, 1000 + i))
        .collect();
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let before = core.peer(keys[0]).unwrap().ext.bad_messages;
    send_ext(&mut core, keys[0], OUR_UT_PEX, pex_payload(&refs), t);
    assert_eq!(core.peer(keys[0]).unwrap().ext.bad_messages, before + 1);
    // And a peer that keeps sending them too often is dropped.
    for _ in 0..20 {
        send_ext(&mut core, keys[1], OUR_UT_PEX, pex_payload(&[]), t);
    }
    assert!(core.peer(keys[1]).is_none());
}

#[test]
fn a_private_torrent_neither_sends_nor_uses_pex() {
    let t0 = Instant::now();
    let ext = Extensions {
        pex: false,
        ..pex_on()
    };
    let mut core = core(ext, t0);
    let a = connect(&mut core, "10.0.0.1:7001", true, t0);
    let b = connect(&mut core, "10.0.0.2:7002", true, t0);
    send_handshake(&mut core, a, &their_handshake(0), t0);
    send_handshake(&mut core, b, &their_handshake(0), t0);
    sent(&mut core);
    core.handle_timeout(t0 + PEX_INTERVAL);
    assert!(pex_sent(&mut core).is_empty());
    send_ext(
        &mut core,
        a,
        OUR_UT_PEX,
        pex_payload(&["10.0.0.50:6881"]),
        t0,
    );
    assert!(!core.pool().knows(&"10.0.0.50:6881".parse().unwrap()));
    assert_eq!(core.peer(a).unwrap().ext.bad_messages, 0);
}

#[test]
fn only_dialable_addresses_are_learned() {
    for bad in [
        "0.0.0.0:6881",
        "1.2.3.4:0",
        "255.255.255.255:1",
        "224.0.0.1:1",
        "[::]:1",
        "[ff02::1]:1",
    ] {
        assert!(!dialable(&bad.parse().unwrap()), "{bad}");
    }
    for good in [
        "127.0.0.1:6881",
        "10.0.0.2:80",
        "[::1]:6881",
        "[2001:db8::1]:1",
    ] {
        assert!(dialable(&good.parse().unwrap()), "{good}");
    }
    let payload = pex_payload(&["127.0.0.1:7000", "0.0.0.0:7000", "[::1]:7001"]);
    assert_eq!(
        added_peers(&payload).unwrap(),
        vec![
            "127.0.0.1:7000".parse::<SocketAddr>().unwrap(),
            "[::1]:7001".parse().unwrap()
        ]
    );
    assert!(added_peers(b"d5:added5:abcdee").is_err());
    assert!(added_peers(b"not bencode").is_err());
}

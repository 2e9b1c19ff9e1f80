use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn a_failed_dial_backs_off_and_a_handshake_resets_it() {
    let t0 = Instant::now();
    let mut pool = DialPool::new(50, 8);
    pool.add([addr("10.0.0.1:6881")], t0);
    pool.connect_due(t0);
    let dial = pool.poll_dial().expect("due at once");
    assert!(!pool.ended(dial.key, false, t0), "it never connected");
    pool.connect_due(t0 + Duration::from_secs(1));
    assert_eq!(pool.poll_dial(), None, "backing off after one failure");
    pool.connect_due(t0 + Duration::from_secs(2));
    let again = pool.poll_dial().expect("due after 2 s");
    assert_ne!(again.key, dial.key, "keys are never reused");
    assert_eq!(pool.handshook(again.key, again.addr), (again.addr, true));
    assert!(pool.is_connected(again.key));
    // Connected, it is not dialed twice; closed, it may be redialed after 5 s.
    pool.connect_due(t0 + Duration::from_secs(60));
    assert_eq!(pool.poll_dial(), None);
    assert!(pool.ended(again.key, false, t0 + Duration::from_secs(60)));
    pool.connect_due(t0 + Duration::from_secs(66));
    assert!(pool.poll_dial().is_some());
}

#[test]
fn two_seeds_do_not_meet_again_for_an_hour() {
    let t0 = Instant::now();
    let mut pool = DialPool::new(50, 8);
    pool.add([addr("10.0.0.1:6881")], t0);
    pool.connect_due(t0);
    let d = pool.poll_dial().unwrap();
    pool.handshook(d.key, d.addr);
    pool.ended(d.key, true, t0);
    pool.connect_due(t0 + Duration::from_secs(3599));
    assert_eq!(pool.poll_dial(), None);
    pool.connect_due(t0 + Duration::from_secs(3600));
    assert!(pool.poll_dial().is_some());
}

#[test]
fn the_caps_count_every_stage_and_this_machine_is_exempt_per_host() {
    let t0 = Instant::now();
    let mut pool = DialPool::new(4, 2);
    pool.add((1..=3).map(|p| addr(&format!("10.0.0.1:{p}"))), t0);
    pool.connect_due(t0);
    assert_eq!(
        std::iter::from_fn(|| pool.poll_dial()).count(),
        2,
        "two per host"
    );
    assert_eq!(
        pool.admit(addr("10.0.0.1:9")),
        None,
        "the host is full, incoming too"
    );
    assert!(pool.admit(addr("127.0.0.1:9")).is_some());
    assert!(pool.admit(addr("127.0.0.1:10")).is_some());
    assert_eq!(pool.connections(), 4);
    assert_eq!(pool.admit(addr("10.0.0.2:9")), None, "the torrent is full");
}

#[test]
fn bans_and_forbidden_addresses_are_never_dialed_and_candidates_are_bounded() {
    let t0 = Instant::now();
    let mut pool = DialPool::new(5000, 5000);
    pool.ban(addr("10.0.0.1:1"));
    pool.forbid(addr("127.0.0.1:5"));
    pool.add(
        [addr("10.0.0.1:2"), addr("127.0.0.1:5"), addr("127.0.0.1:6")],
        t0,
    );
    pool.connect_due(t0);
    let dialed: Vec<_> = std::iter::from_fn(|| pool.poll_dial())
        .map(|d| d.addr)
        .collect();
    assert_eq!(
        dialed,
        vec![addr("127.0.0.1:6")],
        "the whole host is banned"
    );
    assert_eq!(pool.admit(addr("10.0.0.1:3")), None);
    pool.add((0..3000u16).map(|p| addr(&format!("10.1.0.1:{p}"))), t0);
    assert_eq!(pool.room(), 0);
    assert!(!pool.knows(&addr("10.1.0.1:2999")));
}

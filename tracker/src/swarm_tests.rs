use super::*;
use crate::store::{Announce, SwarmStore};
use protocol::InfoHash;

const T0: u64 = 1_700_000_000;

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn peers_of(s: &Swarm, me: &str, seeder: bool, now: Tick) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    s.select(a(me), seeder, None, 50, 0, now, timeout_ticks(60), &mut out);
    out
}

#[test]
fn one_ip_many_ports_are_many_peers_and_counts_follow_events() {
    let now = Tick::from_unix_secs(T0);
    let mut s = Swarm::new(InfoHash([1; 20]));
    assert!(!s.update(a("127.0.0.1:1000"), true, Event::Started, now, 1));
    assert!(!s.update(a("127.0.0.1:1001"), false, Event::Started, now, 1));
    assert!(!s.update(a("[::1]:1002"), false, Event::Started, now, 1));
    assert_eq!(s.len(), 3);
    assert_eq!((s.counts().seeders, s.counts().leechers), (1, 2));
    // The leecher completes: it becomes a seeder and the download is counted once.
    assert!(s.update(a("127.0.0.1:1001"), true, Event::Completed, now, 1));
    assert_eq!(
        s.counts(),
        Counts {
            seeders: 2,
            leechers: 1,
            downloaded: 1
        }
    );
    assert!(s.update(a("127.0.0.1:1000"), true, Event::Stopped, now, 1));
    assert_eq!(
        s.counts(),
        Counts {
            seeders: 1,
            leechers: 1,
            downloaded: 1
        }
    );
    assert!(!s.update(a("127.0.0.1:1000"), true, Event::Stopped, now, 1));
    assert_eq!(s.len(), 2);
}

#[test]
fn a_v4_mapped_address_is_the_v4_peer() {
    let now = Tick::from_unix_secs(T0);
    let mut s = Swarm::new(InfoHash([1; 20]));
    s.update(a("127.0.0.1:7"), false, Event::None, now, 1);
    assert!(s.update(a("[::ffff:127.0.0.1]:7"), false, Event::None, now, 1));
    assert_eq!(s.len(), 1);
}

#[test]
fn select_skips_self_expired_and_seeders_for_seeders() {
    let now = Tick::from_unix_secs(T0);
    let mut s = Swarm::new(InfoHash([9; 20]));
    s.update(a("10.0.0.1:1"), true, Event::None, now, 1);
    s.update(a("10.0.0.2:2"), false, Event::None, now, 1);
    s.update(a("[2001:db8::1]:3"), false, Event::None, now, 1);
    let old = Tick::from_unix_secs(T0 - 3600);
    s.update(a("10.0.0.3:3"), false, Event::None, old, 1);
    let mut got = peers_of(&s, "10.0.0.2:2", false, now);
    got.sort();
    assert_eq!(got, vec![a("10.0.0.1:1"), a("[2001:db8::1]:3")]);
    let got = peers_of(&s, "10.0.0.1:1", true, now);
    assert_eq!(got.len(), 2, "a seeder gets the two live leechers: {got:?}");
    assert!(!got.contains(&a("10.0.0.3:3")));
    // The sweep drops the expired peer and its count.
    assert_eq!(s.counts().leechers, 3);
    s.sweep(now, timeout_ticks(60));
    assert_eq!(s.counts().leechers, 2);
    assert_eq!(s.len(), 3);
}

#[test]
fn pinned_publisher_comes_first_and_numwant_is_honoured() {
    let now = Tick::from_unix_secs(T0);
    let mut s = Swarm::new(InfoHash([3; 20]));
    for port in 1..=100u16 {
        s.update(
            SocketAddr::from(([10, 0, 0, 1], port)),
            false,
            Event::None,
            now,
            1,
        );
    }
    let publisher = a("10.9.9.9:5989");
    s.update(publisher, true, Event::None, now, 1);
    for start in [0, 17, 99_999] {
        let mut out = Vec::new();
        s.select(
            a("10.0.0.1:1"),
            false,
            Some(publisher),
            10,
            start,
            now,
            100,
            &mut out,
        );
        assert_eq!(out.len(), 10);
        assert_eq!(out[0], publisher);
        assert!(!out.contains(&a("10.0.0.1:1")));
        let mut dedup = out.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 10);
    }
}

#[test]
fn ticks_wrap_without_losing_fresh_peers() {
    // A time just before the 15-bit tick counter wraps, and just after.
    let before = (u64::from(TICK_MASK) * TICK_SECS) * 1000 + TICK_SECS * u64::from(TICK_MASK);
    let t_before = Tick::from_unix_secs(before);
    let t_after = Tick::from_unix_secs(before + 2 * TICK_SECS);
    let mut s = Swarm::new(InfoHash([1; 20]));
    s.update(a("1.2.3.4:5"), false, Event::None, t_before, 1);
    s.sweep(t_after, timeout_ticks(60));
    assert_eq!(s.len(), 1);
}

fn announce(h: u8, addr: &str, left: u64, event: Event) -> Announce {
    Announce {
        info_hash: InfoHash([h; 20]),
        addr: a(addr),
        event,
        left,
        numwant: 50,
        start: 0,
        pinned: None,
    }
}

#[test]
fn store_scrape_snapshot_and_restore_keep_ages() {
    let store = SwarmStore::new(600, 42);
    let mut out = Vec::new();
    store
        .announce(&announce(1, "127.0.0.1:1", 0, Event::Started), T0, &mut out)
        .unwrap();
    store
        .announce(
            &announce(1, "127.0.0.1:2", 5, Event::Started),
            T0 + 500,
            &mut out,
        )
        .unwrap();
    store
        .announce(
            &announce(1, "127.0.0.1:2", 0, Event::Completed),
            T0 + 500,
            &mut out,
        )
        .unwrap();
    store
        .announce(
            &announce(2, "[::1]:3", 5, Event::Started),
            T0 + 500,
            &mut out,
        )
        .unwrap();
    let st = store.scrape(&InfoHash([1; 20]));
    assert_eq!((st.complete, st.incomplete, st.downloaded), (2, 0, 1));
    let snap = store.snapshot(T0 + 500);

    // Restored 200 s later: the first peer (now 700 s old) has expired, the others remain.
    let again = SwarmStore::new(600, 7);
    assert_eq!(again.restore(&snap, T0 + 700).unwrap(), 2);
    let st = again.scrape(&InfoHash([1; 20]));
    assert_eq!((st.complete, st.incomplete, st.downloaded), (1, 0, 1));
    assert_eq!(again.scrape(&InfoHash([2; 20])).incomplete, 1);
    assert_eq!(again.totals().peers, 2);

    // A stopped last peer removes the swarm.
    again
        .announce(
            &announce(2, "[::1]:3", 5, Event::Stopped),
            T0 + 700,
            &mut out,
        )
        .unwrap();
    assert_eq!(again.totals().torrents, 1);

    // Every truncation of a snapshot is an error or a shorter restore, never a panic.
    for cut in 0..snap.len() {
        let _ = SwarmStore::new(600, 1).restore(&snap[..cut], T0 + 500);
    }
    assert!(SwarmStore::new(600, 1).restore(b"garbage!", T0).is_err());
}

#[test]
fn store_sweep_forgets_empty_swarms() {
    let store = SwarmStore::new(60, 1);
    let mut out = Vec::new();
    store
        .announce(&announce(3, "127.0.0.1:1", 0, Event::Started), T0, &mut out)
        .unwrap();
    store.sweep(T0 + 30);
    assert_eq!(store.totals().torrents, 1);
    store.sweep(T0 + 200);
    assert_eq!(store.totals(), Default::default());
}

#[test]
fn every_peer_of_a_big_swarm_can_be_handed_out() {
    // 10,000 peers, 50 a reply: the random start must be able to reach every one of them, not
    // only the first few thousand of the table (a start bounded by a skip count did that).
    let now = Tick::from_unix_secs(T0);
    let mut s = Swarm::new(InfoHash([7; 20]));
    for i in 0..10_000u32 {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        s.update(SocketAddr::new(ip.into(), 6881), false, Event::None, now, 1);
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    // Every start a table of 10,000 entries can have (it has fewer than 32,768 buckets).
    for start in 0..32_768 {
        out.clear();
        s.select(a("1.2.3.4:1"), false, None, 50, start, now, 60, &mut out);
        assert_eq!(out.len(), 50);
        seen.extend(out.iter().copied());
    }
    assert_eq!(seen.len(), 10_000);
}

/// An open tracker at `max_swarms` swarms refuses a new swarm of an unpublished torrent; a
/// published one (pinned) is never refused, and freed slots can be taken again.
#[test]
fn unpublished_swarms_are_capped() {
    let store = SwarmStore::new(60, 1).with_max_swarms(2);
    let mut out = Vec::new();
    for h in [1, 2] {
        store
            .announce(&announce(h, "127.0.0.1:1", 0, Event::Started), T0, &mut out)
            .unwrap();
    }
    // More peers in a held swarm are fine.
    store
        .announce(&announce(2, "127.0.0.1:2", 0, Event::Started), T0, &mut out)
        .unwrap();
    assert_eq!(
        store.announce(&announce(3, "127.0.0.1:1", 0, Event::Started), T0, &mut out),
        Err(crate::store::TRACKER_FULL)
    );
    let mut published = announce(4, "127.0.0.1:1", 0, Event::Started);
    published.pinned = Some(a("127.0.0.1:5989"));
    store.announce(&published, T0, &mut out).unwrap();
    assert_eq!(store.swarm_count(), 3);
    // Swarms 1 and 2 end as their peers stop: below the cap again (published swarms count
    // towards it, they are only never refused).
    for (h, peer) in [(1, "127.0.0.1:1"), (2, "127.0.0.1:1"), (2, "127.0.0.1:2")] {
        store
            .announce(&announce(h, peer, 0, Event::Stopped), T0, &mut out)
            .unwrap();
    }
    assert_eq!(store.swarm_count(), 1);
    store
        .announce(&announce(3, "127.0.0.1:1", 0, Event::Started), T0, &mut out)
        .unwrap();
    // Expiry frees slots too (the sweep recounts).
    store.sweep(T0 + 200);
    assert_eq!(store.swarm_count(), 0);
    store
        .announce(
            &announce(5, "127.0.0.1:1", 0, Event::Started),
            T0 + 200,
            &mut out,
        )
        .unwrap();
}

/// On an open tracker one address holds at most `max_peers_per_ip` peers of an unpublished
/// swarm (IPv6 counted by /64); its re-announces still go through, loopback and published
/// swarms are not capped.
#[test]
fn peers_per_address_are_capped_in_unpublished_swarms() {
    let store = SwarmStore::new(600, 1).with_max_peers_per_ip(2);
    let mut out = Vec::new();
    let go = |h: u8, addr: &str, out: &mut Vec<SocketAddr>| {
        store.announce(&announce(h, addr, 5, Event::Started), T0, out)
    };
    go(1, "203.0.113.5:1", &mut out).unwrap();
    go(1, "203.0.113.5:2", &mut out).unwrap();
    assert_eq!(
        go(1, "203.0.113.5:3", &mut out),
        Err(crate::store::TOO_MANY_FROM_IP)
    );
    // Re-announces of held peers, another address, another swarm: fine.
    go(1, "203.0.113.5:1", &mut out).unwrap();
    go(1, "203.0.113.6:3", &mut out).unwrap();
    go(2, "203.0.113.5:3", &mut out).unwrap();
    // IPv6 by /64: two addresses of one /64 share the cap.
    go(1, "[2001:db8:1:2::1]:1", &mut out).unwrap();
    go(1, "[2001:db8:1:2::2]:1", &mut out).unwrap();
    assert!(go(1, "[2001:db8:1:2::3]:1", &mut out).is_err());
    go(1, "[2001:db8:1:3::3]:1", &mut out).unwrap();
    // Loopback is not capped, nor is a published swarm.
    for port in 1..10 {
        go(1, &format!("127.0.0.1:{port}"), &mut out).unwrap();
        let mut published = announce(3, &format!("203.0.113.5:{port}"), 5, Event::Started);
        published.pinned = Some(a("198.51.100.1:5989"));
        store.announce(&published, T0, &mut out).unwrap();
    }
    // A peer that stops frees its place.
    store
        .announce(
            &announce(1, "203.0.113.5:2", 5, Event::Stopped),
            T0,
            &mut out,
        )
        .unwrap();
    go(1, "203.0.113.5:3", &mut out).unwrap();
}

/// The address of model peer `i`: mostly IPv4 (a few IPs, many ports), every seventh IPv6.
fn model_addr(i: u16) -> SocketAddr {
    if i.is_multiple_of(7) {
        SocketAddr::new(
            std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i).into(),
            1000 + i,
        )
    } else {
        SocketAddr::from(([10, 0, (i % 3) as u8, 1], 1000 + i))
    }
}

proptest::proptest! {
    /// Random announces, stops and sweeps over up to 300 peers (so swarms cross from one small
    /// array to buckets and back, with and without IPv6 peers) keep exactly the peers, counts
    /// and ages of a plain map.
    #[test]
    fn swarm_matches_a_plain_map(
        ops in proptest::collection::vec((0u8..8, 0u16..300, proptest::bool::ANY, 0u64..3), 1..1500),
        v6 in proptest::bool::ANY,
    ) {
        use std::collections::HashMap;
        let timeout = 5u16;
        let mut s = Swarm::new(InfoHash([5; 20]));
        let mut model: HashMap<SocketAddr, (bool, u64)> = HashMap::new();
        let mut ticks = 100u64;
        let mut downloaded = 0;
        for (kind, i, seeder, dt) in ops {
            ticks += dt;
            let now = Tick::from_unix_secs(ticks * TICK_SECS);
            let addr = model_addr(if v6 { i } else { i | 1 });
            match kind {
                0 => {
                    s.sweep(now, timeout);
                    model.retain(|_, (_, t)| ticks - *t <= u64::from(timeout));
                }
                1 | 2 => {
                    let was = s.update(addr, seeder, Event::Stopped, now, 9);
                    proptest::prop_assert_eq!(was, model.remove(&addr).is_some());
                }
                k => {
                    let event = if k == 3 { Event::Completed } else { Event::None };
                    downloaded += u32::from(k == 3);
                    let was = s.update(addr, seeder, event, now, 9);
                    proptest::prop_assert_eq!(was, model.insert(addr, (seeder, ticks)).is_some());
                }
            }
            let seeders = model.values().filter(|(sd, _)| *sd).count() as u32;
            proptest::prop_assert_eq!(
                s.counts(),
                Counts { seeders, leechers: model.len() as u32 - seeders, downloaded }
            );
            proptest::prop_assert_eq!(s.is_live(addr, now, timeout), model.get(&addr)
                .is_some_and(|(_, t)| ticks - t <= u64::from(timeout)));
        }
        let now = Tick::from_unix_secs(ticks * TICK_SECS);
        let mut held = HashMap::new();
        s.for_each_peer(now, |a, seeder, age| {
            held.insert(a, (seeder, ticks - u64::from(age)));
        });
        proptest::prop_assert_eq!(held, model);
    }
}

/// A swarm of thousands: buckets split as it grows, merge back into one array as it empties,
/// and the store finds every swarm again after others were removed around it.
#[test]
fn big_swarms_split_and_merge_and_the_store_keeps_its_index() {
    let now = Tick::from_unix_secs(T0);
    let mut s = Swarm::new(InfoHash([8; 20]));
    let addrs: Vec<SocketAddr> = (0..5000u32)
        .map(|i| SocketAddr::new(std::net::Ipv4Addr::from(0x0a00_0000 + i).into(), 6881))
        .collect();
    for &a in &addrs {
        assert!(!s.update(a, false, Event::None, now, 3));
    }
    assert_eq!(s.len(), 5000);
    assert!(addrs.iter().all(|&a| s.is_live(a, now, 10)));
    for &a in &addrs[10..] {
        assert!(s.update(a, false, Event::Stopped, now, 3));
    }
    assert_eq!(s.len(), 10);
    assert!(
        s.heap_bytes() <= 16 * 8,
        "ten peers left: back to one small array, {} bytes",
        s.heap_bytes()
    );
    assert!(addrs[..10].iter().all(|&a| s.is_live(a, now, 10)));

    let store = SwarmStore::new(600, 11);
    let mut out = Vec::new();
    for h in 0..200u8 {
        for port in 1..=u16::from(h % 5) + 1 {
            store
                .announce(
                    &announce(h, &format!("127.0.0.1:{port}"), 5, Event::Started),
                    T0,
                    &mut out,
                )
                .unwrap();
        }
    }
    // Remove every third swarm (its peers stop), in an order that moves others around.
    for h in (0..200u8).rev().filter(|h| h % 3 == 0) {
        for port in 1..=u16::from(h % 5) + 1 {
            store
                .announce(
                    &announce(h, &format!("127.0.0.1:{port}"), 5, Event::Stopped),
                    T0,
                    &mut out,
                )
                .unwrap();
        }
    }
    for h in 0..200u8 {
        let want = if h % 3 == 0 { 0 } else { u32::from(h % 5) + 1 };
        assert_eq!(
            store.scrape(&InfoHash([h; 20])).incomplete,
            want,
            "swarm {h}"
        );
    }
    assert_eq!(store.swarm_count(), 200 - 67);
}

//! The torrent core in simulated swarms: completion, fairness and bounds over random swarms,
//! a 100-peer swarm, and a lying seed. See `sim/mod.rs` for the harness.

mod sim;

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sim::{Link, Role, Swarm, SwarmSpec};

fn lan() -> Link {
    Link {
        bandwidth: 4 << 20,
        latency: Duration::from_millis(20),
        loss: 0.0,
    }
}

#[test]
fn a_hundred_peers_all_finish_from_one_seed() {
    let mut roles = vec![Role::Seed];
    roles.extend(std::iter::repeat_n(Role::Leecher, 99));
    let mut swarm = Swarm::new(SwarmSpec {
        pieces: 64,
        piece_len: 64 << 10,
        roles,
        link: lan(),
        upload_slots: 4,
        reqq: None,
        seed: 1,
    });
    let cpu = Instant::now();
    let done = swarm.run(Duration::from_secs(900));
    let times = swarm.finish_times();
    let last = times.iter().flatten().max().copied().unwrap_or_default();
    eprintln!(
        "100 peers: done {done} at {:.1} s virtual, {} events, {:.2} s CPU",
        last.as_secs_f64(),
        swarm.events,
        cpu.elapsed().as_secs_f64()
    );
    assert!(
        done,
        "unfinished: {:?}",
        times.iter().filter(|t| t.is_none()).count()
    );
    assert_eq!(swarm.violations, Vec::<String>::new());
    assert_eq!(swarm.verified_twice(), vec![]);
    // Served by the seed alone, 99 copies of 4 MiB at its 4 MiB/s would take 99 s: a swarm
    // whose leechers trade finishes in a fraction of that.
    assert!(last < Duration::from_secs(30), "took {last:?}");
}

#[test]
fn a_lying_seed_is_banned_and_the_honest_seed_completes_everyone() {
    let roles = vec![
        Role::Liar,
        Role::Seed,
        Role::Leecher,
        Role::Leecher,
        Role::Leecher,
    ];
    let mut swarm = Swarm::new(SwarmSpec {
        pieces: 32,
        piece_len: 32 << 10,
        roles,
        link: lan(),
        upload_slots: 4,
        reqq: None,
        seed: 7,
    });
    assert!(
        swarm.run(Duration::from_secs(600)),
        "{:?}",
        swarm.finish_times()
    );
    assert_eq!(swarm.violations, Vec::<String>::new());
    let liar = swarm.addr(0);
    let banned_liar: Vec<usize> = (swarm.bans().into_iter())
        .filter(|(_, a)| *a == liar)
        .map(|(i, _)| i)
        .collect();
    assert!(
        !banned_liar.is_empty(),
        "nobody banned the liar: {:?}",
        swarm.bans()
    );
    let honest = swarm.addr(1);
    assert!(
        swarm.bans().iter().all(|(_, a)| *a == liar),
        "an honest peer was banned: {:?} (honest seed {honest})",
        swarm.bans()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Over random swarms: everyone finishes (endgame included), no request is for a piece
    /// we have, none exceeds the peer's queue bound, every piece is verified exactly once, and
    /// no node unchokes more peers than it has slots.
    #[test]
    fn random_swarms_finish_within_the_rules(
        seeds in 1usize..3,
        leechers in 2usize..14,
        pieces in 3u32..48,
        kib in prop::sample::select(vec![16u32, 32, 64, 256]),
        bandwidth_kib in 256u64..8192,
        latency_ms in 1u64..120,
        loss in 0.0f64..0.05,
        slots in 1usize..5,
        reqq in prop::option::of(2u32..64),
        seed in any::<u64>(),
    ) {
        let mut roles = vec![Role::Seed; seeds];
        roles.extend(std::iter::repeat_n(Role::Leecher, leechers));
        let mut swarm = Swarm::new(SwarmSpec {
            pieces,
            piece_len: kib << 10,
            roles,
            link: Link {
                bandwidth: bandwidth_kib << 10,
                latency: Duration::from_millis(latency_ms),
                loss,
            },
            upload_slots: slots,
            reqq,
            seed,
        });
        let done = swarm.run(Duration::from_secs(3600));
        prop_assert!(done, "unfinished: {:?}", swarm.finish_times());
        prop_assert_eq!(&swarm.violations, &Vec::<String>::new());
        prop_assert_eq!(swarm.verified_twice(), vec![]);
        prop_assert_eq!(swarm.bans(), vec![]);
    }
}

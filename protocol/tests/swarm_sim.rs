//! The torrent core in simulated swarms: completion, fairness and bounds over random swarms,
//! a 100-peer swarm, and scripted hostile peers (a liar, a hoarder, a flooder, a sink). See
//! `sim/mod.rs` for the harness; every run also checks its invariants as it goes (requests,
//! queue bounds, unchoke slots, choking fairness, what a non-reading peer can make us hold).

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
        mesh: true,
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
        mesh: true,
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

    /// Over random swarms, some with a hostile node: every honest leecher finishes (endgame
    /// included), no request is for a piece we have, none exceeds the peer's queue bound,
    /// every piece is verified exactly once, no node unchokes more peers than it has slots or
    /// keeps an interested peer waiting past its turn, and nobody honest is banned.
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
        hostile in prop::option::of(prop::sample::select(vec![
            Role::Liar, Role::Hoarder, Role::Flooder, Role::Sink,
        ])),
    ) {
        let mut roles = vec![Role::Seed; seeds];
        roles.extend(std::iter::repeat_n(Role::Leecher, leechers));
        roles.extend(hostile);
        let mut swarm = Swarm::new(SwarmSpec {
            pieces,
            piece_len: kib << 10,
            roles: roles.clone(),
            link: Link {
                bandwidth: bandwidth_kib << 10,
                latency: Duration::from_millis(latency_ms),
                loss,
            },
            upload_slots: slots,
            reqq,
            seed,
            mesh: true,
        });
        let done = swarm.run(Duration::from_secs(3600));
        prop_assert!(done, "unfinished: {:?}", swarm.finish_times());
        prop_assert_eq!(&swarm.violations, &Vec::<String>::new());
        prop_assert_eq!(swarm.verified_twice(), vec![]);
        let honest_banned = honest_bans(&swarm, &roles);
        prop_assert_eq!(honest_banned, vec![]);
    }
}

/// Bans of honest nodes by honest nodes (what a hostile node's own core makes of the answers
/// its misbehaviour earns is its business).
fn honest_bans(swarm: &Swarm, roles: &[Role]) -> Vec<(usize, std::net::SocketAddr)> {
    (swarm.bans().into_iter())
        .filter(|(by, a)| {
            roles[*by].honest()
                && (0..roles.len()).any(|j| swarm.addr(j) == *a && roles[j].honest())
        })
        .collect()
}

fn slow(bandwidth: u64) -> Link {
    Link {
        bandwidth,
        latency: Duration::from_millis(30),
        loss: 0.0,
    }
}

fn spec(roles: Vec<Role>, link: Link, upload_slots: usize, mesh: bool) -> SwarmSpec {
    SwarmSpec {
        pieces: 16,
        piece_len: 64 << 10,
        roles,
        link,
        upload_slots,
        reqq: None,
        seed: 3,
        mesh,
    }
}

/// Ten leechers that can only get the file from one slow seed with two slots: one goes by
/// tit-for-tat, the other rotates. Every leecher gets its turn within the rotation bound (the
/// harness checks it as it goes); with a draw by lot instead of a queue, some wait longer.
#[test]
fn a_seed_serves_every_waiting_leecher_in_turn() {
    let mut roles = vec![Role::Seed];
    roles.extend(std::iter::repeat_n(Role::Leecher, 10));
    let mut swarm = Swarm::new(spec(roles, slow(16 << 10), 2, false));
    let done = swarm.run(Duration::from_secs(7200));
    assert_eq!(swarm.violations, Vec::<String>::new());
    assert!(done, "{:?}", swarm.finish_times());
    // It was a queue: the last leecher finished long after several rotations.
    let last = swarm.finish_times().into_iter().flatten().max().unwrap();
    assert!(last > Duration::from_secs(300), "{last:?}");
}

/// A node that claims every piece and never sends one: leechers drop it when their requests
/// stall and finish from the honest seed; nobody honest is banned.
#[test]
fn a_hoarder_delays_nobody_for_good() {
    let mut roles = vec![Role::Hoarder, Role::Seed];
    roles.extend(std::iter::repeat_n(Role::Leecher, 6));
    // Slow enough that the run outlasts the stall timeout.
    let mut swarm = Swarm::new(spec(roles.clone(), slow(64 << 10), 4, true));
    assert!(
        swarm.run(Duration::from_secs(1800)),
        "{:?}",
        swarm.finish_times()
    );
    assert_eq!(swarm.violations, Vec::<String>::new());
    assert_eq!(honest_bans(&swarm, &roles), vec![]);
}

/// A leecher that floods everyone with requests far past their queue limit, choked or not:
/// it is banned, what it asked is bounded meanwhile, and the others finish.
#[test]
fn a_request_flooder_is_banned() {
    let mut roles = vec![Role::Seed, Role::Flooder];
    roles.extend(std::iter::repeat_n(Role::Leecher, 4));
    let mut swarm = Swarm::new(spec(roles.clone(), lan(), 4, true));
    assert!(
        swarm.run(Duration::from_secs(1800)),
        "{:?}",
        swarm.finish_times()
    );
    assert_eq!(swarm.violations, Vec::<String>::new());
    let flooder = swarm.addr(1);
    assert!(
        swarm.bans().iter().any(|(_, a)| *a == flooder),
        "nobody banned the flooder: {:?}",
        swarm.bans()
    );
    assert_eq!(honest_bans(&swarm, &roles), vec![]);
}

/// A leecher that stops reading once blocks come: the nodes serving it hold at most the
/// read-ahead bound for it (the harness checks it at every tick), and the others finish.
#[test]
fn a_sink_holds_no_more_than_the_read_ahead() {
    let mut roles = vec![Role::Seed, Role::Sink];
    roles.extend(std::iter::repeat_n(Role::Leecher, 4));
    let mut swarm = Swarm::new(spec(roles.clone(), lan(), 4, true));
    assert!(
        swarm.run(Duration::from_secs(1800)),
        "{:?}",
        swarm.finish_times()
    );
    assert_eq!(swarm.violations, Vec::<String>::new());
    assert!(
        swarm.stuck() > 0,
        "the sink was never served: the test tested nothing"
    );
    assert_eq!(honest_bans(&swarm, &roles), vec![]);
}

/// A liar beside an honest seed in a torrent of three pieces: nearly every piece gets blocks
/// from both, and each such bad piece is fetched again from one of them alone, so the liar is
/// found out and the honest seed is not banned with it (as it was when every sender of a
/// shared bad piece was charged: the leechers banned both and never finished).
#[test]
fn a_liar_does_not_take_an_honest_seed_down_with_it() {
    let roles = vec![Role::Seed, Role::Leecher, Role::Leecher, Role::Liar];
    let mut swarm = Swarm::new(SwarmSpec {
        pieces: 3,
        piece_len: 256 << 10,
        roles: roles.clone(),
        link: slow(256 << 10),
        upload_slots: 1,
        reqq: Some(2),
        seed: 116,
        mesh: true,
    });
    assert!(
        swarm.run(Duration::from_secs(3600)),
        "{:?}",
        swarm.finish_times()
    );
    assert_eq!(swarm.violations, Vec::<String>::new());
    assert_eq!(honest_bans(&swarm, &roles), vec![]);
}

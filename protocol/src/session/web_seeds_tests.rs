use std::time::Instant;

use super::*;
use crate::session::CoreConfig;
use crate::{Bitfield, InfoHash, Lengths, PeerId, Picker};

fn core(pieces: u32) -> TorrentCore {
    let lengths = Lengths::new(u64::from(pieces) * 32768, 32768, pieces as usize).unwrap();
    let config = CoreConfig {
        our_id: PeerId([1; 20]),
        info_hash: InfoHash([2; 20]),
        upload_slots: 4,
        max_peers: 50,
        max_peers_per_ip: 8,
    };
    let now = Instant::now();
    let mut core = TorrentCore::new(config, lengths, 9, now);
    core.replace_picker(Picker::new(lengths, Bitfield::new(pieces)));
    core.set_active(true, now);
    core
}

fn ask(next_from: Option<u32>, usable_seeds: u32, max_run: u32) -> WebSeedAsk {
    WebSeedAsk {
        next_from,
        ignores_range: false,
        usable_seeds,
        max_run,
        sequential: false,
    }
}

fn run_of(job: Option<WebSeedJob>) -> Vec<u32> {
    match job {
        Some(WebSeedJob::Run(run)) => run.iter().map(|(p, _)| p.get()).collect(),
        other => panic!("expected a run, got {other:?}"),
    }
}

#[test]
fn runs_continue_where_the_last_ended_and_leave_a_share_for_other_sources() {
    let mut core = core(16);
    assert_eq!(
        run_of(core.plan_web_seed(ask(Some(4), 1, 3))),
        vec![4, 5, 6]
    );
    // Two web seeds: each gets at most half of what is not started (13 left: 7).
    assert_eq!(
        run_of(core.plan_web_seed(ask(Some(7), 2, 100))),
        (7..14).collect::<Vec<_>>()
    );
}

#[test]
fn a_server_that_ignores_range_and_is_alone_gets_everything_from_the_start() {
    let mut core = core(8);
    let job = core.plan_web_seed(WebSeedAsk {
        ignores_range: true,
        ..ask(Some(5), 1, 2)
    });
    assert_eq!(run_of(job), (0..8).collect::<Vec<_>>());
}

#[test]
fn with_nothing_free_an_idle_seed_twins_a_started_piece_and_its_blocks_are_taken_once() {
    let mut core = core(2);
    let run = run_of(core.plan_web_seed(ask(Some(0), 1, 100)));
    assert_eq!(run.len(), 2);
    match core.plan_web_seed(ask(None, 1, 100)) {
        Some(WebSeedJob::Twin(piece, blocks)) => {
            assert!(!blocks.is_empty());
            let block = blocks[0];
            assert_eq!(block.piece, piece);
            let data = Bytes::from(vec![0u8; block.length as usize]);
            assert!(core.handle_web_block(block, data.clone()));
            assert!(
                !core.handle_web_block(block, data),
                "a duplicate is not wanted"
            );
            assert!(matches!(core.poll_disk(), Some(DiskOp::Write { .. })));
            assert_eq!(core.poll_disk(), None);
        }
        other => panic!("expected a twin, got {other:?}"),
    }
}

use super::*;
use proptest::prelude::*;
use rand::SeedableRng;

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(7)
}

fn picker(pieces: u32, piece_len: u64) -> Picker {
    let total = u64::from(pieces) * piece_len;
    let l = Lengths::new(total, piece_len, pieces as usize).unwrap();
    Picker::new(l, Bitfield::new(pieces))
}

fn none(_: ValidBlock) -> bool {
    false
}

#[test]
fn started_pieces_are_finished_first() {
    let mut p = picker(10, 65536);
    let all = Bitfield::full(10);
    let first = p.next_blocks(&all, 2, &mut rng(), &none);
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].piece, first[1].piece);
    let more = p.next_blocks(&all, 2, &mut rng(), &none);
    assert_eq!(
        more[0].piece, first[0].piece,
        "same piece's last two blocks"
    );
    let next = p.next_blocks(&all, 1, &mut rng(), &none);
    assert_ne!(next[0].piece, first[0].piece);
}

#[test]
fn rarest_piece_is_picked_after_random_start() {
    let mut p = picker(8, 16384);
    for i in 0..4 {
        p.piece_verified(p.lengths().validate_piece(i).unwrap());
    }
    let mut common = Bitfield::full(8);
    p.add_peer_pieces(&common);
    p.add_peer_pieces(&common);
    let mut rare = Bitfield::new(8);
    rare.set(6);
    p.add_peer_pieces(&rare);
    common.clear(6);
    // Piece 6 has availability 3, others 2: rarest is any of 4, 5, 7; never 6.
    let got = p.next_blocks(&Bitfield::full(8), 1, &mut rng(), &none);
    assert_ne!(got[0].piece.get(), 6);
    assert!(got[0].piece.get() >= 4);
}

#[test]
fn sequential_goes_in_order_and_skip_is_honoured() {
    let mut p = picker(6, 16384);
    p.set_sequential(true);
    p.set_priorities(vec![0, 2, 2, 0, 2, 2]);
    let got = p.next_blocks(&Bitfield::full(6), 3, &mut rng(), &none);
    let pieces: Vec<u32> = got.iter().map(|b| b.piece.get()).collect();
    assert_eq!(pieces, vec![1, 2, 4]);
    assert_eq!(p.wanted_total(), 4 * 16384);
}

#[test]
fn endgame_duplicates_outstanding_blocks_and_completion_is_tracked() {
    let mut p = picker(1, 32768);
    let all = Bitfield::full(1);
    let a = p.next_blocks(&all, 10, &mut rng(), &none);
    assert_eq!(a.len(), 2);
    assert!(p.in_endgame());
    // Another peer gets the same blocks; the first peer gets nothing new.
    let b = p.next_blocks(&all, 10, &mut rng(), &none);
    assert_eq!(b, a);
    let in_a = |blk: ValidBlock| a.contains(&blk);
    assert!(p.next_blocks(&all, 10, &mut rng(), &in_a).is_empty());
    assert_eq!(
        p.on_block(a[0]),
        BlockOutcome::Accepted {
            piece_complete: false
        }
    );
    assert_eq!(p.on_block(b[0]), BlockOutcome::Duplicate);
    assert_eq!(
        p.on_block(a[1]),
        BlockOutcome::Accepted {
            piece_complete: true
        }
    );
    p.piece_verified(a[0].piece);
    assert!(p.is_complete());
    assert_eq!(p.on_block(a[0]), BlockOutcome::Unexpected);
}

#[test]
fn released_and_failed_blocks_are_requested_again() {
    let mut p = picker(2, 16384);
    let all = Bitfield::full(2);
    let a = p.next_blocks(&all, 1, &mut rng(), &none);
    p.release(a[0]);
    let again = p.next_blocks(&all, 1, &mut rng(), &none);
    assert_eq!(again, a);
    assert_eq!(
        p.on_block(a[0]),
        BlockOutcome::Accepted {
            piece_complete: true
        }
    );
    p.piece_failed(a[0].piece);
    let rest = p.next_blocks(&all, 2, &mut rng(), &none);
    assert_eq!(rest.len(), 2, "failed piece is back in the pool");
}

#[test]
fn interest_follows_what_we_lack() {
    let mut p = picker(3, 16384);
    let mut peer = Bitfield::new(3);
    assert!(!p.is_interesting(&peer));
    peer.set(1);
    assert!(p.is_interesting(&peer));
    p.piece_verified(p.lengths().validate_piece(1).unwrap());
    assert!(!p.is_interesting(&peer));
}

proptest! {
    /// Any interleaving of picks, arrivals, releases and failures ends with every piece
    /// downloaded exactly when every block has been accepted once per verification.
    #[test]
    fn random_runs_complete(seed: u64, ops in proptest::collection::vec(0u8..4, 1..400)) {
        let mut r = rand::rngs::StdRng::seed_from_u64(seed);
        let mut p = picker(5, 40000);
        let all = Bitfield::full(5);
        let mut outstanding: Vec<ValidBlock> = Vec::new();
        for op in ops {
            match op {
                0 => outstanding.extend(p.next_blocks(&all, 3, &mut r, &none)),
                1 | 2 => if let Some(b) = outstanding.pop() {
                    if let BlockOutcome::Accepted { piece_complete: true } = p.on_block(b) {
                        p.piece_verified(b.piece);
                    }
                },
                _ => if let Some(b) = outstanding.pop() { p.release(b) },
            }
        }
        // Drain: keep picking and answering until complete.
        for _ in 0..1000 {
            for b in outstanding.drain(..) {
                if let BlockOutcome::Accepted { piece_complete: true } = p.on_block(b) {
                    p.piece_verified(b.piece);
                }
            }
            if p.is_complete() { break; }
            outstanding.extend(p.next_blocks(&all, 8, &mut r, &none));
        }
        prop_assert!(p.is_complete());
        prop_assert_eq!(p.wanted_left(), 0);
    }
}

#[test]
fn urgent_pieces_come_first_in_their_order_then_the_rest() {
    let mut p = picker(20, 16384);
    let all = Bitfield::full(20);
    p.set_urgent(vec![15, 9, 99]);
    let got = p.next_blocks(&all, 3, &mut rng(), &none);
    let pieces: Vec<u32> = got.iter().map(|b| b.piece.get()).collect();
    assert_eq!(
        &pieces[..2],
        &[15, 9],
        "index 99 is out of range and ignored"
    );
    assert!(!p.may_have_twins(15), "urgent is not yet late");
    p.set_late(vec![15]);
    assert!(p.may_have_twins(15));
    assert!(!p.may_have_twins(3));
}

#[test]
fn urgent_pieces_a_peer_lacks_or_we_have_are_skipped() {
    let mut p = picker(8, 16384);
    p.piece_verified(p.lengths().validate_piece(2).unwrap());
    let mut has = Bitfield::new(8);
    has.set(4);
    has.set(2);
    p.set_urgent(vec![2, 3, 4]);
    let got = p.next_blocks(&has, 4, &mut rng(), &none);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].piece.get(), 4);
}

#[test]
fn a_second_peer_twins_the_blocks_of_a_late_piece() {
    let mut p = picker(8, 65536);
    let all = Bitfield::full(8);
    p.set_urgent(vec![5]);
    let a = p.next_blocks(&all, 4, &mut rng(), &none);
    assert!(a.iter().all(|b| b.piece.get() == 5));
    // Not late yet: another peer gets other pieces.
    let other = p.next_blocks(&all, 1, &mut rng(), &none);
    assert_ne!(other[0].piece.get(), 5);
    p.release(other[0]);
    // Late: another peer gets twins of piece 5's blocks first, then other pieces.
    p.set_late(vec![5]);
    let b = p.next_blocks(&all, 6, &mut rng(), &none);
    assert_eq!(b.iter().filter(|x| x.piece.get() == 5).count(), 4);
    assert_eq!(b.len(), 6);
    // The first peer never gets a twin of its own request.
    let again = p.next_blocks(&all, 4, &mut rng(), &|blk| a.contains(&blk));
    assert!(again.iter().all(|x| x.piece.get() != 5), "{again:?}");
}

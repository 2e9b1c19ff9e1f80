use std::time::Instant;

use bytes::Bytes;

use super::*;
use crate::session::{CoreConfig, CoreEvent, Transmit};
use crate::{InfoHash, Lengths, PeerId, Picker};

/// A torrent of 128 blocks (8 pieces of 256 KiB), all of them asked of one peer at once.
fn downloading() -> (TorrentCore, PeerKey, Instant) {
    let lengths = Lengths::new(8 * 262144, 262144, 8).unwrap();
    let config = CoreConfig {
        our_id: PeerId([1; 20]),
        info_hash: InfoHash([2; 20]),
        upload_slots: 4,
        max_peers: 50,
        max_peers_per_ip: 8,
    };
    let now = Instant::now();
    let mut core = TorrentCore::new(config, lengths, 3, now);
    core.replace_picker(Picker::new(lengths, Bitfield::new(8)));
    core.set_active(true, now);
    let key = core
        .admit_incoming("10.0.0.9:6881".parse().unwrap())
        .unwrap();
    let addr = "10.0.0.9:6881".parse().unwrap();
    core.handle_connected(key, addr, PeerId([9; 20]), false, now)
        .unwrap();
    core.handle_message(key, PeerMessage::HaveAll, now);
    (core, key, now)
}

fn requested(core: &mut TorrentCore) -> Vec<BlockRef> {
    let mut all = Vec::new();
    while let Some((_, t)) = core.poll_transmit() {
        if let Transmit::Requests(blocks) = t {
            all.extend(blocks);
        }
    }
    all
}

/// A seeder that ignores cancels answers every request it got. Asked twice for each block, with
/// both requests withdrawn by chokes, it sends two copies: neither is "unrequested", and the
/// peer is not banned (it was, mid-playback, when one withdrawal mark stood for both).
#[test]
fn every_withdrawn_request_may_still_be_answered_once() {
    let (mut core, key, now) = downloading();
    core.handle_message(key, PeerMessage::Unchoke, now);
    let first = requested(&mut core);
    assert_eq!(first.len(), 128, "the whole torrent asked at once");
    core.handle_message(key, PeerMessage::Choke, now);
    core.handle_message(key, PeerMessage::Unchoke, now);
    let second = requested(&mut core);
    assert_eq!(second.len(), 128, "asked again after the choke");
    core.handle_message(key, PeerMessage::Choke, now);
    for copy in 0..2 {
        for b in &first {
            let data = Bytes::from(vec![copy; b.length as usize]);
            let (index, begin) = (b.piece, b.begin);
            core.handle_message(key, PeerMessage::Piece { index, begin, data }, now);
        }
    }
    assert!(core.peer(key).is_some(), "the peer was dropped");
    assert_eq!(core.poll_event(), None::<CoreEvent>);
}

use std::time::Instant;

use super::*;
use crate::session::test_peers::*;
use crate::session::{Extensions, OUR_UT_METADATA};
use crate::wire::{MetadataMessage, METADATA_PIECE_LEN};

fn request(piece: u32) -> Vec<u8> {
    let mut out = Vec::new();
    MetadataMessage::Request { piece }.encode(&mut out);
    out
}

/// A core serving a two-piece info dictionary to one peer that sent its handshake.
fn serving() -> (
    TorrentCore,
    PeerKey,
    std::sync::Arc<crate::Metainfo>,
    Instant,
) {
    let now = Instant::now();
    let meta = metainfo(1000);
    let ext = Extensions {
        metadata: Some(meta.clone()),
        ..pex_on()
    };
    let mut core = core(ext, now);
    let key = connect(&mut core, "10.0.0.9:7000", false, now);
    send_handshake(&mut core, key, &their_handshake(7000), now);
    sent(&mut core);
    (core, key, meta, now)
}

#[test]
fn requests_get_their_piece_and_pieces_out_of_range_a_reject() {
    let (mut core, key, meta, now) = serving();
    let info = meta.info_bytes();
    assert!(info.len() > METADATA_PIECE_LEN && info.len() <= 2 * METADATA_PIECE_LEN);
    for piece in [0, 1, 2, u32::MAX] {
        send_ext(&mut core, key, OUR_UT_METADATA, request(piece), now);
    }
    let out = sent(&mut core).extended;
    assert_eq!(out.len(), 4);
    let msgs: Vec<MetadataMessage<'_>> = (out.iter())
        .map(|(to, id, p)| {
            assert_eq!((*to, *id), (key, THEIR_UT_METADATA));
            MetadataMessage::decode(p).unwrap()
        })
        .collect();
    let total_size = info.len() as u64;
    assert_eq!(
        msgs[0],
        MetadataMessage::Data {
            piece: 0,
            total_size,
            data: &info[..METADATA_PIECE_LEN]
        }
    );
    assert_eq!(
        msgs[1],
        MetadataMessage::Data {
            piece: 1,
            total_size,
            data: &info[METADATA_PIECE_LEN..]
        }
    );
    assert_eq!(msgs[2], MetadataMessage::Reject { piece: 2 });
    assert_eq!(msgs[3], MetadataMessage::Reject { piece: u32::MAX });
}

#[test]
fn without_metadata_every_request_is_rejected() {
    let now = Instant::now();
    let mut core = core(pex_on(), now);
    let key = connect(&mut core, "10.0.0.9:7000", false, now);
    send_handshake(&mut core, key, &their_handshake(7000), now);
    sent(&mut core);
    send_ext(&mut core, key, OUR_UT_METADATA, request(0), now);
    let out = sent(&mut core).extended;
    assert_eq!(
        MetadataMessage::decode(&out[0].2).unwrap(),
        MetadataMessage::Reject { piece: 0 }
    );
}

#[test]
fn a_request_loop_is_cut_off_and_then_dropped() {
    let (mut core, key, meta, now) = serving();
    let budget = request_budget(meta.info_bytes().len());
    assert_eq!(budget, 16);
    for i in 0..budget {
        send_ext(&mut core, key, OUR_UT_METADATA, request(i % 2), now);
    }
    assert_eq!(sent(&mut core).extended.len(), budget as usize);
    // Past the budget: no answers, each request counts as unusable...
    for _ in 0..crate::session::extended::MAX_BAD_EXTENSION_MESSAGES {
        send_ext(&mut core, key, OUR_UT_METADATA, request(0), now);
    }
    let out = sent(&mut core);
    assert!(out.extended.is_empty());
    assert!(out.closed.is_empty());
    // ...and one more is one too many.
    send_ext(&mut core, key, OUR_UT_METADATA, request(0), now);
    assert_eq!(sent(&mut core).closed, vec![key]);
}

#[test]
fn garbage_and_peers_without_an_id_are_not_answered() {
    let now = Instant::now();
    let ext = Extensions {
        metadata: Some(metainfo(1)),
        ..pex_on()
    };
    let mut core = core(ext, now);
    let key = connect(&mut core, "10.0.0.9:7000", false, now);
    sent(&mut core);
    // No handshake yet: we do not know its id.
    send_ext(&mut core, key, OUR_UT_METADATA, request(0), now);
    send_ext(
        &mut core,
        key,
        OUR_UT_METADATA,
        b"d8:msg_typei0e5:piecei-1ee".to_vec(),
        now,
    );
    send_ext(&mut core, key, OUR_UT_METADATA, b"garbage".to_vec(), now);
    assert!(sent(&mut core).extended.is_empty());
    assert_eq!(core.peer(key).unwrap().ext.bad_messages, 3);
}

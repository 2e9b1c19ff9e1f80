use super::*;
use proptest::prelude::*;

fn any_type() -> impl Strategy<Value = PacketType> {
    prop_oneof![
        Just(PacketType::Data),
        Just(PacketType::Fin),
        Just(PacketType::State),
        Just(PacketType::Reset),
        Just(PacketType::Syn),
    ]
}

fn any_header() -> impl Strategy<Value = Header> {
    (
        any_type(),
        any::<(u16, u32, u32, u32, u16, u16)>(),
        proptest::option::of(
            (1usize..=16).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 4)),
        ),
    )
        .prop_map(|(ty, (conn_id, ts, diff, wnd, seq, ack), sack)| Header {
            ty,
            conn_id,
            timestamp_us: ts,
            timestamp_diff_us: diff,
            wnd_size: wnd,
            seq_nr: seq,
            ack_nr: ack,
            sack,
        })
}

proptest! {
    #[test]
    fn round_trip(h in any_header(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = Vec::new();
        h.encode(&mut buf);
        buf.extend_from_slice(&payload);
        let (back, at) = Header::decode(&buf).unwrap();
        prop_assert_eq!(&back, &h);
        prop_assert_eq!(&buf[at..], &payload[..]);
        prop_assert_eq!(peek_conn_id(&buf), Some((h.conn_id, h.ty)));
    }

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok((_, at)) = Header::decode(&bytes) {
            prop_assert!(at <= bytes.len());
        }
    }

    #[test]
    fn every_truncation_of_a_sack_packet_is_an_error(h in any_header()) {
        let mut buf = Vec::new();
        h.encode(&mut buf);
        for cut in 0..buf.len() {
            if h.sack.is_some() || cut < HEADER_LEN {
                prop_assert!(Header::decode(&buf[..cut]).is_err(), "cut at {}", cut);
            }
        }
    }

    #[test]
    fn sacked_bits_name_the_packets(ack in any::<u16>(), bits in proptest::collection::vec(any::<bool>(), 32)) {
        let mut sack = vec![0u8; 4];
        for (i, b) in bits.iter().enumerate() {
            if *b { sack[i / 8] |= 1 << (i % 8); }
        }
        let h = Header { ty: PacketType::State, conn_id: 0, timestamp_us: 0, timestamp_diff_us: 0,
            wnd_size: 0, seq_nr: 0, ack_nr: ack, sack: Some(sack) };
        for (i, b) in bits.iter().enumerate() {
            prop_assert_eq!(h.sacked(ack.wrapping_add(2 + i as u16)), *b);
        }
        prop_assert!(!h.sacked(ack.wrapping_add(1)));
    }
}

#[test]
fn a_syn_as_libtorrent_sends_it() {
    // type 4, version 1, no extension, conn id 0x1234, then the fixed fields.
    let bytes = [
        0x41, 0, 0x12, 0x34, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0,
    ];
    let (h, at) = Header::decode(&bytes).unwrap();
    assert_eq!(at, 20);
    assert_eq!(h.ty, PacketType::Syn);
    assert_eq!(h.conn_id, 0x1234);
    assert_eq!(h.timestamp_us, 7);
    assert_eq!(h.wnd_size, 0x100000);
    assert_eq!(h.seq_nr, 1);
}

#[test]
fn unknown_extensions_are_skipped_and_bad_ones_refused() {
    let mut bytes = vec![0x21, 2, 0, 1];
    bytes.extend_from_slice(&[0; 16]);
    // Extension 2 (close reason in libtorrent) of 4 bytes, then the end, then payload.
    bytes.extend_from_slice(&[0, 4, 9, 9, 9, 9, 0xaa]);
    let (h, at) = Header::decode(&bytes).unwrap();
    assert_eq!(h.sack, None);
    assert_eq!(&bytes[at..], &[0xaa]);
    // A SACK of 3 bytes, as libtorrent sends when its reorder buffer spans 17 to 24 packets.
    let mut lt = vec![0x21, 1, 0, 1];
    lt.extend_from_slice(&[0; 16]);
    lt.extend_from_slice(&[0, 3, 1, 2, 3]);
    let (h, at) = Header::decode(&lt).unwrap();
    assert_eq!(h.sack.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(at, lt.len());
    assert!(h.sacked(2) && h.sacked(11) && !h.sacked(3));
    // An empty one.
    let mut bad = vec![0x21, 1, 0, 1];
    bad.extend_from_slice(&[0; 16]);
    bad.extend_from_slice(&[0, 0]);
    assert_eq!(Header::decode(&bad), Err(HeaderError::SackLength(0)));
    // Version 2, type 5.
    let mut v2 = bytes.clone();
    v2[0] = 0x22;
    assert_eq!(Header::decode(&v2), Err(HeaderError::Version(2)));
    let mut t5 = bytes.clone();
    t5[0] = 0x51;
    assert_eq!(Header::decode(&t5), Err(HeaderError::Type(5)));
}

#[test]
fn sequence_order_wraps() {
    assert!(seq_before(1, 2));
    assert!(seq_before(65535, 0));
    assert!(!seq_before(2, 1));
    assert!(!seq_before(5, 5));
}

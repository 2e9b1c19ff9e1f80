use super::*;
use proptest::prelude::*;

fn kind_of(input: &[u8]) -> DecodeErrorKind {
    decode(input).unwrap_err().kind
}

#[test]
fn decodes_every_kind() {
    let v = decode(b"d1:ai-42e1:bl0:3:xyze1:cdee").unwrap();
    assert_eq!(v.get("a").and_then(Value::as_int), Some(-42));
    let list = v.get("b").and_then(Value::as_list).unwrap();
    assert_eq!(list[0].as_bytes(), Some(&b""[..]));
    assert_eq!(list[1].as_str(), Some("xyz"));
    assert!(v.get("c").and_then(Value::as_dict).unwrap().is_empty());
}

#[test]
fn integer_extremes() {
    assert_eq!(
        decode(b"i9223372036854775807e").unwrap(),
        Value::Int(i64::MAX)
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap(),
        Value::Int(i64::MIN)
    );
    assert_eq!(
        kind_of(b"i9223372036854775808e"),
        DecodeErrorKind::IntegerOverflow
    );
    assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
}

#[test]
fn non_canonical_numbers_are_rejected() {
    for bad in [&b"i-0e"[..], b"i03e", b"ie", b"i-e", b"i-01e", b"01:a"] {
        assert_eq!(
            kind_of(bad),
            DecodeErrorKind::NonCanonicalInteger,
            "{bad:?}"
        );
    }
    assert_eq!(kind_of(b"i1.5e"), DecodeErrorKind::UnexpectedByte(b'.'));
    assert_eq!(kind_of(b"i+1e"), DecodeErrorKind::UnexpectedByte(b'+'));
}

#[test]
fn key_order_and_duplicates() {
    assert_eq!(
        kind_of(b"d1:bi1e1:ai2ee"),
        DecodeErrorKind::UnsortedKey("a".into())
    );
    assert_eq!(
        kind_of(b"d1:ai1e1:ai2ee"),
        DecodeErrorKind::DuplicateKey("a".into())
    );
    let lenient = Limits {
        allow_unsorted_keys: true,
        ..Limits::DEFAULT
    };
    let v = decode_with(b"d1:bi1e1:ai2ee", lenient).unwrap();
    assert_eq!(v.to_bytes(), b"d1:ai2e1:bi1ee", "encoding sorts");
    // Duplicates stay errors even when order is relaxed: which one would win is ambiguous.
    assert!(decode_with(b"d1:ai1e1:bi1e1:ai2ee", lenient).is_err());
}

#[test]
fn truncation_and_trailing_bytes() {
    let full = b"d4:infod4:name3:abce3:fooli1eee";
    for cut in 0..full.len() {
        assert!(decode(&full[..cut]).is_err(), "prefix of {cut} bytes");
    }
    assert_eq!(
        decode(b"i1ei2e").unwrap_err(),
        DecodeError {
            offset: 3,
            kind: DecodeErrorKind::TrailingBytes(3)
        }
    );
}

#[test]
fn huge_declared_string_is_an_error_not_an_allocation() {
    assert_eq!(
        kind_of(b"99999999999999:abc"),
        DecodeErrorKind::StringTooLong {
            declared: 99_999_999_999_999,
            available: 3
        }
    );
    assert_eq!(
        kind_of(b"99999999999999999999999:"),
        DecodeErrorKind::IntegerOverflow
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let depth = 100_000;
    let mut doc = vec![b'l'; depth];
    doc.extend(std::iter::repeat_n(b'e', depth));
    assert_eq!(kind_of(&doc), DecodeErrorKind::TooDeep(64));
    let mut dicts = b"d1:a".repeat(depth);
    dicts.extend(b"i0e");
    dicts.extend(std::iter::repeat_n(b'e', depth));
    assert_eq!(kind_of(&dicts), DecodeErrorKind::TooDeep(64));
    assert!(raw_dict_value(&dicts, b"a").is_err());
}

#[test]
fn item_count_is_bounded() {
    let mut doc = b"l".to_vec();
    doc.extend(b"i0e".repeat(100));
    doc.push(b'e');
    let tight = Limits {
        max_items: 50,
        ..Limits::DEFAULT
    };
    assert_eq!(
        decode_with(&doc, tight).unwrap_err().kind,
        DecodeErrorKind::TooManyItems(50)
    );
}

#[test]
fn span_scan_returns_the_raw_bytes() {
    // Unsorted keys inside `info` must come back byte for byte, not re-sorted.
    let doc = b"d8:announce3:url4:infod4:name1:x6:lengthi5ee3:zzzi1ee";
    assert_eq!(
        raw_dict_value(doc, b"info").unwrap(),
        Some(&b"d4:name1:x6:lengthi5ee"[..])
    );
    assert_eq!(raw_dict_value(doc, b"missing").unwrap(), None);
    assert!(raw_dict_value(b"li1ee", b"info").is_err());
    assert!(raw_dict_value(b"d4:infoi1ee trailing", b"info").is_err());
    assert!(raw_dict_value(b"d4:infod1:a", b"info").is_err());
}

#[test]
fn span_scan_refuses_duplicates_even_when_unsorted() {
    assert!(raw_dict_value(b"d4:infoi1e1:ai0e4:infoi2ee", b"info").is_err());
    assert!(raw_dict_value(b"d1:bd1:xi0e1:ai0e1:xi1ee4:infoi1ee", b"info").is_err());
    assert_eq!(
        raw_dict_value(b"d1:bd1:xi0e1:ai0ee4:infoi1ee", b"info").unwrap(),
        Some(&b"i1e"[..])
    );
    // Deeply nested unsorted dictionaries stay linear to check (no rescan of rescans).
    let depth = 60;
    let mut doc = Vec::new();
    for _ in 0..depth {
        doc.extend_from_slice(b"d1:zi0e1:y");
    }
    doc.extend_from_slice(b"i0e");
    doc.extend(std::iter::repeat_n(b'e', depth));
    let started = std::time::Instant::now();
    assert_eq!(
        raw_dict_value(&doc, b"y").unwrap().map(<[u8]>::len),
        Some(doc.len() - 11)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn prefix_decode_reports_used_bytes() {
    let (v, used) = decode_prefix(b"d1:ai1eeRAW", Limits::DEFAULT).unwrap();
    assert_eq!(used, 8);
    assert_eq!(v.get("a").and_then(Value::as_int), Some(1));
}

#[test]
fn typed_decoding_goes_through_the_bounds() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Small {
        a: i64,
        b: String,
    }
    assert_eq!(
        decode_typed::<Small>(b"d1:ai7e1:b2:hie").unwrap(),
        Small {
            a: 7,
            b: "hi".into()
        }
    );
    assert!(matches!(
        decode_typed::<Small>(b"d1:a2:hie"),
        Err(TypedDecodeError::Shape(_))
    ));
    let mut deep = vec![b'l'; 100_000];
    deep.extend(vec![b'e'; 100_000]);
    assert!(matches!(
        decode_typed::<Small>(&deep),
        Err(TypedDecodeError::Bencode(_))
    ));
}

#[test]
fn builder_helpers_encode_canonically() {
    let mut v = Value::dict();
    v.insert("z", Value::Int(1))
        .insert("a", Value::bytes("x"))
        .insert("m", Value::List(vec![Value::Int(-3)]));
    assert_eq!(v.to_bytes(), b"d1:a1:x1:mli-3ee1:zi1ee");
}

fn arb_value() -> impl Strategy<Value = Value<'static>> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Value::bytes),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..6).prop_map(std::borrow::Cow::Owned),
                inner,
                0..6
            )
            .prop_map(Value::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(v in arb_value()) {
        let bytes = v.to_bytes();
        let back = decode(&bytes).unwrap();
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        fuzz_one(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(v in arb_value(), at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = v.to_bytes();
        let i = at % bytes.len();
        bytes[i] = byte;
        fuzz_one(&bytes);
        // A decoded mutation must re-encode to itself: the decoder accepts canonical input only.
        if let Ok(back) = decode(&bytes) {
            prop_assert_eq!(back.to_bytes(), bytes);
        }
    }
}

//! Metainfo fixtures are generated with our own encoder: each test states the one thing it breaks.

use super::*;
use proptest::prelude::*;

fn str_list(items: &[&str]) -> Value<'static> {
    Value::List(items.iter().map(|s| Value::bytes(*s)).collect())
}

fn file(path: &[&str], length: i64) -> Value<'static> {
    let mut f = Value::dict();
    f.insert("length", Value::Int(length))
        .insert("path", str_list(path));
    f
}

/// A valid multi-file info dictionary: 3 files of 10 + 0 + 30 bytes in 16-byte pieces.
fn multi_info() -> Value<'static> {
    let mut info = Value::dict();
    info.insert("name", Value::bytes("top"))
        .insert("piece length", Value::Int(16))
        .insert("pieces", Value::bytes(vec![7u8; 60]))
        .insert(
            "files",
            Value::List(vec![
                file(&["a.txt"], 10),
                file(&["dir", "empty"], 0),
                file(&["dir", "sub", "b.bin"], 30),
            ]),
        );
    info
}

fn torrent_with(info: Value<'static>) -> Vec<u8> {
    let mut t = Value::dict();
    t.insert("announce", Value::bytes("http://t.example/announce"))
        .insert("info", info);
    t.to_bytes()
}

fn error_for(info: Value<'static>) -> MetainfoError {
    Metainfo::from_bytes(&torrent_with(info)).unwrap_err()
}

fn with_files(files: Vec<Value<'static>>) -> Value<'static> {
    let mut info = multi_info();
    info.insert("files", Value::List(files));
    info
}

#[test]
fn multi_file_layout_and_hash() {
    let bytes = torrent_with(multi_info());
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(m.info.name, "top");
    assert!(!m.info.single_file);
    assert_eq!(m.info.total_length, 40);
    assert_eq!(m.info.piece_count(), 3);
    assert_eq!(
        (0..4).map(|i| m.info.piece_size(i)).collect::<Vec<_>>(),
        [16, 16, 8, 0]
    );
    let layout: Vec<(String, u64, u64)> = m
        .info
        .files
        .iter()
        .map(|f| (f.display_path(), f.length, f.offset))
        .collect();
    assert_eq!(
        layout,
        [
            ("a.txt".into(), 10, 0),
            ("dir/empty".into(), 0, 10),
            ("dir/sub/b.bin".into(), 30, 10)
        ]
    );
    assert_eq!(m.info_bytes(), multi_info().to_bytes());
    assert_eq!(
        m.info_hash,
        InfoHash::of_info_bytes(&multi_info().to_bytes())
    );
    assert_eq!(m.tiers(), [["http://t.example/announce"]]);
    assert_eq!(Info::from_bytes(m.info_bytes()).unwrap(), m.info);
}

#[test]
fn single_file_lists_its_name() {
    let mut info = Value::dict();
    info.insert("name", Value::bytes("movie.mkv"))
        .insert("length", Value::Int(100))
        .insert("piece length", Value::Int(64))
        .insert("pieces", Value::bytes(vec![1u8; 40]))
        .insert("private", Value::Int(1));
    let m = Metainfo::from_bytes(&torrent_with(info)).unwrap();
    assert!(m.info.single_file && m.info.private);
    assert_eq!(m.info.files.len(), 1);
    assert_eq!(m.info.files[0].path, ["movie.mkv"]);
    assert_eq!(m.info.piece_size(1), 36);
}

#[test]
fn hash_covers_raw_bytes_even_with_unknown_and_unsorted_keys() {
    // Hand-written so that `info` has its keys out of order plus an unknown key: a re-encoding
    // would sort them and change the hash.
    let info =
        b"d4:name1:x12:piece lengthi4e6:lengthi3e6:pieces20:aaaaaaaaaaaaaaaaaaaa7:unknownle1:zi0ee";
    let mut doc = b"d4:info".to_vec();
    doc.extend_from_slice(info);
    doc.extend_from_slice(b"e");
    let m = Metainfo::from_bytes(&doc).unwrap();
    assert_eq!(m.info_bytes(), info);
    assert_eq!(m.info_hash, InfoHash::of_info_bytes(info));
}

#[test]
fn trailing_bytes_after_the_torrent_are_ignored() {
    let bytes = torrent_with(multi_info());
    let mut padded = bytes.clone();
    padded.extend_from_slice(b"\r\n<html>");
    assert_eq!(
        Metainfo::from_bytes(&padded).unwrap(),
        Metainfo::from_bytes(&bytes).unwrap()
    );
    // A bare info dictionary (from ut_metadata) must be exact: its hash was checked.
    let mut info = multi_info().to_bytes();
    info.push(b'\n');
    assert!(Info::from_bytes(&info).is_err());
}

#[test]
fn optional_outer_fields() {
    let mut t = Value::dict();
    t.insert("info", multi_info())
        .insert(
            "announce-list",
            Value::List(vec![
                str_list(&["udp://a:1", "http://b/announce"]),
                Value::List(vec![]),
                Value::List(vec![Value::Int(3), Value::bytes("http://c/announce")]),
            ]),
        )
        .insert("url-list", Value::bytes("http://seed/"))
        .insert("comment", Value::bytes(vec![0xff, 0xfe]))
        .insert("comment.utf-8", Value::bytes("héllo"))
        .insert("created by", Value::bytes("mktorrent 1.1"))
        .insert("creation date", Value::Int(1_700_000_000));
    let m = Metainfo::from_bytes(&t.to_bytes()).unwrap();
    assert_eq!(
        m.announce_list,
        [
            vec!["udp://a:1".to_string(), "http://b/announce".into()],
            vec!["http://c/announce".into()]
        ]
    );
    assert_eq!(m.tiers(), m.announce_list);
    assert_eq!(m.announce, None);
    assert_eq!(m.url_list, ["http://seed/"]);
    assert_eq!(m.comment.as_deref(), Some("héllo"));
    assert_eq!(m.created_by.as_deref(), Some("mktorrent 1.1"));
    assert_eq!(m.creation_date, Some(1_700_000_000));
}

#[test]
fn pad_file_attributes() {
    let mut pad = file(&[".pad", "6"], 6);
    pad.insert("attr", Value::bytes("p"));
    let mut exe = file(&["run.sh"], 24);
    exe.insert("attr", Value::bytes("xh"));
    let info = with_files(vec![file(&["a"], 10), pad, exe]);
    let m = Metainfo::from_bytes(&torrent_with(info)).unwrap();
    let flags: Vec<_> = m
        .info
        .files
        .iter()
        .map(|f| (f.pad, f.executable, f.hidden))
        .collect();
    assert_eq!(
        flags,
        [
            (false, false, false),
            (true, false, false),
            (false, true, true)
        ]
    );
    assert_eq!(
        m.info.files[2].offset, 16,
        "the pad aligns run.sh to a piece"
    );
}

#[test]
fn pads_of_one_size_may_share_a_name_but_real_files_may_not() {
    // libtorrent names pads by their length, so two pads of one size share `.pad/6`; they are
    // never written, so only real files must have distinct paths.
    let pad = || {
        let mut p = file(&[".pad", "6"], 6);
        p.insert("attr", Value::bytes("p"));
        p
    };
    let info = with_files(vec![
        file(&["a"], 10),
        pad(),
        file(&["b"], 10),
        pad(),
        file(&["c"], 1),
    ]);
    let m = Metainfo::from_bytes(&torrent_with(info)).unwrap();
    assert_eq!(m.info.files.iter().filter(|f| f.pad).count(), 2);
    assert_eq!(m.info.files[4].offset, 32);

    let twice = with_files(vec![file(&["a"], 10), pad(), file(&["a"], 10)]);
    let err = Metainfo::from_bytes(&torrent_with(twice)).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

#[test]
fn utf8_alternatives_are_preferred() {
    let mut f = file(&["ignored"], 40);
    f.insert("path", Value::List(vec![Value::bytes(vec![0xe9u8, b'x'])]))
        .insert("path.utf-8", str_list(&["éx"]));
    let mut info = with_files(vec![f]);
    info.insert("name", Value::bytes(vec![0xe9u8]))
        .insert("name.utf-8", Value::bytes("é"));
    let m = Metainfo::from_bytes(&torrent_with(info)).unwrap();
    assert_eq!(m.info.name, "é");
    assert_eq!(m.info.files[0].path, ["éx"]);

    // Without a `.utf-8` twin, bytes that are not UTF-8 read as Latin-1 (as Transmission does).
    let mut latin1 = file(&["x"], 40);
    latin1.insert(
        "path",
        Value::List(vec![
            Value::bytes(b"caf\xe9".to_vec()),
            Value::bytes(vec![0xff, 0x80, 0x92]),
        ]),
    );
    let mut info = with_files(vec![latin1]);
    info.insert("name", Value::bytes(vec![0xc0u8, b'/']));
    // ... and are validated after: a `/` byte is still a separator.
    assert!(
        matches!(error_for(info.clone()), MetainfoError::UnsafePath { ref path, .. } if path == "À/")
    );
    info.insert("name", Value::bytes(vec![0xc0u8]));
    let m = Metainfo::from_bytes(&torrent_with(info)).unwrap();
    assert_eq!(m.info.name, "À");
    // 0x80-0x9F are Windows-1252 there (Latin-1 would make them terminal controls).
    assert_eq!(m.info.files[0].path, ["café", "\u{ff}€’"]);
    // A byte Windows-1252 leaves undefined is a C1 control: refused like any control.
    let mut c1 = file(&["x"], 40);
    c1.insert("path", Value::List(vec![Value::bytes(vec![0x81, 0xff])]));
    assert!(matches!(
        error_for(with_files(vec![c1])),
        MetainfoError::UnsafePath { .. }
    ));
}

#[test]
fn hostile_paths_name_the_path() {
    let cases: &[(&[&str], &str)] = &[
        (&["..", "..", "etc", "passwd"], "../../etc/passwd"),
        (&["/etc", "passwd"], "/etc/passwd"),
        (&["C:", "Windows"], "C:/Windows"),
        (&["dir", "CON.txt"], "dir/CON.txt"),
        (&["dir", ""], "dir/"),
        (&["a\\..\\b"], "a\\..\\b"),
        (&[], ""),
    ];
    for (path, shown) in cases {
        let err = error_for(with_files(vec![file(path, 40)]));
        match &err {
            MetainfoError::UnsafePath { field, path, .. } => {
                assert_eq!(field, "info.files[0].path");
                assert_eq!(path, shown);
            }
            other => panic!("{shown}: expected UnsafePath, got {other:?}"),
        }
        assert!(err.to_string().contains(&format!("{shown:?}")), "{err}");
    }
    let mut info = multi_info();
    info.insert("name", Value::bytes(".."));
    assert!(matches!(
        error_for(info),
        MetainfoError::UnsafePath { ref field, .. } if field == "info.name"
    ));
}

#[test]
fn inconsistent_geometry_is_refused() {
    let mut short = multi_info();
    short.insert("pieces", Value::bytes(vec![0u8; 40]));
    assert!(
        matches!(error_for(short), MetainfoError::Invalid { ref field, .. } if field == "info.pieces")
    );

    let mut ragged = multi_info();
    ragged.insert("pieces", Value::bytes(vec![0u8; 59]));
    assert!(error_for(ragged).to_string().contains("multiple of 20"));

    for bad in [0, -16, (MAX_PIECE_LENGTH + 1) as i64] {
        let mut info = multi_info();
        info.insert("piece length", Value::Int(bad));
        assert!(
            matches!(error_for(info), MetainfoError::Invalid { ref field, .. } if field == "info.piece length")
        );
    }

    // A huge declared length is caught by the piece count, without allocating for it.
    let huge = with_files(vec![file(&["big"], i64::MAX)]);
    assert!(
        matches!(error_for(huge), MetainfoError::Invalid { ref field, .. } if field == "info.pieces")
    );
    let overflow = with_files(vec![
        file(&["a"], i64::MAX),
        file(&["b"], i64::MAX),
        file(&["c"], i64::MAX),
    ]);
    assert!(error_for(overflow).to_string().contains("overflows"));
    let negative = with_files(vec![file(&["a"], -1)]);
    assert!(error_for(negative).to_string().contains("negative"));

    let duplicate = with_files(vec![file(&["a"], 20), file(&["a"], 20)]);
    assert!(error_for(duplicate).to_string().contains("twice"));
    let clash = with_files(vec![file(&["a", "b"], 20), file(&["a"], 20)]);
    assert_eq!(
        error_for(clash).to_string(),
        "`info.files[1].path`: \"a\" is a file and also a directory of other files"
    );
    assert!(matches!(
        error_for(with_files(vec![])),
        MetainfoError::Invalid { .. }
    ));
}

#[test]
fn missing_and_mistyped_fields() {
    assert_eq!(
        Metainfo::from_bytes(b"d8:announce1:xe").unwrap_err(),
        MetainfoError::Missing("info".into())
    );
    assert!(matches!(
        Metainfo::from_bytes(b"li1ee").unwrap_err(),
        MetainfoError::WrongType { .. }
    ));
    let mut no_name = multi_info();
    if let Value::Dict(map) = &mut no_name {
        map.remove(&b"name"[..]);
    }
    assert_eq!(
        error_for(no_name),
        MetainfoError::Missing("info.name".into())
    );
    let mut both = multi_info();
    both.insert("length", Value::Int(1));
    assert!(error_for(both).to_string().contains("both"));
    let mut v2 = Value::dict();
    v2.insert("name", Value::bytes("x"))
        .insert("piece length", Value::Int(16384))
        .insert("file tree", Value::dict())
        .insert("meta version", Value::Int(2));
    assert_eq!(error_for(v2), MetainfoError::V2Only);
    let mut typed = multi_info();
    typed.insert("files", Value::Int(3));
    assert_eq!(
        error_for(typed).to_string(),
        "`info.files` should be a list, found a integer"
    );
}

#[test]
fn oversized_input_is_refused_before_decoding() {
    let huge = vec![b'x'; MAX_METAINFO_SIZE + 1];
    assert_eq!(
        Metainfo::from_bytes(&huge),
        Err(MetainfoError::TooLarge(MAX_METAINFO_SIZE + 1))
    );
    assert_eq!(
        Info::from_bytes(&huge),
        Err(MetainfoError::TooLarge(MAX_METAINFO_SIZE + 1))
    );
}

#[test]
fn truncated_and_deep_files_are_errors() {
    let bytes = torrent_with(multi_info());
    for cut in 0..bytes.len() {
        assert!(Metainfo::from_bytes(&bytes[..cut]).is_err());
    }
    let mut deep = b"d4:info".to_vec();
    deep.extend(vec![b'l'; 100_000]);
    deep.extend(vec![b'e'; 100_001]);
    assert!(matches!(
        Metainfo::from_bytes(&deep).unwrap_err(),
        MetainfoError::Bencode(_)
    ));
}

#[test]
fn large_torrent_parses_quickly() {
    let pieces = 100_000usize;
    let mut info = Value::dict();
    info.insert("name", Value::bytes("big"))
        .insert("length", Value::Int(pieces as i64 * 16384))
        .insert("piece length", Value::Int(16384))
        .insert("pieces", Value::bytes(vec![0u8; pieces * 20]));
    let bytes = torrent_with(info);
    let started = std::time::Instant::now();
    let m = Metainfo::from_bytes(&bytes).unwrap();
    let took = started.elapsed();
    eprintln!("{pieces} pieces: parsed in {took:?}");
    assert_eq!(m.info.piece_count(), pieces);
    // Generous bound for a debug build on a shared machine; the release figure is ~ms.
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}

#[test]
fn many_file_torrent_parses_quickly() {
    let count = 100_000usize;
    let files = (0..count)
        .map(|i| file(&["dir", &format!("f{i:06}")], 16384))
        .collect();
    let mut info = with_files(files);
    info.insert("piece length", Value::Int(16384))
        .insert("pieces", Value::bytes(vec![0u8; count * 20]));
    let bytes = torrent_with(info);
    let started = std::time::Instant::now();
    let m = Metainfo::from_bytes(&bytes).unwrap();
    let took = started.elapsed();
    eprintln!("{count} files, {} bytes: parsed in {took:?}", bytes.len());
    assert_eq!(m.info.files.len(), count);
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzz_one(&bytes);
    }

    #[test]
    fn mutated_torrents_never_panic(at in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = torrent_with(multi_info());
        let i = at % bytes.len();
        bytes[i] = byte;
        fuzz_one(&bytes);
        if let Ok(m) = Metainfo::from_bytes(&bytes) {
            prop_assert_eq!(m.info.piece_count() as u64, m.info.total_length.div_ceil(m.info.piece_length));
        }
    }
}

use super::*;
use protocol::Metainfo;
use sha1::{Digest, Sha1};
use std::fs;

fn options() -> MakeOptions {
    MakeOptions {
        announce: Some("http://127.0.0.1:1/announce".into()),
        creation_date: Some(1_700_000_000),
        ..MakeOptions::default()
    }
}

#[test]
fn a_single_file_torrent_hashes_the_file_and_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let path = dir.path().join("movie.mpeg");
    fs::write(&path, &data).unwrap();
    let source = Source::scan(&path).unwrap();
    let out = dir.path().join("movie.mpeg.torrent");
    let made = make(&source, &options(), &out, &|_| {}).unwrap();
    assert_eq!(made.hashing, Hashing::Hashed);
    let parsed = Metainfo::from_bytes(&fs::read(&out).unwrap()).unwrap();
    assert_eq!(parsed.info_hash, made.torrent.info_hash);
    assert_eq!(parsed.info.name, "movie.mpeg");
    assert_eq!(parsed.info.piece_length, 16384);
    let expected: Vec<[u8; 20]> = data.chunks(16384).map(|c| Sha1::digest(c).into()).collect();
    assert_eq!(parsed.info.pieces, expected);
    assert_eq!(
        parsed.announce.as_deref(),
        Some("http://127.0.0.1:1/announce")
    );
}

#[test]
fn options_reach_the_torrent() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    fs::create_dir(&root).unwrap();
    fs::write(root.join("a"), vec![1u8; 40_000]).unwrap();
    fs::write(root.join("b"), vec![2u8; 10]).unwrap();
    let source = Source::scan(&root).unwrap();
    let opts = MakeOptions {
        piece_length: Some(32 * 1024),
        private: true,
        webseeds: vec!["http://127.0.0.1:2/files/".into()],
        comment: Some("hello".into()),
        created_by: Some("btpublish test".into()),
        ..options()
    };
    let made = make(&source, &opts, &dir.path().join("set.torrent"), &|_| {}).unwrap();
    let m = &made.torrent.metainfo;
    assert_eq!(m.info.piece_length, 32 * 1024);
    assert!(m.info.private);
    assert!(!m.info.single_file);
    assert_eq!(m.url_list, vec!["http://127.0.0.1:2/files/"]);
    assert_eq!(m.comment.as_deref(), Some("hello"));
    assert_eq!(m.created_by.as_deref(), Some("btpublish test"));
    assert_eq!(m.creation_date, Some(1_700_000_000));
    assert_eq!(m.info.total_length, 40_010);
    assert_eq!(m.info.pieces.len(), 2);
}

#[test]
fn an_unchanged_source_reuses_the_cache_and_a_touched_one_is_rehashed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    fs::write(&path, vec![9u8; 50_000]).unwrap();
    let out = dir.path().join("f.bin.torrent");
    let first = make(&Source::scan(&path).unwrap(), &options(), &out, &|_| {}).unwrap();
    assert_eq!(first.hashing, Hashing::Hashed);
    assert!(cache::sidecar_path(&out).exists());

    // A later run (a newer clock) with the same options yields the very same bytes, unhashed.
    let later = MakeOptions {
        creation_date: Some(1_800_000_000),
        ..options()
    };
    let hashed = std::sync::atomic::AtomicU64::new(0);
    let count = |n| {
        hashed.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    };
    let second = make(&Source::scan(&path).unwrap(), &later, &out, &count).unwrap();
    assert_eq!(second.hashing, Hashing::Cached);
    assert_eq!(hashed.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(second.torrent.bytes, first.torrent.bytes);

    // New options without new data: cached hashes, new bytes, same info-hash for equal info.
    let commented = MakeOptions {
        comment: Some("now with a comment".into()),
        ..later.clone()
    };
    let third = make(&Source::scan(&path).unwrap(), &commented, &out, &|_| {}).unwrap();
    assert_eq!(third.hashing, Hashing::Cached);
    assert_eq!(third.torrent.info_hash, first.torrent.info_hash);
    assert_eq!(fs::read(&out).unwrap(), third.torrent.bytes);

    // Same size, new content and mtime: hashed again, and the hashes differ.
    let mut data = vec![9u8; 50_000];
    data[0] = 1;
    fs::write(&path, &data).unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let fourth = make(&Source::scan(&path).unwrap(), &later, &out, &|_| {}).unwrap();
    assert_eq!(fourth.hashing, Hashing::Hashed);
    assert_ne!(fourth.torrent.info_hash, first.torrent.info_hash);

    // A different piece size cannot reuse hashes.
    let bigger = MakeOptions {
        piece_length: Some(65536),
        ..later
    };
    let fifth = make(&Source::scan(&path).unwrap(), &bigger, &out, &|_| {}).unwrap();
    assert_eq!(fifth.hashing, Hashing::Hashed);
}

#[test]
fn a_corrupt_sidecar_or_torrent_means_rehashing_not_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    fs::write(&path, vec![3u8; 20_000]).unwrap();
    let out = dir.path().join("f.torrent");
    let source = Source::scan(&path).unwrap();
    make(&source, &options(), &out, &|_| {}).unwrap();
    fs::write(cache::sidecar_path(&out), b"{not json").unwrap();
    assert_eq!(
        make(&source, &options(), &out, &|_| {}).unwrap().hashing,
        Hashing::Hashed
    );
    fs::write(&out, b"d4:infoi1ee").unwrap();
    assert_eq!(
        make(&source, &options(), &out, &|_| {}).unwrap().hashing,
        Hashing::Hashed
    );
}

#[test]
fn a_file_changed_after_listing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    fs::write(&path, vec![3u8; 20_000]).unwrap();
    let source = Source::scan(&path).unwrap();
    fs::write(&path, vec![3u8; 30_000]).unwrap();
    let err = make(&source, &options(), &dir.path().join("f.torrent"), &|_| {}).unwrap_err();
    assert!(matches!(err, MakeError::Changed(_)), "{err}");
}

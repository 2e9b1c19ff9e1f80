//! Name clashes in the save directory (`storage_claim.rs`): a same-named file the torrent did not
//! create is never taken over; the torrent's own files, recorded as its own, are resumed and
//! seeded in place; a complete copy is adopted.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use protocol::{Metainfo, MetainfoBuilder};
use sha1::{Digest, Sha1};

use crate::resume::{resume_path, ResumeData};
use crate::tests::{
    download_from, loopback_config, make_torrent, seeding_on, test_data, wait_for, with_state,
};
use crate::{AddTorrent, Session, SessionConfig, TorrentState};

const PIECE: usize = 16 * 1024;

fn save_path(session: &Session, meta: &Metainfo) -> PathBuf {
    session.status(meta.info_hash).unwrap().save_path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrelated_same_named_file_is_untouched_and_the_download_gets_a_new_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, dir, state) = (
        tmp.path().join("s"),
        tmp.path().join("d"),
        tmp.path().join("st"),
    );
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let data = test_data(300_000, 1);
    std::fs::write(seed_dir.join("report.pdf"), &data).unwrap();
    let meta = make_torrent("report.pdf", &data, PIECE as u64);
    // The user's own file of the same name and the same size (the hardest case: only the
    // hashes tell it apart).
    let mine = test_data(300_000, 77);
    std::fs::write(dir.join("report.pdf"), &mine).unwrap();
    let seed = seeding_on(loopback_config(&seed_dir), &meta).await;

    let s = Session::start(with_state(&dir, &state)).await.unwrap();
    download_from(&s, &meta, &seed).await;
    assert_eq!(save_path(&s, &meta), dir.join("report (1).pdf"));
    s.shutdown().await;
    assert!(
        std::fs::read(dir.join("report.pdf")).unwrap() == mine,
        "left byte-identical"
    );
    assert!(std::fs::read(dir.join("report (1).pdf")).unwrap() == data);
    let record = ResumeData::load(&resume_path(&state, meta.info_hash, &dir)).unwrap();
    assert_eq!(record.name.as_deref(), Some("report (1).pdf"));

    // Restarted, the torrent finds its own copy under the new name and seeds it at once.
    let s = Session::start(with_state(&dir, &state)).await.unwrap();
    s.add(AddTorrent::metainfo(meta.clone())).await.unwrap();
    assert_eq!(
        s.status(meta.info_hash).unwrap().state,
        TorrentState::Seeding
    );
    assert_eq!(save_path(&s, &meta), dir.join("report (1).pdf"));
    // Removing it with its files deletes only its own copy.
    s.remove(meta.info_hash, true).await.unwrap();
    s.shutdown().await;
    assert!(!dir.join("report (1).pdf").exists());
    assert!(std::fs::read(dir.join("report.pdf")).unwrap() == mine);
    seed.shutdown().await;
}

/// A multi-file torrent whose directory name is taken by the user's folder: the folder and what
/// is in it (including a file the torrent would write, nearly right) stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_folder_name_gets_a_numbered_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, dir) = (tmp.path().join("s"), tmp.path().join("d"));
    let a = test_data(5 * PIECE, 2);
    let b = test_data(3 * PIECE + 7, 3);
    std::fs::create_dir_all(seed_dir.join("Photos")).unwrap();
    std::fs::write(seed_dir.join("Photos/a.jpg"), &a).unwrap();
    std::fs::write(seed_dir.join("Photos/b.jpg"), &b).unwrap();
    let joined = [a.clone(), b.clone()].concat();
    let meta = MetainfoBuilder::multi_file(
        "Photos",
        [
            (vec!["a.jpg".into()], a.len() as u64),
            (vec!["b.jpg".into()], b.len() as u64),
        ],
    )
    .piece_length(PIECE as u64)
    .pieces(
        joined
            .chunks(PIECE)
            .map(|c| Sha1::digest(c).into())
            .collect(),
    )
    .build()
    .unwrap()
    .metainfo;
    std::fs::create_dir_all(dir.join("Photos")).unwrap();
    let mut nearly = a.clone();
    nearly[PIECE + 3] ^= 1;
    std::fs::write(dir.join("Photos/a.jpg"), &nearly).unwrap();
    std::fs::write(dir.join("Photos/holiday.jpg"), b"mine").unwrap();
    let seed = seeding_on(loopback_config(&seed_dir), &meta).await;

    let s = Session::start(loopback_config(&dir)).await.unwrap();
    download_from(&s, &meta, &seed).await;
    assert_eq!(save_path(&s, &meta), dir.join("Photos (1)"));
    s.shutdown().await;
    seed.shutdown().await;
    assert!(std::fs::read(dir.join("Photos/a.jpg")).unwrap() == nearly);
    assert_eq!(
        std::fs::read(dir.join("Photos/holiday.jpg")).unwrap(),
        b"mine"
    );
    assert!(!dir.join("Photos/b.jpg").exists());
    assert!(std::fs::read(dir.join("Photos (1)/a.jpg")).unwrap() == a);
    assert!(std::fs::read(dir.join("Photos (1)/b.jpg")).unwrap() == b);
}

/// A download interrupted (here: stopped mid-way, then its file changed behind the record's
/// back, as a crash after unrecorded writes leaves it) resumes in its own partial file, and a
/// finished one restarted with a touched file seeds in place after a check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_download_resumes_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, dir, state) = (
        tmp.path().join("s"),
        tmp.path().join("d"),
        tmp.path().join("st"),
    );
    std::fs::create_dir_all(&seed_dir).unwrap();
    let data = test_data(1024 * 1024, 4);
    std::fs::write(seed_dir.join("big.iso"), &data).unwrap();
    let meta = make_torrent("big.iso", &data, PIECE as u64);
    let ih = meta.info_hash;
    let slow = seeding_on(
        SessionConfig {
            upload_rate_limit: Some(256 * 1024),
            ..loopback_config(&seed_dir)
        },
        &meta,
    )
    .await;

    // The claim is recorded before the first byte is written.
    let s = Session::start(with_state(&dir, &state)).await.unwrap();
    let mut paused = AddTorrent::metainfo(meta.clone());
    paused.paused = true;
    s.add(paused).await.unwrap();
    let record = resume_path(&state, ih, &dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !record.exists() {
        assert!(Instant::now() < deadline, "no record of the claim");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        ResumeData::load(&record).unwrap().name.as_deref(),
        Some("big.iso")
    );
    s.remove(ih, false).await.unwrap();
    let mut add = AddTorrent::metainfo(meta.clone());
    add.peers = vec![slow.local_addr()];
    s.add(add).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let st = s.status(ih).unwrap();
        if st.have_bytes >= 4 * PIECE as u64 {
            assert!(
                st.have_bytes < data.len() as u64,
                "the seeder is capped: {st:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {st:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.shutdown().await;
    slow.shutdown().await;
    // Writes after the last record: the stamps no longer match, the record is not trusted.
    std::thread::sleep(Duration::from_millis(20));
    let file = dir.join("big.iso");
    let partial = std::fs::read(&file).unwrap();
    std::fs::write(&file, &partial).unwrap();

    let fast = seeding_on(loopback_config(&seed_dir), &meta).await;
    let s = Session::start(with_state(&dir, &state)).await.unwrap();
    download_from(&s, &meta, &fast).await;
    assert_eq!(save_path(&s, &meta), file);
    s.shutdown().await;
    fast.shutdown().await;
    assert!(std::fs::read(&file).unwrap() == data);
    assert!(!dir.join("big (1).iso").exists());

    // Finished, then touched: checked, still its own, seeding in place.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&file, &data).unwrap();
    let s = Session::start(with_state(&dir, &state)).await.unwrap();
    s.add(AddTorrent::metainfo(meta.clone())).await.unwrap();
    wait_for(&s, ih, TorrentState::Seeding, Duration::from_secs(20)).await;
    assert_eq!(save_path(&s, &meta), file);
    s.shutdown().await;
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

/// A complete copy already in the save directory (same bytes, no record) is adopted and
/// seeded: another peer downloads it from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_existing_copy_is_adopted_and_seeded() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, state, leech) = (
        tmp.path().join("d"),
        tmp.path().join("st"),
        tmp.path().join("l"),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let data = test_data(500_000, 6);
    std::fs::write(dir.join("song.flac"), &data).unwrap();
    let meta = make_torrent("song.flac", &data, PIECE as u64);
    let s = Session::start(with_state(&dir, &state)).await.unwrap();
    s.add(AddTorrent::metainfo(meta.clone())).await.unwrap();
    wait_for(
        &s,
        meta.info_hash,
        TorrentState::Seeding,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(save_path(&s, &meta), dir.join("song.flac"));
    let record = ResumeData::load(&resume_path(&state, meta.info_hash, &dir)).unwrap();
    assert_eq!(record.name.as_deref(), Some("song.flac"));

    let l = Session::start(loopback_config(&leech)).await.unwrap();
    download_from(&l, &meta, &s).await;
    l.shutdown().await;
    s.shutdown().await;
    assert!(std::fs::read(leech.join("song.flac")).unwrap() == data);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        1,
        "no numbered copy"
    );
}

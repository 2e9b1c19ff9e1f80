//! Resume records belong to one copy of a torrent (info-hash and save directory): copies of one
//! torrent in two directories, sharing a state directory, each resume their own record; records
//! of older versions (keyed by info-hash alone) are taken over only by the copy they describe.

use std::path::Path;
use std::time::Duration;

use crate::resume::{legacy_resume_path, resume_path};
use crate::tests::{loopback_config, make_torrent, test_data, wait_for, with_state};
use crate::{AddTorrent, Session, TorrentState};

/// Restarts a session on `state` for the copy in `dir` and says whether it came up seeding at
/// once (its record trusted) rather than checking.
async fn resumes_at_once(meta: &protocol::Metainfo, dir: &Path, state: &Path) -> bool {
    let s = Session::start(with_state(dir, state)).await.unwrap();
    let mut add = AddTorrent::metainfo(meta.clone());
    add.paused = true;
    s.add(add).await.unwrap();
    let seeding = s.status(meta.info_hash).unwrap().have_bytes == meta.info.total_length;
    s.shutdown().await;
    seeding
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_copies_of_one_torrent_keep_their_own_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, a, b) = (
        tmp.path().join("seed"),
        tmp.path().join("a"),
        tmp.path().join("b"),
    );
    let state = tmp.path().join("state/swarmlink");
    for d in [&seed_dir, &a, &b] {
        std::fs::create_dir_all(d).unwrap();
    }
    let data = test_data(600_000, 3);
    std::fs::write(seed_dir.join("c.bin"), &data).unwrap();
    let meta = make_torrent("c.bin", &data, 16 * 1024);
    let ih = meta.info_hash;
    let seeder = Session::start(loopback_config(&seed_dir)).await.unwrap();
    seeder
        .add(AddTorrent::metainfo(meta.clone()))
        .await
        .unwrap();

    // Both copies download at the same time on the one state directory.
    let mut sessions = Vec::new();
    for dir in [&a, &b] {
        let s = Session::start(with_state(dir, &state)).await.unwrap();
        let mut add = AddTorrent::metainfo(meta.clone());
        add.peers = vec![seeder.local_addr()];
        s.add(add).await.unwrap();
        sessions.push(s);
    }
    for s in &sessions {
        wait_for(s, ih, TorrentState::Seeding, Duration::from_secs(60)).await;
    }
    for s in sessions {
        s.shutdown().await;
    }
    seeder.shutdown().await;

    let (rec_a, rec_b) = (resume_path(&state, ih, &a), resume_path(&state, ih, &b));
    assert_ne!(rec_a, rec_b);
    assert!(rec_a.exists() && rec_b.exists());
    // Nothing else is left in the state directory (no stray temporary files).
    let mut names: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&rec_a), 0o600);
    }

    // Touch copy a's file: a is checked again, b still resumes from its own record.
    let file_a = a.join("c.bin");
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&file_a, &data).unwrap();
    assert!(resumes_at_once(&meta, &b, &state).await);
    let s = Session::start(with_state(&a, &state)).await.unwrap();
    s.add(AddTorrent::metainfo(meta.clone())).await.unwrap();
    wait_for(&s, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    s.shutdown().await;
    assert!(resumes_at_once(&meta, &a, &state).await);
    assert!(resumes_at_once(&meta, &b, &state).await);
}

/// A state directory left by a version that keyed records by info-hash alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_record_is_taken_over_only_by_its_own_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let data = test_data(300_000, 5);
    std::fs::write(a.join("o.bin"), &data).unwrap();
    let meta = make_torrent("o.bin", &data, 16 * 1024);
    let ih = meta.info_hash;
    // Copy a is complete and recorded; its record is then moved to the old name.
    let s = Session::start(with_state(&a, &state)).await.unwrap();
    s.add(AddTorrent::metainfo(meta.clone())).await.unwrap();
    wait_for(&s, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    s.shutdown().await;
    let legacy = legacy_resume_path(&state, ih);
    std::fs::rename(resume_path(&state, ih, &a), &legacy).unwrap();

    // Copy b (another directory, same torrent, a file of the same size) does not trust it...
    std::fs::write(b.join("o.bin"), vec![0u8; data.len()]).unwrap();
    let s = Session::start(with_state(&b, &state)).await.unwrap();
    let mut add = AddTorrent::metainfo(meta.clone());
    add.paused = true;
    s.add(add).await.unwrap();
    wait_for(&s, ih, TorrentState::Paused, Duration::from_secs(30)).await;
    assert_eq!(s.status(ih).unwrap().have_bytes, 0);
    s.shutdown().await;
    assert!(legacy.exists(), "b leaves a's old record alone");

    // ...copy a takes it over, seeding without a check, under its new name.
    assert!(resumes_at_once(&meta, &a, &state).await);
    assert!(!legacy.exists());
    assert!(resume_path(&state, ih, &a).exists());
}

/// The record's identity: a rewrite (temporary file renamed over it) gives a new inode.
#[cfg(unix)]
fn record_identity(path: &Path) -> (u64, i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec())
}

/// A seeding torrent restarted from its trusted record neither rewrites it on start-up nor at
/// shutdown: with thousands of torrents each rewrite is an fsync and a rename in one directory
/// (2,000 of them made a daemon take two minutes to stop), and nothing in it changed.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_record_is_not_written_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, state) = (tmp.path().join("data"), tmp.path().join("state"));
    std::fs::create_dir_all(&dir).unwrap();
    let data = test_data(300_000, 5);
    std::fs::write(dir.join("r.bin"), &data).unwrap();
    let meta = make_torrent("r.bin", &data, 16 * 1024);
    let ih = meta.info_hash;

    // First run: checked by hashing, so the record is written.
    let s = Session::start(with_state(&dir, &state)).await.unwrap();
    s.add(AddTorrent::metainfo(meta.clone())).await.unwrap();
    wait_for(&s, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    s.shutdown().await;
    let record = resume_path(&state, ih, &dir);
    let first = record_identity(&record);

    // Second run: trusted, seeding at once; the record stays the very same file.
    let s = Session::start(with_state(&dir, &state)).await.unwrap();
    s.add(AddTorrent::metainfo(meta.clone())).await.unwrap();
    wait_for(&s, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.shutdown().await;
    assert_eq!(
        record_identity(&record),
        first,
        "the record was written again"
    );
    // And it still resumes at once.
    assert!(resumes_at_once(&meta, &dir, &state).await);
}

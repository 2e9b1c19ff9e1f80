//! Per-torrent rate limits, engine against engine on loopback: torrents of one session keep
//! their own caps, and a cap changed while a torrent runs applies to the bytes that follow.
//!
//! Judged by elapsed time against the cap (load on a busy machine only makes transfers slower,
//! never faster): a capped transfer of N bytes cannot finish before (N - slack) / cap, where
//! the slack is the quarter-second burst of the bucket plus what one write may carry before
//! it is charged (the debt model).

use std::time::{Duration, Instant};

use crate::tests::{loopback_config, make_torrent, test_data, wait_for};
use crate::{AddTorrent, EngineError, Session, TorrentState};

const KIB: u64 = 1024;
/// Bytes a capped transfer may move beyond cap x time (see the module doc).
const SLACK: u64 = 320 * KIB;

fn min_secs(bytes: u64, cap: u64) -> f64 {
    bytes.saturating_sub(SLACK) as f64 / cap as f64
}

/// A seeding session holding one torrent per `(name, len, seed)`; returns the torrents too.
async fn seeder_with(
    dir: &std::path::Path,
    torrents: &[(&str, usize, u8, Option<u64>)],
) -> (Session, Vec<protocol::Metainfo>) {
    let seeder = Session::start(loopback_config(dir)).await.unwrap();
    let mut metas = Vec::new();
    for &(name, len, seed, up_cap) in torrents {
        let data = test_data(len, seed);
        std::fs::write(dir.join(name), &data).unwrap();
        let meta = make_torrent(name, &data, 64 * 1024);
        let mut add = AddTorrent::metainfo(meta.clone());
        add.upload_rate_limit = up_cap;
        let ih = seeder.add(add).await.unwrap();
        assert_eq!(seeder.torrent_rate_limits(ih), Some((None, up_cap)));
        wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(20)).await;
        metas.push(meta);
    }
    (seeder, metas)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrents_of_one_session_keep_their_own_caps() {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let len = 2 * 1024 * 1024;
    let (slow_cap, fast_cap, down_cap) = (256 * KIB, 1024 * KIB, 512 * KIB);
    let (seeder, metas) = seeder_with(
        seed_dir.path(),
        &[
            ("slow.bin", len, 1, Some(slow_cap)),
            ("fast.bin", len, 2, Some(fast_cap)),
            ("down.bin", len, 3, None),
        ],
    )
    .await;
    let leecher = Session::start(loopback_config(leech_dir.path()))
        .await
        .unwrap();
    let started = Instant::now();
    let mut ihs = Vec::new();
    for (i, meta) in metas.iter().enumerate() {
        let mut add = AddTorrent::metainfo(meta.clone());
        add.peers = vec![seeder.local_addr()];
        if i == 2 {
            // The third is capped on the downloading side instead.
            add.download_rate_limit = Some(down_cap);
        }
        ihs.push(leecher.add(add).await.unwrap());
    }
    // Poll all three together, noting when each completes.
    let mut done: Vec<Option<f64>> = vec![None; 3];
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.iter().any(Option::is_none) {
        for (i, ih) in ihs.iter().enumerate() {
            let s = leecher.status(*ih).unwrap();
            if done[i].is_none() && s.state == TorrentState::Seeding {
                done[i] = Some(started.elapsed().as_secs_f64());
            }
        }
        assert!(Instant::now() < deadline, "not all done: {done:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done: Vec<f64> = done.into_iter().flatten().collect();
    eprintln!(
        "2 MiB each: up cap 256 KiB/s {:.2} s, up cap 1 MiB/s {:.2} s, down cap 512 KiB/s {:.2} s",
        done[0], done[1], done[2]
    );
    let len = len as u64;
    assert!(
        done[0] >= min_secs(len, slow_cap),
        "slow cap broken: {done:?}"
    );
    assert!(
        done[1] >= min_secs(len, fast_cap),
        "fast cap broken: {done:?}"
    );
    assert!(
        done[2] >= min_secs(len, down_cap),
        "down cap broken: {done:?}"
    );
    // The 4x looser cap of the same session's other torrent finished first.
    assert!(done[1] < done[0], "caps are not per torrent: {done:?}");
    for (meta, name) in metas.iter().zip(["slow.bin", "fast.bin", "down.bin"]) {
        let got = std::fs::read(leech_dir.path().join(name)).unwrap();
        assert_eq!(got.len() as u64, meta.info.total_length);
        assert!(got == std::fs::read(seed_dir.path().join(name)).unwrap());
    }
    leecher.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_changed_while_running_takes_effect() {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let len = 4 * 1024 * 1024;
    let (seeder, metas) =
        seeder_with(seed_dir.path(), &[("d.bin", len, 4, Some(1024 * KIB))]).await;
    let ih = metas[0].info_hash;
    let leecher = Session::start(loopback_config(leech_dir.path()))
        .await
        .unwrap();
    let mut add = AddTorrent::metainfo(metas[0].clone());
    add.peers = vec![seeder.local_addr()];
    leecher.add(add).await.unwrap();
    let downloaded = || leecher.status(ih).unwrap().downloaded;

    // Under way at 1 MiB/s: tighten to 64 KiB/s.
    let deadline = Instant::now() + Duration::from_secs(30);
    while downloaded() < 512 * KIB {
        assert!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let tight = 64 * KIB;
    seeder
        .set_torrent_rate_limits(ih, None, Some(tight))
        .unwrap();
    assert_eq!(seeder.torrent_rate_limits(ih), Some((None, Some(tight))));
    let (d0, t0) = (downloaded(), Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (moved, secs) = (downloaded() - d0, t0.elapsed().as_secs_f64());
    eprintln!(
        "after tightening to 64 KiB/s: {} KiB in {secs:.2} s",
        moved / KIB
    );
    // At the old 1 MiB/s this would be over 3 MiB.
    assert!(
        moved as f64 <= tight as f64 * secs + 2.0 * SLACK as f64,
        "the tighter cap did not apply: {moved} bytes in {secs:.2} s"
    );
    assert_ne!(leecher.status(ih).unwrap().state, TorrentState::Seeding);

    // Lifted: the rest (over 2.5 MiB, 40 s at 64 KiB/s) comes at once.
    seeder.set_torrent_rate_limits(ih, None, None).unwrap();
    let lifted = Instant::now();
    wait_for(&leecher, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    let rest = lifted.elapsed();
    eprintln!("after lifting the cap: done in {rest:?}");
    assert!(
        rest < Duration::from_secs(15),
        "lifting did not apply: {rest:?}"
    );
    assert!(
        std::fs::read(leech_dir.path().join("d.bin")).unwrap()
            == std::fs::read(seed_dir.path().join("d.bin")).unwrap()
    );

    let unknown = protocol::InfoHash([9; 20]);
    assert!(matches!(
        seeder.set_torrent_rate_limits(unknown, Some(1), None),
        Err(EngineError::UnknownTorrent(_))
    ));
    leecher.shutdown().await;
    seeder.shutdown().await;
}

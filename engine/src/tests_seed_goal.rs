//! Seed goals in the engine: a seeding torrent pauses itself once it uploaded ratio x size to a
//! leecher, or once it seeded its time, and says why; goals changed while it runs apply at once.

use std::time::{Duration, Instant};

use protocol::seed_goal::Reason;
use protocol::SeedGoals;

use crate::tests::{loopback_config, make_torrent, test_data, wait_for};
use crate::{AddTorrent, Session, SessionEvent, TorrentState};

/// Waits (bounded) for the torrent's `SeedGoalReached` and returns its reason.
async fn goal_reached(
    events: &mut tokio::sync::broadcast::Receiver<SessionEvent>,
    ih: protocol::InfoHash,
    within: Duration,
) -> Reason {
    let wait = async {
        loop {
            if let Ok(SessionEvent::SeedGoalReached(i, reason)) = events.recv().await {
                if i == ih {
                    return reason;
                }
            }
        }
    };
    tokio::time::timeout(within, wait)
        .await
        .expect("the seed goal was reached in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ratio_of_one_pauses_the_seed_once_it_uploaded_its_size() {
    let (seed_dir, leech_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = test_data(512 * 1024 + 3, 4);
    std::fs::write(seed_dir.path().join("r.bin"), &data).unwrap();
    let meta = make_torrent("r.bin", &data, 32 * 1024);
    let seeder = Session::start(loopback_config(seed_dir.path()))
        .await
        .unwrap();
    let mut events = seeder.events();
    let mut add = AddTorrent::metainfo(meta.clone());
    add.seed_goals.ratio = Some(1.0);
    let ih = seeder.add(add).await.unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(20)).await;

    let leecher = Session::start(loopback_config(leech_dir.path()))
        .await
        .unwrap();
    let mut add = AddTorrent::metainfo(meta);
    add.peers = vec![seeder.local_addr()];
    leecher.add(add).await.unwrap();
    let reason = goal_reached(&mut events, ih, Duration::from_secs(30)).await;
    assert_eq!(reason, Reason::Ratio);
    let s = seeder.status(ih).unwrap();
    assert_eq!(s.state, TorrentState::Paused);
    assert!(s.uploaded >= data.len() as u64, "{s:?}");
    leecher.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_goal_set_while_seeding_pauses_it_after_that_much_seeding() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(100 * 1024, 6);
    std::fs::write(dir.path().join("t.bin"), &data).unwrap();
    let seeder = Session::start(loopback_config(dir.path())).await.unwrap();
    let mut events = seeder.events();
    let ih = (seeder.add(AddTorrent::metainfo(make_torrent(
        "t.bin",
        &data,
        32 * 1024,
    ))))
    .await
    .unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(20)).await;
    let started = Instant::now();
    // No goal: it seeds on.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(seeder.status(ih).unwrap().state, TorrentState::Seeding);
    seeder
        .set_seed_goals(
            ih,
            SeedGoals {
                ratio: None,
                time_secs: Some(2),
            },
        )
        .unwrap();
    assert_eq!(
        goal_reached(&mut events, ih, Duration::from_secs(10)).await,
        Reason::Time
    );
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let s = seeder.status(ih).unwrap();
    assert_eq!(s.state, TorrentState::Paused);
    assert!(s.seeding_secs >= 2, "{s:?}");
    seeder.shutdown().await;
}

/// Uploads before a restart count: the record keeps the totals, the status shows them at once,
/// and a ratio of 1.5 reached only with both runs' uploads fires in the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ratio_goal_counts_the_uploads_of_earlier_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed_dir, state) = (tmp.path().join("seed"), tmp.path().join("state"));
    std::fs::create_dir_all(&seed_dir).unwrap();
    let data = test_data(256 * 1024 + 5, 9);
    std::fs::write(seed_dir.join("l.bin"), &data).unwrap();
    let meta = make_torrent("l.bin", &data, 32 * 1024);
    let config = || crate::tests::with_state(&seed_dir, &state);
    let one_leecher = |seeder: std::net::SocketAddr, meta: protocol::Metainfo| async move {
        let dir = tempfile::tempdir().unwrap();
        let leecher = Session::start(loopback_config(dir.path())).await.unwrap();
        let mut add = AddTorrent::metainfo(meta);
        add.peers = vec![seeder];
        let ih = leecher.add(add).await.unwrap();
        wait_for(&leecher, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
        leecher.shutdown().await;
    };

    let mut add = AddTorrent::metainfo(meta.clone());
    add.seed_goals.ratio = Some(1.5);
    let seeder = Session::start(config()).await.unwrap();
    let ih = seeder.add(add.clone()).await.unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(20)).await;
    one_leecher(seeder.local_addr(), meta.clone()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let first = seeder.status(ih).unwrap();
    assert!(first.uploaded >= data.len() as u64, "{first:?}");
    assert_eq!(first.state, TorrentState::Seeding, "1x is short of 1.5x");
    seeder.shutdown().await;

    let seeder = Session::start(config()).await.unwrap();
    let mut events = seeder.events();
    let ih = seeder.add(add).await.unwrap();
    let carried = seeder.status(ih).unwrap();
    assert_eq!(carried.uploaded, first.uploaded, "{carried:?}");
    assert!(carried.seeding_secs >= first.seeding_secs, "{carried:?}");
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(20)).await;
    one_leecher(seeder.local_addr(), meta).await;
    assert_eq!(
        goal_reached(&mut events, ih, Duration::from_secs(30)).await,
        Reason::Ratio
    );
    let s = seeder.status(ih).unwrap();
    assert!(s.uploaded >= 2 * data.len() as u64, "{s:?}");
    seeder.shutdown().await;
}

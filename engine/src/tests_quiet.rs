//! A quiet torrent's clock sleeps: seeding torrents nobody is connected to cost a wake-up every
//! few seconds, not every half second, and still wake at once for what concerns them.

use std::time::Duration;

use protocol::SeedGoals;

use crate::tests::{loopback_config, make_torrent, test_data, wait_for};
use crate::{AddTorrent, Session, SessionEvent, TorrentState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_seeding_torrents_sleep_and_wake_at_once_for_a_new_goal() {
    const TORRENTS: u64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let session = Session::start(loopback_config(dir.path())).await.unwrap();
    let mut events = session.events();
    let mut hashes = Vec::new();
    for i in 0..TORRENTS {
        let name = format!("q{i}.bin");
        let data = test_data(40 * 1024, i as u8);
        std::fs::write(dir.path().join(&name), &data).unwrap();
        let ih = session
            .add(AddTorrent::metainfo(make_torrent(&name, &data, 16 * 1024)))
            .await
            .unwrap();
        hashes.push(ih);
    }
    for &ih in &hashes {
        wait_for(&session, ih, TorrentState::Seeding, Duration::from_secs(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = session.clock_turns();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let turns = session.clock_turns() - before;
    // Every 500 ms that would be 8 turns each (160); asleep, at most one each in 4 s.
    assert!(
        turns <= 2 * TORRENTS,
        "{turns} clock turns in 4 s for {TORRENTS} quiet torrents"
    );

    // A goal set now is judged now, not at the next turn of a sleeping clock.
    let ih = hashes[0];
    let goal = SeedGoals {
        ratio: None,
        time_secs: Some(0),
    };
    session.set_seed_goals(ih, goal).unwrap();
    let reached = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Ok(SessionEvent::SeedGoalReached(i, _)) = events.recv().await {
                if i == ih {
                    return;
                }
            }
        }
    })
    .await;
    assert!(reached.is_ok(), "a sleeping torrent missed its new goal");
    session.shutdown().await;
}

/// The DHT node answers one request per turn of its loop, and every torrent's search queues
/// requests at start-up: the routing table saved at shutdown waited behind all of them (two
/// minutes for a daemon of 2,000 torrents). The shutdown now gives it two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_many_dht_searches_queued_stops_within_seconds() {
    const TORRENTS: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let mut config = loopback_config(dir.path());
    // A bootstrap address where nobody answers: the node starts, and every search waits.
    config.dht = Some(crate::DhtConfig {
        port: None,
        bootstrap: vec!["127.0.0.1:9".into()],
    });
    config.state_dir = Some(dir.path().join("state"));
    let session = Session::start(config).await.unwrap();
    let mut hashes = Vec::new();
    for i in 0..TORRENTS {
        let name = format!("d{i}.bin");
        let data = test_data(20 * 1024, i as u8);
        std::fs::write(dir.path().join(&name), &data).unwrap();
        let add = AddTorrent::metainfo(make_torrent(&name, &data, 16 * 1024));
        hashes.push(session.add(add).await.unwrap());
    }
    for &ih in &hashes {
        wait_for(&session, ih, TorrentState::Seeding, Duration::from_secs(20)).await;
    }
    let started = std::time::Instant::now();
    session.shutdown().await;
    let took = started.elapsed();
    // One request per turn (about 56 ms) behind 150 searches would be over 8 s.
    assert!(took < Duration::from_secs(6), "shutdown took {took:?}");
}

/// Nothing a quiet seeding torrent does needs its clock within a minute: with a 10 s sleep,
/// 2,000 of them still woke 200 times a second (most of a daemon's idle CPU).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_seeding_torrents_sleep_for_a_minute() {
    const TORRENTS: u64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let session = Session::start(loopback_config(dir.path())).await.unwrap();
    let mut hashes = Vec::new();
    for i in 0..TORRENTS {
        let name = format!("m{i}.bin");
        let data = test_data(20 * 1024, i as u8);
        std::fs::write(dir.path().join(&name), &data).unwrap();
        let ih = session
            .add(AddTorrent::metainfo(make_torrent(&name, &data, 16 * 1024)))
            .await
            .unwrap();
        hashes.push(ih);
    }
    for &ih in &hashes {
        wait_for(&session, ih, TorrentState::Seeding, Duration::from_secs(20)).await;
    }
    // The turns right after the check (rates settling to zero) are not what is measured.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = session.clock_turns();
    tokio::time::sleep(Duration::from_secs(11)).await;
    let turns = session.clock_turns() - before;
    // Every 10 s that would be at least one turn each (20).
    assert!(
        turns < TORRENTS / 2,
        "{turns} clock turns in 11 s for {TORRENTS} quiet torrents"
    );
    session.shutdown().await;
}

//! Status changes are pushed, not polled: with many idle torrents and nobody subscribed the
//! daemon builds no status at all, and one change reaches a subscriber as one progress event
//! carrying that torrent alone.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use engine::{Session, SessionConfig, TorrentState};
use protocol::{InfoHash, MetainfoBuilder};
use sha1::{Digest, Sha1};

use super::state::{Core, Outgoing};
use super::store::{Entry, Store};
use crate::settings::Settings;

const TORRENTS: usize = 40;

/// `TORRENTS` single-file torrents whose data is already in `downloads`, listed and stored as
/// the daemon keeps them.
fn seeded_list(downloads: &std::path::Path, store: &Store) -> Vec<Entry> {
    (0..TORRENTS)
        .map(|i| {
            let name = format!("file{i}.bin");
            let data: Vec<u8> = (0..20_000u32).map(|b| (b as usize * 7 + i) as u8).collect();
            std::fs::write(downloads.join(&name), &data).unwrap();
            let pieces = data
                .chunks(16_384)
                .map(|c| Sha1::digest(c).into())
                .collect();
            let built = MetainfoBuilder::single_file(&name, data.len() as u64)
                .piece_length(16_384)
                .pieces(pieces)
                .build()
                .unwrap();
            let hex = built.metainfo.info_hash.to_hex();
            store.save_torrent(&hex, &built.bytes).unwrap();
            Entry {
                info_hash: hex,
                name,
                magnet: None,
                source_url: None,
                save_dir: downloads.to_path_buf(),
                paused: false,
                sequential: false,
                added_at: 0,
                down_limit: None,
                up_limit: None,
                only: None,
                priorities: None,
                awaiting_selection: false,
                seed_ratio: protocol::Goal::Follow,
                seed_time_secs: protocol::Goal::Follow,
            }
        })
        .collect()
}

async fn next_outgoing(
    rx: &mut tokio::sync::broadcast::Receiver<Outgoing>,
    within: Duration,
) -> Option<Outgoing> {
    tokio::time::timeout(within, rx.recv())
        .await
        .ok()
        .map(|r| r.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_torrents_cost_no_status_until_one_changes_and_then_one_event_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let store = Store::open(&dir.path().join("state")).unwrap();
    let entries = seeded_list(&downloads, &store);
    let session = Session::start(SessionConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: downloads.clone(),
        ..SessionConfig::default()
    })
    .await
    .unwrap();
    let core = Core::new(
        session,
        store,
        entries,
        Settings::with_download_dir(downloads),
    );
    core.restore().await;
    tokio::spawn(Arc::clone(&core).forward_events());
    tokio::spawn(Arc::clone(&core).publish_progress());
    tokio::spawn(Arc::clone(&core).run_queue());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !(core.statuses().iter()).all(|s| s.state == TorrentState::Seeding) {
        assert!(tokio::time::Instant::now() < deadline, "all seeding");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(core.statuses().len(), TORRENTS);

    // Idle, nobody subscribed: the engine reports nothing and the daemon builds nothing, though
    // every seeding torrent's clock moves each second.
    let mut engine_changes = core.session().status_changes();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        engine_changes.take().is_empty(),
        "idle torrents change nothing"
    );
    assert_eq!(
        core.progress_built.load(Ordering::SeqCst),
        0,
        "no status built"
    );

    // A subscriber gets its snapshot; pausing one torrent then sends exactly one progress
    // event, with that torrent only, paused.
    core.subscribed();
    let (mut rx, snapshot) = core.subscribe_with_snapshot();
    assert_eq!(snapshot.len(), TORRENTS);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        next_outgoing(&mut rx, Duration::ZERO).await.is_none(),
        "nothing changed since the snapshot"
    );
    let paused = core.statuses()[7].info_hash;
    core.set_paused(&paused.to_hex(), true).await.unwrap();
    let Some(Outgoing::Progress(changed)) = next_outgoing(&mut rx, Duration::from_secs(5)).await
    else {
        panic!("a progress event");
    };
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["info_hash"], paused.to_hex());
    assert_eq!(changed[0]["state"], "paused");
    assert!(
        next_outgoing(&mut rx, Duration::from_millis(1500))
            .await
            .is_none(),
        "one change, one event"
    );
    assert_eq!(core.progress_built.load(Ordering::SeqCst), 1);
    assert!(
        engine_changes.take()
            == [paused]
                .into_iter()
                .collect::<std::collections::HashSet<InfoHash>>()
    );
    core.session().shutdown().await;
}

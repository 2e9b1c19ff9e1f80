//! `Session::move_storage` on a seeding torrent: the files move (here by the copy path, which
//! one file system reaches only when forced), the status shows the move and then the new place,
//! and a peer that comes afterwards downloads everything from there. A move that cannot happen
//! leaves the files and the torrent as they were; so does a cancelled copy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::Metainfo;

use crate::tests::{
    download_from, loopback_config, make_torrent, seeding_on, test_data, with_state,
};
use crate::{Session, SessionEvent, TorrentState};

const PIECE: u64 = 16 * 1024;

/// The next move outcome of `ih` among the session's events.
async fn move_outcome(
    events: &mut tokio::sync::broadcast::Receiver<SessionEvent>,
    ih: protocol::InfoHash,
) -> SessionEvent {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await.unwrap() {
                e @ (SessionEvent::Moved(h, _) | SessionEvent::MoveFailed(h, _)) if h == ih => {
                    return e
                }
                _ => {}
            }
        }
    })
    .await
    .expect("the move ends")
}

async fn fetch_from(seed: &Session, meta: &Metainfo, out: &Path) -> Vec<u8> {
    let s = Session::start(loopback_config(out)).await.unwrap();
    download_from(&s, meta, seed).await;
    s.shutdown().await;
    std::fs::read(out.join("movie.bin")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeding_torrent_moves_and_serves_from_its_new_place() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to, state) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("st"),
    );
    std::fs::create_dir_all(&from).unwrap();
    let data = test_data(400_000, 3);
    std::fs::write(from.join("movie.bin"), &data).unwrap();
    let meta = make_torrent("movie.bin", &data, PIECE);
    let seed = seeding_on(with_state(&from, &state), &meta).await;
    let mut events = seed.events();

    seed.move_storage_with(meta.info_hash, to.clone(), true)
        .await
        .unwrap();
    let moved = move_outcome(&mut events, meta.info_hash).await;
    assert_eq!(
        moved,
        SessionEvent::Moved(meta.info_hash, to.join("movie.bin"))
    );
    let status = seed.status(meta.info_hash).unwrap();
    assert_eq!(PathBuf::from(&status.save_path), to.join("movie.bin"));
    assert_eq!(status.moving, None);
    assert_eq!(status.state, TorrentState::Seeding);
    assert!(!from.join("movie.bin").exists(), "the original is gone");
    assert_eq!(std::fs::read(to.join("movie.bin")).unwrap(), data);

    assert_eq!(
        fetch_from(&seed, &meta, &tmp.path().join("out")).await,
        data
    );
    seed.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_onto_an_existing_name_fails_and_the_torrent_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to, state) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("st"),
    );
    std::fs::create_dir_all(&from).unwrap();
    std::fs::create_dir_all(&to).unwrap();
    let data = test_data(200_000, 4);
    std::fs::write(from.join("movie.bin"), &data).unwrap();
    std::fs::write(to.join("movie.bin"), b"the user's own").unwrap();
    let meta = make_torrent("movie.bin", &data, PIECE);
    let seed = seeding_on(with_state(&from, &state), &meta).await;
    let mut events = seed.events();

    seed.move_storage(meta.info_hash, to.clone()).await.unwrap();
    assert!(matches!(
        move_outcome(&mut events, meta.info_hash).await,
        SessionEvent::MoveFailed(..)
    ));
    assert_eq!(
        std::fs::read(to.join("movie.bin")).unwrap(),
        b"the user's own"
    );
    let status = seed.status(meta.info_hash).unwrap();
    assert_eq!(PathBuf::from(&status.save_path), from.join("movie.bin"));
    assert_eq!(status.state, TorrentState::Seeding);
    assert_eq!(
        fetch_from(&seed, &meta, &tmp.path().join("out")).await,
        data
    );
    seed.shutdown().await;
}

/// A copy cancelled while it runs: the torrent stays where it was and seeds on, byte-exact,
/// the destination holds nothing of it, and a second cancel has no move to stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_copy_leaves_the_torrent_where_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let (from, to, state) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("st"),
    );
    std::fs::create_dir_all(&from).unwrap();
    // Big enough that the copy (1 MiB a chunk, hashed, synced) outlasts the cancel's trip.
    let data = test_data(24 << 20, 5);
    std::fs::write(from.join("movie.bin"), &data).unwrap();
    let meta = make_torrent("movie.bin", &data, 256 * 1024);
    let seed = seeding_on(with_state(&from, &state), &meta).await;
    let mut events = seed.events();

    let ih = meta.info_hash;
    seed.move_storage_with(ih, to.clone(), true).await.unwrap();
    seed.cancel_move(ih).await.unwrap();
    match move_outcome(&mut events, ih).await {
        SessionEvent::MoveFailed(_, why) => assert!(why.contains(crate::MOVE_CANCELLED), "{why}"),
        other => panic!("the move ended otherwise: {other:?}"),
    }
    assert!(
        seed.cancel_move(ih).await.is_err(),
        "nothing left to cancel"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&to)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let status = seed.status(ih).unwrap();
    assert_eq!(PathBuf::from(&status.save_path), from.join("movie.bin"));
    assert_eq!(status.moving, None);
    assert_eq!(status.state, TorrentState::Seeding);
    assert!(std::fs::read(from.join("movie.bin")).unwrap() == data);
    // Every piece still checks out where it is: a new peer gets it all from there.
    assert!(fetch_from(&seed, &meta, &tmp.path().join("out")).await == data);
    seed.shutdown().await;
}

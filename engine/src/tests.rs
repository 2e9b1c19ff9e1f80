//! Engine against engine on loopback: the whole data path (handshake, pipeline, disk, hashing,
//! choking) without any other client.

use std::time::{Duration, Instant};

use protocol::{Metainfo, MetainfoBuilder};
use sha1::{Digest, Sha1};

use crate::{AddTorrent, Session, SessionConfig, SessionEvent, TorrentState};

pub(crate) fn make_torrent(name: &str, data: &[u8], piece_len: u64) -> Metainfo {
    let pieces = data
        .chunks(piece_len as usize)
        .map(|c| Sha1::digest(c).into())
        .collect();
    MetainfoBuilder::single_file(name, data.len() as u64)
        .piece_length(piece_len)
        .pieces(pieces)
        .build()
        .unwrap()
        .metainfo
}

pub(crate) fn test_data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 7919) as u8) ^ seed)
        .collect()
}

pub(crate) fn loopback_config(dir: &std::path::Path) -> SessionConfig {
    SessionConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: dir.to_path_buf(),
        ..Default::default()
    }
}

pub(crate) async fn wait_for(
    session: &Session,
    ih: protocol::InfoHash,
    state: TorrentState,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    loop {
        let s = session.status(ih).expect("torrent is in the session");
        if s.state == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {state:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn downloads_from_another_engine_byte_exact() {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let data = test_data(3 * 1024 * 1024 + 12345, 1);
    std::fs::write(seed_dir.path().join("file.bin"), &data).unwrap();
    let metainfo = make_torrent("file.bin", &data, 64 * 1024);

    let seeder = Session::start(loopback_config(seed_dir.path()))
        .await
        .unwrap();
    let ih = seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;

    let leecher = Session::start(loopback_config(leech_dir.path()))
        .await
        .unwrap();
    let mut events = leecher.events();
    let mut add = AddTorrent::metainfo(metainfo);
    add.peers = vec![seeder.local_addr()];
    leecher.add(add).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(SessionEvent::Completed(done))) if done == ih => break,
            Ok(Ok(_)) => {}
            other => panic!("no completion: {other:?} {:?}", leecher.status(ih)),
        }
    }
    let status = leecher.status(ih).unwrap();
    assert_eq!(status.progress, 1.0);
    assert!(status.downloaded >= data.len() as u64);
    leecher.shutdown().await;
    seeder.shutdown().await;
    assert_eq!(
        std::fs::read(leech_dir.path().join("file.bin")).unwrap(),
        data
    );
}

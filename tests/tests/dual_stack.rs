//! Dual stack: a session listening on 127.0.0.1 also listens on ::1 (as one on 0.0.0.0 does on
//! [::]), and dials IPv6 peers. python3-libtorrent, listening on ::1 only, downloads from us
//! and seeds to us over IPv6, byte for byte.

use std::path::Path;
use std::time::Duration;

use engine::{AddTorrent, Session, SessionConfig, SessionEvent, TorrentState};
use protocol::Metainfo;
use swarmlink_tests::libtorrent::{self, LtPeer};

const SIZE: usize = 3 * 1024 * 1024 + 777;

fn make(dir: &Path) -> (Vec<u8>, Metainfo, std::path::PathBuf) {
    let data = swarmlink_tests::write_random(&dir.join("v6.bin"), SIZE, 6);
    let torrent = dir.join("v6.torrent");
    libtorrent::create(&dir.join("v6.bin"), &torrent, 64 * 1024, false);
    let metainfo = Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    (data, metainfo, torrent)
}

fn config(dir: &Path) -> SessionConfig {
    SessionConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: dir.to_path_buf(),
        ..SessionConfig::default()
    }
}

#[tokio::test]
async fn libtorrent_downloads_from_us_over_ipv6_only() {
    let seed_dir = tempfile::tempdir().unwrap();
    let (data, metainfo, torrent) = make(seed_dir.path());
    let seeder = Session::start(config(seed_dir.path())).await.unwrap();
    let port = seeder.local_addr().port();
    let v6 = format!("[::1]:{port}").parse().unwrap();
    assert!(
        seeder.listen_addrs().contains(&v6),
        "{:?}",
        seeder.listen_addrs()
    );
    let ih = seeder.add(AddTorrent::metainfo(metainfo)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seeder.status(ih).unwrap().state != TorrentState::Seeding {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let leech_dir = tempfile::tempdir().unwrap();
    let mut cmd = libtorrent::python();
    cmd.env("LT_LISTEN", "[::1]:0")
        .arg(libtorrent::peer_script())
        .arg("download")
        .arg(&torrent)
        .arg(leech_dir.path())
        .arg(format!("::1:{port}"));
    // libtorrent binds its outgoing connections to its listen address, ::1: it can only reach
    // us through our IPv6 listener.
    let lt = tokio::task::spawn_blocking(move || {
        let mut peer = LtPeer::start(&mut cmd);
        peer.run.wait_line("done", Duration::from_secs(60));
        peer
    })
    .await
    .unwrap();
    drop(lt);
    // The status counts uploads every half second.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while seeder.status(ih).unwrap().uploaded < SIZE as u64
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let uploaded = seeder.status(ih).unwrap().uploaded;
    assert!(uploaded >= SIZE as u64, "uploaded {uploaded}");
    seeder.shutdown().await;
    assert_eq!(
        std::fs::read(leech_dir.path().join("v6.bin")).unwrap(),
        data
    );
}

#[tokio::test]
async fn we_download_from_libtorrent_over_ipv6_only() {
    let seed_dir = tempfile::tempdir().unwrap();
    let (data, metainfo, torrent) = make(seed_dir.path());
    let mut cmd = libtorrent::python();
    cmd.env("LT_LISTEN", "[::1]:0");
    let script = libtorrent::peer_script();
    let dir = seed_dir.path().to_path_buf();
    let lt = tokio::task::spawn_blocking(move || {
        let mut peer = LtPeer::start(cmd.arg(script).arg("seed").arg(&torrent).arg(&dir));
        peer.run.wait_line("seeding", Duration::from_secs(20));
        peer
    })
    .await
    .unwrap();

    let leech_dir = tempfile::tempdir().unwrap();
    let leecher = Session::start(config(leech_dir.path())).await.unwrap();
    let mut events = leecher.events();
    let mut add = AddTorrent::metainfo(metainfo);
    add.peers = vec![format!("[::1]:{}", lt.port).parse().unwrap()];
    let ih = leecher.add(add).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(SessionEvent::Completed(done))) if done == ih => break,
            Ok(Ok(_)) => {}
            other => panic!("no completion: {other:?} {:?}", leecher.status(ih)),
        }
    }
    leecher.shutdown().await;
    drop(lt);
    assert_eq!(
        std::fs::read(leech_dir.path().join("v6.bin")).unwrap(),
        data
    );
}

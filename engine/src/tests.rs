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

/// `loopback_config`, keeping resume records (and part files) in `state`.
pub(crate) fn with_state(dir: &std::path::Path, state: &std::path::Path) -> SessionConfig {
    SessionConfig {
        state_dir: Some(state.to_path_buf()),
        ..loopback_config(dir)
    }
}

/// A session started on `config` that seeds `meta`, whose data is already in its download
/// directory.
pub(crate) async fn seeding_on(config: SessionConfig, meta: &Metainfo) -> Session {
    let s = Session::start(config).await.unwrap();
    s.add(AddTorrent::metainfo(meta.clone())).await.unwrap();
    wait_for(
        &s,
        meta.info_hash,
        TorrentState::Seeding,
        Duration::from_secs(20),
    )
    .await;
    s
}

/// Adds `meta` to `session` with `from` as its peer and waits (bounded) until it has it all.
pub(crate) async fn download_from(session: &Session, meta: &Metainfo, from: &Session) {
    let mut add = AddTorrent::metainfo(meta.clone());
    add.peers = vec![from.local_addr()];
    session.add(add).await.unwrap();
    wait_for(
        session,
        meta.info_hash,
        TorrentState::Seeding,
        Duration::from_secs(60),
    )
    .await;
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

/// One seed with a slow uplink and three leechers that know each other: they finish faster by
/// trading pieces, and the trading is measured (leechers' upload counters).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_leechers_exchange_pieces() {
    let seed_dir = tempfile::tempdir().unwrap();
    let data = test_data(3 * 1024 * 1024, 5);
    std::fs::write(seed_dir.path().join("swarm.bin"), &data).unwrap();
    let metainfo = make_torrent("swarm.bin", &data, 32 * 1024);
    let ih = metainfo.info_hash;
    let mut seed_config = loopback_config(seed_dir.path());
    // The seed alone would need 3 x 3 MiB / 2 MiB/s = 4.5 s; exchanging cuts that down.
    seed_config.upload_rate_limit = Some(2 * 1024 * 1024);
    let seeder = Session::start(seed_config).await.unwrap();
    seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;

    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut leechers = Vec::new();
    for d in &dirs {
        leechers.push(Session::start(loopback_config(d.path())).await.unwrap());
    }
    let started = Instant::now();
    for (i, l) in leechers.iter().enumerate() {
        let mut add = AddTorrent::metainfo(metainfo.clone());
        add.peers = vec![seeder.local_addr()];
        add.peers
            .extend(leechers.iter().take(i).map(|o| o.local_addr()));
        l.add(add).await.unwrap();
    }
    for l in &leechers {
        wait_for(l, ih, TorrentState::Seeding, Duration::from_secs(60)).await;
    }
    let elapsed = started.elapsed();
    let uploaded: Vec<u64> = leechers
        .iter()
        .map(|l| l.status(ih).unwrap().uploaded)
        .collect();
    let seed_up = seeder.status(ih).unwrap().uploaded;
    eprintln!("swarm: 3 leechers done in {elapsed:?}; seed uploaded {seed_up} B, leechers uploaded {uploaded:?} B");
    for l in &leechers {
        l.shutdown().await;
    }
    seeder.shutdown().await;
    for d in &dirs {
        assert!(std::fs::read(d.path().join("swarm.bin")).unwrap() == data);
    }
    let total = data.len() as u64;
    assert!(
        uploaded.iter().sum::<u64>() > total,
        "leechers traded at least one copy: {uploaded:?}"
    );
    assert!(
        seed_up < 3 * total,
        "the seed did not have to send everything three times: {seed_up}"
    );
}

/// Resume data is trusted only while the files are as recorded: a clean restart skips the
/// check, a changed file is checked again and its bad piece fetched again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_data_skips_the_check_until_files_change() {
    let seed_dir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let data = test_data(1024 * 1024 + 5, 9);
    std::fs::write(seed_dir.path().join("r.bin"), &data).unwrap();
    let metainfo = make_torrent("r.bin", &data, 16 * 1024);
    let ih = metainfo.info_hash;
    let seeder = Session::start(loopback_config(seed_dir.path()))
        .await
        .unwrap();
    seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    let config = || SessionConfig {
        state_dir: Some(state.clone()),
        ..loopback_config(dir.path())
    };

    let first = Session::start(config()).await.unwrap();
    let mut add = AddTorrent::metainfo(metainfo.clone());
    add.peers = vec![seeder.local_addr()];
    first.add(add.clone()).await.unwrap();
    wait_for(&first, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    first.shutdown().await;
    assert!(crate::resume::resume_path(&state, ih, dir.path()).exists());

    // Clean restart: verified at once from resume data, no checking state.
    let second = Session::start(config()).await.unwrap();
    second
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    assert_eq!(second.status(ih).unwrap().state, TorrentState::Seeding);
    second.shutdown().await;

    // Damage one byte behind the engine's back: the mtime changes, so everything is checked
    // again, the damaged piece is missing, and it is fetched again byte-exact.
    let path = dir.path().join("r.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[40_000] ^= 1;
    std::thread::sleep(Duration::from_millis(10));
    std::fs::write(&path, &bytes).unwrap();
    let third = Session::start(config()).await.unwrap();
    let mut paused = add.clone();
    paused.paused = true;
    third.add(paused).await.unwrap();
    // (The check is quick; that it happened shows in the damaged piece being missing.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let s = third.status(ih).unwrap();
        if s.state == TorrentState::Paused && s.have_bytes > 0 {
            break s;
        }
        assert!(Instant::now() < deadline, "check did not finish: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        status.have_bytes,
        data.len() as u64 - 16 * 1024,
        "exactly the damaged piece is missing"
    );
    third.resume(ih).await.unwrap();
    wait_for(&third, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    third.shutdown().await;
    seeder.shutdown().await;
    assert!(std::fs::read(&path).unwrap() == data);
}

/// A file that cannot be written (here: a link planted where the file goes, which storage refuses
/// to follow; it once pointed at /dev/full to fake a full disk) puts the torrent in the error
/// state with the reason, without a panic; the link's target is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_file_is_an_error_state() {
    let seed_dir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(512 * 1024, 2);
    std::fs::write(seed_dir.path().join("full.bin"), &data).unwrap();
    let metainfo = make_torrent("full.bin", &data, 16 * 1024);
    let ih = metainfo.info_hash;
    let seeder = Session::start(loopback_config(seed_dir.path()))
        .await
        .unwrap();
    seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();

    let leecher = Session::start(loopback_config(dir.path())).await.unwrap();
    let mut events = leecher.events();
    let mut add = AddTorrent::metainfo(metainfo);
    add.peers = vec![seeder.local_addr()];
    add.paused = true;
    leecher.add(add).await.unwrap();
    // The link is planted once the torrent has made its file (planted before, it would be
    // someone else's, left alone for a `full (1).bin`).
    let file = dir.path().join("full.bin");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(Instant::now() < deadline, "the torrent made no file");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    leecher.resume(ih).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let msg = loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(SessionEvent::Error(e, msg))) if e == ih => break msg,
            Ok(Ok(_)) => {}
            other => panic!("no error event: {other:?} {:?}", leecher.status(ih)),
        }
    };
    assert!(msg.contains("symbolic link"), "{msg}");
    let status = leecher.status(ih).unwrap();
    assert_eq!(status.state, TorrentState::Error);
    assert!(status.error.unwrap().contains("symbolic link"));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(
        leecher.peers(ih).is_empty(),
        "peers are dropped in the error state"
    );
    leecher.remove(ih, false).await.unwrap();
    leecher.shutdown().await;
    seeder.shutdown().await;
}

/// opentracker on loopback, whitelisting one hash; killed (by PID) when dropped.
struct OpenTracker {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for OpenTracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn opentracker(ih: protocol::InfoHash) -> OpenTracker {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("wl.txt"), format!("{ih}\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("opentracker")
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-P",
            &udp.to_string(),
            "-d",
        ])
        .arg(dir.path())
        .args(["-w", "/wl.txt"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("opentracker is installed");
    let tracker = OpenTracker {
        child,
        url: format!("http://127.0.0.1:{port}/announce"),
        _dir: dir,
    };
    // The whitelist loads after the socket opens: announce a throwaway peer until accepted,
    // then withdraw it.
    use crate::tracker::{AnnounceParams, Event, TrackerList};
    let mut list = TrackerList::new(vec![vec![tracker.url.clone()]]);
    let mut probe = AnnounceParams::new(ih, protocol::PeerId([7; 20]), 1, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while list.announce(&probe).await.is_err() {
        assert!(Instant::now() < deadline, "opentracker did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    probe.event = Some(Event::Stopped);
    let _ = list.announce(&probe).await;
    tracker
}

/// Peers come from the tracker alone: the leecher is given no addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_the_seed_through_a_tracker() {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let data = test_data(700 * 1024, 4);
    std::fs::write(seed_dir.path().join("t.bin"), &data).unwrap();
    let pieces: Vec<[u8; 20]> = data
        .chunks(32 * 1024)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let probe = MetainfoBuilder::single_file("t.bin", data.len() as u64)
        .piece_length(32 * 1024)
        .pieces(pieces.clone());
    let ih = probe.build().unwrap().info_hash;
    let tracker = opentracker(ih).await;
    let metainfo = probe
        .announce_tiers(vec![vec![tracker.url.clone()]])
        .build()
        .unwrap()
        .metainfo;
    assert_eq!(
        metainfo.info_hash, ih,
        "the announce URL is outside the info dict"
    );

    let seeder = Session::start(loopback_config(seed_dir.path()))
        .await
        .unwrap();
    seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;
    // Wait until the tracker lists the seeder (its `started` announce runs in the background).
    let mut list = crate::tracker::TrackerList::new(vec![vec![tracker.url.clone()]]);
    let mut ask = crate::tracker::AnnounceParams::new(ih, protocol::PeerId([8; 20]), 2, 2);
    ask.event = Some(crate::tracker::Event::Stopped);
    let seed_port = seeder.local_addr().port();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        ask.event = None;
        let listed = list
            .announce(&ask)
            .await
            .map(|o| o.peers.iter().any(|p| p.port() == seed_port));
        if listed.unwrap_or(false) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the seeder never reached the tracker"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ask.event = Some(crate::tracker::Event::Stopped);
    let _ = list.announce(&ask).await;
    // And as a seeder, within seconds: its `started` may have said `left` = everything (the
    // check was still running), so it announces again once the check found the copy complete.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match list.scrape(ih).await {
            Ok(c) if c.seeders == 1 && c.leechers == 0 => break,
            other => assert!(
                Instant::now() < deadline,
                "the seeder is not counted as one: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leecher = Session::start(loopback_config(leech_dir.path()))
        .await
        .unwrap();
    leecher.add(AddTorrent::metainfo(metainfo)).await.unwrap();
    wait_for(&leecher, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    leecher.shutdown().await;
    seeder.shutdown().await;
    assert!(std::fs::read(leech_dir.path().join("t.bin")).unwrap() == data);
    // One download finished: the leecher's. The seeder, complete when it started, never says
    // `completed` (BEP 3), though its check ended after its `started` announce went out.
    let counts = list.scrape(ih).await.unwrap();
    assert_eq!(counts.completed, 1, "completions the tracker counted");
}

/// Selective download: a skipped file is never fetched, and the torrent completes once the
/// wanted files are verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_files_are_not_downloaded() {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let piece = 16 * 1024;
    let files = [
        ("a.bin", 4 * piece),
        ("b.bin", 6 * piece),
        ("c.bin", 2 * piece + 100),
    ];
    let mut all = Vec::new();
    for (i, (name, len)) in files.iter().enumerate() {
        let d = test_data(*len, i as u8);
        std::fs::create_dir_all(seed_dir.path().join("set")).unwrap();
        std::fs::write(seed_dir.path().join("set").join(name), &d).unwrap();
        all.push(d);
    }
    let joined: Vec<u8> = all.concat();
    let pieces = joined
        .chunks(piece)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let metainfo = MetainfoBuilder::multi_file(
        "set",
        files.iter().map(|(n, l)| (vec![n.to_string()], *l as u64)),
    )
    .piece_length(piece as u64)
    .pieces(pieces)
    .build()
    .unwrap()
    .metainfo;
    let ih = metainfo.info_hash;
    let seeder = Session::start(loopback_config(seed_dir.path()))
        .await
        .unwrap();
    seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;

    let leecher = Session::start(loopback_config(leech_dir.path()))
        .await
        .unwrap();
    let mut add = AddTorrent::metainfo(metainfo);
    add.peers = vec![seeder.local_addr()];
    add.file_priorities = Some(vec![
        crate::FilePriority::Normal,
        crate::FilePriority::Skip,
        crate::FilePriority::High,
    ]);
    leecher.add(add).await.unwrap();
    wait_for(&leecher, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    let status = leecher.status(ih).unwrap();
    assert_eq!(status.progress, 1.0);
    assert_eq!(status.have_bytes, (4 * piece + 2 * piece + 100) as u64);
    leecher.shutdown().await;
    seeder.shutdown().await;
    let set = leech_dir.path().join("set");
    assert!(std::fs::read(set.join("a.bin")).unwrap() == all[0]);
    assert!(std::fs::read(set.join("c.bin")).unwrap() == all[2]);
    assert!(
        !set.join("b.bin").exists(),
        "the skipped file was never created"
    );
}

/// The control surface the daemon drives: pause, resume, remove with and without the data,
/// events, and the typed status (the helper builds the browser's JSON from it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_remove_and_typed_status() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(200 * 1024, 8);
    std::fs::write(dir.path().join("p.bin"), &data).unwrap();
    let metainfo = make_torrent("p.bin", &data, 32 * 1024);
    let session = Session::start(loopback_config(dir.path())).await.unwrap();
    let mut events = session.events();
    let ih = session
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    assert!(matches!(
        session.add(AddTorrent::metainfo(metainfo)).await,
        Err(crate::EngineError::AlreadyAdded(_))
    ));
    wait_for(&session, ih, TorrentState::Seeding, Duration::from_secs(10)).await;
    session.pause(ih).await.unwrap();
    wait_for(&session, ih, TorrentState::Paused, Duration::from_secs(5)).await;
    session.resume(ih).await.unwrap();
    wait_for(&session, ih, TorrentState::Seeding, Duration::from_secs(5)).await;

    let status = session.status(ih).unwrap();
    assert_eq!(status.state, TorrentState::Seeding);
    assert_eq!(status.info_hash, ih);
    assert_eq!(status.save_path, dir.path().join("p.bin"));

    session.remove(ih, true).await.unwrap();
    assert!(session.status(ih).is_none());
    assert!(
        !dir.path().join("p.bin").exists(),
        "data deleted on request"
    );
    let mut seen = Vec::new();
    while let Ok(ev) = events.try_recv() {
        seen.push(ev);
    }
    assert_eq!(seen.first(), Some(&SessionEvent::Added(ih)));
    assert!(seen.contains(&SessionEvent::Completed(ih)));
    assert_eq!(seen.last(), Some(&SessionEvent::Removed(ih)));
    assert!(matches!(
        session.pause(ih).await,
        Err(crate::EngineError::UnknownTorrent(_))
    ));
    session.shutdown().await;
}

/// The session's download limit holds the transfer near the configured rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_rate_limit_is_honoured() {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let data = test_data(1536 * 1024, 6);
    std::fs::write(seed_dir.path().join("l.bin"), &data).unwrap();
    let metainfo = make_torrent("l.bin", &data, 64 * 1024);
    let ih = metainfo.info_hash;
    let seeder = Session::start(loopback_config(seed_dir.path()))
        .await
        .unwrap();
    seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;
    let mut config = loopback_config(leech_dir.path());
    config.download_rate_limit = Some(1024 * 1024);
    let leecher = Session::start(config).await.unwrap();
    let started = Instant::now();
    let mut add = AddTorrent::metainfo(metainfo);
    add.peers = vec![seeder.local_addr()];
    leecher.add(add).await.unwrap();
    wait_for(&leecher, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    let elapsed = started.elapsed();
    leecher.shutdown().await;
    seeder.shutdown().await;
    // 1.5 MiB at 1 MiB/s with a quarter second of burst: at least ~1.2 s, and not far above.
    assert!(
        elapsed >= Duration::from_millis(1100),
        "too fast for the limit: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "far too slow: {elapsed:?}"
    );
    assert!(std::fs::read(leech_dir.path().join("l.bin")).unwrap() == data);
}

/// Clear errors at the API boundary: a taken port, file priorities of the wrong length, a
/// magnet added twice. (A magnet itself is accepted: it waits for its metadata.)
#[tokio::test]
async fn api_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let session = Session::start(loopback_config(dir.path())).await.unwrap();
    let magnet =
        protocol::Magnet::parse("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a")
            .unwrap();
    let ih = session
        .add(AddTorrent::magnet(magnet.clone()))
        .await
        .unwrap();
    assert_eq!(session.status(ih).unwrap().state, TorrentState::Connecting);
    let err = session.add(AddTorrent::magnet(magnet)).await.unwrap_err();
    assert!(matches!(err, crate::EngineError::AlreadyAdded(_)), "{err}");

    let taken = SessionConfig {
        listen: session.local_addr(),
        ..loopback_config(dir.path())
    };
    assert!(matches!(
        Session::start(taken).await,
        Err(crate::EngineError::Listen { .. })
    ));

    let data = test_data(1000, 1);
    let mut add = AddTorrent::metainfo(make_torrent("e.bin", &data, 16 * 1024));
    add.file_priorities = Some(vec![]);
    assert!(matches!(
        session.add(add).await,
        Err(crate::EngineError::BadFilePriorities {
            got: 0,
            expected: 1
        })
    ));
    session.shutdown().await;
    let mut late = AddTorrent::metainfo(make_torrent("e.bin", &data, 16 * 1024));
    late.paused = true;
    assert!(matches!(
        session.add(late).await,
        Err(crate::EngineError::ShutDown)
    ));
}

//! Encryption policy end to end on loopback: engines downloading from each other over MSE,
//! the plaintext-then-encrypted retry, `require` and `off` refusing the other kind, and peers
//! that send garbage in the MSE handshake.

use std::net::SocketAddr;
use std::time::Duration;

use protocol::wire::mse::{classify, EncryptionPolicy, IncomingKind};
use protocol::wire::{Handshake, Reserved};
use protocol::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::tests::{loopback_config, make_torrent, test_data, wait_for};
use crate::{AddTorrent, Session, SessionEvent, TorrentState};

async fn session(dir: &std::path::Path, policy: EncryptionPolicy) -> Session {
    let mut config = loopback_config(dir);
    config.encryption = policy;
    Session::start(config).await.unwrap()
}

/// A seeder with `seed_policy`, a leecher with `leech_policy` that knows it; true when the
/// leecher finishes byte-exact within `limit`, false when it has made no progress by then.
async fn download(seed_policy: EncryptionPolicy, leech_policy: EncryptionPolicy) -> bool {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let data = test_data(2 * 1024 * 1024 + 4321, 7);
    std::fs::write(seed_dir.path().join("enc.bin"), &data).unwrap();
    let metainfo = make_torrent("enc.bin", &data, 64 * 1024);
    let seeder = session(seed_dir.path(), seed_policy).await;
    let ih = seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;

    let leecher = session(leech_dir.path(), leech_policy).await;
    let mut events = leecher.events();
    let mut add = AddTorrent::metainfo(metainfo);
    add.peers = vec![seeder.local_addr()];
    leecher.add(add).await.unwrap();
    // Incompatible policies fail at the first attempt; 5 s leaves no doubt.
    let deadline = Instant::now() + Duration::from_secs(5);
    let done = loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(SessionEvent::Completed(done))) if done == ih => break true,
            Ok(Ok(_)) => {}
            Err(_) => break false,
            Ok(Err(e)) => panic!("events: {e}"),
        }
    };
    let status = leecher.status(ih).unwrap();
    leecher.shutdown().await;
    seeder.shutdown().await;
    if done {
        assert_eq!(
            std::fs::read(leech_dir.path().join("enc.bin")).unwrap(),
            data
        );
    } else {
        assert_eq!(status.have_bytes, 0, "no completion, yet data: {status:?}");
    }
    done
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_requiring_encryption_download_from_each_other() {
    assert!(download(EncryptionPolicy::Require, EncryptionPolicy::Require).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_retries_encrypted_when_plaintext_is_refused() {
    assert!(download(EncryptionPolicy::Require, EncryptionPolicy::Prefer).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preferring_seeder_accepts_an_encrypted_leecher() {
    assert!(download(EncryptionPolicy::Prefer, EncryptionPolicy::Require).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_and_off_never_connect() {
    assert!(!download(EncryptionPolicy::Off, EncryptionPolicy::Require).await);
    assert!(!download(EncryptionPolicy::Require, EncryptionPolicy::Off).await);
}

/// Records how each connection a session makes to us opens (plaintext or MSE), closing each
/// at once as a peer that refuses would.
async fn refusing_peer() -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<IncomingKind>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let kind = loop {
                if let Some(kind) = classify(&buf) {
                    break kind;
                }
                let mut chunk = [0u8; 256];
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let _ = tx.send(kind);
        }
    });
    (addr, rx)
}

async fn knocks(policy: EncryptionPolicy) -> Vec<IncomingKind> {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(100_000, 3);
    let metainfo = make_torrent("k.bin", &data, 16 * 1024);
    let (addr, mut rx) = refusing_peer().await;
    let s = session(dir.path(), policy).await;
    let mut add = AddTorrent::metainfo(metainfo);
    add.peers = vec![addr];
    s.add(add).await.unwrap();
    // One dial's knocks: the retry follows the refusal at once, while the torrent tries the
    // address again only after a back-off of 2 s.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(kind)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        seen.push(kind);
    }
    s.shutdown().await;
    seen
}

#[tokio::test]
async fn each_policy_knocks_as_documented() {
    use IncomingKind::{Mse, Plaintext};
    assert_eq!(knocks(EncryptionPolicy::Prefer).await, vec![Plaintext, Mse]);
    assert_eq!(knocks(EncryptionPolicy::Require).await, vec![Mse]);
    assert_eq!(knocks(EncryptionPolicy::Off).await, vec![Plaintext]);
}

/// Reads until EOF (or an error); panics if the peer keeps the connection open past `limit`.
async fn read_to_close(s: &mut TcpStream, limit: Duration) -> usize {
    let mut total = 0;
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Err(_) => panic!("the session kept the connection open"),
            Ok(Ok(0)) | Ok(Err(_)) => return total,
            Ok(Ok(n)) => total += n,
        }
    }
}

#[tokio::test]
async fn garbage_in_the_mse_handshake_is_dropped_without_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(50_000, 9);
    std::fs::write(dir.path().join("g.bin"), &data).unwrap();
    let metainfo = make_torrent("g.bin", &data, 16 * 1024);
    let ih = metainfo.info_hash;
    let s = session(dir.path(), EncryptionPolicy::Prefer).await;
    s.add(AddTorrent::metainfo(metainfo)).await.unwrap();
    wait_for(&s, ih, TorrentState::Seeding, Duration::from_secs(10)).await;

    // A "public key" and then never the req1 hash: the search gives up after the 512-byte
    // padding allowance, well before the handshake timeout.
    let mut garbage: Vec<u8> = (0..3000u32).map(|i| (i * 131 + 7) as u8).collect();
    garbage[0] = 0xAA;
    let mut c = TcpStream::connect(s.local_addr()).await.unwrap();
    c.write_all(&garbage).await.unwrap();
    let started = Instant::now();
    let replied = read_to_close(&mut c, Duration::from_secs(5)).await;
    assert!(
        (96..=96 + 512).contains(&replied),
        "expected our key and padding only, got {replied} bytes"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A degenerate key (1) is refused before we answer at all.
    let mut one = vec![0u8; 96];
    one[95] = 1;
    let mut c = TcpStream::connect(s.local_addr()).await.unwrap();
    c.write_all(&one).await.unwrap();
    assert_eq!(read_to_close(&mut c, Duration::from_secs(5)).await, 0);

    // The session still serves a proper peer afterwards.
    let mut c = TcpStream::connect(s.local_addr()).await.unwrap();
    let mut hs = Vec::new();
    Handshake {
        reserved: Reserved::SWARMLINK,
        info_hash: ih,
        peer_id: PeerId::generate(&mut rand::rng()),
    }
    .encode(&mut hs);
    c.write_all(&hs).await.unwrap();
    let mut back = [0u8; Handshake::LEN];
    tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Handshake::decode(&back).unwrap().unwrap().info_hash, ih);
    s.shutdown().await;
}

#[tokio::test]
async fn require_closes_on_a_plaintext_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(50_000, 4);
    std::fs::write(dir.path().join("r.bin"), &data).unwrap();
    let metainfo = make_torrent("r.bin", &data, 16 * 1024);
    let ih = metainfo.info_hash;
    let s = session(dir.path(), EncryptionPolicy::Require).await;
    s.add(AddTorrent::metainfo(metainfo)).await.unwrap();
    wait_for(&s, ih, TorrentState::Seeding, Duration::from_secs(10)).await;
    let mut c = TcpStream::connect(s.local_addr()).await.unwrap();
    let mut hs = Vec::new();
    Handshake {
        reserved: Reserved::SWARMLINK,
        info_hash: ih,
        peer_id: PeerId::generate(&mut rand::rng()),
    }
    .encode(&mut hs);
    c.write_all(&hs).await.unwrap();
    assert_eq!(read_to_close(&mut c, Duration::from_secs(5)).await, 0);
    s.shutdown().await;
}

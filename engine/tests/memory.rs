//! Memory an idle peer connection and an idle seeding torrent hold, counted by a global
//! allocator (live bytes as glibc's malloc charges them), not timed: CI-sized versions of
//! bench/peers.sh and bench/scale.sh. The tests take turns (`SERIAL`): the count is global.
//!
//! Hundreds of peers that handshake and then send nothing are the common case of a seeding
//! torrent; each used to hold a 256 KiB read buffer and a 64 KiB write buffer reserved before
//! anything was read or written (over 320 KiB a peer). Thousands of seeding torrents are the
//! common case of a daemon kept running.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use engine::{AddTorrent, Session, SessionConfig, TorrentState};
use protocol::MetainfoBuilder;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

struct Counting;

static CHARGED: AtomicIsize = AtomicIsize::new(0);
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn note(size: usize, sign: isize) {
    let charged = ((size + 8).div_ceil(16) * 16).max(32) as isize;
    CHARGED.fetch_add(sign * charged, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting is one atomic.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 1);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(layout.size(), -1);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 1);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout.size(), -1);
        note(new_size, 1);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

const PEERS: usize = 40;
/// What an idle seeding torrent may hold (see `an_idle_seeding_torrent_holds_a_few_kib`).
const BOUND_PER_TORRENT: isize = 18 * 1024;

/// Connects from 127.0.0.`host` (a host of its own, as peers are) and handshakes as libtorrent
/// does: extension protocol and fast extension, an extension handshake, have_none.
async fn idle_peer(host: u8, to: SocketAddr, info_hash: [u8; 20]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, host), 0)))
        .unwrap();
    let mut s = tokio::time::timeout(Duration::from_secs(10), socket.connect(to))
        .await
        .expect("connect timed out")
        .unwrap();
    let mut hello = b"\x13BitTorrent protocol\0\0\0\0\0\x10\0\x04".to_vec();
    hello.extend_from_slice(&info_hash);
    hello.extend_from_slice(b"-ID0001-");
    hello.extend_from_slice(&[host; 12]);
    let ext = b"d1:md11:ut_metadatai1e6:ut_pexi2eee";
    hello.extend_from_slice(&(ext.len() as u32 + 2).to_be_bytes());
    hello.extend_from_slice(&[20, 0]);
    hello.extend_from_slice(ext);
    hello.extend_from_slice(&[0, 0, 0, 1, 0x0f]);
    s.write_all(&hello).await.unwrap();
    let mut theirs = [0u8; 68];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut theirs))
        .await
        .expect("no handshake back")
        .unwrap();
    assert_eq!(
        &theirs[28..48],
        &info_hash[..],
        "handshake for another torrent"
    );
    s
}

/// Writes `len` bytes to `dir/name` and returns a torrent of them.
fn seed_file(
    dir: &std::path::Path,
    name: &str,
    len: u32,
    piece_len: usize,
    seed: u8,
) -> protocol::Metainfo {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 + i / 7919) as u8 ^ seed).collect();
    std::fs::write(dir.join(name), &data).unwrap();
    let pieces = data
        .chunks(piece_len)
        .map(|c| Sha1::digest(c).into())
        .collect();
    MetainfoBuilder::single_file(name, data.len() as u64)
        .piece_length(piece_len as u64)
        .pieces(pieces)
        .build()
        .unwrap()
        .metainfo
}

async fn wait_seeding(session: &Session, ih: protocol::InfoHash) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while session.status(ih).unwrap().state != TorrentState::Seeding {
        assert!(Instant::now() < deadline, "never seeding");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn charged() -> isize {
    CHARGED.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_peer_connection_holds_a_few_kib() {
    let _turn = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let metainfo = seed_file(dir.path(), "seed.bin", 4 << 20, 256 * 1024, 1);
    let session = Session::start(SessionConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: dir.path().to_path_buf(),
        max_peers_per_torrent: PEERS + 10,
        ..Default::default()
    })
    .await
    .unwrap();
    let ih = session.add(AddTorrent::metainfo(metainfo)).await.unwrap();
    wait_seeding(&session, ih).await;
    let to = session.local_addr();
    // One peer first, so whatever the first connection sets up once (the accept path's
    // tables, the torrent's peer maps) is not charged to the others.
    let mut peers = vec![idle_peer(2, to, ih.0).await];
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = charged();
    for i in 1..PEERS {
        peers.push(idle_peer(2 + i as u8, to, ih.0).await);
    }
    // Until the session has taken every one of them (and sent each its bitfield).
    let deadline = Instant::now() + Duration::from_secs(20);
    while (session.status(ih).unwrap().peers as usize) < PEERS {
        assert!(Instant::now() < deadline, "not every peer was taken");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_peer = (charged() - before) / (PEERS as isize - 1);
    eprintln!("an idle peer connection holds {per_peer} bytes");
    assert!(
        per_peer < 24 * 1024,
        "an idle peer connection holds {per_peer} bytes"
    );
    drop(peers);
    session.shutdown().await;
}

/// What one more seeding torrent costs a session with nobody connected: its task, channels,
/// status, picker, storage and announce state, as bench/scale.sh's 2,000 torrents are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_seeding_torrent_holds_a_few_kib() {
    const TORRENTS: usize = 100;
    let _turn = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let torrents: Vec<_> = (0..=TORRENTS)
        .map(|i| {
            seed_file(
                dir.path(),
                &format!("t{i}.bin"),
                64 * 1024,
                16 * 1024,
                i as u8,
            )
        })
        .collect();
    let session = Session::start(SessionConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: dir.path().to_path_buf(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut torrents = torrents.into_iter();
    // The first torrent sets up what every torrent shares (the disk pool, the session's maps).
    let first = session
        .add(AddTorrent::metainfo(torrents.next().unwrap()))
        .await
        .unwrap();
    wait_seeding(&session, first).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = charged();
    let mut hashes = Vec::new();
    for m in torrents {
        hashes.push(session.add(AddTorrent::metainfo(m)).await.unwrap());
    }
    for &ih in &hashes {
        wait_seeding(&session, ih).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_torrent = (charged() - before) / TORRENTS as isize;
    eprintln!("an idle seeding torrent holds {per_torrent} bytes");
    assert!(
        per_torrent < BOUND_PER_TORRENT,
        "an idle seeding torrent holds {per_torrent} bytes"
    );
    session.shutdown().await;
}

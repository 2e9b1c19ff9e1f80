//! BEP 6 allowed-fast against a scripted peer: as a seeder that chokes everyone we grant the
//! canonical set and serve only it (within a budget), and as a downloader we fetch exactly the
//! pieces a choking peer allows us, never asking for others.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::wire::{self, BlockRef, Extension, Handshake, Message, Reserved};
use protocol::{InfoHash, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::tests::{loopback_config, make_torrent, test_data, wait_for};
use crate::{AddTorrent, Session, TorrentState};

const PIECE: u32 = 32 * 1024;
const PIECES: u32 = 40;
const BLOCK: u32 = 16 * 1024;

fn fast_reserved() -> Reserved {
    Reserved::default().with(Extension::Fast)
}

fn handshake(ih: InfoHash) -> Vec<u8> {
    let mut out = Vec::new();
    Handshake {
        reserved: fast_reserved(),
        info_hash: ih,
        peer_id: PeerId(*b"-FK0001-fastfastfast"),
    }
    .encode(&mut out);
    out
}

/// A decoded message with its payload copied out, for assertions.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    AllowedFast(u32),
    Piece(u32, u32, Vec<u8>),
    Reject(BlockRef),
    Request(BlockRef),
    Unchoke,
    Other(u8),
}

/// Reads messages until `done` says so, or the deadline passes (then returns what came).
async fn read_until(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    limit: Duration,
    mut done: impl FnMut(&[Got]) -> bool,
) -> Vec<Got> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        while let Ok(Some((msg, used))) = wire::decode(buf, wire::DEFAULT_MAX_FRAME) {
            got.push(match msg {
                Message::AllowedFast(i) => Got::AllowedFast(i),
                Message::Piece { index, begin, data } => Got::Piece(index, begin, data.to_vec()),
                Message::RejectRequest(b) => Got::Reject(b),
                Message::Request(b) => Got::Request(b),
                Message::Unchoke => Got::Unchoke,
                other => Got::Other(other.id().unwrap_or(255)),
            });
            buf.drain(..used);
        }
        if done(&got) {
            return got;
        }
        match tokio::time::timeout_at(deadline, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return got,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_choking_seeder_grants_and_serves_only_the_allowed_fast_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data((PIECES * PIECE) as usize, 7);
    std::fs::write(dir.path().join("f.bin"), &data).unwrap();
    let meta = make_torrent("f.bin", &data, u64::from(PIECE));
    let ih = meta.info_hash;
    let mut config = loopback_config(dir.path());
    config.upload_slots = 0; // choke everyone
    let seeder = Session::start(config).await.unwrap();
    seeder.add(AddTorrent::metainfo(meta)).await.unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;

    let mut s = TcpStream::connect(seeder.local_addr()).await.unwrap();
    s.write_all(&handshake(ih)).await.unwrap();
    let mut hs = vec![0u8; Handshake::LEN];
    s.read_exact(&mut hs).await.unwrap();
    let mut out = Vec::new();
    Message::HaveNone.encode(&mut out);
    Message::Interested.encode(&mut out);
    s.write_all(&out).await.unwrap();

    let mut buf = Vec::new();
    let count = |g: &[Got]| {
        g.iter()
            .filter(|m| matches!(m, Got::AllowedFast(_)))
            .count()
    };
    let got = read_until(&mut s, &mut buf, Duration::from_secs(10), |g| {
        count(g) >= 10
    })
    .await;
    let granted: BTreeSet<u32> = got
        .iter()
        .filter_map(|m| match m {
            Got::AllowedFast(i) => Some(*i),
            _ => None,
        })
        .collect();
    let expected: BTreeSet<u32> =
        wire::allowed_fast_set("127.0.0.1".parse().unwrap(), &ih, PIECES, 10)
            .into_iter()
            .collect();
    assert_eq!(granted, expected, "the canonical set for 127.0.0.0/24");
    assert!(
        !got.contains(&Got::Unchoke),
        "no upload slots: never unchoked"
    );

    // One block of an allowed piece and one of a piece outside the set.
    let allowed = *expected.iter().next().unwrap();
    let other = (0..PIECES).find(|i| !expected.contains(i)).unwrap();
    let ask = |piece| BlockRef {
        piece,
        begin: BLOCK,
        length: BLOCK,
    };
    let mut out = Vec::new();
    Message::Request(ask(allowed)).encode(&mut out);
    Message::Request(ask(other)).encode(&mut out);
    s.write_all(&out).await.unwrap();
    let got = read_until(&mut s, &mut buf, Duration::from_secs(10), |g| {
        g.iter().any(|m| matches!(m, Got::Piece(..)))
            && g.iter().any(|m| matches!(m, Got::Reject(_)))
    })
    .await;
    let at = (allowed * PIECE + BLOCK) as usize;
    assert!(
        got.contains(&Got::Piece(
            allowed,
            BLOCK,
            data[at..at + BLOCK as usize].to_vec()
        )),
        "allowed piece served while choked: {got:?}"
    );
    assert!(got.contains(&Got::Reject(ask(other))), "{got:?}");

    // The budget: each allowed piece twice over (10 x 2 blocks x 2), then rejects.
    let budget = 10 * (PIECE / BLOCK) * 2;
    let extra = 5;
    let mut out = Vec::new();
    for _ in 0..(budget - 1 + extra) {
        Message::Request(ask(allowed)).encode(&mut out);
    }
    s.write_all(&out).await.unwrap();
    let got = read_until(&mut s, &mut buf, Duration::from_secs(20), |g| {
        g.len() as u32 >= budget - 1 + extra
    })
    .await;
    let pieces = got.iter().filter(|m| matches!(m, Got::Piece(..))).count() as u32;
    let rejects = got.iter().filter(|m| matches!(m, Got::Reject(_))).count() as u32;
    assert_eq!((pieces, rejects), (budget - 1, extra), "{got:?}");
    seeder.shutdown().await;
}

/// What the scripted choking seeder does.
struct Script {
    /// Pieces it allows us fast (indices out of range included, to test those).
    allowed: Vec<u32>,
    /// A piece it lacks at first and announces (`have`) once it served every other allowed
    /// piece.
    lacks: Option<u32>,
}

/// What the scripted seeder saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Request(BlockRef),
    SentHave(u32),
    /// We closed the connection.
    Closed,
}

/// A seeder that never unchokes, allows `script.allowed` fast, serves those, and records
/// every request it gets.
async fn choking_fake_seeder(
    ih: InfoHash,
    data: Arc<Vec<u8>>,
    mut script: Script,
) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let mut hs = vec![0u8; Handshake::LEN];
        if s.read_exact(&mut hs).await.is_err() {
            return;
        }
        let mut out = handshake(ih);
        let mut has = protocol::Bitfield::full(PIECES);
        if let Some(i) = script.lacks {
            has.clear(i);
        }
        Message::Bitfield(has.as_bytes()).encode(&mut out);
        for &i in &script.allowed {
            Message::AllowedFast(i).encode(&mut out);
        }
        if s.write_all(&out).await.is_err() {
            return;
        }
        // Blocks still to serve before announcing the lacking piece.
        let mut before_have = script
            .allowed
            .iter()
            .filter(|&&i| i < PIECES && Some(i) != script.lacks)
            .count() as u32
            * (PIECE / BLOCK);
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match tokio::time::timeout(Duration::from_secs(30), s.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => n,
                Ok(_) => {
                    seen.lock().unwrap().push(Seen::Closed);
                    return;
                }
                Err(_) => return,
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut reply = Vec::new();
            while let Ok(Some((msg, used))) = wire::decode(&buf, wire::DEFAULT_MAX_FRAME) {
                if let Message::Request(b) = msg {
                    seen.lock().unwrap().push(Seen::Request(b));
                    let at = (b.piece * PIECE + b.begin) as usize;
                    let block = data.get(at..at + b.length as usize);
                    match block {
                        Some(block) if script.allowed.contains(&b.piece) => {
                            Message::Piece {
                                index: b.piece,
                                begin: b.begin,
                                data: block,
                            }
                            .encode(&mut reply);
                            before_have = before_have.saturating_sub(1);
                            if before_have == 0 {
                                if let Some(i) = script.lacks.take() {
                                    Message::Have(i).encode(&mut reply);
                                    seen.lock().unwrap().push(Seen::SentHave(i));
                                }
                            }
                        }
                        _ => Message::RejectRequest(b).encode(&mut reply),
                    }
                }
                buf.drain(..used);
            }
            if !reply.is_empty() && s.write_all(&reply).await.is_err() {
                return;
            }
        }
    });
    (addr, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_choked_download_fetches_exactly_the_allowed_fast_pieces_the_peer_has() {
    let dir = tempfile::tempdir().unwrap();
    let data = Arc::new(test_data((PIECES * PIECE) as usize, 8));
    let meta = make_torrent("g.bin", &data, u64::from(PIECE));
    let ih = meta.info_hash;
    let allowed = vec![3, 17, 29];
    let script = Script {
        allowed: allowed.clone(),
        lacks: Some(29),
    };
    let (addr, log) = choking_fake_seeder(ih, data.clone(), script).await;

    let leecher = Session::start(loopback_config(dir.path())).await.unwrap();
    let mut add = AddTorrent::metainfo(meta);
    add.peers = vec![addr];
    leecher.add(add).await.unwrap();
    let want = u64::from(PIECE) * allowed.len() as u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while leecher.status(ih).unwrap().have_bytes < want {
        assert!(
            Instant::now() < deadline,
            "allowed pieces not fetched: {:?} {:?}",
            leecher.status(ih),
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nothing more comes, and nothing else was asked for.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(leecher.status(ih).unwrap().have_bytes, want);
    let log = log.lock().unwrap().clone();
    let asked: BTreeSet<u32> = log
        .iter()
        .filter_map(|e| match e {
            Seen::Request(b) => Some(b.piece),
            _ => None,
        })
        .collect();
    assert_eq!(asked, allowed.iter().copied().collect::<BTreeSet<u32>>());
    // Piece 29 was asked for only once the peer said it has it.
    let have_at = log.iter().position(|e| *e == Seen::SentHave(29)).unwrap();
    let first_29 = log
        .iter()
        .position(|e| matches!(e, Seen::Request(b) if b.piece == 29))
        .unwrap();
    assert!(first_29 > have_at, "{log:?}");
    leecher.shutdown().await;
    let on_disk = std::fs::read(dir.path().join("g.bin")).unwrap();
    for &i in &allowed {
        let r = (i * PIECE) as usize..((i + 1) * PIECE) as usize;
        assert!(on_disk[r.clone()] == data[r], "piece {i} differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_fast_index_out_of_range_drops_the_peer() {
    let dir = tempfile::tempdir().unwrap();
    let data = Arc::new(test_data((PIECES * PIECE) as usize, 9));
    let meta = make_torrent("h.bin", &data, u64::from(PIECE));
    let ih = meta.info_hash;
    let script = Script {
        allowed: vec![PIECES + 5],
        lacks: None,
    };
    let (addr, log) = choking_fake_seeder(ih, data, script).await;
    let leecher = Session::start(loopback_config(dir.path())).await.unwrap();
    let mut add = AddTorrent::metainfo(meta);
    add.peers = vec![addr];
    leecher.add(add).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.lock().unwrap().contains(&Seen::Closed) {
        assert!(Instant::now() < deadline, "the peer was not dropped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !log.lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Seen::Request(_))),
        "nothing requested from a choking peer that allowed nothing valid"
    );
    leecher.shutdown().await;
}

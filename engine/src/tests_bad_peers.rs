//! Hostile peers, scripted: each test runs an honest seeding engine plus a fake peer that
//! misbehaves in one way. The download must still complete byte-exact, and the fake peer must
//! be dropped (its connection closed by us).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use protocol::wire::{self, BlockRef, Handshake, Message, Reserved};
use protocol::{InfoHash, Metainfo, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::tests::{loopback_config, make_torrent, test_data, wait_for};
use crate::{AddTorrent, Session, SessionConfig, TorrentState};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Misbehaviour {
    CorruptBlocks,
    UnrequestedBlocks,
    OversizedFrame,
    WrongSizeBitfield,
    HaveOutOfRange,
    RequestsPiecesWeLack,
    Stall,
}

struct FakePeer {
    addr: SocketAddr,
    /// Set when our engine closed the connection.
    dropped: Arc<AtomicBool>,
    blocks_sent: Arc<AtomicU32>,
}

async fn spawn_fake_peer(
    ih: InfoHash,
    data: Arc<Vec<u8>>,
    piece_len: u32,
    how: Misbehaviour,
) -> FakePeer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let blocks_sent = Arc::new(AtomicU32::new(0));
    let (d, b) = (dropped.clone(), blocks_sent.clone());
    tokio::spawn(async move {
        // Serve connections one after another (the engine may redial before banning).
        while let Ok((stream, _)) = listener.accept().await {
            let closed = serve(stream, ih, &data, piece_len, how, &b).await;
            if closed {
                d.store(true, Ordering::SeqCst);
            }
        }
    });
    FakePeer {
        addr,
        dropped,
        blocks_sent,
    }
}

/// Runs one connection; returns true if the other side closed it.
async fn serve(
    mut s: TcpStream,
    ih: InfoHash,
    data: &[u8],
    piece_len: u32,
    how: Misbehaviour,
    sent: &AtomicU32,
) -> bool {
    let pieces = data.len().div_ceil(piece_len as usize) as u32;
    let mut buf = vec![0u8; Handshake::LEN];
    if s.read_exact(&mut buf).await.is_err() {
        return true;
    }
    let mut out = Vec::new();
    let peer_id = PeerId(*b"-FK0001-abcdefghijkl");
    Handshake {
        reserved: Reserved::default(),
        info_hash: ih,
        peer_id,
    }
    .encode(&mut out);
    let full = vec![0xFFu8; pieces.div_ceil(8) as usize];
    // Everything but the last piece: not a seed, so finishing the download does not close
    // the connection; only misbehaving can.
    let mut have = protocol::Bitfield::full(pieces);
    have.clear(pieces - 1);
    let bits = have.as_bytes().to_vec();
    match how {
        Misbehaviour::WrongSizeBitfield => {
            Message::Bitfield(&full[..full.len() - 1]).encode(&mut out)
        }
        Misbehaviour::RequestsPiecesWeLack => {
            Message::Bitfield(&vec![0; bits.len()]).encode(&mut out)
        }
        _ => Message::Bitfield(&bits).encode(&mut out),
    }
    Message::Unchoke.encode(&mut out);
    match how {
        Misbehaviour::HaveOutOfRange => Message::Have(pieces + 5).encode(&mut out),
        Misbehaviour::OversizedFrame => out.extend_from_slice(&(1u32 << 30).to_be_bytes()),
        Misbehaviour::UnrequestedBlocks => {
            for i in 0..200u32 {
                let piece = i % pieces;
                let len = (piece_len as usize)
                    .min(data.len() - piece as usize * piece_len as usize)
                    .min(16384);
                let at = piece as usize * piece_len as usize;
                Message::Piece {
                    index: piece,
                    begin: 0,
                    data: &data[at..at + len],
                }
                .encode(&mut out);
            }
        }
        Misbehaviour::RequestsPiecesWeLack => {
            Message::Interested.encode(&mut out);
            for i in 0..200u32 {
                Message::Request(BlockRef {
                    piece: i % pieces,
                    begin: 0,
                    length: 16384,
                })
                .encode(&mut out);
            }
        }
        _ => {}
    }
    if s.write_all(&out).await.is_err() {
        return true;
    }
    let mut inbuf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match tokio::time::timeout(Duration::from_secs(60), s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Err(_) => return false,
            Ok(Ok(n)) => n,
        };
        inbuf.extend_from_slice(&chunk[..n]);
        let mut reply = Vec::new();
        while let Ok(Some((msg, used))) = wire::decode(&inbuf, wire::DEFAULT_MAX_FRAME) {
            if let Message::Request(b) = msg {
                let at = b.piece as usize * piece_len as usize + b.begin as usize;
                if let Some(block) = data.get(at..at + b.length as usize) {
                    match how {
                        Misbehaviour::Stall => {}
                        Misbehaviour::CorruptBlocks => {
                            let junk: Vec<u8> = block.iter().map(|x| x ^ 0x5A).collect();
                            Message::Piece {
                                index: b.piece,
                                begin: b.begin,
                                data: &junk,
                            }
                            .encode(&mut reply);
                            sent.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => {
                            Message::Piece {
                                index: b.piece,
                                begin: b.begin,
                                data: block,
                            }
                            .encode(&mut reply);
                            sent.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }
            inbuf.drain(..used);
        }
        if !reply.is_empty() && s.write_all(&reply).await.is_err() {
            return true;
        }
    }
}

/// One honest seeder and one fake peer; the leecher knows both (the fake one first).
async fn run_against(how: Misbehaviour) -> (bool, u32) {
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let piece_len = 32 * 1024;
    let data = Arc::new(test_data(40 * piece_len as usize + 999, 3));
    std::fs::write(seed_dir.path().join("x.bin"), &*data).unwrap();
    let metainfo: Metainfo = make_torrent("x.bin", &data, u64::from(piece_len));
    let ih = metainfo.info_hash;
    let fake = spawn_fake_peer(ih, data.clone(), piece_len, how).await;

    let seeder = Session::start(loopback_config(seed_dir.path()))
        .await
        .unwrap();
    seeder
        .add(AddTorrent::metainfo(metainfo.clone()))
        .await
        .unwrap();
    wait_for(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;

    // TCP only: the liar listens on TCP alone, and a first uTP attempt (1 s) would cost it
    // the head start below.
    let leecher = Session::start(SessionConfig {
        utp: false,
        ..loopback_config(leech_dir.path())
    })
    .await
    .unwrap();
    let mut add = AddTorrent::metainfo(metainfo);
    add.peers = vec![fake.addr];
    leecher.add(add).await.unwrap();
    // Give the liar a head start so it gets requests, then add the honest seeder.
    tokio::time::sleep(Duration::from_millis(100)).await;
    leecher.add_peers(ih, vec![seeder.local_addr()]).unwrap();
    wait_for(&leecher, ih, TorrentState::Seeding, Duration::from_secs(40)).await;
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(if how == Misbehaviour::Stall { 0 } else { 10 });
    while !fake.dropped.load(Ordering::SeqCst) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    leecher.shutdown().await;
    seeder.shutdown().await;
    assert!(
        std::fs::read(leech_dir.path().join("x.bin")).unwrap() == *data,
        "{how:?}: bytes differ"
    );
    (
        fake.dropped.load(Ordering::SeqCst),
        fake.blocks_sent.load(Ordering::SeqCst),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_blocks_are_refetched_and_the_liar_is_banned() {
    let (dropped, sent) = run_against(Misbehaviour::CorruptBlocks).await;
    assert!(sent > 0, "the liar got requests");
    assert!(dropped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrequested_blocks_get_the_peer_dropped() {
    assert!(run_against(Misbehaviour::UnrequestedBlocks).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_drops_the_peer() {
    assert!(run_against(Misbehaviour::OversizedFrame).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_size_bitfield_drops_the_peer() {
    assert!(run_against(Misbehaviour::WrongSizeBitfield).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn have_out_of_range_drops_the_peer() {
    assert!(run_against(Misbehaviour::HaveOutOfRange).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_pieces_we_lack_get_the_peer_dropped() {
    assert!(run_against(Misbehaviour::RequestsPiecesWeLack).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalling_peer_does_not_hold_up_the_download() {
    // Endgame asks the honest seeder for what the staller sits on, so the download finishes
    // well before the stall timeout would have dropped the staller.
    let started = std::time::Instant::now();
    run_against(Misbehaviour::Stall).await;
    assert!(started.elapsed() < crate::torrent::STALL_TIMEOUT);
}

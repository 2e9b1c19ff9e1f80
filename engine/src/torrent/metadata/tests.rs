//! Magnet links and PEX against engines and scripted fake peers on loopback: metadata fetched
//! and verified, lying and oversized metadata refused, malformed PEX survived, PEX sent.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::wire::{
    self, ExtendedHandshake, Extension, Handshake, Message, MetadataMessage, PexFlags, PexMessage,
    Reserved, UT_METADATA, UT_PEX,
};
use protocol::{InfoHash, Magnet, Metainfo, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::tests::{loopback_config, make_torrent, test_data, wait_for};
use crate::{AddTorrent, Session, SessionConfig, TorrentState};

const LIMIT: Duration = Duration::from_secs(20);

fn magnet_for(m: &Metainfo, peers: &[SocketAddr]) -> Magnet {
    let mut magnet = Magnet::from_metainfo(m);
    magnet.display_name = Some("shown-until-metadata".into());
    magnet.peers = peers.iter().map(|p| p.to_string()).collect();
    magnet
}

async fn seeding_engine(dir: &std::path::Path, m: &Metainfo, data: &[u8]) -> Session {
    std::fs::write(dir.join(&m.info.name), data).unwrap();
    let seed = Session::start(loopback_config(dir)).await.unwrap();
    let ih = seed.add(AddTorrent::metainfo(m.clone())).await.unwrap();
    wait_for(&seed, ih, TorrentState::Seeding, LIMIT).await;
    seed
}

#[tokio::test]
async fn a_magnet_downloads_from_an_engine_seed_and_is_remembered() {
    let (seed_dir, leech_dir, state) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let data = test_data(300_000, 3);
    // Many pieces, so the info dictionary spans several 16 KiB metadata pieces.
    let m = make_torrent("m.bin", &data, 16 * 1024);
    let seed = seeding_engine(seed_dir.path(), &m, &data).await;
    let config = SessionConfig {
        state_dir: Some(state.path().to_path_buf()),
        ..loopback_config(leech_dir.path())
    };
    let leech = Session::start(config.clone()).await.unwrap();
    let ih = leech
        .add(AddTorrent::magnet(magnet_for(&m, &[seed.local_addr()])))
        .await
        .unwrap();
    assert_eq!(ih, m.info_hash);
    let early = leech.status(ih).unwrap();
    assert_eq!(early.name, "shown-until-metadata");
    wait_for(&leech, ih, TorrentState::Seeding, LIMIT).await;
    assert_eq!(leech.status(ih).unwrap().name, "m.bin");
    assert!(std::fs::read(leech_dir.path().join("m.bin")).unwrap() == data);
    let cached = std::fs::read(state.path().join(format!("{}.torrent", ih.to_hex()))).unwrap();
    assert_eq!(
        Metainfo::from_bytes(&cached).unwrap().info_bytes(),
        m.info_bytes()
    );
    leech.shutdown().await;
    seed.shutdown().await;

    // Added again with no peer at all: the saved .torrent makes it a torrent at once.
    let again = Session::start(config).await.unwrap();
    again
        .add(AddTorrent::magnet(magnet_for(&m, &[])))
        .await
        .unwrap();
    wait_for(&again, ih, TorrentState::Seeding, LIMIT).await;
    again.shutdown().await;
}

/// A scripted peer's side of one connection.
struct Fake {
    s: TcpStream,
    buf: BytesMut,
}

impl Fake {
    /// Dials `addr` with the extension protocol bit set and completes the handshake.
    async fn dial(addr: SocketAddr, ih: InfoHash, id: u8) -> Fake {
        let s = TcpStream::connect(addr).await.unwrap();
        Fake::handshake(s, ih, id).await
    }

    async fn handshake(mut s: TcpStream, ih: InfoHash, id: u8) -> Fake {
        let mut out = Vec::new();
        Handshake {
            reserved: Reserved::default().with(Extension::ExtensionProtocol),
            info_hash: ih,
            peer_id: PeerId([id; 20]),
        }
        .encode(&mut out);
        s.write_all(&out).await.unwrap();
        let mut hs = vec![0u8; Handshake::LEN];
        s.read_exact(&mut hs).await.unwrap();
        Fake {
            s,
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, msg: Message<'_>) {
        let mut out = Vec::new();
        msg.encode(&mut out);
        let _ = self.s.write_all(&out).await;
    }

    async fn send_ext_handshake(&mut self, metadata_size: Option<u64>, port: Option<u16>) {
        let mut hs = ExtendedHandshake {
            metadata_size,
            p: port,
            ..Default::default()
        };
        hs.m.insert(UT_METADATA.into(), 3);
        hs.m.insert(UT_PEX.into(), 4);
        let mut payload = Vec::new();
        hs.encode(&mut payload);
        self.send(Message::Extended {
            id: 0,
            payload: &payload,
        })
        .await;
    }

    /// The next extended message (id, payload); `None` once the other side closed (or after
    /// `limit`).
    async fn next_extended(&mut self, limit: Duration) -> Option<(u8, Vec<u8>)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            while let Ok(Some((msg, used))) = wire::decode(&self.buf, wire::DEFAULT_MAX_FRAME) {
                let found = match msg {
                    Message::Extended { id, payload } => Some((id, payload.to_vec())),
                    _ => None,
                };
                let _ = self.buf.split_to(used);
                if found.is_some() {
                    return found;
                }
            }
            match tokio::time::timeout_at(deadline, self.s.read_buf(&mut self.buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
        }
    }

    /// Reads until the other side closes; true if it did within `limit`.
    async fn closed_within(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.s.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => self.buf.clear(),
                Err(_) => return false,
            }
        }
    }
}

/// A fake peer listening for the engine's dial that serves `info` as metadata (with
/// `announced` as its size); returns its address and a channel that reports when it was
/// disconnected.
async fn fake_metadata_server(
    ih: InfoHash,
    info: Vec<u8>,
    announced: u64,
) -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<&'static str>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let mut fake = Fake::handshake(s, ih, 9).await;
            fake.send_ext_handshake(Some(announced), None).await;
            loop {
                let Some((id, payload)) = fake.next_extended(LIMIT).await else {
                    let _ = tx.send("closed");
                    break;
                };
                if id != 3 {
                    continue;
                }
                let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(&payload)
                else {
                    continue;
                };
                let _ = tx.send("request");
                let mut reply = Vec::new();
                wire::metadata_reply(&info, piece).encode(&mut reply);
                // The engine advertised ut_metadata as 1 (engine/src/torrent/ext.rs).
                fake.send(Message::Extended {
                    id: 1,
                    payload: &reply,
                })
                .await;
            }
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn metadata_that_does_not_hash_to_the_info_hash_is_refused_and_others_are_tried() {
    let (seed_dir, leech_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = test_data(100_000, 4);
    let m = make_torrent("h.bin", &data, 16 * 1024);
    // Same size as the real info dictionary, different bytes.
    let mut forged = m.info_bytes().to_vec();
    let last = forged.len() - 2;
    forged[last] ^= 1;
    let (liar, mut events) =
        fake_metadata_server(m.info_hash, forged.clone(), forged.len() as u64).await;
    let leech = Session::start(loopback_config(leech_dir.path()))
        .await
        .unwrap();
    let ih = leech
        .add(AddTorrent::magnet(magnet_for(&m, &[liar])))
        .await
        .unwrap();
    // The liar is asked, answers, and is dropped.
    let deadline = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    while !seen.contains(&"closed") {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(e)) => seen.push(e),
            _ => panic!("the liar was not dropped: {seen:?}"),
        }
    }
    assert!(seen.contains(&"request"));
    assert_eq!(leech.status(ih).unwrap().state, TorrentState::Connecting);
    // An honest seed comes along: the download completes from it.
    let seed = seeding_engine(seed_dir.path(), &m, &data).await;
    leech.add_peers(ih, vec![seed.local_addr()]).unwrap();
    wait_for(&leech, ih, TorrentState::Seeding, LIMIT).await;
    assert!(std::fs::read(leech_dir.path().join("h.bin")).unwrap() == data);
    // The liar is not dialed again.
    assert!(tokio::time::timeout(Duration::from_secs(1), events.recv())
        .await
        .is_err());
    leech.shutdown().await;
    seed.shutdown().await;
}

#[tokio::test]
async fn an_oversized_metadata_size_is_refused_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let m = make_torrent("o.bin", &test_data(1000, 5), 16 * 1024);
    let huge = wire::MAX_METADATA_SIZE + 1;
    let (liar, mut events) = fake_metadata_server(m.info_hash, vec![0; 10], huge).await;
    let leech = Session::start(loopback_config(dir.path())).await.unwrap();
    let ih = leech
        .add(AddTorrent::magnet(magnet_for(&m, &[liar])))
        .await
        .unwrap();
    let first = tokio::time::timeout(LIMIT, events.recv()).await.unwrap();
    assert_eq!(first, Some("closed"), "dropped without being asked");
    assert_eq!(leech.status(ih).unwrap().state, TorrentState::Connecting);
    leech.shutdown().await;
}

#[tokio::test]
async fn pex_is_sent_learned_from_and_malformed_pex_is_survived() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(50_000, 6);
    let m = make_torrent("p.bin", &data, 16 * 1024);
    let seed = seeding_engine(dir.path(), &m, &data).await;
    let ih = m.info_hash;

    // Two fake peers dial the seed; the second says where it listens.
    let mut a = Fake::dial(seed.local_addr(), ih, 1).await;
    a.send_ext_handshake(None, None).await;
    let mut b = Fake::dial(seed.local_addr(), ih, 2).await;
    b.send_ext_handshake(None, Some(7777)).await;
    // `a` hears of `b` (at its listen port) in a PEX message.
    let deadline = tokio::time::Instant::now() + LIMIT;
    let pex = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let (id, payload) = a.next_extended(left).await.expect("a PEX message");
        if id == 4 {
            break PexMessage::decode(&payload).unwrap();
        }
    };
    assert_eq!(
        pex.added,
        vec![("127.0.0.1:7777".parse().unwrap(), PexFlags(0))]
    );

    // Malformed PEX costs `a` nothing at first...
    a.send(Message::Extended {
        id: 2,
        payload: b"d5:added5:abcdee",
    })
    .await;
    // ... a valid one, much later in BEP 11 terms, names a peer the seed then dials. (The
    // engine ignores PEX messages closer together than 20 s, so this one is the first.)
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let named = listener.local_addr().unwrap();
    let mut payload = Vec::new();
    PexMessage {
        added: vec![
            (named, PexFlags(0)),
            ("0.0.0.0:1".parse().unwrap(), PexFlags(0)),
        ],
        dropped: vec![],
    }
    .encode(&mut payload);
    b.send(Message::Extended {
        id: 2,
        payload: &payload,
    })
    .await;
    let dialed = tokio::time::timeout(LIMIT, listener.accept()).await;
    assert!(dialed.is_ok(), "the seed dials the peer PEX named");
    // A stream of malformed PEX gets `a` disconnected.
    for _ in 0..40 {
        a.send(Message::Extended {
            id: 2,
            payload: b"not bencode",
        })
        .await;
    }
    assert!(a.closed_within(LIMIT).await, "a PEX flooder is dropped");
    seed.shutdown().await;
}

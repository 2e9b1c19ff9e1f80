//! The LAN rule for PEX, end to end: a scripted peer tells a downloading session, in a `ut_pex`
//! message, of a peer on loopback. A torrent from a public web page must not dial it unless the
//! user allows LAN addresses for web torrents; a torrent from the terminal, or one allowed, does
//! (the control that shows the scripted message works at all).

use std::net::SocketAddr;
use std::time::Duration;

use protocol::wire::{
    self, ExtendedHandshake, Handshake, Message, PexFlags, PexMessage, Reserved, UT_PEX,
};
use protocol::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::tests::{loopback_config, make_torrent, test_data};
use crate::{AddTorrent, Session, TorrentState};

/// How long the named peer waits to be dialled. A session dials a new candidate at once; a
/// refusal can only be shown by waiting, so the positive control uses the same wait.
const DIAL_WAIT: Duration = Duration::from_secs(5);

/// Reads one length-prefixed frame (keep-alives skipped), within a deadline.
async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    loop {
        let mut len = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut len))
            .await
            .expect("the session sends its frames")
            .unwrap();
        let len = u32::from_be_bytes(len) as usize;
        assert!(len <= 1 << 20, "frame of {len} bytes");
        if len == 0 {
            continue;
        }
        let mut frame = vec![0; len];
        s.read_exact(&mut frame).await.unwrap();
        return frame;
    }
}

/// Adds a torrent (from `source_url`, with `allow_lan`), has a scripted peer name a loopback
/// listener in a PEX message, and says whether the session dialled that listener.
async fn pex_named_peer_is_dialled(source_url: Option<&str>, allow_lan: bool) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let data = test_data(64 * 1024, 8);
    let meta = make_torrent("p.bin", &data, 16 * 1024);
    let session = Session::start(loopback_config(dir.path())).await.unwrap();
    let mut add = AddTorrent::metainfo(meta.clone());
    add.source_url = source_url.map(str::to_string);
    add.allow_lan = allow_lan;
    session.add(add).await.unwrap();
    // Peers are taken once the (instant) check of the empty download is over.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while session.status(meta.info_hash).unwrap().state == TorrentState::Checking {
        assert!(std::time::Instant::now() < deadline, "still checking");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let named = TcpListener::bind("127.0.0.1:0").await.unwrap();

    // The scripted peer dials in (incoming peers are not subject to the rule: it is about
    // where *we* send packets).
    let mut s = TcpStream::connect(session.local_addr()).await.unwrap();
    let mut out = Vec::new();
    Handshake {
        reserved: Reserved([0; 8]).with(wire::Extension::ExtensionProtocol),
        info_hash: meta.info_hash,
        peer_id: PeerId::generate(&mut rand::rng()),
    }
    .encode(&mut out);
    let mut hs = ExtendedHandshake::default();
    hs.m.insert(UT_PEX.into(), 7);
    let mut payload = Vec::new();
    hs.encode(&mut payload);
    Message::Extended {
        id: 0,
        payload: &payload,
    }
    .encode(&mut out);
    s.write_all(&out).await.unwrap();
    let mut theirs = [0u8; Handshake::LEN];
    s.read_exact(&mut theirs).await.unwrap();
    // Their ut_pex id comes in their extended handshake.
    let their_pex = loop {
        let frame = read_frame(&mut s).await;
        if let Ok(Message::Extended { id: 0, payload }) = wire::decode_frame(&frame) {
            break ExtendedHandshake::decode(payload)
                .unwrap()
                .id_of(UT_PEX)
                .expect("the session speaks ut_pex");
        }
    };
    let pex = PexMessage {
        added: vec![(named.local_addr().unwrap(), PexFlags(PexFlags::SEED))],
        dropped: Vec::new(),
    };
    let mut payload = Vec::new();
    pex.encode(&mut payload);
    let mut frame = Vec::new();
    Message::Extended {
        id: their_pex,
        payload: &payload,
    }
    .encode(&mut frame);
    s.write_all(&frame).await.unwrap();

    let dialled = tokio::time::timeout(DIAL_WAIT, named.accept())
        .await
        .is_ok();
    // The scripted peer was still connected all along (not dropped for its message).
    let still_there = s.write_all(&[0, 0, 0, 0]).await.is_ok();
    assert!(still_there, "the scripted peer was dropped");
    session.shutdown().await;
    dialled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_pages_torrent_does_not_dial_lan_peers_from_pex() {
    let web = Some("https://example.com/files/p.torrent");
    assert!(
        !pex_named_peer_is_dialled(web, false).await,
        "a public page's torrent dialled a loopback peer it learned by PEX"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lan_peers_from_pex_are_dialled_when_allowed_or_local() {
    let web = Some("https://example.com/files/p.torrent");
    assert!(pex_named_peer_is_dialled(web, true).await, "allow_lan");
    assert!(
        pex_named_peer_is_dialled(None, false).await,
        "from the terminal"
    );
    let lan_page = Some("http://192.168.1.10/p.torrent");
    assert!(
        pex_named_peer_is_dialled(lan_page, false).await,
        "from a LAN page"
    );
}

/// The address the rule is about is a loopback one: shown here so the test cannot silently
/// turn into one about public addresses.
#[test]
fn the_named_peer_is_local() {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    assert!(protocol::lan::is_local(addr.ip()));
}

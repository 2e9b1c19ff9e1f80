//! A magnet added again when its metadata is cached from an earlier fetch: the link's own
//! trackers (`tr`) and peers (`x.pe`) are used, not only what the cached `.torrent` knew.

use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::tests::loopback_config;
use crate::{AddTorrent, Session, SessionConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_magnet_uses_the_links_tracker_and_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // The cache an earlier `x.pe`-only magnet left: a .torrent without trackers.
    let data = vec![9u8; 100_000];
    let pieces = data.chunks(16384).map(|c| Sha1::digest(c).into()).collect();
    let built = protocol::MetainfoBuilder::single_file("m.bin", data.len() as u64)
        .piece_length(16384)
        .pieces(pieces)
        .build()
        .unwrap();
    let ih = built.metainfo.info_hash;
    std::fs::write(state.join(format!("{}.torrent", ih.to_hex())), &built.bytes).unwrap();

    let tracker = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let link = format!(
        "magnet:?xt=urn:btih:{}&tr=http%3A%2F%2F{}%2Fannounce&x.pe={}",
        ih.to_hex(),
        tracker.local_addr().unwrap(),
        peer.local_addr().unwrap()
    );
    let session = Session::start(SessionConfig {
        state_dir: Some(state.clone()),
        ..loopback_config(tmp.path())
    })
    .await
    .unwrap();
    let magnet = protocol::Magnet::parse(&link).unwrap();
    session.add(AddTorrent::magnet(magnet)).await.unwrap();

    let announced = async {
        let (mut conn, _) = tracker.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = conn.read(&mut buf).await.unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let body = b"d8:intervali1800e5:peers0:e";
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(head.as_bytes()).await;
        let _ = conn.write_all(body).await;
        request
    };
    let dialled = async { peer.accept().await.unwrap() };
    let (request, _) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(announced, dialled)
    })
    .await
    .expect("the link's tracker is announced to and its x.pe peer dialled");
    assert!(request.starts_with("GET /announce?"), "{request}");
    session.shutdown().await;
}

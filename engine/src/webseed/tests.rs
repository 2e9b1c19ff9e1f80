//! The fetcher over HTTPS: the shared client's rustls setup serves web seeds too, with
//! certificates checked. (Plain HTTP, misbehaving servers and the actor are tested end to end in
//! `tests/tests/webseed.rs`.)

use std::sync::Arc;
use std::time::Duration;

use protocol::{Lengths, Metainfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::context::{FetchContext, SeedCounters, WebSeedEvent};
use super::fetch;
use crate::http::tests::{test_tls_acceptor, TEST_CERT};
use crate::ratelimit::RateLimiter;

/// An HTTPS server on 127.0.0.1 with the self-signed test certificate, answering one
/// `Range: bytes=a-b` GET per connection from `data`.
async fn https_server(data: Arc<Vec<u8>>) -> String {
    let acceptor = test_tls_acceptor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/files/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, data) = (acceptor.clone(), data.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return; // the client refused our certificate
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                assert!(head.starts_with("get /files/f.bin "), "{head}");
                let range = head
                    .lines()
                    .find_map(|l| l.strip_prefix("range: bytes="))
                    .and_then(|r| r.trim().split_once('-'))
                    .map(|(a, b)| (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()))
                    .unwrap();
                let body = &data[range.0..=range.1];
                let reply = format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\n\
                     Content-Range: bytes {}-{}/{}\r\nConnection: close\r\n\r\n",
                    body.len(),
                    range.0,
                    range.1,
                    data.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

/// A single-file torrent `f.bin` of `len` bytes in 16 KiB pieces (hashes unused here).
fn metainfo(len: usize) -> Metainfo {
    let pieces = len.div_ceil(16384);
    let mut t =
        format!("d4:infod6:lengthi{len}e4:name5:f.bin12:piece lengthi16384e6:pieces").into_bytes();
    t.extend_from_slice(format!("{}:", pieces * 20).as_bytes());
    t.extend(std::iter::repeat_n(b'x', pieces * 20));
    t.extend_from_slice(b"ee");
    Metainfo::from_bytes(&t).unwrap()
}

async fn fetch_all(
    url: &str,
    roots: &[Vec<u8>],
    meta: Arc<Metainfo>,
) -> (Vec<Vec<u8>>, Result<(), String>) {
    let info = &meta.info;
    let lengths = Lengths::new(info.total_length, info.piece_length, info.pieces.len()).unwrap();
    let (tx, mut rx) = mpsc::channel(4);
    let ctx = FetchContext {
        client: crate::http::Client::new(Duration::from_secs(5), Default::default(), roots, true),
        metainfo: meta.clone(),
        lengths,
        down_limit: Arc::new(RateLimiter::new(None)),
        backlog: Arc::default(),
        events: tx,
    };
    let pieces = lengths.pieces().collect();
    let counters = Arc::new(SeedCounters::default());
    tokio::spawn(fetch::run(ctx, 0, 1, url.to_owned(), pieces, counters));
    let mut got = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the fetch ends")
            .unwrap();
        match ev {
            WebSeedEvent::Block { block, data, .. } => {
                // One block per 16 KiB piece here.
                assert_eq!(block.piece.get() as usize, got.len(), "blocks in order");
                assert_eq!(block.begin, 0);
                got.push(data.to_vec());
            }
            WebSeedEvent::Done { result, .. } => {
                return (got, result.map_err(|e| e.to_string()));
            }
        }
    }
}

#[tokio::test]
async fn https_web_seeds_are_fetched_and_their_certificates_checked() {
    let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let data = Arc::new(data);
    let url = https_server(data.clone()).await;
    let meta = Arc::new(metainfo(data.len()));

    let (pieces, result) = fetch_all(&url, &[TEST_CERT.to_vec()], meta.clone()).await;
    assert_eq!(result, Ok(()));
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces.concat(), *data, "byte-exact, cut into pieces");

    // Without the test root the self-signed certificate is refused, and nothing is delivered.
    let (pieces, result) = fetch_all(&url, &[], meta).await;
    assert!(pieces.is_empty());
    let err = result.unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

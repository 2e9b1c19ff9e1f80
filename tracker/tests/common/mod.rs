//! What the tracker's integration tests share: bttrack in-process on port 0 and raw requests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bttrack::Config;
use protocol::tracker::{AnnounceRequest, AnnounceResponse, Event};
use protocol::{InfoHash, MetainfoBuilder, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Running {
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub async fn start(config: Config) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let udp = UdpSocket::bind(addr).await.unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(bttrack::run(listener, udp, config, async {
            let _ = rx.await;
        }));
        Running {
            addr,
            stop: Some(tx),
            task,
        }
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }

    /// One request on a fresh connection: (status, headers, body).
    pub async fn raw(&self, request: &[u8]) -> (u16, String, Vec<u8>) {
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
            .await
            .expect("tracker answers promptly")
            .unwrap();
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response head");
        let head = String::from_utf8_lossy(&buf[..split]).to_string();
        let status = head[9..12].parse().unwrap();
        (status, head.to_ascii_lowercase(), buf[split + 4..].to_vec())
    }

    pub async fn get(&self, target: &str) -> (u16, String, Vec<u8>) {
        self.raw(
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
    }

    pub async fn put(&self, target: &str, headers: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        let mut r = format!(
            "PUT {target} HTTP/1.1\r\nHost: tracker.example:8080\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        self.raw(&r).await
    }

    pub async fn announce(&self, req: &AnnounceRequest) -> AnnounceResponse {
        let (status, _, body) = self.get(&format!("/announce?{}", req.to_query())).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        AnnounceResponse::decode(&body).unwrap()
    }
}

pub fn open_config() -> Config {
    Config {
        open: true,
        ..Config::default()
    }
}

pub fn req(h: u8, port: u16, left: u64, event: Event) -> AnnounceRequest {
    let mut id = *b"-XX0000-000000000000";
    id[12..14].copy_from_slice(&port.to_be_bytes());
    let mut r = AnnounceRequest::new(InfoHash([h; 20]), PeerId(id), port);
    r.left = left;
    r.event = event;
    r
}

pub fn torrent(name: &str, content: &[u8]) -> Vec<u8> {
    use sha1::Digest;
    let pieces = content
        .chunks(16384)
        .map(|c| sha1::Sha1::digest(c).into())
        .collect();
    MetainfoBuilder::single_file(name, content.len() as u64)
        .piece_length(16384)
        .pieces(pieces)
        .announce_tiers(vec![vec!["http://127.0.0.1:1/announce".into()]])
        .build()
        .unwrap()
        .bytes
}

//! The UDP tracker answers datagrams by the batch (recvmmsg/sendmmsg): several clients sending
//! bursts without waiting, garbage mixed in, each get exactly their own replies, and every
//! announce lands in the swarm.

use std::collections::HashSet;
use std::time::Duration;

use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::Event;
use protocol::{InfoHash, PeerId};
use tokio::net::UdpSocket;

mod common;
use common::{open_config, Running};

const CLIENTS: usize = 4;
const WAVES: u32 = 4;
const PER_WAVE: u32 = 16;

async fn recv(c: &UdpSocket) -> Response {
    let mut buf = [0u8; 2048];
    let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
        .await
        .expect("a reply within 5 s")
        .unwrap();
    Response::decode(&buf[..n], false).unwrap()
}

fn announce(connection_id: u64, transaction_id: u32, port: u16) -> Vec<u8> {
    let mut out = Vec::new();
    Request::Announce(UdpAnnounce {
        connection_id,
        transaction_id,
        info_hash: InfoHash([9; 20]),
        peer_id: PeerId([port as u8; 20]),
        downloaded: 0,
        left: 1,
        uploaded: 0,
        event: Event::Started,
        ip: std::net::Ipv4Addr::UNSPECIFIED,
        key: 0,
        num_want: 5,
        port,
    })
    .encode(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_from_several_clients_each_get_their_own_replies() {
    let t = Running::start(open_config()).await;
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.connect(t.addr).await.unwrap();
        let mut out = Vec::new();
        Request::Connect {
            transaction_id: i as u32,
        }
        .encode(&mut out);
        c.send(&out).await.unwrap();
        let Response::Connect { connection_id, .. } = recv(&c).await else {
            panic!("connect reply expected");
        };
        clients.push((c, connection_id));
    }
    let mut ports = HashSet::new();
    for wave in 0..WAVES {
        // Every client sends its whole wave before anyone reads: the tracker finds them queued.
        for (i, (c, cid)) in clients.iter().enumerate() {
            for k in 0..PER_WAVE {
                let port = 10_000 + (i as u32 * 1000 + wave * PER_WAVE + k) as u16;
                ports.insert(port);
                c.send(&announce(*cid, port.into(), port)).await.unwrap();
                if k % 5 == 0 {
                    // Garbage gets no reply and costs the others nothing.
                    c.send(b"\x00\x01garbage").await.unwrap();
                }
            }
        }
        for (i, (c, _)) in clients.iter().enumerate() {
            let mut got = HashSet::new();
            for _ in 0..PER_WAVE {
                match recv(c).await {
                    Response::Announce { transaction_id, .. } => {
                        let port = transaction_id as u16;
                        assert_eq!((port - 10_000) as usize / 1000, i, "another client's reply");
                        assert!(got.insert(transaction_id), "a reply came twice");
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    // Nothing more is on its way (no reply to garbage), and the swarm holds every announcer.
    let mut buf = [0u8; 64];
    let extra = tokio::time::timeout(Duration::from_millis(300), clients[0].0.recv(&mut buf));
    assert!(extra.await.is_err(), "no reply to garbage");
    let mut out = Vec::new();
    Request::Scrape {
        connection_id: clients[0].1,
        transaction_id: 99,
        info_hashes: vec![InfoHash([9; 20])],
    }
    .encode(&mut out);
    clients[0].0.send(&out).await.unwrap();
    match recv(&clients[0].0).await {
        Response::Scrape { stats, .. } => {
            assert_eq!(stats[0].incomplete as usize, ports.len());
        }
        other => panic!("{other:?}"),
    }
    t.stop().await;
}

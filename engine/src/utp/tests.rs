use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 131 + i / 4093) as u8).collect()
}

#[tokio::test]
async fn a_stream_carries_bytes_both_ways_and_ends() {
    let (a, _a_in) = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (b, mut b_in) = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let to_b = b.local_addr().unwrap();
    let sent = data(8 << 20);
    let back = data(300_000);
    let (dialed, accepted) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(5), a.connect(to_b)),
        b_in.recv()
    );
    let mut dialed = dialed.unwrap().unwrap();
    let mut accepted = accepted.unwrap();
    assert_eq!(accepted.peer_addr(), a.local_addr().unwrap());
    let s2 = sent.clone();
    let writer = tokio::spawn(async move {
        dialed.write_all(&s2).await.unwrap();
        dialed.shutdown().await.unwrap();
        let mut got = Vec::new();
        dialed.read_to_end(&mut got).await.unwrap();
        got
    });
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), accepted.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert!(got == sent, "got {} of {} bytes", got.len(), sent.len());
    accepted.write_all(&back).await.unwrap();
    accepted.shutdown().await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .unwrap()
        .unwrap();
    assert!(echoed == back);
    drop(accepted);
    // Both sides forget the connection once the FINs are through.
    for _ in 0..100 {
        if a.connections() == 0 && b.connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!((a.connections(), b.connections()), (0, 0));
}

#[tokio::test]
async fn a_dial_to_a_silent_port_fails_within_seconds() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a, _in) = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let r = a.connect(silent.local_addr().unwrap()).await;
    assert!(r.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(a.connections(), 0);
}

#[tokio::test]
async fn a_syn_flood_takes_a_bounded_number_of_slots() {
    let (b, _b_in) = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let to = b.local_addr().unwrap();
    let flood = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for id in 0..2000u16 {
        let mut syn = Vec::new();
        protocol::utp::Header {
            ty: PacketType::Syn,
            conn_id: id.wrapping_mul(2),
            timestamp_us: 0,
            timestamp_diff_us: 0,
            wnd_size: 1 << 20,
            seq_nr: 1,
            ack_nr: 0,
            sack: None,
        }
        .encode(&mut syn);
        flood.send_to(&syn, to).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = b.connections();
    assert!(n > 0 && n <= MAX_PER_IP, "{n} connections");
}

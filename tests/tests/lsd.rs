//! Local service discovery (BEP 14) for real: two engines on loopback find each other only by
//! their multicast announces, malformed datagrams on the group are shrugged off, a forged
//! announce from a third party is acted on, and private torrents are never announced.
//!
//! The group is BEP 14's address on a free port, joined and sent on the loopback interface
//! (with TTL 0 for the test's own probe), so nothing leaves this host. Where the kernel refuses
//! multicast on loopback, each test prints why and returns without testing (the codec is still
//! covered by `protocol::lsd`'s tests).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use engine::{AddTorrent, LsdConfig, Session, SessionConfig, TorrentState};
use protocol::lsd::LsdAnnounce;
use protocol::{InfoHash, Metainfo, MetainfoBuilder};

const GROUP: Ipv4Addr = Ipv4Addr::new(239, 192, 152, 143);

/// A free UDP port number for this test's group.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A socket joined to the group on loopback, sending there with TTL 0 (never off this host).
fn group_socket(port: u16) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.join_multicast_v4(&GROUP, &Ipv4Addr::LOCALHOST)?;
    s.bind(&SocketAddr::V4(SocketAddrV4::new(GROUP, port)).into())?;
    s.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)?;
    s.set_multicast_ttl_v4(0)?;
    s.set_multicast_loop_v4(true)?;
    let s: UdpSocket = s.into();
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    Ok(s)
}

/// Whether multicast on loopback works here: a datagram sent to the group comes back.
fn multicast_on_loopback(port: u16) -> Result<(), String> {
    let s = group_socket(port).map_err(|e| format!("joining {GROUP} on lo: {e}"))?;
    s.send_to(b"probe", (GROUP, port))
        .map_err(|e| format!("sending to {GROUP}:{port} on lo: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 64];
    while Instant::now() < deadline {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            if &buf[..n] == b"probe" {
                return Ok(());
            }
        }
    }
    Err("a datagram sent to the group on lo never came back".into())
}

/// The group on a free port, or `None` (after printing why) where multicast on lo fails.
fn group_or_skip(test: &str) -> Option<u16> {
    let port = free_udp_port();
    match multicast_on_loopback(port) {
        Ok(()) => Some(port),
        Err(why) => {
            // Root may turn it on; not required.
            let _ = std::process::Command::new("ip")
                .args(["link", "set", "lo", "multicast", "on"])
                .status();
            match multicast_on_loopback(port) {
                Ok(()) => Some(port),
                Err(_) => {
                    eprintln!("SKIPPED {test}: multicast on loopback does not work here ({why})");
                    None
                }
            }
        }
    }
}

fn lsd_config(port: u16) -> LsdConfig {
    LsdConfig {
        group_v4: Some(SocketAddrV4::new(GROUP, port)),
        group_v6: None,
        interface_v4: Ipv4Addr::LOCALHOST,
        ttl: 0,
        announce_every: Duration::from_secs(2),
    }
}

fn session_config(dir: &std::path::Path, lsd_port: u16) -> SessionConfig {
    SessionConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: dir.to_path_buf(),
        lsd: Some(lsd_config(lsd_port)),
        ..Default::default()
    }
}

fn torrent(name: &str, len: usize, private: bool) -> (Metainfo, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    let piece_len = 32 * 1024;
    let pieces = data
        .chunks(piece_len)
        .map(|c| InfoHash::of_info_bytes(c).0)
        .collect();
    let built = MetainfoBuilder::single_file(name, len as u64)
        .piece_length(piece_len as u64)
        .pieces(pieces)
        .private(private)
        .build()
        .unwrap();
    (built.metainfo, data)
}

async fn wait_state(session: &Session, ih: InfoHash, state: TorrentState, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let s = session.status(ih).expect("torrent in session");
        if s.state == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not {state:?} within {limit:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_meet_by_multicast_only() {
    let Some(port) = group_or_skip("two_engines_meet_by_multicast_only") else {
        return;
    };
    let seed_dir = tempfile::tempdir().unwrap();
    let leech_dir = tempfile::tempdir().unwrap();
    let (meta, data) = torrent("lsd.bin", 512 * 1024, false);
    std::fs::write(seed_dir.path().join("lsd.bin"), &data).unwrap();
    let seeder = Session::start(session_config(seed_dir.path(), port))
        .await
        .unwrap();
    let leecher = Session::start(session_config(leech_dir.path(), port))
        .await
        .unwrap();
    let ih = seeder
        .add(AddTorrent::metainfo(meta.clone()))
        .await
        .unwrap();
    wait_state(&seeder, ih, TorrentState::Seeding, Duration::from_secs(10)).await;
    // No tracker, no DHT, no --peer: only the announces can bring them together.
    leecher.add(AddTorrent::metainfo(meta)).await.unwrap();
    wait_state(&leecher, ih, TorrentState::Seeding, Duration::from_secs(30)).await;
    assert!(std::fs::read(leech_dir.path().join("lsd.bin")).unwrap() == data);
    leecher.shutdown().await;
    seeder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_malformed_announces() {
    let Some(port) = group_or_skip("forged_and_malformed_announces") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (meta, _) = torrent("wanted.bin", 64 * 1024, false);
    let session = Session::start(session_config(dir.path(), port))
        .await
        .unwrap();
    let ih = session.add(AddTorrent::metainfo(meta)).await.unwrap();

    // A "peer" the test controls: the session should dial it once an announce names it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sock = group_socket(port).unwrap();
    let send = |bytes: &[u8]| {
        sock.send_to(bytes, (GROUP, port)).unwrap();
    };
    let announce = |peer_port: u16, ih: InfoHash| {
        let mut out = Vec::new();
        LsdAnnounce {
            port: peer_port,
            info_hashes: vec![ih],
            cookie: Some("someone-else".into()),
        }
        .encode(&format!("{GROUP}:{port}"), &mut out);
        out
    };
    for junk in [
        &b""[..],
        b"BT-SEARCH * HTTP/1.1\r\nPort: 0\r\n\r\n",
        b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz\r\n\r\n",
        &[0xffu8; 1500][..],
        b"NOTIFY * HTTP/1.1\r\n\r\n",
    ] {
        send(junk);
    }
    // An announce of a torrent the session does not have: never dialed.
    send(&announce(
        other.local_addr().unwrap().port(),
        InfoHash([9; 20]),
    ));
    send(&announce(listener.local_addr().unwrap().port(), ih));
    let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
    assert!(
        accepted.is_ok(),
        "the session did not dial the peer named in an announce"
    );
    let stray = tokio::time::timeout(Duration::from_millis(500), other.accept()).await;
    assert!(
        stray.is_err(),
        "dialed a peer announced for another torrent"
    );
    assert!(session.status(ih).is_some(), "the session is still running");
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_torrents_are_never_announced() {
    let Some(port) = group_or_skip("private_torrents_are_never_announced") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (public, _) = torrent("public.bin", 32 * 1024, false);
    let (private, _) = torrent("private.bin", 32 * 1024, true);
    let listen = group_socket(port).unwrap();
    let session = Session::start(session_config(dir.path(), port))
        .await
        .unwrap();
    let public_ih = session.add(AddTorrent::metainfo(public)).await.unwrap();
    let private_ih = session.add(AddTorrent::metainfo(private)).await.unwrap();
    let heard = tokio::task::spawn_blocking(move || {
        let mut heard = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            if let Ok((n, _)) = listen.recv_from(&mut buf) {
                if let Ok(a) = LsdAnnounce::decode(&buf[..n]) {
                    heard.extend(a.info_hashes);
                }
            }
        }
        heard
    })
    .await
    .unwrap();
    assert!(
        heard.contains(&public_ih),
        "the public torrent was not announced"
    );
    assert!(
        !heard.contains(&private_ih),
        "a private torrent was announced"
    );
    session.shutdown().await;
}

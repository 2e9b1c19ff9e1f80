//! The engine's tracker clients (HTTP and UDP) against our own tracker, the `bttrack` binary,
//! on loopback: announce, peers handed out, scrape counts, `stopped`, and tier fallback.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::tracker::{AnnounceParams, Event, TrackerConfig, TrackerError, TrackerList};
use protocol::{InfoHash, PeerId};
use swarmlink_tests::{bin, KillOnDrop};

struct Bttrack {
    _child: KillOnDrop,
    http: String,
    udp: String,
}

/// A port whose TCP and UDP sides are both free right now.
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Starts `bttrack --open` (tracking any torrent) on a free port and waits until it answers.
fn bttrack() -> Bttrack {
    bttrack_with(&["--open"])
}

fn bttrack_with(extra: &[&str]) -> Bttrack {
    let exe = bin("bttrack");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let port = free_port();
        let mut child = KillOnDrop(
            Command::new(&exe)
                .args(extra)
                .args(["--bind", "127.0.0.1", "--log", "-"])
                .args(["--port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("bttrack starts"),
        );
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break; // lost the port to someone else between our check and its bind: retry
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Bttrack {
                    _child: child,
                    http: format!("http://127.0.0.1:{port}/announce"),
                    udp: format!("udp://127.0.0.1:{port}/announce"),
                };
            }
            assert!(Instant::now() < deadline, "bttrack did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn config() -> TrackerConfig {
    TrackerConfig {
        http_timeout: Duration::from_secs(5),
        udp_initial_timeout: Duration::from_millis(300),
        udp_retries: 1,
        ..TrackerConfig::default()
    }
}

fn params(info_hash: InfoHash, port: u16, left: u64) -> AnnounceParams {
    let mut p = AnnounceParams::new(
        info_hash,
        PeerId::generate(&mut rand::rng()),
        port,
        rand::random(),
    );
    p.left = left;
    p.event = Some(Event::Started);
    p
}

async fn announce_and_scrape(url: &str, ih: InfoHash) {
    let mut list = TrackerList::with_config(vec![vec![url.to_owned()]], config());
    let seed = list.announce(&params(ih, 7101, 0)).await.unwrap();
    assert!(seed.interval >= Duration::from_secs(1));
    assert!(
        !seed.peers.iter().any(|p| p.port() == 7101),
        "a peer is not handed itself: {:?}",
        seed.peers
    );
    let leech = list.announce(&params(ih, 7102, 1000)).await.unwrap();
    let seed_addr: SocketAddr = "127.0.0.1:7101".parse().unwrap();
    assert_eq!(leech.peers, vec![seed_addr]);
    assert_eq!((leech.seeders, leech.leechers), (Some(1), Some(1)));
    let counts = list.scrape(ih).await.unwrap();
    assert_eq!((counts.seeders, counts.leechers), (1, 1));

    let mut stopped = params(ih, 7102, 1000);
    stopped.event = Some(Event::Stopped);
    list.announce(&stopped).await.unwrap();
    let counts = list.scrape(ih).await.unwrap();
    assert_eq!((counts.seeders, counts.leechers), (1, 0));
}

#[tokio::test]
async fn http_client_against_bttrack() {
    let tracker = bttrack();
    announce_and_scrape(&tracker.http, InfoHash([0xb1; 20])).await;
}

#[tokio::test]
async fn udp_client_against_bttrack() {
    let tracker = bttrack();
    announce_and_scrape(&tracker.udp, InfoHash([0xb2; 20])).await;
}

#[tokio::test]
async fn a_dead_tier_falls_back_to_bttrack() {
    let tracker = bttrack();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("udp://{}/announce", silent.local_addr().unwrap());
    let tiers = vec![
        vec![silent_url],
        vec![tracker.udp.clone(), tracker.http.clone()],
    ];
    let mut list = TrackerList::with_config(tiers, config());
    let outcome = list
        .announce(&params(InfoHash([0xb3; 20]), 7103, 0))
        .await
        .unwrap();
    assert_eq!(list.tiers()[1][0], outcome.tracker);
}

#[tokio::test]
async fn a_closed_bttrack_refusal_is_a_failure_naming_it() {
    // Without --open, bttrack tracks only published torrents: ours is refused with a reason.
    let tracker = bttrack_with(&[]);
    for url in [&tracker.http, &tracker.udp] {
        let mut list = TrackerList::with_config(vec![vec![url.clone()]], config());
        let err = list
            .announce_one(url, &params(InfoHash([0xb4; 20]), 7104, 5))
            .await
            .unwrap_err();
        let TrackerError::Failure { url: named, reason } = &err else {
            panic!("{url}: {err:?}")
        };
        assert_eq!(named, url);
        assert!(!reason.is_empty());
    }
}

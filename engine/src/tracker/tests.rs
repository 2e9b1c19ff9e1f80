//! The tracker clients against a real tracker (Debian's opentracker, HTTP and UDP) on loopback,
//! and against small scripted servers for the misbehaviours a real tracker will not show on cue.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::{InfoHash, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// opentracker, chrooted into a temp dir holding its whitelist; killed by PID when dropped.
struct OpenTracker {
    child: Child,
    http: String,
    udp: String,
    _dir: tempfile::TempDir,
}

impl Drop for OpenTracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_ports() -> (u16, u16) {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    )
}

fn opentracker(whitelist: &[InfoHash]) -> OpenTracker {
    let dir = tempfile::tempdir().unwrap();
    // opentracker drops root for `nobody` after the chroot: the new root must be traversable.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let list: String = whitelist
        .iter()
        .chain([&PROBE])
        .map(|h| format!("{h}\n"))
        .collect();
    std::fs::write(dir.path().join("wl.txt"), list).unwrap();
    let (tcp, udp) = free_ports();
    let child = Command::new("opentracker")
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &tcp.to_string(),
            "-P",
            &udp.to_string(),
        ])
        .arg("-d")
        .arg(dir.path())
        .args(["-w", "/wl.txt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("opentracker is installed (scripts/install-test-deps.sh)");
    let tracker = OpenTracker {
        child,
        http: format!("http://127.0.0.1:{tcp}/announce"),
        udp: format!("udp://127.0.0.1:{udp}/announce"),
        _dir: dir,
    };
    // The whitelist is loaded by a background thread after the sockets open: poll until an
    // announce for the probe hash is accepted. (A `stopped` announce would not do: opentracker
    // answers those without consulting the whitelist.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tracker = tracker;
    while !probe_accepted(tcp) {
        assert!(Instant::now() < deadline, "opentracker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // If our opentracker exited (a port taken meanwhile), the probe reached someone else's.
    assert!(
        matches!(tracker.child.try_wait(), Ok(None)),
        "opentracker exited; port {tcp}/{udp} taken?"
    );
    tracker
}

/// A whitelisted hash that only the readiness probe uses.
const PROBE: InfoHash = InfoHash([0xfe; 20]);

fn probe_accepted(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let request = format!(
        "GET /announce?info_hash={}&peer_id=-SL0100-probeprobepr&port=1&uploaded=0&downloaded=0&left=0 HTTP/1.0\r\n\r\n",
        "%FE".repeat(20)
    );
    let mut reply = Vec::new();
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_end(&mut reply).is_err() {
        return false;
    }
    let reply = String::from_utf8_lossy(&reply);
    reply.contains("interval") && !reply.contains("failure reason")
}

fn fast_config() -> TrackerConfig {
    TrackerConfig {
        http_timeout: Duration::from_secs(5),
        udp_initial_timeout: Duration::from_millis(200),
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

fn has_port(peers: &[SocketAddr], port: u16) -> bool {
    peers.iter().any(|p| p.port() == port)
}

/// Two peers announce through `url`; the second learns the first; a scrape counts both.
async fn announce_and_scrape(url: &str, ih: InfoHash) {
    let mut list = TrackerList::with_config(vec![vec![url.to_owned()]], fast_config());
    let seed = list.announce(&params(ih, 7001, 0)).await.unwrap();
    assert!(seed.interval > Duration::ZERO);
    assert_eq!(seed.tracker, url);
    let leech = list.announce(&params(ih, 7002, 1000)).await.unwrap();
    assert!(has_port(&leech.peers, 7001), "{:?}", leech.peers);
    assert_eq!((leech.seeders, leech.leechers), (Some(1), Some(1)));
    let counts = list.scrape(ih).await.unwrap();
    assert_eq!((counts.seeders, counts.leechers), (1, 1));

    let mut stopped = params(ih, 7002, 1000);
    stopped.event = Some(Event::Stopped);
    list.announce(&stopped).await.unwrap();
    let counts = list.scrape(ih).await.unwrap();
    assert_eq!((counts.seeders, counts.leechers), (1, 0));
}

#[tokio::test]
async fn http_announce_and_scrape_against_opentracker() {
    let ih = InfoHash([0x11; 20]);
    let tracker = opentracker(&[ih]);
    announce_and_scrape(&tracker.http, ih).await;
}

#[tokio::test]
async fn udp_announce_and_scrape_against_opentracker() {
    let ih = InfoHash([0x22; 20]);
    let tracker = opentracker(&[ih]);
    announce_and_scrape(&tracker.udp, ih).await;
}

#[tokio::test]
async fn a_failure_reason_becomes_an_error_naming_it() {
    let tracker = opentracker(&[InfoHash([0x33; 20])]);
    let stranger = params(InfoHash([0x44; 20]), 7003, 5);
    let mut list = TrackerList::with_config(vec![vec![tracker.http.clone()]], fast_config());
    let err = list
        .announce_one(&tracker.http, &stranger)
        .await
        .unwrap_err();
    let TrackerError::Failure { url, reason } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(url, &tracker.http);
    assert!(reason.contains("not authorized"), "{reason}");
    assert!(err.to_string().contains("not authorized"));
    // Through the tiers, the same refusal is the last error of the pass.
    let err = list.announce(&stranger).await.unwrap_err();
    assert!(
        matches!(&err, TrackerError::AllFailed { tried: 1, last } if matches!(**last, TrackerError::Failure { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_dead_first_tier_falls_back_and_the_answering_tracker_is_promoted() {
    let ih = InfoHash([0x55; 20]);
    let tracker = opentracker(&[ih]);
    // A UDP "tracker" that never answers, and an HTTP port nobody listens on.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("udp://{}/announce", silent.local_addr().unwrap());
    let (closed, _) = free_ports();
    let closed_url = format!("http://127.0.0.1:{closed}/announce");
    let tiers = vec![
        vec![silent_url.clone()],
        vec![
            closed_url.clone(),
            tracker.udp.clone(),
            "wss://tracker.invalid/announce".into(),
        ],
    ];
    let mut list = TrackerList::with_config(tiers, fast_config());
    let started = Instant::now();
    let outcome = list.announce(&params(ih, 7004, 0)).await.unwrap();
    assert_eq!(outcome.tracker, tracker.udp);
    assert_eq!(list.tiers()[1][0], tracker.udp, "{:?}", list.tiers());
    assert_eq!(list.tiers()[0], vec![silent_url]);
    // The silent tracker cost its two UDP waits (200 ms + 400 ms), not more.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let err = TrackerList::with_config(vec![vec![closed_url.clone()]], fast_config())
        .announce_one(&closed_url, &params(ih, 1, 0))
        .await
        .unwrap_err();
    assert!(matches!(err, TrackerError::Io { .. }), "{err:?}");
    let err = list
        .announce_one("wss://tracker.invalid/announce", &params(ih, 1, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackerError::UnsupportedScheme { .. }),
        "{err:?}"
    );
    assert_eq!(
        TrackerList::new(vec![]).announce(&params(ih, 1, 0)).await,
        Err(TrackerError::NoTrackers)
    );
}

/// A scripted UDP tracker: drops the first connect request, then answers everything, counting
/// the requests it sees by action. Like bttrack, it honours a connection id only from the
/// address (IP and port) it was issued to; a `forgetful` one also honours each id only once.
async fn flaky_udp_tracker_with(forgetful: bool) -> (String, Arc<[AtomicUsize; 3]>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let url = format!("udp://{}/announce", socket.local_addr().unwrap());
    let seen: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        let mut issued: std::collections::HashMap<u64, SocketAddr> = Default::default();
        let mut buf = [0u8; 2048];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let req = &buf[..n];
            let id = u64::from_be_bytes(req[..8].try_into().unwrap());
            let action = u32::from_be_bytes(req[8..12].try_into().unwrap());
            let transaction = &req[12..16];
            let nth = counts[action as usize % 3].fetch_add(1, Ordering::SeqCst);
            let mut reply = action.to_be_bytes().to_vec();
            reply.extend_from_slice(transaction);
            let valid = issued.get(&id) == Some(&from);
            if valid && forgetful {
                issued.remove(&id);
            }
            match action {
                0 if nth == 0 => continue, // the first connect is "lost"
                0 => {
                    let new_id = 0x1234_5678_0000_0000 + nth as u64;
                    issued.insert(new_id, from);
                    reply.extend_from_slice(&new_id.to_be_bytes());
                }
                _ if !valid => {
                    reply = 3u32.to_be_bytes().to_vec();
                    reply.extend_from_slice(transaction);
                    reply.extend_from_slice(b"unknown connection id");
                }
                1 => {
                    for v in [900u32, 4, 5] {
                        reply.extend_from_slice(&v.to_be_bytes());
                    }
                    reply.extend_from_slice(&[10, 0, 0, 9, 0x1f, 0x90]);
                }
                _ => {
                    for v in [1u32, 2, 3] {
                        reply.extend_from_slice(&v.to_be_bytes());
                    }
                }
            }
            let _ = socket.send_to(&reply, from).await;
        }
    });
    (url, seen)
}

async fn flaky_udp_tracker() -> (String, Arc<[AtomicUsize; 3]>) {
    flaky_udp_tracker_with(false).await
}

#[tokio::test]
async fn a_forgotten_connection_id_is_replaced_once() {
    let (url, seen) = flaky_udp_tracker_with(true).await;
    let mut list = TrackerList::with_config(vec![vec![url]], fast_config());
    let ih = InfoHash([0x6a; 20]);
    list.announce(&params(ih, 7009, 1)).await.unwrap();
    // The cached id is refused ("unknown connection id"): reconnect and ask again, once.
    list.announce(&params(ih, 7009, 1)).await.unwrap();
    assert_eq!(
        seen[0].load(Ordering::SeqCst),
        3,
        "lost + first + replacement"
    );
    assert_eq!(seen[1].load(Ordering::SeqCst), 3, "ok + refused + retried");
}

#[tokio::test]
async fn udp_retransmits_a_lost_connect_and_reuses_the_connection_id() {
    let (url, seen) = flaky_udp_tracker().await;
    let mut list = TrackerList::with_config(vec![vec![url.clone()]], fast_config());
    let ih = InfoHash([0x66; 20]);
    let first = list.announce(&params(ih, 7005, 1)).await.unwrap();
    assert_eq!(
        first.peers,
        vec!["10.0.0.9:8080".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(first.interval, Duration::from_secs(900));
    assert_eq!((first.leechers, first.seeders), (Some(4), Some(5)));
    list.announce(&params(ih, 7005, 1)).await.unwrap();
    let counts = list.scrape(ih).await.unwrap();
    assert_eq!(
        counts,
        ScrapeCounts {
            seeders: 1,
            completed: 2,
            leechers: 3
        }
    );
    let [connects, announces, scrapes] = &*seen;
    assert_eq!(
        connects.load(Ordering::SeqCst),
        2,
        "one lost, one answered, then reused"
    );
    assert_eq!(announces.load(Ordering::SeqCst), 2);
    assert_eq!(scrapes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_connection_id_is_renewed() {
    let (url, seen) = flaky_udp_tracker().await;
    let config = TrackerConfig {
        udp_connection_ttl: Duration::ZERO,
        ..fast_config()
    };
    let mut list = TrackerList::with_config(vec![vec![url]], config);
    let ih = InfoHash([0x67; 20]);
    list.announce(&params(ih, 7006, 1)).await.unwrap();
    list.announce(&params(ih, 7006, 1)).await.unwrap();
    assert_eq!(
        seen[0].load(Ordering::SeqCst),
        3,
        "lost + one connect per announce"
    );
}

/// An HTTP "tracker" that answers every connection with `reply` (or nothing, if `None`).
async fn scripted_http(reply: Option<Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/announce", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                match reply {
                    Some(reply) => {
                        let _ = stream.write_all(&reply).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn oversized_and_silent_http_trackers_are_bounded() {
    let ih = InfoHash([0x77; 20]);
    let mut huge =
        b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\nd8:intervali60e5:peers10485735:"
            .to_vec();
    huge.resize(huge.len() + 1024 * 1024, 0);
    let url = scripted_http(Some(huge)).await;
    let config = TrackerConfig {
        max_body: 64 * 1024,
        http_timeout: Duration::from_millis(500),
        ..fast_config()
    };
    let mut list = TrackerList::with_config(vec![vec![url.clone()]], config);
    let err = list
        .announce_one(&url, &params(ih, 1, 0))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TrackerError::TooLarge {
            url: url.clone(),
            limit: 64 * 1024
        }
    );

    let silent = scripted_http(None).await;
    let started = Instant::now();
    let err = list
        .announce_one(&silent, &params(ih, 1, 0))
        .await
        .unwrap_err();
    assert!(matches!(err, TrackerError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    let garbage = scripted_http(Some(
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\n<html>".to_vec(),
    ))
    .await;
    let err = list
        .announce_one(&garbage, &params(ih, 1, 0))
        .await
        .unwrap_err();
    assert!(matches!(err, TrackerError::BadResponse { .. }), "{err:?}");

    let refused = scripted_http(Some(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
    ))
    .await;
    let err = list
        .announce_one(&refused, &params(ih, 1, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackerError::HttpStatus { status: 403, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn udp_trackers_over_ipv6_return_ipv6_peers() {
    let Ok(socket) = tokio::net::UdpSocket::bind("[::1]:0").await else {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    };
    let url = format!("udp://{}/announce", socket.local_addr().unwrap());
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let req = &buf[..n];
            let action = u32::from_be_bytes(req[8..12].try_into().unwrap());
            let mut reply = action.to_be_bytes().to_vec();
            reply.extend_from_slice(&req[12..16]);
            if action == 0 {
                reply.extend_from_slice(&7u64.to_be_bytes());
            } else {
                for v in [60u32, 0, 1] {
                    reply.extend_from_slice(&v.to_be_bytes());
                }
                let peer: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
                reply.extend_from_slice(&peer.octets());
                reply.extend_from_slice(&6881u16.to_be_bytes());
            }
            let _ = socket.send_to(&reply, from).await;
        }
    });
    let mut list = TrackerList::with_config(vec![vec![url]], fast_config());
    let outcome = list
        .announce(&params(InfoHash([0x68; 20]), 7007, 0))
        .await
        .unwrap();
    assert_eq!(
        outcome.peers,
        vec!["[2001:db8::1]:6881".parse::<SocketAddr>().unwrap()]
    );
}

/// An HTTPS "tracker" on 127.0.0.1 with the self-signed certificate in `testdata/`, answering
/// requests that carry our user agent with a one-peer announce reply.
async fn https_tracker() -> String {
    let acceptor = crate::http::tests::test_tls_acceptor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/announce", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return; // the client refused our certificate
                };
                let mut buf = [0u8; 4096];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                // Only our client, named as such, gets an answer.
                let body: &[u8] = if head.contains("\r\nuser-agent: swarmlink/") {
                    b"d8:intervali120e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"
                } else {
                    b"d14:failure reason10:who are youe"
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn https_trackers_are_spoken_and_their_certificates_checked() {
    let url = https_tracker().await;
    let ih = InfoHash([0x69; 20]);
    let trusting = TrackerConfig {
        extra_root_certs: vec![crate::http::tests::TEST_CERT.to_vec()],
        ..fast_config()
    };
    let mut list = TrackerList::with_config(vec![vec![url.clone()]], trusting);
    let outcome = list.announce(&params(ih, 7008, 0)).await.unwrap();
    assert_eq!(outcome.interval, Duration::from_secs(120));
    assert_eq!(
        outcome.peers,
        vec!["127.0.0.1:6881".parse::<SocketAddr>().unwrap()]
    );

    // Without our test root the self-signed certificate is refused.
    let mut list = TrackerList::with_config(vec![vec![url.clone()]], fast_config());
    let err = list
        .announce_one(&url, &params(ih, 7008, 0))
        .await
        .unwrap_err();
    let TrackerError::Io { reason, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
}

/// The torrent actor spawns announces as tasks: the list and its futures must be `Send`.
#[test]
fn tracker_futures_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_static<T: Send + 'static>() {}
    assert_send_static::<TrackerList>();
    let mut list = TrackerList::new(vec![]);
    let p = params(InfoHash([1; 20]), 1, 0);
    assert_send(&list.announce(&p));
    assert_send(&list.scrape(InfoHash([1; 20])));
}

//! No source of peers waits for another (issue 15), and a DHT that reaches nobody is said once,
//! calmly. `bthelper download` runs at its defaults, its DHT unable to bootstrap:
//!
//! - `dht_routers_behind_a_silent_dns`: the public routers' names go to a DNS server that never
//!   answers (a firewalled LAN's). The process runs in a mount namespace whose `/etc/resolv.conf`
//!   names a loopback UDP socket nobody reads. The torrent's tracker announce and the `--peer`
//!   dial must still come within a few seconds of start (each name took the resolver's timeout,
//!   5 s and more, before the session served anything). Needs root and `unshare` (util-linux);
//!   without them it says so and passes.
//! - `an_unreachable_dht_is_said_once_without_library_logs`: the bootstrap node is a loopback
//!   port that never answers. The output (a pipe) carries "DHT: no nodes reachable yet" once,
//!   no `mainline` ERROR lines and no colour codes.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use swarmlink_tests::{bin, spawn};

/// A torrent of `len` bytes (its piece hashes are made up: nothing is downloaded) announcing to
/// `announce`.
fn write_torrent(path: &Path, announce: &str) {
    let built = protocol::MetainfoBuilder::single_file("s.bin", 1 << 20)
        .piece_length(1 << 18)
        .pieces(vec![[1; 20]; 4])
        .announce_tiers(vec![vec![announce.to_owned()]])
        .build()
        .unwrap();
    std::fs::write(path, built.bytes).unwrap();
}

/// A tracker that answers every announce with no peers and reports when the first arrives.
fn tiny_tracker() -> (u16, mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let _ = tx.send(Instant::now());
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = b"d8:intervali1800e5:peers0:e";
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(body);
        }
    });
    (port, rx)
}

/// A peer that reports when it is first dialled.
fn dialled_peer() -> (u16, mpsc::Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().map_while(Result::ok) {
            let _ = tx.send(Instant::now());
            held.push(conn);
        }
    });
    (port, rx)
}

fn namespaces_work() -> bool {
    Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn dht_routers_behind_a_silent_dns() {
    let helper = bin("bthelper");
    // DHT and LSD at their defaults: in a network of the test's own, so nothing leaves this host.
    if let Err(why) = swarmlink_tests::netns::own_network() {
        eprintln!("skipped: {why}");
        return;
    }
    // A DNS server that never answers: a bound UDP socket nobody reads (port 53 needs root).
    let Ok(_silent_dns) = UdpSocket::bind("127.53.0.53:53") else {
        eprintln!("skipped: cannot bind 127.53.0.53:53 for a silent DNS server (needs root)");
        return;
    };
    if !namespaces_work() {
        eprintln!("skipped: `unshare -m` is not available here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.53.0.53\noptions timeout:5 attempts:2\n",
    )
    .unwrap();
    let (tport, announced) = tiny_tracker();
    let (pport, dialled) = dialled_peer();
    let torrent = dir.path().join("s.torrent");
    write_torrent(&torrent, &format!("http://127.0.0.1:{tport}/announce"));

    let started = Instant::now();
    let mut run = spawn(
        Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
            ])
            .arg(&resolv)
            .arg(&helper)
            .arg("download")
            .arg(&torrent)
            .arg("-o")
            .arg(dir.path().join("out"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(["--peer", &format!("127.0.0.1:{pport}")])
            .env_remove("SWARMLINK_NO_DHT")
            .env_remove("SWARMLINK_NO_LSD"),
    );
    // Generous for a loaded machine; each router name alone held the old start-up for 10 s.
    let limit = Duration::from_secs(6);
    let announce_at = announced.recv_timeout(Duration::from_secs(60));
    let dial_at = dialled.recv_timeout(Duration::from_secs(5));
    let output = run.drain();
    let announce_at = announce_at.unwrap_or_else(|_| panic!("no announce at all:\n{output}"));
    let dial_at = dial_at.unwrap_or_else(|_| panic!("--peer never dialled:\n{output}"));
    eprintln!(
        "first announce after {:?}, first --peer dial after {:?}",
        announce_at - started,
        dial_at - started
    );
    assert!(
        announce_at - started < limit,
        "the tracker announce waited {:?} for the DHT's DNS:\n{output}",
        announce_at - started
    );
    assert!(
        dial_at - started < limit,
        "the --peer dial waited {:?} for the DHT's DNS:\n{output}",
        dial_at - started
    );
}

#[test]
fn an_unreachable_dht_is_said_once_without_library_logs() {
    let helper = bin("bthelper");
    let dir = tempfile::tempdir().unwrap();
    // A DHT node that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let node = silent.local_addr().unwrap();
    let (tport, announced) = tiny_tracker();
    let torrent = dir.path().join("s.torrent");
    write_torrent(&torrent, &format!("http://127.0.0.1:{tport}/announce"));
    let mut run = spawn(
        Command::new(&helper)
            .arg("download")
            .arg(&torrent)
            .arg("-o")
            .arg(dir.path().join("out"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(["--dht-bootstrap", &node.to_string()])
            .env_remove("SWARMLINK_NO_DHT")
            .env_remove("SWARMLINK_LOG")
            .env_remove("RUST_LOG"),
    );
    announced
        .recv_timeout(Duration::from_secs(60))
        .expect("the tracker is announced to");
    run.wait_for("DHT: no nodes reachable yet", Duration::from_secs(30));
    // Long enough for the DHT to have failed several times over (it retries every 2 s or so).
    let later = run.lines_within(Duration::from_secs(8));
    let output = run.drain();
    assert!(
        !later.iter().any(|l| l.contains("DHT: no nodes")),
        "said more than once:\n{output}"
    );
    for bad in ["\x1b[", "mainline", "ERROR"] {
        assert!(!output.contains(bad), "printed {bad:?}:\n{output}");
    }
}

//! No source of peers waits for another (issue 15), and a DHT that reaches nobody is said once,
//! calmly. `bthelper download` runs at its defaults, its DHT unable to bootstrap:
//!
//! - `dht_routers_behind_a_silent_dns`: the public routers' names go to a DNS server that never
//!   answers (a firewalled LAN's). The process runs in a mount namespace whose `/etc/resolv.conf`
//!   names a loopback UDP socket nobody reads. The torrent's tracker announce and the `--peer`
//!   dial must still come within a few seconds of start (each name took the resolver's timeout,
//!   5 s and more, before the session served anything), and so must a magnet's `tr` announce
//!   and `x.pe` dial. Needs root and `unshare` (util-linux): without root it says so and
//!   passes; as root, a setup that does not work fails the test.
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

/// A torrent of 1 MiB (its piece hashes are made up: nothing is downloaded) announcing to
/// `announce`; returns its info-hash in hex.
fn write_torrent(path: &Path, announce: &str) -> String {
    let built = protocol::MetainfoBuilder::single_file("s.bin", 1 << 20)
        .piece_length(1 << 18)
        .pieces(vec![[1; 20]; 4])
        .announce_tiers(vec![vec![announce.to_owned()]])
        .build()
        .unwrap();
    std::fs::write(path, built.bytes).unwrap();
    built.metainfo.info_hash.to_hex()
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
        return swarmlink_tests::netns::cannot(&why);
    }
    // A DNS server that never answers: a bound UDP socket nobody reads (port 53 needs root).
    let Ok(_silent_dns) = UdpSocket::bind("127.53.0.53:53") else {
        return swarmlink_tests::netns::cannot("127.53.0.53:53 cannot be bound for a silent DNS");
    };
    if !namespaces_work() {
        return swarmlink_tests::netns::cannot("`unshare -m` does not work here");
    }
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.53.0.53\noptions timeout:5 attempts:2\n",
    )
    .unwrap();
    let silent = Silent { helper, resolv };

    // A .torrent: its tracker, and `--peer`.
    let (tport, announced) = tiny_tracker();
    let (pport, dialled) = dialled_peer();
    let torrent = dir.path().join("s.torrent");
    let ih = write_torrent(&torrent, &format!("http://127.0.0.1:{tport}/announce"));
    silent.first_contacts(
        &dir.path().join("t"),
        torrent.to_str().unwrap(),
        pport,
        &[
            ("the tracker announce", &announced),
            ("the --peer dial", &dialled),
        ],
    );

    // The same torrent's magnet (metadata not known yet): its `tr`, its `x.pe`, and `--peer`.
    let (tport, announced) = tiny_tracker();
    let (xport, x_dialled) = dialled_peer();
    let (pport, dialled) = dialled_peer();
    let magnet = format!(
        "magnet:?xt=urn:btih:{ih}&tr=http%3A%2F%2F127.0.0.1%3A{tport}%2Fannounce&x.pe=127.0.0.1:{xport}"
    );
    silent.first_contacts(
        &dir.path().join("m"),
        &magnet,
        pport,
        &[
            ("the magnet's tr announce", &announced),
            ("the magnet's x.pe dial", &x_dialled),
            ("the --peer dial", &dialled),
        ],
    );
}

/// `bthelper download` with a resolv.conf whose DNS server never answers.
struct Silent {
    helper: std::path::PathBuf,
    resolv: std::path::PathBuf,
}

impl Silent {
    /// Downloads `source` into `dir` with `--peer 127.0.0.1:PEER`; each of `contacts` must
    /// report its first contact within a few seconds of the start.
    fn first_contacts(
        &self,
        dir: &Path,
        source: &str,
        peer: u16,
        contacts: &[(&str, &mpsc::Receiver<Instant>)],
    ) {
        let started = Instant::now();
        let mut run = spawn(
            Command::new("unshare")
                .args([
                    "-m",
                    "sh",
                    "-c",
                    "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
                ])
                .arg(&self.resolv)
                .arg(&self.helper)
                .arg("download")
                .arg(source)
                .arg("-o")
                .arg(dir.join("out"))
                .arg("--state-dir")
                .arg(dir.join("state"))
                .args(["--peer", &format!("127.0.0.1:{peer}")])
                .env_remove("SWARMLINK_NO_DHT")
                .env_remove("SWARMLINK_NO_LSD"),
        );
        // Generous for a loaded machine; each router name alone held the old start-up for 10 s.
        let limit = Duration::from_secs(6);
        let mut first = Vec::new();
        for (what, heard) in contacts {
            // The first wait covers a slow start; the others come at about the same time.
            let wait = if first.is_empty() { 60 } else { 10 };
            first.push((what, heard.recv_timeout(Duration::from_secs(wait))));
        }
        let output = run.drain();
        for (what, at) in first {
            let at = at.unwrap_or_else(|_| panic!("{what}: never came:\n{output}"));
            eprintln!("{what} after {:?}", at - started);
            assert!(
                at - started < limit,
                "{what} waited {:?} for the DHT's DNS:\n{output}",
                at - started
            );
        }
    }
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

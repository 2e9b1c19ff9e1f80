//! The Mainline DHT (BEP 5) as the only way peers meet: trackerless torrents, a local
//! bootstrap node (nothing reaches the internet), bthelpers and a python3-libtorrent node on
//! loopback. Among bthelpers the bootstrap node is a `mainline` node; with libtorrent in the
//! test it is a libtorrent node, because libtorrent cannot talk to a `mainline` node (see
//! `a_mainline_node_drops_libtorrent_style_transaction_ids`). Also: malformed packets to our DHT
//! port, the routing table saved and reused across a restart, and nodes learned from peers'
//! `port` messages. Every bthelper runs with `--no-lsd`, so the DHT is the only source of peers.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use protocol::{InfoHash, MetainfoBuilder};
use swarmlink_tests::{bin, workspace_root, KillOnDrop, SYSTEM_PYTHON};

/// A DHT node on 127.0.0.1 in server mode, as the only bootstrap node of everyone in a test.
struct LocalNode {
    _node: mainline::Dht,
    addr: String,
}

fn local_node() -> LocalNode {
    let node = mainline::Dht::builder()
        .server_mode()
        .no_bootstrap()
        .port(0)
        .bind_address(Ipv4Addr::LOCALHOST)
        .build()
        .expect("local DHT node");
    let addr = node.clone().as_async();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = rt.block_on(addr.info()).local_addr().port();
    LocalNode {
        _node: node,
        addr: format!("127.0.0.1:{port}"),
    }
}

/// Polls the DHT (through a fresh client bootstrapped from `bootstrap`) until someone has
/// announced `ih` on `port` (any port if `None`); on timeout, returns the peers it did see.
fn announced_within(
    bootstrap: &str,
    ih: InfoHash,
    port: Option<u16>,
    limit: Duration,
) -> Result<(), Vec<SocketAddrV4>> {
    use futures::StreamExt;
    let client = mainline::Dht::builder()
        .bootstrap(&[bootstrap])
        .port(0)
        .bind_address(Ipv4Addr::LOCALHOST)
        .build()
        .expect("DHT client")
        .as_async();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id = mainline::Id::from_bytes(ih.0).unwrap();
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let found: Vec<SocketAddrV4> = rt.block_on(async {
            let mut stream = client.get_peers(id);
            let mut all = Vec::new();
            while let Ok(Some(batch)) =
                tokio::time::timeout(Duration::from_secs(5), stream.next()).await
            {
                all.extend(batch);
            }
            all
        });
        if found.iter().any(|a| port.is_none_or(|p| a.port() == p)) {
            return Ok(());
        }
        seen = found;
        std::thread::sleep(Duration::from_millis(300));
    }
    Err(seen)
}

fn wait_announced(bootstrap: &str, ih: InfoHash, port: Option<u16>, limit: Duration) {
    if let Err(seen) = announced_within(bootstrap, ih, port, limit) {
        panic!("nobody announced {ih} (port {port:?}) to the DHT within {limit:?}; saw {seen:?}");
    }
}

/// A trackerless single-file torrent of `len` pseudo-random bytes written under `dir`.
fn trackerless(dir: &Path, name: &str, len: usize, private: bool) -> (PathBuf, InfoHash, Vec<u8>) {
    use rand::{RngCore, SeedableRng};
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(len as u64).fill_bytes(&mut data);
    let piece_len = 64 * 1024;
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
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::write(seed_dir.join(name), &data).unwrap();
    let torrent = dir.join(format!("{name}.torrent"));
    std::fs::write(&torrent, &built.bytes).unwrap();
    (torrent, built.info_hash, data)
}

/// Spawns a process and returns it with a channel of its stdout and stderr lines.
fn spawn_lines(cmd: &mut Command) -> (KillOnDrop, mpsc::Receiver<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, rx) = mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    (KillOnDrop(child), rx)
}

/// Waits for a line starting with `prefix` and returns the rest of it.
fn wait_line(rx: &mpsc::Receiver<String>, prefix: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.trim().to_string();
                }
                seen.push(line);
            }
            Err(_) => panic!("no line starting with {prefix:?} within {limit:?}; saw: {seen:#?}"),
        }
    }
}

/// `bthelper download` with the DHT bootstrapping from `bootstrap` and no other peer source.
fn bthelper(torrent: &Path, out: &Path, state: &Path, bootstrap: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin("bthelper"));
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(out)
        .arg("--state-dir")
        .arg(state)
        .args(["--no-lsd", "--dht-bootstrap", bootstrap])
        .args(extra)
        .env_remove("SWARMLINK_NO_DHT");
    cmd
}

/// Starts a seeding bthelper; returns it with its TCP and DHT ports.
fn bthelper_seed(torrent: &Path, dir: &Path, bootstrap: &str) -> (KillOnDrop, u16, u16) {
    let (child, rx) = spawn_lines(&mut bthelper(
        torrent,
        &dir.join("seed"),
        &dir.join("seed-state"),
        bootstrap,
        &["--seed"],
    ));
    let port = wait_line(&rx, "listening on port", Duration::from_secs(30));
    let dht = wait_line(&rx, "DHT node on UDP port", Duration::from_secs(10));
    (child, port.parse().unwrap(), dht.parse().unwrap())
}

fn run_to_exit(cmd: &mut Command, limit: Duration) {
    let (mut child, rx) = spawn_lines(cmd);
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let lines: Vec<String> = rx.try_iter().collect();
            assert!(
                status.success(),
                "bthelper failed: {status}\n{}",
                lines.join("\n")
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "bthelper did not finish in {limit:?}: {:?}",
            rx.try_iter().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Things that are not KRPC, or are broken KRPC, sent at a DHT port.
fn malformed_packets(port: u16) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = ("127.0.0.1", port);
    let packets: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"hello".to_vec(),
        b"d1:ad2:id20:".to_vec(),
        b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe".to_vec(),
        b"d1:ad2:id20:abcdefghij0123456789e1:q9:get_peers1:t2:aa1:y1:qe".to_vec(),
        b"d1:ad2:id20:abcdefghij01234567899:info_hash20:abcdefghij0123456789e1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
        b"d1:rd2:id20:abcdefghij01234567895:nodes9:truncatede1:t2:zz1:y1:re".to_vec(),
        b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee".to_vec(),
        format!("d1:ad2:id{}:", u32::MAX).into_bytes(),
        vec![b'l'; 1500],
        vec![0xff; 2000],
    ];
    for p in &packets {
        let _ = sock.send_to(p, to);
    }
}

#[test]
fn dht_only_download_between_bthelpers_survives_malformed_packets() {
    let dir = tempfile::tempdir().unwrap();
    let node = local_node();
    let (torrent, ih, data) = trackerless(dir.path(), "dht-only.bin", 1 << 20, false);
    let (mut seeder, seed_port, seed_dht) = bthelper_seed(&torrent, dir.path(), &node.addr);
    // Garbage at the seeder's DHT port before it has even announced.
    malformed_packets(seed_dht);
    wait_announced(&node.addr, ih, Some(seed_port), Duration::from_secs(30));
    malformed_packets(seed_dht);
    assert!(seeder.try_wait().unwrap().is_none(), "the seeder died");

    let out = dir.path().join("leech");
    run_to_exit(
        &mut bthelper(
            &torrent,
            &out,
            &dir.path().join("leech-state"),
            &node.addr,
            &[],
        ),
        Duration::from_secs(60),
    );
    assert!(std::fs::read(out.join("dht-only.bin")).unwrap() == data);
    assert!(seeder.try_wait().unwrap().is_none(), "the seeder died");
}

#[test]
fn private_torrents_stay_off_the_dht() {
    let dir = tempfile::tempdir().unwrap();
    let node = local_node();
    let (torrent, ih, _) = trackerless(dir.path(), "private.bin", 64 * 1024, true);
    let (_seeder, _, _) = bthelper_seed(&torrent, dir.path(), &node.addr);
    // A public torrent in the same setup is announced within a few seconds (test above).
    let outcome = announced_within(&node.addr, ih, None, Duration::from_secs(8));
    assert!(
        outcome.is_err(),
        "a private torrent was announced on the DHT"
    );
}

fn lt_script() -> PathBuf {
    workspace_root().join("tests/tests/dht_lt_peer.py")
}

/// A python3-libtorrent DHT node on 127.0.0.1 with no torrents: the bootstrap node of the tests
/// with libtorrent in them (libtorrent cannot use a `mainline` node: see the test below).
struct LtNode {
    _child: KillOnDrop,
    _lines: mpsc::Receiver<String>,
    addr: String,
}

fn lt_node() -> LtNode {
    let (child, rx) = spawn_lines(Command::new(SYSTEM_PYTHON).arg(lt_script()).arg("node"));
    let port = wait_line(&rx, "port", Duration::from_secs(20));
    LtNode {
        _child: child,
        _lines: rx,
        addr: format!("127.0.0.1:{port}"),
    }
}

/// A KRPC ping with transaction id `t` to `node`; whether it answered within a second.
fn ping_answered(node: &str, t: &[u8]) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut q = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t".to_vec();
    q.extend_from_slice(format!("{}:", t.len()).as_bytes());
    q.extend_from_slice(t);
    q.extend_from_slice(b"1:y1:qe");
    sock.send_to(&q, node).unwrap();
    let mut buf = [0u8; 1500];
    sock.recv_from(&mut buf).is_ok()
}

/// Why the libtorrent tests bootstrap from a libtorrent node: a `mainline` 8.0.1 node decodes
/// a query's transaction id as exactly 4 bytes and drops any other query unanswered, while
/// libtorrent 2.0 sends 2-byte ids (as BEP 5's examples do). Its DHT log shows every query to
/// a mainline node "short-timing out". Our own node (a mainline client) answers no queries at
/// all, and libtorrent echoes our 4-byte ids, so bthelpers and libtorrent still meet through a
/// libtorrent node (the tests below). If this test fails, mainline accepts 2-byte ids now and
/// `local_node()` can serve libtorrent too.
#[test]
fn a_mainline_node_drops_libtorrent_style_transaction_ids() {
    let node = local_node();
    assert!(ping_answered(&node.addr, b"abcd"), "4-byte id answered");
    assert!(!ping_answered(&node.addr, b"ab"), "2-byte id dropped");
    let lt = lt_node();
    assert!(ping_answered(&lt.addr, b"ab"), "libtorrent answers 2 bytes");
    assert!(ping_answered(&lt.addr, b"abcd"), "and 4");
}

#[test]
fn dht_only_download_from_libtorrent() {
    let dir = tempfile::tempdir().unwrap();
    let node = lt_node();
    let (torrent, ih, data) = trackerless(dir.path(), "from-lt.bin", 1 << 20, false);
    let (_lt, rx) = spawn_lines(
        Command::new(SYSTEM_PYTHON)
            .arg(lt_script())
            .arg("seed")
            .arg(&torrent)
            .arg(dir.path().join("seed"))
            .arg(&node.addr),
    );
    let lt_port: u16 = wait_line(&rx, "port", Duration::from_secs(20))
        .parse()
        .unwrap();
    wait_line(&rx, "seeding", Duration::from_secs(20));
    wait_announced(&node.addr, ih, Some(lt_port), Duration::from_secs(30));

    let out = dir.path().join("leech");
    let state = dir.path().join("leech-state");
    run_to_exit(
        &mut bthelper(&torrent, &out, &state, &node.addr, &[]),
        Duration::from_secs(60),
    );
    assert!(std::fs::read(out.join("from-lt.bin")).unwrap() == data);
}

#[test]
fn dht_only_download_by_libtorrent() {
    let dir = tempfile::tempdir().unwrap();
    let node = lt_node();
    let (torrent, ih, data) = trackerless(dir.path(), "to-lt.bin", 1 << 20, false);
    let (_seeder, seed_port, _) = bthelper_seed(&torrent, dir.path(), &node.addr);
    wait_announced(&node.addr, ih, Some(seed_port), Duration::from_secs(30));

    let out = dir.path().join("lt");
    let (mut lt, rx) = spawn_lines(
        Command::new(SYSTEM_PYTHON)
            .arg(lt_script())
            .arg("download")
            .arg(&torrent)
            .arg(&out)
            .arg(&node.addr),
    );
    wait_line(&rx, "done", Duration::from_secs(60));
    let _ = lt.wait();
    assert!(std::fs::read(out.join("to-lt.bin")).unwrap() == data);
}

fn nodes_file(state: &Path) -> String {
    std::fs::read_to_string(state.join(engine::DHT_NODES_FILE)).unwrap_or_default()
}

fn wait_file_line(state: &Path, line: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !nodes_file(state).lines().any(|l| l == line) {
        assert!(
            Instant::now() < deadline,
            "{line} not in the saved DHT nodes within {limit:?}: {:?}",
            nodes_file(state)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A UDP port nobody answers on: a bootstrap node that is not there.
fn dead_bootstrap() -> String {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    drop(sock);
    addr.to_string()
}

#[test]
fn routing_table_is_saved_and_bootstraps_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let node = local_node();
    let (torrent, ih, data) = trackerless(dir.path(), "restart.bin", 512 * 1024, false);
    let out = dir.path().join("leech");
    let state = dir.path().join("leech-state");

    // First run: no seeder yet; it only gets to know the DHT, which it saves.
    let (first, _rx) = spawn_lines(&mut bthelper(&torrent, &out, &state, &node.addr, &[]));
    wait_file_line(&state, &node.addr, Duration::from_secs(30));
    drop(first); // SIGKILL: what was saved is what the next run has

    let (_seeder, seed_port, _) = bthelper_seed(&torrent, dir.path(), &node.addr);
    wait_announced(&node.addr, ih, Some(seed_port), Duration::from_secs(30));
    // Second run: its configured bootstrap node is dead; only the saved table leads anywhere.
    run_to_exit(
        &mut bthelper(&torrent, &out, &state, &dead_bootstrap(), &[]),
        Duration::from_secs(60),
    );
    assert!(std::fs::read(out.join("restart.bin")).unwrap() == data);
}

#[test]
fn nodes_named_in_port_messages_are_learned() {
    let dir = tempfile::tempdir().unwrap();
    let node = local_node();
    let (torrent, _, _) = trackerless(dir.path(), "port-msg.bin", 1 << 20, false);
    let (_seeder, seed_port, seed_dht) = bthelper_seed(&torrent, dir.path(), &node.addr);
    // The leecher's DHT cannot bootstrap; it meets the seeder directly, which tells it its DHT
    // port (BEP 5 `port` message after the handshake's DHT bit).
    let state = dir.path().join("leech-state");
    let peer = format!("127.0.0.1:{seed_port}");
    let (_leecher, _rx) = spawn_lines(&mut bthelper(
        &torrent,
        &dir.path().join("leech"),
        &state,
        &dead_bootstrap(),
        &["--peer", &peer, "--seed"],
    ));
    wait_file_line(
        &state,
        &format!("127.0.0.1:{seed_dht}"),
        Duration::from_secs(30),
    );
}

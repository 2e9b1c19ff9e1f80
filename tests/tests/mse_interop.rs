//! Message stream encryption against python3-libtorrent on loopback: bthelper downloads from a
//! seeder that requires RC4 encryption, libtorrent (requiring it) downloads from a bthelper
//! seeder, and `--encryption require` never falls back to a plaintext-only peer.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use swarmlink_tests::{bin, workspace_root, KillOnDrop, SYSTEM_PYTHON};

/// A libtorrent peer with an encryption policy: `forced` (MSE with RC4 only, both ways) or
/// `disabled` (plaintext only). Prints "port N", then "seeding" or "done", the connection
/// alerts that tell what happened to our connections, and "peers N" when its count of
/// handshaken peers changes. A seed runs until killed, a download until LT_TIMEOUT.
const LT_PEER: &str = r#"
import os, sys, time
import libtorrent as lt
mode, torrent, save, enc = sys.argv[1:5]
peers = sys.argv[5:]
pol = {"forced": lt.enc_policy.pe_forced, "disabled": lt.enc_policy.pe_disabled}[enc]
level = lt.enc_level.pe_rc4 if enc == "forced" else lt.enc_level.pe_plaintext
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
                "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
                "in_enc_policy": int(pol), "out_enc_policy": int(pol),
                "allowed_enc_level": int(level),
                "alert_mask": lt.alert.category_t.all_categories})
deadline = time.time() + 10
while s.listen_port() == 0 and time.time() < deadline:
    time.sleep(0.05)
print("port", s.listen_port(), flush=True)
params = {"ti": lt.torrent_info(torrent), "save_path": save}
if mode == "seed":
    params["flags"] = lt.torrent_flags.seed_mode
h = s.add_torrent(params)
for p in peers:
    host, port = p.rsplit(":", 1)
    h.connect_peer((host, int(port)))
if mode == "seed":
    print("seeding", flush=True)
shown = ("incoming_connection_alert", "peer_connect_alert", "peer_disconnected_alert",
         "peer_error_alert")
deadline = time.time() + float(os.environ.get("LT_TIMEOUT", "60"))
peers_seen = 0
while mode == "seed" or time.time() < deadline:
    s.wait_for_alert(100)
    if h.status().num_peers != peers_seen:
        peers_seen = h.status().num_peers
        print("peers", peers_seen, flush=True)
    for a in s.pop_alerts():
        name = type(a).__name__
        if name in shown:
            print("alert", name, a.message(), flush=True)
    if mode == "download" and (h.status().is_seeding or h.status().is_finished):
        print("done", flush=True)
        sys.exit(0)
print("timeout", flush=True)
sys.exit(1)
"#;

fn write_random(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, &data).unwrap();
    data
}

/// `dir/seed/NAME` with random bytes and its .torrent (made by libtorrent).
fn fixture(dir: &Path, name: &str, len: usize) -> (PathBuf, PathBuf, Vec<u8>) {
    let seed_dir = dir.join("seed");
    let data = write_random(&seed_dir.join(name), len, len as u64);
    let torrent = dir.join(format!("{name}.torrent"));
    let status = Command::new(SYSTEM_PYTHON)
        .arg(workspace_root().join("bench/download_lt_peer.py"))
        .arg("create")
        .arg(seed_dir.join(name))
        .arg(&torrent)
        .arg("65536")
        .status()
        .unwrap();
    assert!(status.success(), "libtorrent create_torrent failed");
    (torrent, seed_dir, data)
}

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

/// Waits for a line starting with `prefix`; returns the rest and every line seen before it.
fn wait_line(rx: &mpsc::Receiver<String>, prefix: &str, limit: Duration) -> (String, Vec<String>) {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return (rest.trim().to_string(), seen);
                }
                seen.push(line);
            }
            Err(_) => panic!("no line starting with {prefix:?} within {limit:?}; saw: {seen:#?}"),
        }
    }
}

fn lt_peer(mode: &str, torrent: &Path, dir: &Path, enc: &str, peers: &[String]) -> LtPeer {
    // Build bthelper first, so that a cold build does not eat into the peer's time.
    let _ = bin("bthelper");
    let (child, rx) = spawn_lines(
        Command::new(SYSTEM_PYTHON)
            .args(["-c", LT_PEER, mode])
            .arg(torrent)
            .arg(dir)
            .arg(enc)
            .args(peers),
    );
    let port = wait_line(&rx, "port ", Duration::from_secs(20))
        .0
        .parse()
        .unwrap();
    LtPeer {
        _child: child,
        rx,
        port,
    }
}

struct LtPeer {
    _child: KillOnDrop,
    rx: mpsc::Receiver<String>,
    port: u16,
}

fn bthelper(torrent: &Path, out: &Path, peers: &[u16], extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin("bthelper"));
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(out)
        .arg("--state-dir")
        .arg(out.join(".state"))
        // Nothing but the given peers (and never the internet): no DHT, no LSD.
        .env("SWARMLINK_NO_DHT", "true")
        .env("SWARMLINK_NO_LSD", "true");
    for p in peers {
        cmd.arg("--peer").arg(format!("127.0.0.1:{p}"));
    }
    cmd.args(extra);
    cmd
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
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn bthelper_downloads_from_libtorrent_that_requires_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, data) = fixture(dir.path(), "enc.bin", 4 * 1024 * 1024 + 99);
    let seeder = lt_peer("seed", &torrent, &seed_dir, "forced", &[]);
    wait_line(&seeder.rx, "seeding", Duration::from_secs(20));
    // The default policy: plaintext first, refused, then MSE.
    let out = dir.path().join("out");
    run_to_exit(
        &mut bthelper(&torrent, &out, &[seeder.port], &[]),
        Duration::from_secs(60),
    );
    assert!(
        std::fs::read(out.join("enc.bin")).unwrap() == data,
        "downloaded bytes differ"
    );
    // And with `require`, straight to MSE.
    let out = dir.path().join("out-require");
    run_to_exit(
        &mut bthelper(&torrent, &out, &[seeder.port], &["--encryption", "require"]),
        Duration::from_secs(60),
    );
    assert!(
        std::fs::read(out.join("enc.bin")).unwrap() == data,
        "downloaded bytes differ (require)"
    );
}

#[test]
fn libtorrent_requiring_encryption_downloads_from_bthelper() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, data) = fixture(dir.path(), "up.bin", 3 * 1024 * 1024 + 5);
    let (_seeder, rx) = spawn_lines(&mut bthelper(&torrent, &seed_dir, &[], &["--seed"]));
    let port = wait_line(&rx, "listening on port ", Duration::from_secs(60)).0;
    wait_line(&rx, "download complete", Duration::from_secs(30));

    let out = dir.path().join("lt");
    std::fs::create_dir_all(&out).unwrap();
    let leecher = lt_peer(
        "download",
        &torrent,
        &out,
        "forced",
        &[format!("127.0.0.1:{port}")],
    );
    wait_line(&leecher.rx, "done", Duration::from_secs(60));
    assert!(
        std::fs::read(out.join("up.bin")).unwrap() == data,
        "libtorrent got different bytes"
    );
}

#[test]
fn require_never_falls_back_to_a_plaintext_only_peer() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, data) = fixture(dir.path(), "plain.bin", 1024 * 1024);
    let seeder = lt_peer("seed", &torrent, &seed_dir, "disabled", &[]);
    wait_line(&seeder.rx, "seeding", Duration::from_secs(20));

    let out = dir.path().join("out");
    let (mut client, client_rx) = spawn_lines(&mut bthelper(
        &torrent,
        &out,
        &[seeder.port],
        &["--encryption", "require"],
    ));
    // Our MSE knock reaches libtorrent, which cannot read it and drops it (no alert for that:
    // the connection never belonged to a torrent); the torrent's next attempt, after a 2 s
    // back-off, is MSE again. A connection that got through would show as "peers 1".
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.extend(
            wait_line(
                &seeder.rx,
                "alert incoming_connection_alert",
                Duration::from_secs(30),
            )
            .1,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while let Ok(line) = seeder
        .rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        seen.push(line);
    }
    assert!(
        !seen
            .iter()
            .any(|l| l.starts_with("peers ") || l.contains("peer_connect_alert")),
        "a connection got through: {seen:?}"
    );
    assert!(
        client.try_wait().unwrap().is_none(),
        "bthelper exited: {:?}",
        client_rx.try_iter().collect::<Vec<_>>()
    );
    let got = std::fs::read(out.join("plain.bin")).unwrap_or_default();
    assert!(got != data, "data arrived over plaintext");
    let lines: Vec<String> = client_rx.try_iter().collect();
    assert!(
        !lines.iter().any(|l| l.contains("panicked")),
        "bthelper: {lines:?}"
    );
}

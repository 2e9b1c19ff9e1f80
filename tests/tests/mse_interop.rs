//! Message stream encryption against python3-libtorrent on loopback: bthelper downloads from a
//! seeder that requires RC4 encryption, libtorrent (requiring it) downloads from a bthelper
//! seeder, and `--encryption require` never falls back to a plaintext-only peer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use swarmlink_tests::libtorrent::{self, LtPeer};
use swarmlink_tests::{bin, spawn, write_random};

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

/// `dir/seed/NAME` with random bytes and its .torrent (made by libtorrent).
fn fixture(dir: &Path, name: &str, len: usize) -> (PathBuf, PathBuf, Vec<u8>) {
    let seed_dir = dir.join("seed");
    let data = write_random(&seed_dir.join(name), len, len as u64);
    let torrent = dir.join(format!("{name}.torrent"));
    libtorrent::create(&seed_dir.join(name), &torrent, 65536, false);
    (torrent, seed_dir, data)
}

fn lt_peer(mode: &str, torrent: &Path, dir: &Path, enc: &str, peers: &[String]) -> LtPeer {
    // Build bthelper first, so that a cold build does not eat into the peer's time.
    let _ = bin("bthelper");
    LtPeer::start(
        libtorrent::python()
            .args(["-c", LT_PEER, mode])
            .arg(torrent)
            .arg(dir)
            .arg(enc)
            .args(peers),
    )
}

fn bthelper(torrent: &Path, out: &Path, peers: &[u16], extra: &[&str]) -> Command {
    let mut cmd = swarmlink_tests::bthelper::download(torrent, out, peers, extra);
    // Nothing but the given peers (and never the internet): no DHT, no LSD.
    cmd.env("SWARMLINK_NO_DHT", "true")
        .env("SWARMLINK_NO_LSD", "true");
    cmd
}

#[test]
fn bthelper_downloads_from_libtorrent_that_requires_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, data) = fixture(dir.path(), "enc.bin", 4 * 1024 * 1024 + 99);
    let mut seeder = lt_peer("seed", &torrent, &seed_dir, "forced", &[]);
    seeder.run.wait_line("seeding", Duration::from_secs(20));
    // The default policy: plaintext first, refused, then MSE.
    let out = dir.path().join("out");
    spawn(&mut bthelper(&torrent, &out, &[seeder.port], &[]))
        .expect_success(Duration::from_secs(60));
    assert!(
        std::fs::read(out.join("enc.bin")).unwrap() == data,
        "downloaded bytes differ"
    );
    // And with `require`, straight to MSE.
    let out = dir.path().join("out-require");
    spawn(&mut bthelper(
        &torrent,
        &out,
        &[seeder.port],
        &["--encryption", "require"],
    ))
    .expect_success(Duration::from_secs(60));
    assert!(
        std::fs::read(out.join("enc.bin")).unwrap() == data,
        "downloaded bytes differ (require)"
    );
}

#[test]
fn libtorrent_requiring_encryption_downloads_from_bthelper() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, data) = fixture(dir.path(), "up.bin", 3 * 1024 * 1024 + 5);
    let mut seeder = spawn(&mut bthelper(&torrent, &seed_dir, &[], &["--seed"]));
    let port = seeder.wait_line("listening on port ", Duration::from_secs(60));
    seeder.wait_line("download complete", Duration::from_secs(30));

    let out = dir.path().join("lt");
    std::fs::create_dir_all(&out).unwrap();
    let mut leecher = lt_peer(
        "download",
        &torrent,
        &out,
        "forced",
        &[format!("127.0.0.1:{port}")],
    );
    leecher.run.wait_line("done", Duration::from_secs(60));
    assert!(
        std::fs::read(out.join("up.bin")).unwrap() == data,
        "libtorrent got different bytes"
    );
}

#[test]
fn require_never_falls_back_to_a_plaintext_only_peer() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, data) = fixture(dir.path(), "plain.bin", 1024 * 1024);
    let mut seeder = lt_peer("seed", &torrent, &seed_dir, "disabled", &[]);
    seeder.run.wait_line("seeding", Duration::from_secs(20));
    // What the seeder says from here on.
    let before = seeder.run.seen.len();

    let out = dir.path().join("out");
    let mut client = spawn(&mut bthelper(
        &torrent,
        &out,
        &[seeder.port],
        &["--encryption", "require"],
    ));
    // Our MSE knock reaches libtorrent, which cannot read it and drops it (no alert for that:
    // the connection never belonged to a torrent); the torrent's next attempt, after a 2 s
    // back-off, is MSE again. A connection that got through would show as "peers 1".
    for _ in 0..2 {
        seeder
            .run
            .wait_line("alert incoming_connection_alert", Duration::from_secs(30));
    }
    seeder.run.lines_within(Duration::from_secs(1));
    let seen = &seeder.run.seen[before..];
    assert!(
        !seen
            .iter()
            .any(|l| l.starts_with("peers ") || l.contains("peer_connect_alert")),
        "a connection got through: {seen:?}"
    );
    assert!(
        client.child.try_wait().unwrap().is_none(),
        "bthelper exited:\n{}",
        client.drain()
    );
    let got = std::fs::read(out.join("plain.bin")).unwrap_or_default();
    assert!(got != data, "data arrived over plaintext");
    let said = client.drain();
    assert!(!said.contains("panicked"), "bthelper: {said}");
}

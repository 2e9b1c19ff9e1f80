//! uTP (BEP 29) against python3-libtorrent on loopback with its TCP switched off both ways,
//! so every byte moves over uTP: bthelper downloads from a libtorrent seeder, and libtorrent
//! downloads from a bthelper seeder, byte-exact. Also with MSE (RC4) over uTP.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use swarmlink_tests::libtorrent::{self, LtPeer};
use swarmlink_tests::{bin, spawn, write_random};

/// A libtorrent peer that speaks uTP only. Prints "port N", then "seeding" or "done". A seed
/// runs until killed, a download until LT_TIMEOUT.
const LT_PEER: &str = r#"
import os, sys, time
import libtorrent as lt
mode, torrent, save, enc = sys.argv[1:5]
peers = sys.argv[5:]
pol = {"forced": lt.enc_policy.pe_forced, "disabled": lt.enc_policy.pe_disabled}[enc]
level = lt.enc_level.pe_rc4 if enc == "forced" else lt.enc_level.pe_plaintext
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False,
                "enable_outgoing_utp": True, "enable_incoming_utp": True,
                "enable_outgoing_tcp": False, "enable_incoming_tcp": False,
                "allow_multiple_connections_per_ip": True,
                "in_enc_policy": int(pol), "out_enc_policy": int(pol),
                "allowed_enc_level": int(level)})
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
deadline = time.time() + float(os.environ.get("LT_TIMEOUT", "90"))
shown = ("peer_connect_alert", "peer_disconnected_alert", "peer_error_alert")
last = 0
while mode == "seed" or time.time() < deadline:
    s.wait_for_alert(100)
    for a in s.pop_alerts():
        if type(a).__name__ in shown:
            print("alert", type(a).__name__, a.message(), flush=True)
    if mode == "download" and time.time() - last > 1:
        last = time.time()
        st = h.status()
        print("progress", round(st.progress, 3), "peers", st.num_peers, flush=True)
    if mode == "download" and (h.status().is_seeding or h.status().is_finished):
        print("done", flush=True)
        sys.exit(0)
print("timeout", h.status().progress, flush=True)
sys.exit(1)
"#;

fn fixture(dir: &Path, name: &str, len: usize) -> (PathBuf, PathBuf, Vec<u8>) {
    let seed_dir = dir.join("seed");
    let data = write_random(&seed_dir.join(name), len, len as u64);
    let torrent = dir.join(format!("{name}.torrent"));
    libtorrent::create(&seed_dir.join(name), &torrent, 65536, false);
    (torrent, seed_dir, data)
}

fn lt_peer(mode: &str, torrent: &Path, dir: &Path, enc: &str, peers: &[String]) -> LtPeer {
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
    cmd.env("SWARMLINK_NO_DHT", "true")
        .env("SWARMLINK_NO_LSD", "true");
    cmd
}

fn download_from_utp_only_libtorrent(enc: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, data) = fixture(dir.path(), "utp.bin", 8 * 1024 * 1024 + 77);
    let mut seeder = lt_peer("seed", &torrent, &seed_dir, enc, &[]);
    seeder.run.wait_line("seeding", Duration::from_secs(20));
    let out = dir.path().join("out");
    spawn(&mut bthelper(&torrent, &out, &[seeder.port], extra))
        .expect_success(Duration::from_secs(90));
    assert!(
        std::fs::read(out.join("utp.bin")).unwrap() == data,
        "downloaded bytes differ"
    );
}

#[test]
fn bthelper_downloads_from_libtorrent_over_utp() {
    download_from_utp_only_libtorrent("disabled", &[]);
}

#[test]
fn bthelper_downloads_from_libtorrent_over_utp_with_mse() {
    download_from_utp_only_libtorrent("forced", &["--encryption", "require"]);
}

#[test]
fn libtorrent_downloads_from_bthelper_over_utp() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, data) = fixture(dir.path(), "up.bin", 8 * 1024 * 1024 + 5);
    let mut seeder = spawn(&mut bthelper(&torrent, &seed_dir, &[], &["--seed"]));
    let port = seeder.wait_line("listening on port ", Duration::from_secs(60));
    seeder.wait_line("download complete", Duration::from_secs(30));
    let out = dir.path().join("lt");
    std::fs::create_dir_all(&out).unwrap();
    let mut leecher = lt_peer(
        "download",
        &torrent,
        &out,
        "disabled",
        &[format!("127.0.0.1:{port}")],
    );
    leecher.run.wait_line("done", Duration::from_secs(90));
    assert!(
        std::fs::read(out.join("up.bin")).unwrap() == data,
        "libtorrent got different bytes"
    );
}

#[test]
fn no_utp_cannot_reach_a_utp_only_peer() {
    // The off switch works: with uTP off, a uTP-only seeder is out of reach.
    let dir = tempfile::tempdir().unwrap();
    let (torrent, seed_dir, _) = fixture(dir.path(), "off.bin", 256 * 1024);
    let mut seeder = lt_peer("seed", &torrent, &seed_dir, "disabled", &[]);
    seeder.run.wait_line("seeding", Duration::from_secs(20));
    let out = dir.path().join("out");
    let mut client = spawn(&mut bthelper(&torrent, &out, &[seeder.port], &["--no-utp"]));
    std::thread::sleep(Duration::from_secs(5));
    let got = std::fs::read(out.join("off.bin")).unwrap_or_default();
    assert!(got.len() < 256 * 1024 || client.child.try_wait().unwrap().is_none());
    assert!(
        client.child.try_wait().unwrap().is_none(),
        "bthelper finished without uTP"
    );
}

//! Real clients over bttrack's UDP tracker (BEP 15) alone: a python3-libtorrent seeder and
//! downloader whose torrent names only `udp://` find each other and complete (two sessions of
//! one process: libtorrent shares one connection id among them, so ids are bound to the IP);
//! aria2 then downloads from the libtorrent seeders it learnt of over UDP. bttrack's /metrics shows the
//! traffic was UDP (no HTTP announce) and its scrape counts match what the clients did.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use protocol::Metainfo;
use swarmlink_tests::tracker::{metric, scrape, start_logged, SERVING_UDP_V4};
use swarmlink_tests::{bin, wait_until, KillOnDrop, SYSTEM_PYTHON};

const LIBTORRENT_UDP_PAIR: &str = r#"
import libtorrent as lt, os, sys, time
d, tracker = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(d, "seed"), exist_ok=True)
path = os.path.join(d, "seed", "payload.bin")
with open(path, "wb") as f:
    f.write(bytes((i * 13) % 251 for i in range(200000)))
fs = lt.file_storage()
lt.add_files(fs, path)
ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
ct.add_tracker(tracker)
lt.set_piece_hashes(ct, os.path.join(d, "seed"))
data = lt.bencode(ct.generate())
with open(os.path.join(d, "t.torrent"), "wb") as f:
    f.write(data)
def session():
    return lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                       "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
                       "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
                       "alert_mask": 0})
def add(ses, save, seed):
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(data)
    atp.save_path = save
    if seed:
        atp.flags |= lt.torrent_flags.seed_mode
    atp.flags &= ~(lt.torrent_flags.paused | lt.torrent_flags.auto_managed)
    return ses.add_torrent(atp)
seeder = session()
hs = add(seeder, os.path.join(d, "seed"), True)
deadline = time.time() + 20
while hs.status().state != lt.torrent_status.seeding and time.time() < deadline:
    time.sleep(0.05)
hs.force_reannounce()
print("seeding", flush=True)
leecher = session()
hl = add(leecher, os.path.join(d, "down"), False)
deadline = time.time() + 60
while not hl.status().is_seeding and time.time() < deadline:
    time.sleep(0.1)
print("downloaded" if hl.status().is_seeding else "failed", flush=True)
for line in sys.stdin:
    pass
"#;

#[test]
fn libtorrent_and_aria2_use_bttrack_over_udp_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin("bttrack"));
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--log", "-", "--open"])
        .args(["--interval", "60", "--min-interval", "1"])
        .stdout(Stdio::null());
    let (_tracker, port) = start_logged(cmd, SERVING_UDP_V4);
    let announce = format!("udp://127.0.0.1:{port}/announce");

    let mut py = KillOnDrop(
        Command::new(SYSTEM_PYTHON)
            .args(["-c", LIBTORRENT_UDP_PAIR])
            .arg(dir.path())
            .arg(&announce)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3-libtorrent is installed"),
    );
    let mut out = BufReader::new(py.0.stdout.take().unwrap()).lines();
    assert_eq!(out.next().unwrap().unwrap(), "seeding");
    assert_eq!(
        out.next().unwrap().unwrap(),
        "downloaded",
        "libtorrent downloader"
    );
    let original = std::fs::read(dir.path().join("seed/payload.bin")).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("down/payload.bin")).unwrap(),
        original
    );
    let torrent = std::fs::read(dir.path().join("t.torrent")).unwrap();
    let ih = Metainfo::from_bytes(&torrent).unwrap().info_hash;
    wait_until("libtorrent's completed announce over UDP", 30, || {
        let s = scrape(port, ih);
        s.complete == 2 && s.incomplete == 0 && s.downloaded == 1
    });

    // aria2 over the same udp:// tracker: it only learns of the libtorrent seeders from bttrack.
    // aria2 speaks UDP trackers through its DHT socket only ("udp is not supported yet"
    // otherwise), so its DHT is on, with a fresh routing table and no entry point: it knows no
    // node and contacts none.
    let aria_dir = dir.path().join("aria2");
    let status = Command::new("aria2c")
        .arg(format!("--dir={}", aria_dir.display()))
        .arg(format!(
            "--dht-file-path={}",
            dir.path().join("dht.dat").display()
        ))
        .args([
            "--enable-dht=true",
            "--dht-listen-port=6881-6999",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--seed-time=0",
            "--bt-stop-timeout=60",
            "--listen-port=6881-6999",
            "--console-log-level=warn",
            "--summary-interval=0",
        ])
        .arg(dir.path().join("t.torrent"))
        .stdout(Stdio::null())
        .status()
        .expect("aria2c is installed");
    assert!(status.success(), "aria2c failed: {status}");
    assert_eq!(
        std::fs::read(aria_dir.join("payload.bin")).unwrap(),
        original
    );
    wait_until("aria2's stopped announce over UDP", 20, || {
        let s = scrape(port, ih);
        s.complete == 2 && s.incomplete == 0
    });

    // All of that went over UDP: connects and announces counted there, none over HTTP.
    let req = |proto: &str, kind: &str| {
        metric(
            port,
            &format!(
                "bttrack_requests_total{{protocol=\"{proto}\",kind=\"{kind}\",outcome=\"ok\"}}"
            ),
        )
    };
    // libtorrent's two sessions connect once between them (its process-wide id cache).
    assert!(req("udp", "connect") >= 2, "libtorrent and aria2 connected");
    assert!(
        req("udp", "announce") >= 4,
        "started x3, completed, stopped"
    );
    assert_eq!(req("http", "announce"), 0);
    let _ = py.0.stdin.take().map(|mut i| i.write_all(b""));
}

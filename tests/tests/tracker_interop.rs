//! bttrack with real clients on loopback: two python3-libtorrent sessions (seeder + downloader)
//! find each other through it and the download completes; aria2 then downloads the same torrent
//! with peers it only learnt from bttrack; Transmission announces and shows up in the scrape
//! counts, and since it ignores loopback peers from trackers, the libtorrent seeders (told of it by
//! bttrack) dial it and it downloads too; the counts match what each client did.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use protocol::Metainfo;
use swarmlink_tests::tracker::{scrape, start_bttrack};
use swarmlink_tests::{free_port, wait_until, KillOnDrop, SYSTEM_PYTHON};

const LIBTORRENT_PAIR: &str = r#"
import libtorrent as lt, os, sys, time
d, tracker = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(d, "seed"), exist_ok=True)
os.makedirs(os.path.join(d, "down"), exist_ok=True)
path = os.path.join(d, "seed", "payload.bin")
with open(path, "wb") as f:
    f.write(bytes((i * 7) % 251 for i in range(300000)))
fs = lt.file_storage()
lt.add_files(fs, path)
# v1 only: aria2 computes another info-hash for hybrid torrents.
ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
ct.add_tracker(tracker)
lt.set_piece_hashes(ct, os.path.join(d, "seed"))
data = lt.bencode(ct.generate())
with open(os.path.join(d, "t.torrent"), "wb") as f:
    f.write(data)
ti = lt.torrent_info(data)
def session():
    return lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                       "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_utp": False,
                       "enable_incoming_utp": False, "allow_multiple_connections_per_ip": True,
                       "announce_to_all_trackers": True, "alert_mask": 0})
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
print("seeding", seeder.listen_port(), flush=True)
leecher = session()
hl = add(leecher, os.path.join(d, "down"), False)
deadline = time.time() + 60
while not hl.status().is_seeding and time.time() < deadline:
    time.sleep(0.1)
print("downloaded" if hl.status().is_seeding else "failed", leecher.listen_port(), flush=True)
# "reannounce": ask the tracker again now (to learn of a peer that came later) and dial it.
for line in sys.stdin:
    hs.force_reannounce()
    hl.force_reannounce()
"#;

#[test]
fn libtorrent_aria2_and_transmission_use_bttrack() {
    let dir = tempfile::tempdir().unwrap();
    let (_tracker, port) = start_bttrack(&["--open", "--interval", "60", "--min-interval", "1"]);
    let announce = format!("http://127.0.0.1:{port}/announce");

    // libtorrent: seeder and downloader only meet through the tracker.
    let mut py = KillOnDrop(
        Command::new(SYSTEM_PYTHON)
            .args(["-c", LIBTORRENT_PAIR])
            .arg(dir.path())
            .arg(&announce)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3-libtorrent is installed"),
    );
    let mut out = BufReader::new(py.0.stdout.take().unwrap()).lines();
    let seeding = out.next().unwrap().unwrap();
    assert!(seeding.starts_with("seeding"), "{seeding}");
    let done = out.next().unwrap().unwrap();
    assert!(
        done.starts_with("downloaded"),
        "libtorrent downloader: {done}"
    );
    let original = std::fs::read(dir.path().join("seed/payload.bin")).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("down/payload.bin")).unwrap(),
        original
    );

    let torrent = std::fs::read(dir.path().join("t.torrent")).unwrap();
    let ih = Metainfo::from_bytes(&torrent).unwrap().info_hash;
    // Both libtorrent sessions seed now, and the completion was counted.
    wait_until("libtorrent's completed announce", 30, || {
        let s = scrape(port, ih);
        s.complete == 2 && s.incomplete == 0 && s.downloaded == 1
    });

    // aria2: downloads using only the peers bttrack gives it, then says stopped.
    let aria_dir = dir.path().join("aria2");
    let status = Command::new("aria2c")
        .arg(format!("--dir={}", aria_dir.display()))
        .args([
            "--enable-dht=false",
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
    // aria2 leaves with `stopped` (seed-time 0), so only the two libtorrent seeders remain.
    // (It sends no `completed`: it finished between two announces and stopped at once.)
    wait_until("aria2's stopped announce", 20, || {
        let s = scrape(port, ih);
        s.complete == 2 && s.incomplete == 0 && s.downloaded >= 1
    });

    // Transmission: announces as a leecher and appears in the counts. It ignores loopback peers
    // learnt from trackers, so it cannot dial the seeders itself.
    let tr_home = dir.path().join("tr-home");
    std::fs::create_dir_all(&tr_home).unwrap();
    let _tr = KillOnDrop(
        Command::new("transmission-cli")
            .args(["-w"])
            .arg(dir.path().join("tr-down"))
            .arg("-M")
            .arg("-p")
            .arg(free_port().to_string())
            .arg("-g")
            .arg(&tr_home)
            .arg(dir.path().join("t.torrent"))
            .env("HOME", &tr_home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("transmission-cli is installed"),
    );
    wait_until("Transmission's announce", 60, || {
        scrape(port, ih).incomplete == 1
    });
    assert_eq!(scrape(port, ih).complete, 2);
    let _ = py.0.stdin.take().map(|mut i| i.write_all(b""));
}

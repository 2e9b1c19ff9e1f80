//! A web seed's compressed body is bounded like any other: a gzip bomb (about 1 MiB that
//! inflates to 1 GB) sent for a 16 MiB piece fails that web seed, and `bthelper download` never
//! holds more than a piece of it in memory nor writes past the piece's bytes.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use swarmlink_tests::{bin, KillOnDrop};

use super::server::{self, Mode};

const PIECE: u32 = 16 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_fails_its_web_seed_within_a_piece_of_memory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    let data = super::write_random(&root.join("bomb.bin"), 2 * PIECE as usize, 42);
    let srv = server::start(root.clone(), Mode::GzipBomb, 0).await;
    let torrent = super::make_torrent(&root.join("bomb.bin"), PIECE, false, &[&srv.url]);
    let torrent_path = dir.path().join("bomb.torrent");
    std::fs::write(&torrent_path, &torrent).unwrap();

    let out = dir.path().join("out");
    let log = dir.path().join("bthelper.log");
    // The bomb is its only source: it never finishes, and is killed when dropped.
    let child = KillOnDrop(
        Command::new(bin("bthelper"))
            .arg("download")
            .arg(&torrent_path)
            .arg("-o")
            .arg(&out)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let pid = child.id();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut peak = 0;
    // Two answers judged: the first failed and backed off, and it was asked again.
    while !(read_log().contains("longer than its Content-Range")
        && srv.stats.requests.load(Ordering::SeqCst) >= 2)
    {
        if let Some(kib) = super::bounds::peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        assert!(Instant::now() < deadline, "no refusal: {}", read_log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(kib) = super::bounds::peak_rss_kib(pid) {
        peak = peak.max(kib);
    }
    drop(child);
    eprintln!("peak RSS of bthelper: {} MiB", peak / 1024);
    assert!(peak > 0, "VmHWM was read");
    // A 16 MiB piece; the 1 GB the bomb inflates to never shows. A download streamed to disk
    // peaks near 19 MiB (see `bounds.rs`), one holding a piece near 35 MiB.
    assert!(peak < 32 * 1024, "peak RSS {} MiB", peak / 1024);
    // Nothing past the torrent's bytes on disk (zeros in place of a piece fail its check).
    let written = std::fs::metadata(out.join("bomb.bin")).map_or(0, |m| m.len());
    assert!(written <= data.len() as u64, "{written} bytes written");
}

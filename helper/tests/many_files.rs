//! A torrent of 10,000 small files, downloaded by `bthelper download` running under a descriptor
//! limit of 256 (soft and hard, so raising it cannot help): every file arrives byte-exact. One
//! open handle per file, as the storage once kept, ran out of descriptors after about 250 files
//! and failed the download.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use engine::{AddTorrent, Session, SessionConfig, TorrentState};
use sha1::Digest;

const FILES: usize = 10_000;
const PIECE: u64 = 16 * 1024;

#[test]
fn ten_thousand_files_under_a_low_descriptor_limit() {
    let seed_dir = tempfile::tempdir().unwrap();
    // Sizes 1..=200 bytes, in 50 directories: about 1 MB, pieces spanning ~160 files each.
    let files: Vec<(Vec<String>, Vec<u8>)> = (0..FILES)
        .map(|n| {
            let len = 1 + (n * 7919) % 200;
            let data = (0..len).map(|k| (n * 31 + k * 7) as u8).collect();
            (vec![format!("d{}", n % 50), format!("f{n}.bin")], data)
        })
        .collect();
    for (path, data) in &files {
        let p = seed_dir.path().join("many").join(path.join("/"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let all: Vec<u8> = files.iter().flat_map(|(_, d)| d.iter().copied()).collect();
    let pieces = all
        .chunks(PIECE as usize)
        .map(|c| sha1::Sha1::digest(c).into())
        .collect();
    let built = protocol::MetainfoBuilder::multi_file(
        "many",
        files.iter().map(|(p, d)| (p.clone(), d.len() as u64)),
    )
    .piece_length(PIECE)
    .pieces(pieces)
    .build()
    .unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seeder = runtime
        .block_on(Session::start(SessionConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            download_dir: seed_dir.path().to_path_buf(),
            ..Default::default()
        }))
        .unwrap();
    let ih = runtime
        .block_on(seeder.add(AddTorrent::metainfo(built.metainfo.clone())))
        .unwrap();
    wait_until("the seeder has checked 10,000 files", || {
        seeder
            .status(ih)
            .is_some_and(|s| s.state == TorrentState::Seeding)
    });

    let work = tempfile::tempdir().unwrap();
    let torrent = work.path().join("many.torrent");
    std::fs::write(&torrent, &built.bytes).unwrap();
    let out = work.path().join("out");
    // `ulimit -n` in sh sets the soft and the hard limit; exec keeps them for bthelper.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(EXE)
        .arg("download")
        .arg(&torrent)
        .arg("-o")
        .arg(&out)
        .arg("--state-dir")
        .arg(work.path().join("state"))
        .arg("--peer")
        .arg(seeder.local_addr().to_string())
        .env("SWARMLINK_NO_DHT", "1")
        .env("SWARMLINK_NO_LSD", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the download did not finish in 240 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "bthelper download failed: {stderr}");
    for (path, data) in &files {
        let p = out.join("many").join(path.join("/"));
        let got = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(&got == data, "{} differs", p.display());
    }
    runtime.block_on(seeder.shutdown());
}

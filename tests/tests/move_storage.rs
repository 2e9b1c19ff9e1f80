//! Moving a seeding torrent's files while it runs (`bthelper move`, the daemon's `move`): on
//! one file system (a rename) and across file systems (/dev/shm is a tmpfs: copy, verify,
//! delete). Afterwards the files are only in the new folder, the daemon seeds from there, and
//! python3-libtorrent downloads the whole torrent from it, byte-exact. A copy cancelled while it
//! runs leaves the files where they were.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use swarmlink_tests::daemon::Daemon;
use swarmlink_tests::libtorrent::{self, LtPeer};
use swarmlink_tests::{wait_until, write_random};

const FILES: [(&str, usize); 2] = [("a.bin", 300_001), ("b.bin", 200_017)];
const PIECE: u32 = 32 * 1024;

/// Seeds `show/` from the daemon's download folder, moves it to `elsewhere`, and has
/// libtorrent download it from the daemon afterwards.
fn move_then_serve(elsewhere: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    let originals: Vec<Vec<u8>> = (FILES.iter().enumerate())
        .map(|(i, (name, len))| write_random(&source.join("show").join(name), *len, 70 + i as u64))
        .collect();
    let torrent = dir.path().join("show.torrent");
    libtorrent::create(&source.join("show"), &torrent, PIECE, false);
    let hash = protocol::Metainfo::from_bytes(&std::fs::read(&torrent).unwrap())
        .unwrap()
        .info_hash
        .to_hex();

    let daemon = Daemon::start(json!({"allowed_dirs": [elsewhere]}));
    let first = daemon.downloads().join("show");
    std::fs::create_dir_all(&first).unwrap();
    for (name, _) in FILES {
        std::fs::copy(source.join("show").join(name), first.join(name)).unwrap();
    }
    daemon.run(&["add", torrent.to_str().unwrap()]);
    wait_until("the daemon seeds what it found", 30, || {
        daemon.status(&hash)["state"] == "seeding"
    });

    let moved = daemon.run(&["move", &hash, elsewhere.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&moved.stdout).to_string();
    let target = elsewhere.join("show");
    assert!(said.contains(&target.display().to_string()), "{said}");
    for (i, (name, _)) in FILES.iter().enumerate() {
        assert_eq!(std::fs::read(target.join(name)).unwrap(), originals[i]);
    }
    assert!(!first.exists(), "nothing left in the old folder");
    let status = daemon.status(&hash);
    assert_eq!(status["save_path"], target.display().to_string());
    assert_eq!(status["state"], "seeding");
    assert!(status.get("moving").is_none(), "{status}");

    // A peer that comes afterwards gets every byte from the new place.
    let out = dir.path().join("lt");
    let mut peer = LtPeer::start(
        libtorrent::python()
            .arg(libtorrent::peer_script())
            .arg("download")
            .arg(&torrent)
            .arg(&out)
            .arg(format!("127.0.0.1:{}", daemon.port))
            .env("DL_TIMEOUT", "60"),
    );
    peer.run.wait_line("done", Duration::from_secs(70));
    for (i, (name, _)) in FILES.iter().enumerate() {
        assert_eq!(
            std::fs::read(out.join("show").join(name)).unwrap(),
            originals[i]
        );
    }
    // The download list remembers the new folder: a restarted daemon seeds from there.
    daemon.run(&["daemon", "--stop"]);
    wait_until("the daemon seeds again after a restart", 30, || {
        daemon.status(&hash)["state"] == "seeding"
    });
    assert_eq!(
        daemon.status(&hash)["save_path"],
        target.display().to_string()
    );
}

#[test]
fn a_seeding_torrent_renamed_to_another_folder_keeps_seeding() {
    let elsewhere = tempfile::Builder::new()
        .prefix("slm-to")
        .tempdir_in("/tmp")
        .unwrap();
    move_then_serve(elsewhere.path());
}

#[test]
fn a_seeding_torrent_copied_across_file_systems_keeps_seeding() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("no /dev/shm: the copy path is covered by the engine's unit tests");
        return;
    }
    let elsewhere = tempfile::Builder::new()
        .prefix("slm-to")
        .tempdir_in(shm)
        .unwrap();
    move_then_serve(elsewhere.path());
}

/// `bthelper move HASH --cancel` while a copy to a tmpfs runs: the copy stops and is removed,
/// the files stay byte-exact where they were, and the daemon seeds on from there.
#[test]
fn a_cancelled_copy_across_file_systems_leaves_the_files_where_they_were() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("no /dev/shm: the cancelled copy is covered by the engine's unit tests");
        return;
    }
    let elsewhere = tempfile::Builder::new()
        .prefix("slm-to")
        .tempdir_in(shm)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Big enough that the copy (read, hash, write, sync, read back) outlasts two bthelper runs.
    let original = write_random(&dir.path().join("source/big.bin"), 256 << 20, 91);
    let torrent = dir.path().join("big.torrent");
    libtorrent::create(&dir.path().join("source/big.bin"), &torrent, 1 << 20, false);
    let hash = protocol::Metainfo::from_bytes(&std::fs::read(&torrent).unwrap())
        .unwrap()
        .info_hash
        .to_hex();
    let daemon = Daemon::start(json!({"allowed_dirs": [elsewhere.path()]}));
    std::fs::create_dir_all(daemon.downloads()).unwrap();
    let first = daemon.downloads().join("big.bin");
    std::fs::copy(dir.path().join("source/big.bin"), &first).unwrap();
    daemon.run(&["add", torrent.to_str().unwrap()]);
    wait_until("the daemon seeds what it found", 60, || {
        daemon.status(&hash)["state"] == "seeding"
    });

    daemon.run(&[
        "move",
        &hash,
        elsewhere.path().to_str().unwrap(),
        "--no-wait",
    ]);
    let cancelled = daemon.run(&["move", &hash, "--cancel"]);
    let said = String::from_utf8_lossy(&cancelled.stdout).to_string();
    assert!(said.contains("move cancelled"), "{said}");
    assert!(said.contains(&first.display().to_string()), "{said}");
    let left: Vec<_> = (std::fs::read_dir(elsewhere.path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "the partial copy is removed: {left:?}");
    let status = daemon.status(&hash);
    assert_eq!(status["save_path"], first.display().to_string());
    assert_eq!(status["state"], "seeding");
    assert!(status.get("moving").is_none(), "{status}");
    assert!(
        std::fs::read(&first).unwrap() == original,
        "the source is intact"
    );
    // Nothing left to cancel.
    assert!(!daemon
        .try_run(&["move", &hash, "--cancel"])
        .status
        .success());
}

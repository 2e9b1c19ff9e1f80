//! Magnet links through the daemon: `add` with `magnet` fetches the metadata from a peer,
//! downloads, and after a daemon restart the download comes back from the saved `.torrent`
//! (no peer needed to know what it is).

mod common;

use common::*;
use serde_json::json;

#[test]
fn a_magnet_added_to_the_daemon_downloads_and_survives_a_restart() {
    let home = Home::new();
    let data = test_data(700_000, 21);
    let (meta, _) = make_torrent("tune.bin", &data, 16 * 1024);
    let ih = meta.info_hash.to_hex();
    let seeder = Seeder::start(meta, "tune.bin", &data);
    let magnet = format!(
        "magnet:?xt=urn:btih:{ih}&dn=waiting+for+metadata&x.pe={}",
        seeder.session.local_addr()
    );

    let mut host = home.relay();
    host.call(json!({"cmd": "subscribe"}));
    let added = host.call(json!({"cmd": "add", "magnet": magnet}));
    assert_eq!(added["info_hash"], ih.as_str());
    assert_eq!(added["name"], "waiting for metadata");
    let done = host.wait_status(&ih, "seeding", |t| t["state"] == "seeding");
    assert_eq!(done["name"], "tune.bin");
    assert_eq!(done["total_bytes"], data.len() as u64);
    let saved = std::fs::read(home.downloads().join("tune.bin")).unwrap();
    assert!(saved == data, "the downloaded bytes differ");

    // Restart without the seeder: the torrent is known from the saved metadata, and the data
    // on disk makes it a seed again.
    drop(seeder);
    let pid = host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap() as u32;
    drop(host);
    home.kill_daemon(pid, "-TERM");
    let mut host = home.relay();
    host.call(json!({"cmd": "subscribe"}));
    let back = host.wait_status(&ih, "seeding after the restart", |t| {
        t["state"] == "seeding"
    });
    assert_eq!(back["name"], "tune.bin");
    assert_eq!(back["have_bytes"], data.len() as u64);
}

/// The same magnet added again with other peers (`x.pe`) once its metadata is cached: the
/// daemon starts it from the cached `.torrent` and dials the link's peers too (issue 15: they
/// were dropped, and the download sat at 0 peers).
#[test]
fn a_magnet_added_again_uses_its_new_peers_with_the_cached_metadata() {
    let home = Home::new();
    let data = test_data(500_000, 23);
    let (meta, _) = make_torrent("again.bin", &data, 16 * 1024);
    let ih = meta.info_hash.to_hex();
    let first = Seeder::start(meta.clone(), "again.bin", &data);
    let mut host = home.relay();
    host.call(json!({"cmd": "subscribe"}));
    let link = |peer: std::net::SocketAddr| format!("magnet:?xt=urn:btih:{ih}&x.pe={peer}");
    host.call(json!({"cmd": "add", "magnet": link(first.session.local_addr())}));
    host.wait_status(&ih, "the first download", |t| t["state"] == "seeding");
    drop(first);
    host.call(json!({"cmd": "remove", "info_hash": ih, "delete_files": false}));
    std::fs::remove_file(home.downloads().join("again.bin")).unwrap();

    // Only a new peer has the data now, and only the new link names it.
    let second = Seeder::start(meta, "again.bin", &data);
    host.call(json!({"cmd": "add", "magnet": link(second.session.local_addr())}));
    // Polled with `list`: progress events are diffs, and this status repeats the one the
    // removed download last had.
    wait_until("the download from the link's new peer", || {
        let list = host.call(json!({"cmd": "list"}));
        list["torrents"][0]["state"] == "seeding"
            && list["torrents"][0]["have_bytes"] == data.len() as u64
    });
    let saved = std::fs::read(home.downloads().join("again.bin")).unwrap();
    assert!(saved == data, "the downloaded bytes differ");
}

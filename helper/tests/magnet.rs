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

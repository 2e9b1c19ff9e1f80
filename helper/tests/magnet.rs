//! Magnet links through the daemon: `add` with `magnet` fetches the metadata from a peer,
//! downloads, and after a daemon restart the download comes back from the saved `.torrent`
//! (no peer needed to know what it is). A magnet or `.torrent` added again while it is listed
//! brings its sources to the running download.

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

/// A magnet added again while it is still listed (waiting for metadata from a peer that does
/// not answer): the daemon answers `already_added`, and dials the new link's `x.pe` peer, which
/// has the data. From a public page the same loopback peer is not dialled (the LAN rule).
#[test]
fn a_magnet_added_again_while_listed_dials_its_new_peers_under_the_lan_rule() {
    let home = Home::new();
    let data = test_data(300_000, 24);
    let (meta, _) = make_torrent("listed.bin", &data, 16 * 1024);
    let ih = meta.info_hash.to_hex();
    let seeder = Seeder::start(meta, "listed.bin", &data);
    let mut host = home.relay();
    // Port 1 on loopback: nothing listens, so the first link finds no peer.
    let link = |peer: String| format!("magnet:?xt=urn:btih:{ih}&x.pe={peer}");
    host.call(json!({"cmd": "add", "magnet": link("127.0.0.1:1".into())}));

    let second = link(seeder.session.local_addr().to_string());
    let from_a_page = json!({"cmd": "add", "magnet": second,
        "source_url": "https://example.com/files.html"});
    assert_eq!(host.error_code(from_a_page), "already_added");
    // Bounded look: a dial would take milliseconds on loopback.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        seeder.session.peers(seeder.info_hash).is_empty(),
        "a public page's loopback peer was dialled"
    );

    let reply = host.request(json!({"cmd": "add", "magnet": second}));
    assert_eq!(reply["error"]["code"], "already_added", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("were added"), "{message}");
    wait_until("the download from the second link's peer", || {
        let list = host.call(json!({"cmd": "list"}));
        list["torrents"][0]["state"] == "seeding"
            && list["torrents"][0]["have_bytes"] == data.len() as u64
    });
    assert_eq!(host.call(json!({"cmd": "list"}))["total"], 1);
    let saved = std::fs::read(home.downloads().join("listed.bin")).unwrap();
    assert!(saved == data, "the downloaded bytes differ");
}

/// A `.torrent` without trackers is listed and finds nobody; the same torrent's magnet with a
/// `tr` tracker added again makes the running download announce there and complete. From a
/// public page the loopback tracker is not announced to (the LAN rule).
#[test]
fn a_torrent_added_again_as_a_magnet_announces_to_its_tracker() {
    let home = Home::new();
    let data = test_data(300_000, 25);
    let (meta, torrent) = make_torrent("tracked.bin", &data, 16 * 1024);
    let ih = meta.info_hash.to_hex();
    let seeder = Seeder::start(meta, "tracked.bin", &data);
    let tracker = FakeTracker::start(seeder.session.local_addr());
    let mut host = home.relay();
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent)}));

    let magnet = format!("magnet:?xt=urn:btih:{ih}&tr={}", tracker.announce_url());
    let from_a_page = json!({"cmd": "add", "magnet": magnet,
        "source_url": "https://example.com/files.html"});
    assert_eq!(host.error_code(from_a_page), "already_added");
    // Bounded look: an announce would take milliseconds on loopback.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        tracker.announces(),
        0,
        "a public page's loopback tracker was announced to"
    );
    assert_eq!(
        host.error_code(json!({"cmd": "add", "magnet": magnet})),
        "already_added"
    );
    wait_until("the download from the tracker's peer", || {
        let list = host.call(json!({"cmd": "list"}));
        list["torrents"][0]["state"] == "seeding"
            && list["torrents"][0]["have_bytes"] == data.len() as u64
    });
    assert!(tracker.announces() >= 1);
    let saved = std::fs::read(home.downloads().join("tracked.bin")).unwrap();
    assert!(saved == data, "the downloaded bytes differ");
}

/// An HTTP tracker on loopback that answers every announce with one peer.
struct FakeTracker {
    addr: std::net::SocketAddr,
    announces: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeTracker {
    fn start(peer: std::net::SocketAddr) -> FakeTracker {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let announces = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = announces.clone();
        let std::net::IpAddr::V4(ip) = peer.ip() else {
            panic!("an IPv4 peer")
        };
        let mut body = b"d8:intervali60e5:peers6:".to_vec();
        body.extend_from_slice(&ip.octets());
        body.extend_from_slice(&peer.port().to_be_bytes());
        body.push(b'e');
        // Ends with the test process; each connection is one request, read with a timeout.
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        FakeTracker { addr, announces }
    }

    fn announce_url(&self) -> String {
        format!("http://{}/announce", self.addr)
    }

    fn announces(&self) -> usize {
        self.announces.load(std::sync::atomic::Ordering::SeqCst)
    }
}

//! Queueing through the daemon protocol: three downloads added with `max_active_downloads` 1
//! (two wait `queued`, then each starts in queue order as the one before finishes), and `queue`
//! reordering them.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const RUNNING: [&str; 4] = ["checking", "allocating", "connecting", "downloading"];

#[test]
fn three_adds_with_one_slot_run_one_after_another_in_order() {
    let home = Home::new();
    let mut host = home.relay();
    host.call(json!({"cmd": "subscribe"}));
    // Slow enough that each download spans several progress rounds.
    host.call(json!({"cmd": "set_settings", "settings":
        {"max_active_downloads": 1, "download_rate_limit": 2_000_000}}));

    let mut seeders = Vec::new();
    let mut hashes = Vec::new();
    for i in 0..3u8 {
        let data = test_data(2 * 1024 * 1024 + usize::from(i), 20 + i);
        let name = format!("q{i}.bin");
        let (metainfo, torrent) = make_torrent(&name, &data, 64 * 1024);
        let seeder = Seeder::start(metainfo, &name, &data);
        let peer = seeder.session.local_addr().to_string();
        let added = host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "peers": [peer]}));
        hashes.push(added["info_hash"].as_str().unwrap().to_owned());
        seeders.push(seeder);
    }
    // The second and third wait; then the third moves ahead of the second.
    host.wait_status(&hashes[2], "the third queued", |t| t["state"] == "queued");
    let list = host.call(json!({"cmd": "list"}));
    let state_of = |h: &str| {
        (list["torrents"].as_array().unwrap().iter())
            .find(|t| t["info_hash"] == h)
            .map(|t| t["state"].clone())
    };
    assert_eq!(state_of(&hashes[1]), Some(json!("queued")));
    assert_ne!(
        state_of(&hashes[0]),
        Some(json!("queued")),
        "the first started at once"
    );
    let moved = host.call(json!({"cmd": "queue", "info_hash": hashes[2], "to": "up"}));
    assert_eq!(moved["queue_position"], 1);
    assert_eq!(
        host.error_code(json!({"cmd": "queue", "info_hash": hashes[2], "to": "sideways"})),
        "bad_request"
    );
    let expected = [hashes[0].clone(), hashes[2].clone(), hashes[1].clone()];

    let mut states: HashMap<String, String> = HashMap::new();
    let mut finished: Vec<String> = Vec::new();
    let mut seen_queued = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while finished.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "not all finished: {finished:?} {states:?}"
        );
        let event = host.next_event();
        if event["event"] != "progress" {
            continue;
        }
        for t in event["torrents"].as_array().unwrap() {
            let hash = t["info_hash"].as_str().unwrap().to_owned();
            let state = t["state"].as_str().unwrap().to_owned();
            if state == "queued" {
                seen_queued.insert(hash.clone());
            }
            if state == "seeding" && !finished.contains(&hash) {
                finished.push(hash.clone());
            }
            states.insert(hash, state);
        }
        let running: Vec<&String> = (states.iter())
            .filter(|(_, s)| RUNNING.contains(&s.as_str()))
            .map(|(h, _)| h)
            .collect();
        assert!(running.len() <= 1, "two downloads at once: {states:?}");
    }
    assert_eq!(finished, expected, "downloads finished out of queue order");
    assert!(!seen_queued.contains(&hashes[0]), "the first never waited");
}

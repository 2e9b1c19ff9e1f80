//! Per-torrent rate limits through the daemon protocol: `add` with `down_limit`, the limit
//! holding (judged by the time a known byte count takes), `set_limits` lifting it mid-download,
//! bad values refused, and the limits remembered across a daemon restart.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const PIECE: u64 = 64 * 1024;
const MIB: u64 = 1024 * 1024;

fn have(t: &Value) -> u64 {
    t["have_bytes"].as_u64().unwrap()
}

#[test]
fn add_and_set_limits_cap_one_torrent_and_are_remembered() {
    let home = Home::new();
    let data = test_data(4 * MIB as usize, 3);
    let (metainfo, torrent) = make_torrent("capped.bin", &data, PIECE);
    let seeder = Seeder::start(metainfo, "capped.bin", &data);
    let ih = seeder.info_hash.to_hex();

    let mut host = home.relay();
    let bad = json!({"cmd": "add", "torrent_b64": b64(&torrent), "down_limit": 0});
    assert_eq!(host.error_code(bad), "bad_request");
    host.call(json!({"cmd": "subscribe"}));
    let cap = 200_000u64;
    host.call(json!({"cmd": "add", "torrent_b64": b64(&torrent), "down_limit": cap}));
    let port = host.call(json!({"cmd": "hello"}))["listen_port"]
        .as_u64()
        .unwrap() as u16;
    seeder.dial(port);

    // 1 MiB under the cap: at least (1 MiB - slack) / cap, the slack being the bucket's
    // quarter-second burst plus one socket read charged after it happened.
    let t1 = host.wait_status(&ih, "256 KiB", |t| have(t) >= MIB / 4);
    let at1 = Instant::now();
    let t2 = host.wait_status(&ih, "1.25 MiB", |t| have(t) >= MIB + MIB / 4);
    let secs = at1.elapsed().as_secs_f64();
    let moved = have(&t2) - have(&t1);
    let slack = 320 * 1024;
    let floor = (moved - slack) as f64 / cap as f64;
    eprintln!("{moved} bytes in {secs:.2} s under a {cap} B/s cap");
    assert!(secs >= floor, "{moved} bytes in {secs:.2} s: over the cap");
    assert_ne!(t2["state"], "seeding");

    // Bad requests change nothing.
    let unknown = "ab".repeat(20);
    assert_eq!(
        host.error_code(json!({"cmd": "set_limits", "info_hash": unknown, "down_limit": null})),
        "unknown_torrent"
    );
    assert_eq!(
        host.error_code(json!({"cmd": "set_limits", "info_hash": ih, "up_limit": 0})),
        "bad_request"
    );
    assert_eq!(
        host.error_code(json!({"cmd": "set_limits", "info_hash": ih, "down_limit": "fast"})),
        "bad_request"
    );

    // Lifted: the remaining ~2.75 MiB (14 s at the cap) comes at once.
    let reply = host.call(json!({"cmd": "set_limits", "info_hash": ih, "down_limit": null}));
    assert_eq!(
        reply,
        json!({"info_hash": ih, "down_limit": null, "up_limit": null})
    );
    let lifted = Instant::now();
    let done = host.wait_status(&ih, "seeding", |t| t["state"] == "seeding");
    let rest = lifted.elapsed();
    eprintln!("after set_limits lifted the cap: done in {rest:?}");
    assert!(
        rest < Duration::from_secs(8),
        "the lift did not apply: {rest:?}"
    );
    assert_eq!(have(&done), data.len() as u64);
    assert!(std::fs::read(home.downloads().join("capped.bin")).unwrap() == data);

    // A field left out stays; the limits survive a daemon restart.
    let reply = host.call(json!({"cmd": "set_limits", "info_hash": ih, "up_limit": 5000}));
    assert_eq!(reply["up_limit"], 5000);
    assert_eq!(reply["down_limit"], Value::Null);
    let pid = host.call(json!({"cmd": "hello"}))["pid"].as_u64().unwrap() as u32;
    home.kill_daemon(pid, "-TERM");
    drop(host);
    let mut host = home.relay();
    assert_ne!(host.call(json!({"cmd": "hello"}))["pid"], pid);
    let reply = host.call(json!({"cmd": "set_limits", "info_hash": ih, "down_limit": 7000}));
    assert_eq!(
        reply,
        json!({"info_hash": ih, "down_limit": 7000, "up_limit": 5000})
    );
}

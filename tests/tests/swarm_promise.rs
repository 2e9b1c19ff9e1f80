//! The swarm's promise (issue 9): "even with many simultaneous downloads, the upload burden on
//! the central server remains quite small". One `btpublish` capped at 4 MiB/s seeds an 8 MiB file
//! through `bttrack`; eight `bthelper download`s start at once on 127.0.0.1. Every copy must be
//! byte-exact and the publisher must upload at most twice the file (a plain HTTP server would send
//! eight copies): the downloaders have to trade pieces among themselves. bench/swarm.sh measures
//! the same at N = 2..16 against the tighter goal (1.3x at N = 16).
//!
//! Everything runs at the settings a user gets (issue 15): a public torrent, the downloaders with
//! the DHT (whose routers this machine cannot reach), local discovery, PEX and encryption as
//! shipped, and one default state directory shared by all of them. Their output must be calm:
//! no library log lines, no colour codes in a pipe, no resume-data warnings.
//!
//! The publisher's upload is its own count, from the `stopped` announce it sends the tracker when
//! interrupted (read back from the tracker's web log).

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swarmlink_tests::{bin, free_port, spawn, KillOnDrop, Running};

const FILE_SIZE: usize = 8 << 20;
const DOWNLOADERS: usize = 8;
const RATE: &str = "4M";
const RATE_BYTES: u64 = 4 << 20;

fn bttrack(log: &Path, deadline: Instant) -> (KillOnDrop, u16) {
    let exe = bin("bttrack");
    loop {
        let port = free_port();
        let mut child = KillOnDrop(
            Command::new(&exe)
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .arg("--log")
                .arg(log)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("bttrack starts"),
        );
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break; // lost the port to someone else: try another
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (child, port);
            }
            assert!(Instant::now() < deadline, "bttrack did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `uploaded` of the last `stopped` announce sent from peer port `port`, once the tracker's log
/// (flushed about every second) has it.
fn stopped_upload(log: &Path, port: u16, deadline: Instant) -> u64 {
    let needle = format!("&port={port}&uploaded=");
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let found = text
            .lines()
            .filter(|l| l.contains("event=stopped"))
            .filter_map(|l| l.split_once(&needle).map(|(_, rest)| rest))
            .filter_map(|rest| rest.split('&').next()?.parse::<u64>().ok())
            .next_back();
        if let Some(n) = found {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "the publisher's stopped announce never reached the tracker; its log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The body of `GET path` from the tracker (HTTP/1.0, so it closes after the reply).
fn http_get(port: u16, path: &str) -> String {
    use std::io::Write;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

#[test]
fn eight_downloaders_cost_the_publisher_at_most_two_copies() {
    // Build (or wait for) the binaries before the clock starts.
    let (publish_exe, helper_exe) = (bin("btpublish"), bin("bthelper"));
    // Everything at its defaults (the DHT looks up the public routers, LSD multicasts on every
    // interface): in a network of the test's own with only loopback, which is also the network
    // the defaults must cope with (no route to the DHT), and nothing leaves this host.
    if let Err(why) = swarmlink_tests::netns::own_network() {
        eprintln!("skipped: {why}");
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tracker.log");
    let (_tracker, tport) = bttrack(&log, deadline);

    let seed_dir = dir.path().join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let data: Vec<u8> = (0..FILE_SIZE).map(|_| rand::random::<u8>()).collect();
    let file = seed_dir.join("promise.bin");
    std::fs::write(&file, &data).unwrap();

    let pport = free_port();
    let mut publisher = spawn(
        Command::new(&publish_exe)
            .args(["--location", &format!("http://127.0.0.1:{tport}/publish/")])
            .args(["--ip", "127.0.0.1", "--port", &pport.to_string()])
            .args(["--upload-rate", RATE])
            .arg(&file),
    );
    publisher.wait_for_by(&format!(": http://127.0.0.1:{tport}/"), deadline);
    let url = format!("http://127.0.0.1:{tport}/promise.bin.torrent");

    let started = Instant::now();
    let mut downloads: Vec<(PathBuf, Running)> = (0..DOWNLOADERS)
        .map(|i| {
            let out = dir.path().join(format!("leech-{i}"));
            // No --state-dir: the default one, the same for every downloader.
            let run = spawn(
                Command::new(&helper_exe)
                    .args(["download", &url, "-o"])
                    .arg(out.join("out"))
                    .env("XDG_STATE_HOME", dir.path().join("state"))
                    .env_remove("SWARMLINK_NO_DHT")
                    .env_remove("SWARMLINK_NO_LSD")
                    .env_remove("SWARMLINK_LOG")
                    .env_remove("RUST_LOG"),
            );
            (out, run)
        })
        .collect();
    let mut times = Vec::new();
    for (i, (out, run)) in downloads.iter_mut().enumerate() {
        // Panics with what the download printed if it is still running at the deadline.
        let status = run.wait_exit(deadline.saturating_duration_since(Instant::now()));
        times.push(started.elapsed());
        let output = run.output();
        assert!(status.success(), "download {i} failed:\n{output}");
        for bad in ["\x1b[", "mainline", "cannot save resume data"] {
            assert!(
                !output.contains(bad),
                "download {i} printed {bad:?}:\n{output}"
            );
        }
        let got = std::fs::read(out.join("out/promise.bin")).unwrap();
        assert!(got == data, "download {i} is not byte-exact");
    }

    // Each downloader told the tracker it completed (event=completed), even though it exited
    // right after finishing: the listing counts every one of them.
    let completed = loop {
        let listing = http_get(tport, "/?format=json");
        let json: serde_json::Value = serde_json::from_str(&listing).expect("listing JSON");
        let n = json["torrents"][0]["completed"].as_u64().unwrap_or(0);
        if n >= DOWNLOADERS as u64 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        completed, DOWNLOADERS as u64,
        "completions the tracker counted"
    );

    // Stop the publisher cleanly: it reports its own upload total in its `stopped` announce.
    publisher.interrupt();
    let uploaded = stopped_upload(&log, pport, deadline);
    let ratio = uploaded as f64 / FILE_SIZE as f64;
    let one_copy = FILE_SIZE as f64 / RATE_BYTES as f64;
    let slowest = times.iter().max().unwrap().as_secs_f64();
    eprintln!(
        "publisher uploaded {uploaded} bytes = {ratio:.2}x the file for {DOWNLOADERS} downloads \
         (a plain HTTP server: {DOWNLOADERS}x); slowest download {slowest:.1} s, one copy at the cap {one_copy:.1} s"
    );
    assert!(
        ratio <= 2.0,
        "the publisher uploaded {ratio:.2}x the file for {DOWNLOADERS} downloaders (at most 2x expected): \
         the downloaders are not trading among themselves"
    );
    assert!(
        ratio >= 0.99,
        "the publisher cannot have sent less than one copy: {uploaded}"
    );
}

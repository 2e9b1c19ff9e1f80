//! `bthelper download URL`: the `.torrent` is fetched over HTTP (following a redirect, as tracker
//! and web links often do) and downloaded byte-exact from a real engine seeder; a URL that
//! answers 404 fails with the server's status and a non-zero exit.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::thread;

use common::*;

/// A one-thread HTTP/1.1 server: `/go` redirects to `/file.torrent`, which serves `torrent`;
/// anything else is 404. Each connection gets one answer and is closed.
fn serve(torrent: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&request);
            let path = line.split_whitespace().nth(1).unwrap_or("");
            let (head, body): (String, &[u8]) = match path {
                "/go" => (
                    "HTTP/1.1 302 Found\r\nLocation: /file.torrent\r\nContent-Length: 0".into(),
                    b"",
                ),
                "/file.torrent" => (
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-bittorrent\r\nContent-Length: {}",
                        torrent.len()
                    ),
                    &torrent,
                ),
                _ => (
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0".into(),
                    b"",
                ),
            };
            let _ = stream.write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes());
            let _ = stream.write_all(body);
        }
    });
    port
}

#[test]
fn download_by_url_follows_a_redirect_and_fetches_the_file_byte_exact() {
    let data = test_data(1024 * 1024 + 77, 3);
    let (metainfo, torrent) = make_torrent("clip.bin", &data, 64 * 1024);
    let seeder = Seeder::start(metainfo, "clip.bin", &data);
    let http = serve(torrent);
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(EXE)
        .arg("download")
        .arg(format!("http://127.0.0.1:{http}/go"))
        .arg("--peer")
        .arg(seeder.session.local_addr().to_string())
        .arg("-o")
        .arg(out.path())
        .arg("--state-dir")
        .arg(out.path().join("state"))
        .status()
        .unwrap();
    assert!(status.success(), "bthelper download exited with {status}");
    assert!(std::fs::read(out.path().join("clip.bin")).unwrap() == data);
}

#[test]
fn download_by_url_reports_the_servers_refusal() {
    let http = serve(Vec::new());
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(EXE)
        .arg("download")
        .arg(format!("http://127.0.0.1:{http}/missing.torrent"))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("404"), "stderr: {stderr}");
}

#[test]
fn environment_switches_take_1_true_and_0() {
    // SWARMLINK_NO_DHT=1 is how tests and scripts keep bthelper off the public DHT: it must
    // parse like the daemon's switch does, not only as clap's `true`/`false`.
    for value in ["1", "true", "0", "false", ""] {
        let output = Command::new(EXE)
            .args(["download", "/nonexistent/x.torrent"])
            .env("SWARMLINK_NO_DHT", value)
            .env("SWARMLINK_NO_LSD", value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("x.torrent") && !stderr.contains("invalid value"),
            "SWARMLINK_NO_DHT={value:?}: {stderr}"
        );
    }
}

//! The streaming server answers this machine only: it listens on loopback, so a client on any
//! other address (here: an interface of the test's own network namespace) is refused at the
//! socket, before a token or a `Host` is even read.

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use swarmlink_tests::{bin, libtorrent, netns};

fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .expect("ip (iproute2)");
    assert!(status.success(), "ip {args:?}");
}

#[test]
fn a_client_on_another_address_is_refused_at_the_socket() {
    if let Err(why) = netns::own_network() {
        return netns::cannot(&why);
    }
    // An address of this namespace that is not loopback: what a LAN client would connect to.
    ip(&["link", "add", "sl0", "type", "veth", "peer", "name", "sl1"]);
    ip(&["addr", "add", "10.79.0.1/24", "dev", "sl0"]);
    ip(&["link", "set", "sl0", "up"]);
    ip(&["link", "set", "sl1", "up"]);

    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("clip.webm");
    std::fs::write(&content, vec![7u8; 300_000]).unwrap();
    let torrent = dir.path().join("clip.torrent");
    libtorrent::create(&content, &torrent, 16384, false);
    let home = dir.path().join("home");
    let bthelper = |args: &[&str]| {
        Command::new(bin("bthelper"))
            .args(args)
            .env("SWARMLINK_HOME", &home)
            .env("SWARMLINK_NO_DHT", "true")
            .env("SWARMLINK_NO_LSD", "true")
            .output()
            .expect("bthelper runs")
    };
    let out = bthelper(&["stream", torrent.to_str().unwrap()]);
    let stop = || bthelper(&["daemon", "--stop"]);
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            stop();
            panic!(
                "no stream URL: {url} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let connect = |ip: &str| {
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        TcpStream::connect_timeout(&addr, Duration::from_secs(5))
    };
    let loopback = connect("127.0.0.1");
    let other = connect("10.79.0.1");
    stop();
    assert!(loopback.is_ok(), "loopback: {loopback:?}");
    let refused = other.expect_err("a client on 10.79.0.1 reached the streaming server");
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
}

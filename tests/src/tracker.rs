//! bttrack as the cross-part tests run it: on port 0 with its log on stderr, the port read from
//! the line announcing it; and the plain HTTP calls the tests make of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use protocol::tracker::{ScrapeRequest, ScrapeResponse, ScrapeStats};
use protocol::InfoHash;

use crate::{bin, KillOnDrop};

/// What bttrack logs once it serves: `serving http://HOST:PORT/ and udp://HOST:PORT`.
pub const SERVING_HTTP_V4: &str = "serving http://127.0.0.1:";
pub const SERVING_HTTP_V6: &str = "serving http://[::1]:";
pub const SERVING_UDP_V4: &str = " and udp://127.0.0.1:";

/// Starts `bttrack --bind 127.0.0.1 --port 0 --log -` with `args` and returns it with its port.
pub fn start_bttrack(args: &[&str]) -> (KillOnDrop, u16) {
    let mut cmd = Command::new(bin("bttrack"));
    cmd.args(["--bind", "127.0.0.1", "--port", "0", "--log", "-"])
        .args(args)
        .stdout(Stdio::null());
    start_logged(cmd, SERVING_HTTP_V4)
}

/// Starts `cmd` (a bttrack command line, possibly wrapped, e.g. by strace) with its log on a
/// piped stderr, and returns it once it logs `marker` followed by the port it serves on.
pub fn start_logged(mut cmd: Command, marker: &str) -> (KillOnDrop, u16) {
    let mut child = KillOnDrop(
        cmd.env("RUST_LOG", "bttrack=info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .expect("bttrack starts"),
    );
    let port = port_from_log(&mut child, marker);
    (child, port)
}

/// Reads `child`'s stderr up to the line holding `marker` and returns the port that follows it;
/// the rest of the log is drained off-thread so the tracker never blocks on a full pipe.
pub fn port_from_log(child: &mut KillOnDrop, marker: &str) -> u16 {
    let stderr = child.0.stderr.take().expect("bttrack's stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("bttrack logs its address before anything else")
            .expect("bttrack's log is text");
        if let Some(rest) = line.split(marker).nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            break digits.parse().expect("a port follows the address");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    port
}

/// One HTTP GET to 127.0.0.1:`port` with a short timeout; the body.
pub fn http_get(port: u16, target: &str) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    buf.split_off(at + 4)
}

/// The tracker's counts for one torrent (zeros when it does not know it).
pub fn scrape(port: u16, h: InfoHash) -> ScrapeStats {
    let q = ScrapeRequest {
        info_hashes: vec![h],
    }
    .to_query();
    let r = ScrapeResponse::decode(&http_get(port, &format!("/scrape?{q}"))).unwrap();
    r.files.get(&h).copied().unwrap_or_default()
}

/// One counter from /metrics (`name value` lines).
pub fn metric(port: u16, name: &str) -> u64 {
    let m = String::from_utf8(http_get(port, "/metrics")).unwrap();
    m.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap()
}

//! Hostile peers against a seeder: memory stays bounded and honest peers are still served
//! whatever attackers send (issue 14, section 2). The attackers are `swarmlink_tests::hostile`,
//! dialing from their own loopback addresses (127.0.0.x) so per-host caps and bans apply to them
//! as to hosts on the internet. Assertions are on outcomes (bytes, counts, closed or not), with
//! generous deadlines; bench/hostile.sh measures the figures.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use protocol::wire::{self, Handshake, Message};
use protocol::{InfoHash, MetainfoBuilder};
use swarmlink_tests::hostile::{self, Attack, Mode, Report, Target};
use swarmlink_tests::{bthelper, spawn, write_random};

const MIB: usize = 1024 * 1024;

/// `len` random bytes in `dir/seed/NAME` and a torrent of them with `piece_len` pieces.
fn fixture(dir: &Path, name: &str, len: usize, piece_len: usize) -> (PathBuf, InfoHash) {
    let seed = dir.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    let data = write_random(&seed.join(name), len, len as u64);
    let pieces = data
        .chunks(piece_len)
        .map(|c| InfoHash::of_info_bytes(c).0)
        .collect();
    let built = MetainfoBuilder::single_file(name, len as u64)
        .piece_length(piece_len as u64)
        .pieces(pieces)
        .build()
        .unwrap();
    let torrent = dir.join(format!("{name}.torrent"));
    std::fs::write(&torrent, &built.bytes).unwrap();
    (torrent, built.info_hash)
}

/// An engine session seeding `torrent` from `dir/seed` with `config`'s bounds.
struct Seeder {
    session: engine::Session,
    ih: InfoHash,
    target: Target,
    /// Runs the session's tasks; dropped last.
    _runtime: tokio::runtime::Runtime,
}

fn seeder(dir: &Path, torrent: &Path, config: engine::SessionConfig) -> Seeder {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = engine::SessionConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        download_dir: dir.join("seed"),
        ..config
    };
    let session = runtime.block_on(engine::Session::start(config)).unwrap();
    let meta = protocol::Metainfo::from_bytes(&std::fs::read(torrent).unwrap()).unwrap();
    let ih = runtime
        .block_on(session.add(engine::AddTorrent::metainfo(meta)))
        .unwrap();
    swarmlink_tests::wait_until("the seeder checked its data", 60, || {
        session.status(ih).unwrap().state == engine::TorrentState::Seeding
    });
    let target = Target::from_torrent(session.local_addr(), torrent).unwrap();
    Seeder {
        session,
        ih,
        target,
        _runtime: runtime,
    }
}

fn host(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// A connection from `source` through the handshake; `None` if the victim refused it.
fn join(target: &Target, source: Ipv4Addr) -> Option<TcpStream> {
    let report = Report::default();
    let mut s = hostile::dial(target, source, &report).expect("loopback connect");
    hostile::open(&mut s, target, &report).then_some(s)
}

/// Reads frames until one satisfies `until` (true) or the connection ends / `limit` passes
/// (false); counts rejects and blocks on the way.
fn read_frames(
    s: &mut TcpStream,
    limit: Duration,
    counts: &mut (u64, u64),
    mut until: impl FnMut(&Message<'_>) -> bool,
) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return false,
        }
        let mut used = 0;
        while let Ok(Some((msg, n))) = wire::decode(&buf[used..], 1 << 20) {
            used += n;
            match msg {
                Message::RejectRequest(_) => counts.0 += 1,
                Message::Piece { .. } => counts.1 += 1,
                _ => {}
            }
            if until(&msg) {
                return true;
            }
        }
        buf.drain(..used);
    }
    false
}

fn send_interested_and_wait_unchoke(s: &mut TcpStream) {
    let mut out = Vec::new();
    Message::Interested.encode(&mut out);
    s.write_all(&out).unwrap();
    let unchoked = read_frames(s, Duration::from_secs(20), &mut (0, 0), |m| {
        *m == Message::Unchoke
    });
    assert!(unchoked, "the seeder never unchoked an interested peer");
}

fn requests(target: &Target, from: u64, n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in from..from + n {
        Message::Request(target.block(i)).encode(&mut out);
    }
    out
}

/// `VmRSS` of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The case: peers that say interested, request valid blocks as fast as they can and
/// never read grew a seeding bthelper by gigabytes. Now its memory stays bounded, and an honest
/// downloader in the same minute still gets the whole file.
#[test]
fn a_request_flood_that_never_reads_does_not_grow_the_seeder() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, _) = fixture(dir.path(), "flood.bin", 32 * MIB, MIB);
    let mut seed = spawn(&mut bthelper::download(
        &torrent,
        &dir.path().join("seed"),
        &[],
        &["--seed"],
    ));
    let port: u16 = seed
        .wait_line("listening on port ", Duration::from_secs(60))
        .parse()
        .unwrap();
    seed.wait_for("seeding", Duration::from_secs(120));
    let pid = seed.child.id();
    // Let start-up allocations settle before the baseline.
    std::thread::sleep(Duration::from_secs(1));
    let before = rss_kib(pid);
    let target = Target::from_torrent(SocketAddr::from(([127, 0, 0, 1], port)), &torrent).unwrap();
    let attack = std::thread::spawn(move || {
        hostile::run(
            target,
            Attack {
                mode: Mode::RequestFlood,
                peers: 4,
                duration: Duration::from_secs(20),
                first_source: host(50),
            },
        )
    });
    let honest_out = dir.path().join("honest");
    let mut honest = spawn(&mut bthelper::download(&torrent, &honest_out, &[port], &[]));
    let mut peak = before;
    let started = Instant::now();
    while !attack.is_finished() {
        peak = peak.max(rss_kib(pid));
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the attack did not end"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let report = attack.join().unwrap();
    honest.expect_success(Duration::from_secs(180));
    assert!(
        seed.child.try_wait().unwrap().is_none(),
        "the seeder died: {:?}",
        seed.drain()
    );
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!(
        "seeder RSS {before} KiB -> peak {peak} KiB; attackers: {}",
        report.summary()
    );
    assert!(
        report.get(|r| &r.requests) >= 2000,
        "the attackers got few requests in: {}",
        report.summary()
    );
    assert!(
        growth_mib < 64,
        "the seeder grew by {growth_mib} MiB under a request flood that never reads"
    );
    assert_eq!(
        std::fs::read(honest_out.join("flood.bin")).unwrap(),
        std::fs::read(dir.path().join("seed/flood.bin")).unwrap()
    );
}

/// Past the queue limit requests are rejected (fast extension); a peer that keeps sending them
/// is dropped and its host banned: it cannot come back with a new port and peer id, while
/// another host still can.
#[test]
fn requests_past_the_limit_are_rejected_and_the_flooder_banned_by_host() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, _) = fixture(dir.path(), "limit.bin", 4 * MIB, 256 * 1024);
    let seeder = seeder(dir.path(), &torrent, Default::default());
    let t = seeder.target;
    let mut s = join(&t, host(60)).expect("first connection accepted");
    send_interested_and_wait_unchoke(&mut s);
    // 2000 requests in one go, not reading meanwhile: at most 500 are held.
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    s.write_all(&requests(&t, 0, 2000)).unwrap();
    let mut counts = (0, 0);
    let ended = !read_frames(&mut s, Duration::from_secs(30), &mut counts, |_| false);
    let (rejects, blocks) = counts;
    assert!(
        ended,
        "the flooder was not dropped ({rejects} rejects, {blocks} blocks)"
    );
    assert!(rejects > 0, "no request was rejected ({blocks} blocks)");
    assert!(blocks < 2000 - 500, "{blocks} blocks for 2000 requests");
    // A fresh port and a fresh peer id from the same host: refused.
    assert!(join(&t, host(60)).is_none(), "a banned host got back in");
    assert!(join(&t, host(61)).is_some(), "another host was refused");
    drop(seeder);
}

/// A peer that stops reading is dropped once its socket took nothing for the write timeout.
#[test]
fn a_peer_that_stops_reading_is_dropped_after_the_write_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, _) = fixture(dir.path(), "stall.bin", 16 * MIB, MIB);
    let config = engine::SessionConfig {
        peer_write_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let seeder = seeder(dir.path(), &torrent, config);
    let t = seeder.target;
    let mut s = join(&t, host(70)).expect("accepted");
    send_interested_and_wait_unchoke(&mut s);
    // The peer list is a snapshot the torrent publishes now and then.
    swarmlink_tests::wait_until("the peer to be listed", 20, || {
        seeder.session.peers(seeder.ih).len() == 1
    });
    // 500 blocks (8 MiB) asked for, and never read: the seeder's socket fills and stalls.
    s.write_all(&requests(&t, 0, 500)).unwrap();
    let started = Instant::now();
    swarmlink_tests::wait_until("the stalled peer to be dropped", 60, || {
        seeder.session.peers(seeder.ih).is_empty()
    });
    eprintln!("dropped after {:?}", started.elapsed());
    drop(s);
}

/// Connections still in their handshake count against `max_peers_per_torrent`: half-open
/// connections cannot make the torrent accept more than its limit.
#[test]
fn handshaking_connections_count_against_max_peers() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, _) = fixture(dir.path(), "half.bin", MIB, 256 * 1024);
    let config = engine::SessionConfig {
        max_peers_per_torrent: 3,
        ..Default::default()
    };
    let seeder = seeder(dir.path(), &torrent, config);
    let t = seeder.target;
    // Three connections that name the torrent and then stop short of their peer id.
    let mut half_open = Vec::new();
    for i in 0..3 {
        let report = Report::default();
        let mut s = hostile::dial(&t, host(80 + i), &report).unwrap();
        s.write_all(&hostile::handshake(&t)[..Handshake::PREFIX_LEN])
            .unwrap();
        let mut theirs = [0u8; Handshake::LEN];
        s.read_exact(&mut theirs).expect("the seeder answered");
        half_open.push(s);
    }
    assert!(
        join(&t, host(90)).is_none(),
        "a fourth connection was accepted past max_peers=3 while three were handshaking"
    );
    drop(half_open);
    swarmlink_tests::wait_until("room after the half-open ones closed", 30, || {
        join(&t, host(91)).is_some()
    });
    drop(seeder);
}

/// One host gets at most `max_peers_per_ip` connections; other hosts are still let in.
#[test]
fn one_host_is_held_to_max_peers_per_ip() {
    let dir = tempfile::tempdir().unwrap();
    let (torrent, _) = fixture(dir.path(), "perip.bin", MIB, 256 * 1024);
    let config = engine::SessionConfig {
        max_peers_per_ip: 2,
        ..Default::default()
    };
    let seeder = seeder(dir.path(), &torrent, config);
    let t = seeder.target;
    let a = join(&t, host(100)).expect("first from the host");
    let b = join(&t, host(100)).expect("second from the host");
    assert!(
        join(&t, host(100)).is_none(),
        "a third from one host got in"
    );
    assert!(join(&t, host(101)).is_some(), "another host was refused");
    drop((a, b));
    drop(seeder);
}

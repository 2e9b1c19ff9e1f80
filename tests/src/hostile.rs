//! Scripted hostile peers: what a victim (a seeding bthelper, btpublish, libtorrent) must survive
//! with bounded memory while it keeps serving honest peers. Used by tests/tests/hostile.rs and,
//! through the `hostile-peer` binary, by bench/hostile.sh.
//!
//! Every attacker is a thread with blocking sockets, bounded in count and in time: it stops at
//! its deadline whatever the victim does. Attackers dial from their own loopback addresses
//! (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127/8 to lo), so the victim sees one host
//! per attacker, as it would on the internet, and per-host caps and bans are what is tested.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::wire::{self, Extension, Handshake, Message, Reserved};
use protocol::{InfoHash, Metainfo, PeerId};
use socket2::{Domain, Socket, Type};

/// What an attacker does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fast-extension handshake, `interested`, then valid block requests as fast as the victim
    /// takes them, never reading a byte (the 2.6 GB case).
    RequestFlood,
    /// Connect, send a handshake, hang up; again, as fast as possible.
    HandshakeFlood,
    /// Several connections each dribbling a handshake one byte a second, never finishing.
    SlowLoris,
    /// Sends blocks nobody asked for until it is banned, then comes back with a fresh port and
    /// peer id, again and again: counts how often it got back in.
    Rebanned,
    /// Claims every piece and answers requests with garbage (a downloader victim gets corrupt
    /// pieces); sends unasked garbage blocks to a seeder.
    Corrupt,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        Ok(match s {
            "request-flood" => Mode::RequestFlood,
            "handshake-flood" => Mode::HandshakeFlood,
            "slow-loris" => Mode::SlowLoris,
            "rebanned" => Mode::Rebanned,
            "corrupt" => Mode::Corrupt,
            _ => return Err(format!("unknown mode {s:?}")),
        })
    }
}

/// The victim: where it listens and the torrent it serves.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub addr: SocketAddr,
    pub info_hash: InfoHash,
    pub piece_len: u64,
    pub total: u64,
}

impl Target {
    pub fn from_torrent(addr: SocketAddr, torrent: &Path) -> Result<Target, String> {
        let bytes = std::fs::read(torrent).map_err(|e| format!("{}: {e}", torrent.display()))?;
        let m = Metainfo::from_bytes(&bytes).map_err(|e| format!("{}: {e}", torrent.display()))?;
        Ok(Target {
            addr,
            info_hash: m.info_hash,
            piece_len: m.info.piece_length,
            total: m.info.total_length,
        })
    }

    /// The `n`th valid block request of the torrent (wrapping around).
    pub fn block(&self, n: u64) -> wire::BlockRef {
        let per_piece = self.piece_len.div_ceil(BLOCK);
        let total_blocks = self.total.div_ceil(BLOCK);
        let n = n % total_blocks;
        let (piece, i) = (n / per_piece, n % per_piece);
        let begin = i * BLOCK;
        let piece_size = self.piece_len.min(self.total - piece * self.piece_len);
        wire::BlockRef {
            piece: piece as u32,
            begin: begin as u32,
            length: BLOCK.min(piece_size - begin) as u32,
        }
    }
}

const BLOCK: u64 = 16 * 1024;

/// How many attackers of one mode, from which addresses, for how long.
#[derive(Debug, Clone, Copy)]
pub struct Attack {
    pub mode: Mode,
    pub peers: usize,
    pub duration: Duration,
    /// The first attacker's source address; the others take the following ones.
    pub first_source: Ipv4Addr,
}

/// What the attackers saw, summed over all of them.
#[derive(Debug, Default)]
pub struct Report {
    /// TCP connections established.
    pub connects: AtomicU64,
    /// Connections the victim answered with its handshake.
    pub accepted: AtomicU64,
    /// Connections the victim closed or refused before answering the handshake.
    pub refused: AtomicU64,
    /// Established connections the victim ended later (dropped us).
    pub dropped: AtomicU64,
    /// Requests / garbage blocks / handshake bytes we got onto the victim's socket.
    pub requests: AtomicU64,
    pub blocks: AtomicU64,
    /// Rebanned: connections accepted after the first time the victim dropped us.
    pub accepted_after_drop: AtomicU64,
}

impl Report {
    pub fn get(&self, f: impl Fn(&Report) -> &AtomicU64) -> u64 {
        f(self).load(Ordering::Relaxed)
    }

    pub fn summary(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "connects={} accepted={} refused={} dropped={} requests={} blocks={} accepted_after_drop={}",
            g(&self.connects),
            g(&self.accepted),
            g(&self.refused),
            g(&self.dropped),
            g(&self.requests),
            g(&self.blocks),
            g(&self.accepted_after_drop)
        )
    }
}

/// Runs `attack` against `target` until its duration ends; returns what the attackers saw.
pub fn run(target: Target, attack: Attack) -> Arc<Report> {
    let report = Arc::new(Report::default());
    let deadline = Instant::now() + attack.duration;
    let threads: Vec<_> = (0..attack.peers)
        .map(|i| {
            let source = Ipv4Addr::from(u32::from(attack.first_source) + i as u32);
            let report = report.clone();
            std::thread::spawn(move || attacker(target, attack.mode, source, deadline, &report))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    report
}

fn attacker(target: Target, mode: Mode, source: Ipv4Addr, deadline: Instant, report: &Report) {
    let mut dropped_once = false;
    while Instant::now() < deadline {
        let outcome = match mode {
            Mode::RequestFlood => request_flood(&target, source, deadline, report),
            Mode::HandshakeFlood => handshake_flood(&target, source, report),
            Mode::SlowLoris => slow_loris(&target, source, deadline, report),
            Mode::Rebanned | Mode::Corrupt => corrupt(
                &target,
                source,
                deadline,
                report,
                mode == Mode::Corrupt,
                dropped_once,
            ),
        };
        match outcome {
            Outcome::Refused => {
                report.refused.fetch_add(1, Ordering::Relaxed);
                // A banned host keeps knocking, but not in a busy loop.
                std::thread::sleep(Duration::from_millis(200));
            }
            Outcome::Dropped => {
                report.dropped.fetch_add(1, Ordering::Relaxed);
                dropped_once = true;
            }
            Outcome::NoConnect => std::thread::sleep(Duration::from_millis(200)),
            Outcome::Done => {}
        }
    }
}

enum Outcome {
    NoConnect,
    Refused,
    Dropped,
    Done,
}

/// A connection from `source` with a small receive buffer (so a peer that never reads does not
/// hide megabytes in our kernel buffers), and a fresh source port.
pub fn dial(target: &Target, source: Ipv4Addr, report: &Report) -> Option<TcpStream> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    let _ = socket.set_recv_buffer_size(4096);
    socket
        .bind(&SocketAddr::new(IpAddr::V4(source), 0).into())
        .ok()?;
    socket
        .connect_timeout(&target.addr.into(), Duration::from_secs(3))
        .ok()?;
    let stream: TcpStream = socket.into();
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    report.connects.fetch_add(1, Ordering::Relaxed);
    Some(stream)
}

pub fn handshake(target: &Target) -> Vec<u8> {
    let mut out = Vec::new();
    Handshake {
        reserved: Reserved([0; 8])
            .with(Extension::Fast)
            .with(Extension::ExtensionProtocol),
        info_hash: target.info_hash,
        peer_id: PeerId::generate(&mut rand::rng()),
    }
    .encode(&mut out);
    out
}

/// Sends our handshake and reads the victim's: false if it hung up first.
pub fn open(stream: &mut TcpStream, target: &Target, report: &Report) -> bool {
    if stream.write_all(&handshake(target)).is_err() {
        return false;
    }
    let mut theirs = [0u8; Handshake::LEN];
    if stream.read_exact(&mut theirs).is_err() {
        return false;
    }
    report.accepted.fetch_add(1, Ordering::Relaxed);
    true
}

fn request_flood(target: &Target, source: Ipv4Addr, deadline: Instant, report: &Report) -> Outcome {
    let Some(mut s) = dial(target, source, report) else {
        return Outcome::NoConnect;
    };
    if !open(&mut s, target, report) {
        return Outcome::Refused;
    }
    let mut out = Vec::new();
    Message::Interested.encode(&mut out);
    let mut n = 0u64;
    // From here on we never read: whatever the victim sends piles up on its side.
    while Instant::now() < deadline {
        for _ in 0..512 {
            Message::Request(target.block(n)).encode(&mut out);
            n += 1;
        }
        match s.write_all(&out) {
            Ok(()) => {
                report.requests.fetch_add(512, Ordering::Relaxed);
                out.clear();
            }
            // The victim stopped reading us too: keep the connection, try again.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                out.clear();
            }
            Err(_) => return Outcome::Dropped,
        }
    }
    Outcome::Done
}

fn handshake_flood(target: &Target, source: Ipv4Addr, report: &Report) -> Outcome {
    let Some(mut s) = dial(target, source, report) else {
        return Outcome::NoConnect;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    if open(&mut s, target, report) {
        Outcome::Done
    } else {
        Outcome::Refused
    }
}

/// Up to eight connections at once, each sent one more byte of its handshake every second.
fn slow_loris(target: &Target, source: Ipv4Addr, deadline: Instant, report: &Report) -> Outcome {
    let hs = handshake(target);
    let mut conns: Vec<(TcpStream, usize)> = Vec::new();
    while Instant::now() < deadline {
        while conns.len() < 8 {
            match dial(target, source, report) {
                Some(s) => conns.push((s, 0)),
                None => break,
            }
        }
        let before = conns.len();
        conns.retain_mut(|(s, sent)| {
            let byte = hs[*sent % hs.len()];
            // Stop one byte short of a whole handshake: never finish it.
            if *sent + 1 < hs.len() && s.write_all(&[byte]).is_ok() {
                *sent += 1;
            }
            let _ = s.set_nonblocking(true);
            let mut probe = [0u8; 1];
            let alive = match s.read(&mut probe) {
                Ok(0) => false,
                Ok(_) => true,
                Err(e) => e.kind() == ErrorKind::WouldBlock,
            };
            let _ = s.set_nonblocking(false);
            alive
        });
        let closed = before - conns.len();
        report.refused.fetch_add(closed as u64, Ordering::Relaxed);
        report
            .requests
            .fetch_add(conns.len() as u64, Ordering::Relaxed);
        std::thread::sleep(Duration::from_secs(1));
    }
    Outcome::Done
}

fn corrupt(
    target: &Target,
    source: Ipv4Addr,
    deadline: Instant,
    report: &Report,
    claim_all: bool,
    dropped_before: bool,
) -> Outcome {
    let Some(mut s) = dial(target, source, report) else {
        return Outcome::NoConnect;
    };
    if !open(&mut s, target, report) {
        return Outcome::Refused;
    }
    if dropped_before {
        report.accepted_after_drop.fetch_add(1, Ordering::Relaxed);
    }
    // Claiming every piece makes a downloader ask us (for garbage); a seeder drops a fellow
    // seed, so the rebanned mode claims nothing and only pushes blocks nobody asked for.
    let mut hello = Vec::new();
    if claim_all {
        Message::HaveAll.encode(&mut hello);
    } else {
        Message::HaveNone.encode(&mut hello);
    }
    Message::Unchoke.encode(&mut hello);
    if s.write_all(&hello).is_err() {
        return Outcome::Dropped;
    }
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let garbage = vec![0xA5u8; BLOCK as usize];
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut unasked = 0u64;
    let started = Instant::now();
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => return Outcome::Dropped,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Outcome::Dropped,
        }
        let mut out = Vec::new();
        let mut used_total = 0;
        while let Ok(Some((msg, used))) = wire::decode(&buf[used_total..], 1 << 20) {
            if let Message::Request(b) = msg {
                wire::encode_piece_header(b.piece, b.begin, b.length, &mut out);
                out.extend_from_slice(&garbage[..(b.length as usize).min(garbage.len())]);
                report.blocks.fetch_add(1, Ordering::Relaxed);
            }
            used_total += used;
        }
        buf.drain(..used_total);
        if buf.len() > 2 << 20 {
            return Outcome::Dropped; // not a frame stream we understand
        }
        // A seeder asks us for nothing: push blocks it never asked for.
        if out.is_empty() && started.elapsed() > Duration::from_millis(500) {
            for _ in 0..16 {
                let b = target.block(unasked * 7919);
                unasked += 1;
                wire::encode_piece_header(b.piece, b.begin, b.length, &mut out);
                out.extend_from_slice(&garbage[..b.length as usize]);
                report.blocks.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !out.is_empty() && s.write_all(&out).is_err() {
            return Outcome::Dropped;
        }
    }
    Outcome::Done
}

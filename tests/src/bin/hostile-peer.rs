//! `hostile-peer --target HOST:PORT --torrent FILE --mode MODE [--peers N] [--secs S]
//! [--source 127.0.0.2]`: runs scripted hostile peers (see `swarmlink_tests::hostile`) against a
//! victim on loopback for S seconds, then prints one line `MODE connects=... accepted=...`.
//! Modes: request-flood, handshake-flood, slow-loris, rebanned, corrupt.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use swarmlink_tests::hostile::{self, Attack, Mode, Target};

fn main() {
    if let Err(e) = run() {
        eprintln!("hostile-peer: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut target, mut torrent, mut mode) = (None, None, None);
    let (mut peers, mut secs, mut source) = (8usize, 10u64, Ipv4Addr::new(127, 0, 0, 2));
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--target" => {
                target = Some(
                    value()?
                        .parse::<SocketAddr>()
                        .map_err(|e| format!("--target: {e}"))?,
                )
            }
            "--torrent" => torrent = Some(PathBuf::from(value()?)),
            "--mode" => mode = Some(value()?.parse::<Mode>()?),
            "--peers" => peers = value()?.parse().map_err(|e| format!("--peers: {e}"))?,
            "--secs" => secs = value()?.parse().map_err(|e| format!("--secs: {e}"))?,
            "--source" => source = value()?.parse().map_err(|e| format!("--source: {e}"))?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    let addr = target.ok_or("--target is required")?;
    if !addr.ip().is_loopback() || !source.is_loopback() {
        return Err("hostile peers run on loopback only".into());
    }
    let mode = mode.ok_or("--mode is required")?;
    let target = Target::from_torrent(addr, &torrent.ok_or("--torrent is required")?)?;
    // Bounded: at most 256 attackers, at most ten minutes.
    let attack = Attack {
        mode,
        peers: peers.clamp(1, 256),
        duration: Duration::from_secs(secs.clamp(1, 600)),
        first_source: source,
    };
    let report = hostile::run(target, attack);
    println!("{mode:?} {}", report.summary());
    Ok(())
}

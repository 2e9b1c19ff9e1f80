//! A network of the test's own: tests that run Swarmlink at its defaults (the DHT, local service
//! discovery and PEX as shipped) must still send nothing beyond this machine. The DHT looks up its
//! public routers and LSD multicasts on every interface; in a network namespace with only
//! loopback up, both fail at once, exactly as on a LAN with no route out, and nothing leaves.

use std::process::Command;

/// Moves the calling thread, and every process it spawns from now on, into a new network
/// namespace whose only interface is loopback (up). Sockets the thread opened before stay in the
/// old namespace, so call this first. `Err` says why it cannot (not root, no `ip`): the caller
/// skips with that message rather than run at defaults on the real network.
pub fn own_network() -> Result<(), String> {
    // A network namespace belongs to a thread (task), not to the process: the test harness's
    // other threads keep theirs.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot make a network namespace (needs root): {e}"))?;
    let status = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .map_err(|e| format!("cannot run ip (iproute2): {e}"))?;
    if !status.success() {
        return Err(format!("ip link set lo up failed: {status}"));
    }
    Ok(())
}

/// Whether this process runs as root (effective uid 0), where a namespace, a bind to port 53 and
/// `unshare` must work: a test that needs them fails there instead of skipping.
pub fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned));
    euid.as_deref() == Some("0")
}

/// A test that cannot set up what it needs: as root that is a failure (the setup is broken),
/// elsewhere it says why and the caller skips.
pub fn cannot(why: &str) {
    assert!(!running_as_root(), "running as root, yet {why}");
    eprintln!("skipped: {why}");
}

//! `bthelper download` as the tests run it.

use std::path::Path;
use std::process::Command;

use crate::bin;

/// `bthelper download TORRENT -o OUT --state-dir OUT/.state`, dialing each of `peers` on
/// 127.0.0.1, then `extra`.
pub fn download(torrent: &Path, out: &Path, peers: &[u16], extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin("bthelper"));
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(out)
        .arg("--state-dir")
        .arg(out.join(".state"));
    for p in peers {
        cmd.arg("--peer").arg(format!("127.0.0.1:{p}"));
    }
    cmd.args(extra);
    cmd
}

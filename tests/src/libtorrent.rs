//! python3-libtorrent as the other peer: torrents it makes and peers it runs, each a Python
//! script under Debian's interpreter that prints "port N" once it listens on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{spawn, Running};
use crate::{workspace_root, SYSTEM_PYTHON};

/// bench/download_lt_peer.py: `seed`, `download` and `create` (the benchmark uses it too).
pub fn peer_script() -> PathBuf {
    workspace_root().join("bench/download_lt_peer.py")
}

/// A command running Debian's python3 (the one that can import libtorrent).
pub fn python() -> Command {
    Command::new(SYSTEM_PYTHON)
}

/// Makes a .torrent of `content` (a file or a directory) with libtorrent's create_torrent;
/// `pad` asks for BEP 47 pad files between the files of a multi-file torrent.
pub fn create(content: &Path, torrent: &Path, piece_len: u32, pad: bool) {
    let mut cmd = python();
    cmd.arg(peer_script())
        .arg("create")
        .arg(content)
        .arg(torrent)
        .arg(piece_len.to_string());
    if pad {
        cmd.arg("--pad");
    }
    let status = cmd.status().expect("python3 runs");
    assert!(status.success(), "libtorrent create_torrent failed");
}

/// A running libtorrent peer and the port it listens on.
pub struct LtPeer {
    pub run: Running,
    pub port: u16,
}

impl LtPeer {
    /// Starts `cmd` (a libtorrent peer script) and waits for its "port N" line.
    pub fn start(cmd: &mut Command) -> LtPeer {
        let mut run = spawn(cmd);
        let port = run.wait_line("port ", Duration::from_secs(20));
        let port = port
            .parse()
            .unwrap_or_else(|_| panic!("not a port: {port:?}"));
        LtPeer { run, port }
    }

    /// `script seed TORRENT DIR`: a seeder of the data in `dir`, once it says "seeding".
    pub fn seed(script: &Path, torrent: &Path, dir: &Path) -> LtPeer {
        let mut peer = LtPeer::start(python().arg(script).arg("seed").arg(torrent).arg(dir));
        peer.run.wait_line("seeding", Duration::from_secs(20));
        peer
    }
}

//! An engine session seeding one file on loopback, for tests that need a real peer to download
//! from without a tracker.

use std::net::SocketAddr;

use engine::{AddTorrent, Session, SessionConfig, TorrentState};

use super::wait_until;

pub struct Seeder {
    pub runtime: tokio::runtime::Runtime,
    pub session: Session,
    pub info_hash: protocol::InfoHash,
    _dir: tempfile::TempDir,
}

impl Seeder {
    pub fn start(metainfo: protocol::Metainfo, name: &str, data: &[u8]) -> Seeder {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), data).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let config = SessionConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            download_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let session = runtime.block_on(Session::start(config)).unwrap();
        let info_hash = runtime
            .block_on(session.add(AddTorrent::metainfo(metainfo)))
            .unwrap();
        wait_until("the seeder has checked its data", || {
            session
                .status(info_hash)
                .is_some_and(|s| s.state == TorrentState::Seeding)
        });
        Seeder {
            runtime,
            session,
            info_hash,
            _dir: dir,
        }
    }

    /// The seeder dials the daemon (like Transmission, a loopback peer from a tracker may be
    /// ignored, so the seeder makes the connection).
    pub fn dial(&self, port: u16) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        self.session.add_peers(self.info_hash, vec![addr]).unwrap();
    }
}

impl Drop for Seeder {
    fn drop(&mut self) {
        self.runtime.block_on(self.session.shutdown());
    }
}

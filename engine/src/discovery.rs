//! Peer sources that need no tracker: the Mainline DHT and local service discovery. The
//! session starts them once; every torrent it adds is tracked by both unless it is private
//! (BEP 27: a private torrent's peers come from its trackers only).

use std::net::SocketAddr;
use std::path::PathBuf;

use protocol::InfoHash;

use crate::dht::{spawn_search, Dht};
use crate::lsd::Lsd;
use crate::torrent::TorrentHandle;
use crate::types::SessionConfig;

pub(crate) struct Discovery {
    pub dht: Option<Dht>,
    lsd: Option<Lsd>,
    listen_port: u16,
}

impl Discovery {
    /// Starts what the config asks for. A service that cannot start is logged and left out:
    /// the session still works with trackers and direct peers.
    pub(crate) async fn start(
        config: &SessionConfig,
        listen: SocketAddr,
        state_dir: Option<PathBuf>,
    ) -> Discovery {
        let dht = match &config.dht {
            Some(c) => match Dht::start(c, listen.ip(), listen.port(), state_dir).await {
                Ok(dht) => {
                    tracing::info!("DHT node on UDP port {}", dht.port());
                    Some(dht)
                }
                Err(e) => {
                    tracing::warn!("running without the DHT: {e}");
                    None
                }
            },
            None => None,
        };
        let lsd = match &config.lsd {
            Some(c) => {
                let mut c = c.clone();
                if listen.ip().is_loopback() {
                    // Peers reachable only on this host: keep the announces on it too.
                    c.interface_v4 = std::net::Ipv4Addr::LOCALHOST;
                    c.group_v6 = None;
                }
                match Lsd::start(&c, listen.port()) {
                    Ok(lsd) => Some(lsd),
                    Err(e) => {
                        tracing::warn!("running without local service discovery: {e}");
                        None
                    }
                }
            }
            None => None,
        };
        Discovery {
            dht,
            lsd,
            listen_port: listen.port(),
        }
    }

    /// Looks for peers of a torrent (it need not have its metadata yet) until it is removed.
    pub(crate) fn track(&self, info_hash: InfoHash, private: bool, handle: &TorrentHandle) {
        if private {
            return;
        }
        if let Some(dht) = &self.dht {
            spawn_search(
                dht.clone(),
                info_hash,
                self.listen_port,
                handle.status.clone(),
                handle.cmd.clone(),
            );
        }
        if let Some(lsd) = &self.lsd {
            lsd.track(info_hash, handle.cmd.clone(), handle.status.clone());
        }
    }

    /// Saves the DHT's routing table and stops both services.
    pub(crate) async fn shutdown(&self) {
        if let Some(dht) = &self.dht {
            dht.shutdown().await;
        }
        if let Some(lsd) = &self.lsd {
            lsd.shutdown();
        }
    }
}

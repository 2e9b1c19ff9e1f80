//! The tokio shell around `protocol`: sessions, torrent actors, peer tasks, disk, tracker clients.
//!
//! Invariants: one actor task per torrent owns its picker and choker (no locks on the data
//! path); one task per peer owns its socket; file IO and SHA-1 run on a per-torrent disk thread;
//! a piece is announced and recorded as verified only after its bytes are written and hashed.
//!
//! ```no_run
//! # async fn demo(metainfo: protocol::Metainfo) -> Result<(), engine::EngineError> {
//! use engine::{AddTorrent, Session, SessionConfig};
//! let session = Session::start(SessionConfig::default()).await?;
//! let ih = session.add(AddTorrent::metainfo(metainfo)).await?;
//! println!("{:?}", session.status(ih));
//! session.shutdown().await;
//! # Ok(()) }
//! ```

mod connect;
mod dht;
mod discovery;
mod disk;
mod disk_pool;
mod fdlimit;
mod file_reader;
pub mod http;
mod lsd;
mod magnet_merge;
mod mse_stream;
mod peer;
mod portmap;
mod ratelimit;
mod reach;
mod resume;
mod session;
mod session_adding;
mod session_control;
mod session_limits;
mod session_withdraw;
mod status_feed;
mod storage;
mod torrent;
pub mod tracker;
mod transport;
mod types;
pub mod utp;
mod webseed;

pub use dht::{DhtConfig, NODES_FILE as DHT_NODES_FILE};
pub use disk::ChangedFile;
pub use fdlimit::raise_fd_limit;
pub use file_reader::{FilePieces, FileReader};
pub use lsd::LsdConfig;
pub use magnet_merge::Sources;
pub use portmap::{PortMapState, PortMapStatus};
pub use protocol::wire::mse::EncryptionPolicy;
pub use reach::{Connectable, ConnectableState, ConnectableWarning, WARN_AFTER};
pub use resume::{record_verified, HashedFile};
pub use session::Session;
pub use status_feed::StatusChanges;
pub use storage::MOVE_CANCELLED;
pub use types::{
    AddTorrent, EngineError, FilePriority, FileProgress, MoveStatus, PeerStatus, SessionConfig,
    SessionEvent, TorrentSource, TorrentState, TorrentStatus,
};
pub use webseed::{WebSeedState, WebSeedStatus};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_add_runtime;
#[cfg(test)]
mod tests_bad_peers;
#[cfg(test)]
mod tests_claim;
#[cfg(test)]
mod tests_fast;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_magnet_cache;
#[cfg(test)]
mod tests_move;
#[cfg(test)]
mod tests_mse;
#[cfg(test)]
mod tests_pex_lan;
#[cfg(test)]
mod tests_quiet;
#[cfg(test)]
mod tests_resume;
#[cfg(test)]
mod tests_seed_goal;

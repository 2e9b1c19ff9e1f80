//! The public vocabulary of the engine: configuration, what to add, and the status snapshots that
//! the daemon, the publisher and the terminal display.

use std::net::SocketAddr;
use std::path::PathBuf;

use protocol::{InfoHash, Magnet, Metainfo, PeerId};
use serde::{Deserialize, Serialize};

/// How a session runs. `Default` listens on any port of all interfaces and saves into the
/// current directory, without resume data.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Where to accept peers; `0.0.0.0:0` picks any free port.
    pub listen: SocketAddr,
    /// Where torrents are saved unless `AddTorrent::save_dir` says otherwise.
    pub download_dir: PathBuf,
    /// Where resume data lives (`<info-hash>.resume`); `None` keeps none.
    pub state_dir: Option<PathBuf>,
    /// Bytes per second over all torrents; `None` = unlimited.
    pub download_rate_limit: Option<u64>,
    pub upload_rate_limit: Option<u64>,
    /// Connections per torrent, counting those still in their handshake.
    pub max_peers_per_torrent: usize,
    /// Connections per torrent from one host (an IPv4 address or an IPv6 /64), counting those
    /// still in their handshake; also the session's limit of one host's connections that have
    /// not yet named their torrent. 127.0.0.1 and ::1 (this machine's own programs) are exempt.
    pub max_peers_per_ip: usize,
    /// A peer whose socket accepts none of what we send it for this long is dropped (what we
    /// queue for a peer is also bounded in bytes, so one that stops reading cannot grow us).
    pub peer_write_timeout: std::time::Duration,
    /// Peers unchoked at once per torrent (one of them is the optimistic unchoke); 0 chokes
    /// everyone, so peers get only their BEP 6 allowed-fast pieces from us.
    pub upload_slots: usize,
    /// The address trackers should hand out for us (`--ip` of the original).
    pub announce_ip: Option<String>,
    /// Our peer id; `None` = a fresh random one with the Swarmlink prefix.
    pub peer_id: Option<PeerId>,
    /// The Mainline DHT (BEP 5) node; `None` = no DHT.
    pub dht: Option<crate::DhtConfig>,
    /// Local service discovery (BEP 14); `None` = none.
    pub lsd: Option<crate::LsdConfig>,
    /// Plaintext or MSE/PE encryption for peer connections (`--encryption`).
    pub encryption: protocol::wire::mse::EncryptionPolicy,
    /// A web seed (BEP 19) that takes longer than this to answer or to send more of its body
    /// counts as failed and is backed off.
    pub web_seed_timeout: std::time::Duration,
    /// Ask the router (NAT-PMP, else UPnP IGD) to forward the peer port, TCP and UDP, while
    /// the session runs. Off by default in the library: the binaries turn it on for users.
    /// Never tried when `listen` is a loopback address.
    pub port_mapping: bool,
    /// uTP (BEP 29) beside TCP: a UDP socket on the peer port's number accepts uTP
    /// connections, and dials try uTP first, TCP after.
    pub utp: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            download_dir: PathBuf::from("."),
            state_dir: None,
            download_rate_limit: None,
            upload_rate_limit: None,
            max_peers_per_torrent: 50,
            max_peers_per_ip: 8,
            peer_write_timeout: std::time::Duration::from_secs(30),
            upload_slots: 8,
            announce_ip: None,
            peer_id: None,
            dht: None,
            lsd: None,
            encryption: Default::default(),
            web_seed_timeout: std::time::Duration::from_secs(20),
            port_mapping: false,
            utp: true,
        }
    }
}

/// What a torrent is added from.
#[derive(Debug, Clone)]
pub enum TorrentSource {
    Metainfo(Box<Metainfo>),
    /// Starts without metadata: fetched from peers over BEP 9, then the torrent proceeds.
    Magnet(Magnet),
}

/// Per-file download priority; `Skip` never downloads the file (pieces it shares with wanted
/// files are still fetched whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FilePriority {
    Skip,
    Low,
    #[default]
    Normal,
    High,
}

/// One file of a torrent as the user chooses it (`Session::files`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileProgress {
    /// Position in the info dictionary's file list (pad files count).
    pub index: usize,
    /// Components below the save directory: the torrent's name, then the file's path.
    pub path: Vec<String>,
    pub length: u64,
    /// A BEP 47 pad file: never written, not shown.
    pub pad: bool,
    pub priority: FilePriority,
    /// The file's bytes in verified pieces.
    pub have_bytes: u64,
}

/// A torrent to add to a session.
#[derive(Debug, Clone)]
pub struct AddTorrent {
    pub source: TorrentSource,
    /// The directory the torrent's file or directory is created in; default: the session's.
    pub save_dir: Option<PathBuf>,
    pub paused: bool,
    /// Peers to connect to besides those from trackers (tests, `--peer`, magnet `x.pe`).
    pub peers: Vec<SocketAddr>,
    /// Stop seeding (pause, and report `SessionEvent::SeedGoalReached`) once one of these is
    /// reached; the default has no limit. Changed later with `Session::set_seed_goals`.
    pub seed_goals: protocol::SeedGoals,
    /// Download pieces in order (streaming), instead of rarest first.
    pub sequential: bool,
    /// One entry per file of the torrent, in torrent order; `None` = all normal.
    pub file_priorities: Option<Vec<FilePriority>>,
    /// Indices of the files to download, the others `Skip` (BEP 53 `so=`, `--only`), used when
    /// `file_priorities` is `None`; for a magnet, applied when its metadata arrives (indices
    /// past the last file are ignored; a list that selects none of the files selects all).
    pub only_files: Option<Vec<u32>>,
    /// A magnet pauses as soon as its metadata arrives, before anything is written: the user
    /// chooses files first (`Session::set_file_priorities`, then `resume`).
    pub pause_after_metadata: bool,
    /// This torrent's own limits in bytes per second, under the session's; `None` = only the
    /// session's apply. Changed later with `Session::set_torrent_rate_limits`.
    pub download_rate_limit: Option<u64>,
    pub upload_rate_limit: Option<u64>,
    /// The web page the torrent came from (`None`: the terminal or a local file). A torrent
    /// from a public page contacts no loopback, private or link-local address for its
    /// trackers, web seeds and PEX peers (names are resolved, then checked), unless
    /// `allow_lan`; see `protocol::lan`.
    pub source_url: Option<String>,
    /// The user's `allow_lan_for_web_torrents`: lift that rule.
    pub allow_lan: bool,
}

impl AddTorrent {
    /// Adds a parsed `.torrent` with everything else at its default.
    pub fn metainfo(metainfo: Metainfo) -> Self {
        Self::with_source(TorrentSource::Metainfo(Box::new(metainfo)))
    }

    /// Adds a magnet link with everything else at its default.
    pub fn magnet(magnet: Magnet) -> Self {
        Self::with_source(TorrentSource::Magnet(magnet))
    }

    fn with_source(source: TorrentSource) -> Self {
        AddTorrent {
            source,
            save_dir: None,
            paused: false,
            peers: Vec::new(),
            seed_goals: protocol::SeedGoals::default(),
            sequential: false,
            file_priorities: None,
            only_files: None,
            pause_after_metadata: false,
            download_rate_limit: None,
            upload_rate_limit: None,
            source_url: None,
            allow_lan: false,
        }
    }
}

/// Where a torrent is in its life. Transitions: Checking -> (Allocating) -> Connecting <->
/// Downloading -> Seeding; any -> Paused -> back; any -> Error (disk full, files unwritable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TorrentState {
    Checking,
    Allocating,
    Connecting,
    Downloading,
    Seeding,
    Paused,
    Queued,
    /// The user is still choosing which files to download: the helper's daemon shows its paused
    /// torrents so until the choice arrives. The engine itself never enters this state.
    AwaitingSelection,
    Error,
}

/// A snapshot of one torrent. Typed, not shaped for any wire: the helper builds the browser's
/// JSON from it (helper/src/api.rs), the publisher its terminal lines.
#[derive(Clone, Debug, PartialEq)]
pub struct TorrentStatus {
    pub info_hash: InfoHash,
    pub name: String,
    pub state: TorrentState,
    /// 0.0 ..= 1.0 of the wanted bytes.
    pub progress: f64,
    pub total_bytes: u64,
    /// Verified bytes on disk.
    pub have_bytes: u64,
    /// Payload bytes received in this session.
    pub downloaded: u64,
    /// Payload bytes sent over the torrent's life: earlier runs' from its resume record (with a
    /// state directory), plus this session's.
    pub uploaded: u64,
    /// Bytes per second, averaged over a few seconds.
    pub down_rate: u64,
    pub up_rate: u64,
    pub peers: u32,
    pub seeds: u32,
    pub eta_secs: Option<u64>,
    pub error: Option<String>,
    /// The torrent's file (single-file) or directory (multi-file) on disk.
    pub save_path: PathBuf,
    /// Seconds spent seeding (complete and not paused) over the torrent's life, like `uploaded`.
    pub seeding_secs: u64,
    /// Each BEP 19 web seed (`url-list` entry), in the torrent's order.
    pub web_seeds: Vec<crate::webseed::WebSeedStatus>,
    /// While the files move to another folder (`Session::move_storage`).
    pub moving: Option<MoveStatus>,
}

impl TorrentStatus {
    /// A torrent known only by its info-hash and state: nothing on disk, no peers, no
    /// transfers. What the engine shows before a torrent's actor first publishes, and what the
    /// helper shows of a download it cannot restore (with its name and error set).
    pub fn empty(info_hash: InfoHash, state: TorrentState) -> Self {
        TorrentStatus {
            info_hash,
            name: String::new(),
            state,
            progress: 0.0,
            total_bytes: 0,
            have_bytes: 0,
            downloaded: 0,
            uploaded: 0,
            down_rate: 0,
            up_rate: 0,
            peers: 0,
            seeds: 0,
            eta_secs: None,
            error: None,
            save_path: PathBuf::new(),
            seeding_secs: 0,
            web_seeds: Vec::new(),
            moving: None,
        }
    }
}

/// A move under way: where to, and bytes copied of the total (a rename is done at once).
#[derive(Clone, Debug, PartialEq)]
pub struct MoveStatus {
    pub to: PathBuf,
    pub done_bytes: u64,
    pub total_bytes: u64,
}

/// One connected peer of a torrent, as `btpublish` and the terminal show it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PeerStatus {
    pub addr: SocketAddr,
    /// From the BEP 10 `v` field, else guessed from the peer id prefix.
    pub client: String,
    pub am_choking: bool,
    pub am_interested: bool,
    pub peer_choking: bool,
    pub peer_interested: bool,
    pub down_rate: u64,
    pub up_rate: u64,
    /// 0.0 ..= 1.0 of the pieces the peer has.
    pub progress: f64,
}

/// Things that happen to torrents, for subscribers that don't want to poll.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Added(InfoHash),
    /// Every wanted piece is verified on disk.
    Completed(InfoHash),
    Removed(InfoHash),
    Error(InfoHash, String),
    /// A seeding torrent reached one of its seed goals and paused itself.
    SeedGoalReached(InfoHash, protocol::seed_goal::Reason),
    /// The files moved (`Session::move_storage`): the torrent's new file or directory.
    Moved(InfoHash, std::path::PathBuf),
    /// A move failed: the files stayed where they were and the torrent goes on there.
    MoveFailed(InfoHash, String),
}

/// Why a session call failed. Problems with one peer never surface here; they only drop the peer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("torrent {0} is already in the session")]
    AlreadyAdded(InfoHash),
    #[error("no torrent {0} in the session")]
    UnknownTorrent(InfoHash),
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
    #[error("file_priorities has {got} entries, the torrent has {expected} files")]
    BadFilePriorities { got: usize, expected: usize },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the session has shut down")]
    ShutDown,
    /// A streaming read that cannot be served (no such file, too many readers, ...).
    #[error("streaming: {0}")]
    Stream(&'static str),
}

/// The verified pieces of one file: piece `i` of the map holds the file's bytes from
/// `i * piece_len - first_offset` on (clipped to the file), where `first_offset` is where the
/// file starts inside its first piece. `have` is MSB-first, as the wire's bitfield.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePieces {
    pub length: u64,
    pub piece_len: u32,
    pub first_offset: u32,
    pub count: u32,
    pub have: Vec<u8>,
}

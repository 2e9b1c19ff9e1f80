//! Why a connection ended: the reasons the core closes a peer for, and those its driver reports.

use std::fmt;

/// Why a peer connection was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// It broke the protocol: a message that does not fit the torrent, a stream of bad requests.
    Protocol(&'static str),
    /// Bytes that do not decode: a bad frame, handshake or encryption exchange.
    Malformed(String),
    /// It was banned, now or before (`why` says for what).
    Banned(&'static str),
    /// It sat on our requests, or the connection or handshake took too long.
    Timeout(&'static str),
    /// A socket error, or the peer closed the connection.
    Io(String),
    /// Nothing wrong with it: we are paused, both sides seed, a duplicate connection, ...
    Done(&'static str),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Protocol(why) => write!(f, "protocol violation: {why}"),
            PeerError::Malformed(why) => write!(f, "malformed: {why}"),
            PeerError::Banned(why) => write!(f, "banned: {why}"),
            PeerError::Timeout(why) => write!(f, "{why} timed out"),
            PeerError::Io(why) => write!(f, "{why}"),
            PeerError::Done(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for PeerError {}

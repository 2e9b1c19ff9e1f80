//! The one HTTP(S) client of trackers, web seeds, `.torrent` downloads (bthelper) and
//! registrations (btpublish): hyper's HTTP/1.1 client over one rustls setup (`tls.rs`), the LAN
//! rule applied to every request and redirect hop, every wait bounded by a timeout and every
//! body read into memory bounded by a size.

mod client;
mod tls;

use std::time::Duration;

pub use client::{get, Client};

/// What we call ourselves to trackers and web servers, matching the `-SL0100-` peer id prefix.
pub const USER_AGENT: &str = concat!("Swarmlink/", env!("CARGO_PKG_VERSION"));
/// Redirects followed per request by [`Client::follow`] (mirrors like archive.org redirect to a
/// storage node, links to a `.torrent` often go through one).
pub const MAX_REDIRECTS: u32 = 5;

/// Why a request failed; each caller turns it into its own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{url}: invalid URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// Not connected (refused, by the LAN rule too), a TLS failure, or the connection broke.
    #[error("{url}: {reason}")]
    Io { url: String, reason: String },
    #[error("{url}: no answer within {after:?}")]
    Timeout { url: String, after: Duration },
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    /// A redirect without a usable `Location`.
    #[error("{url}: HTTP status {status} without a usable Location")]
    BadRedirect { url: String, status: u16 },
    #[error("{url}: more than {MAX_REDIRECTS} redirects")]
    Redirects { url: String },
}

#[cfg(test)]
pub(crate) mod tests;

//! What a web seed job is given and what it reports: shared by the fetcher (`fetch.rs`), the
//! block assembler (`assemble.rs`) and the answer checks (`response.rs`), which use nothing of
//! each other's beyond these.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use bytes::Bytes;
use protocol::{Lengths, Metainfo, ValidBlock};
use tokio::sync::mpsc;

use crate::disk::WriteBacklog;
use crate::http::Client;
use crate::ratelimit::RateLimiter;

/// Why a web seed request failed; the web seed is backed off, then disabled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error(transparent)]
    Http(#[from] crate::http::Error),
    #[error("{url}: HTTP status {status} to a range request (206 or 200 expected)")]
    Status { url: String, status: u16 },
    #[error("{url}: {reason}")]
    BadRange { url: String, reason: String },
    #[error("the torrent is gone")]
    Gone,
}

/// What the fetch task tells the torrent actor.
#[derive(Debug)]
pub(crate) enum WebSeedEvent {
    /// The bytes of one block (not yet verified), in the run's order.
    Block {
        seed: usize,
        job: u64,
        block: ValidBlock,
        data: Bytes,
    },
    /// The job ended: every piece delivered, or the error that stopped it.
    Done {
        seed: usize,
        job: u64,
        result: Result<(), FetchError>,
    },
}

/// Everything a fetch task needs; cheap to clone.
#[derive(Clone)]
pub(crate) struct FetchContext {
    /// Pooled, under the LAN rule for this torrent (checked again at every redirect hop), its
    /// timeout bounding each wait for a server.
    pub client: Client,
    pub metainfo: Arc<Metainfo>,
    pub lengths: Lengths,
    pub down_limit: Arc<RateLimiter>,
    /// The torrent's disk write backlog: jobs wait while it is above its high-water mark.
    pub backlog: Arc<WriteBacklog>,
    /// Bounded: a job whose blocks the actor has not taken yet waits (and so does its server).
    pub events: mpsc::Sender<WebSeedEvent>,
}

/// What a job reports about its web seed besides events.
#[derive(Default)]
pub(crate) struct SeedCounters {
    /// Body bytes received (including any skipped before the range we needed).
    pub bytes: AtomicU64,
    /// The server answered a range request with `200` and the whole file.
    pub ignores_range: AtomicBool,
}

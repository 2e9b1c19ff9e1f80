//! Tracker wire types: what an HTTP tracker reads from a query string and writes back in bencode
//! (BEP 3, 7, 23, 48), and the UDP tracker's packets (BEP 15).
//!
//! Both sides use these: the tracker parses [`AnnounceRequest::parse_query`] on its hot path and
//! encodes [`AnnounceResponse`]; a client builds [`AnnounceRequest::to_query`] and decodes the reply.
//! Parsing is strict (a malformed request is an error naming the field) and never panics.

mod announce;
mod query;
mod response;
mod scrape;
pub mod udp;

pub use announce::{AnnounceRequest, Event};
pub use query::{percent_encode_bytes, QueryError, MAX_QUERY_LEN};
pub use response::{AnnounceResponse, PeerFormat, ResponseDecodeError, ResponsePeer};
pub use scrape::{ScrapeRequest, ScrapeResponse, ScrapeStats, MAX_SCRAPE_HASHES};

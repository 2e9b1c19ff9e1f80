//! bttrack: Swarmlink's tracker as a library, so tests run it on port 0 in-process.
//!
//! Layout: `swarm`/`store` are the pure peer store (time is an argument); `server` is the hyper
//! front end, `udp` the BEP 15 front end; `published` is the registry of published torrents and
//! its `--file`; `weblog` writes Combined Log Format; `metrics` counts for `/metrics`.

pub mod store;
pub mod swarm;

pub use store::{Announce, SwarmStore};

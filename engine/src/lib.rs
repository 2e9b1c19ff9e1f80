//! The tokio shell around `protocol`: sessions, torrent actors, peer tasks, disk, tracker clients.

pub mod tracker;

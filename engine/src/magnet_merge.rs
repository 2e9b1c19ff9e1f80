//! A magnet link added again for a torrent whose metadata is cached (a second `bthelper
//! download`, a daemon `add` or restart) starts as a torrent at once, from the cached
//! `.torrent`. What the link brings is merged into it, never dropped: its `tr` trackers join
//! the announce list, its `ws` web seeds the URL list, its `x.pe` peers are dialled.
//!
//! The same merge serves a torrent that is already running when a magnet or `.torrent` for it
//! is added again ([`crate::Session::add_sources`]): only what is new is started.

use std::net::SocketAddr;

use protocol::{Magnet, Metainfo};

use crate::types::TorrentSource;

/// Where peers of a torrent may be found, as an `add` brings them: a magnet's `tr`, `ws` and
/// `x.pe`, a `.torrent`'s announce list and `url-list`, and the add's own peers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub trackers: Vec<String>,
    pub web_seeds: Vec<String>,
    pub peers: Vec<SocketAddr>,
}

impl Sources {
    /// What `source` names (peers: a magnet's `x.pe` that parse as `ip:port`).
    pub fn of(source: &TorrentSource) -> Sources {
        match source {
            TorrentSource::Magnet(m) => Sources::of_magnet(m),
            TorrentSource::Metainfo(m) => Sources {
                trackers: m.tiers().into_iter().flatten().collect(),
                web_seeds: m.url_list.clone(),
                peers: Vec::new(),
            },
        }
    }

    fn of_magnet(magnet: &Magnet) -> Sources {
        Sources {
            trackers: magnet.trackers.clone(),
            web_seeds: magnet.web_seeds.clone(),
            peers: magnet.peers.iter().filter_map(|p| p.parse().ok()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty() && self.web_seeds.is_empty() && self.peers.is_empty()
    }
}

/// Merges `sources`' trackers and web seeds into `metainfo` (each new tracker its own tier,
/// after the known ones, as a magnet's are; duplicates skipped) and returns what was new, with
/// all of `sources`' peers (dialling a known one again is harmless).
pub(crate) fn merge_sources(metainfo: &mut Metainfo, sources: &Sources) -> Sources {
    if metainfo.announce_list.is_empty() {
        // `tiers()` reads `announce` only while the list is empty: keep it as the first tier.
        if let Some(a) = &metainfo.announce {
            metainfo.announce_list.push(vec![a.clone()]);
        }
    }
    let mut new = Sources {
        peers: sources.peers.clone(),
        ..Default::default()
    };
    for tracker in &sources.trackers {
        if !metainfo
            .announce_list
            .iter()
            .flatten()
            .any(|t| t == tracker)
        {
            metainfo.announce_list.push(vec![tracker.clone()]);
            new.trackers.push(tracker.clone());
        }
    }
    for seed in &sources.web_seeds {
        if !metainfo.url_list.contains(seed) {
            metainfo.url_list.push(seed.clone());
            new.web_seeds.push(seed.clone());
        }
    }
    new
}

/// Merges a magnet's sources into its cached metainfo and returns its peers.
pub(crate) fn merge_magnet(metainfo: &mut Metainfo, magnet: &Magnet) -> Vec<SocketAddr> {
    merge_sources(metainfo, &Sources::of_magnet(magnet)).peers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_links_sources_join_the_cached_ones() {
        let mut m = protocol::MetainfoBuilder::single_file("f", 10)
            .piece_length(16384)
            .pieces(vec![[0; 20]])
            .build()
            .unwrap()
            .metainfo;
        m.announce = Some("http://a/announce".into());
        m.url_list = vec!["http://w/f".into()];
        let link = format!(
            "magnet:?xt=urn:btih:{}&tr=http%3A%2F%2Fa%2Fannounce&tr=http%3A%2F%2Fb%2Fannounce\
             &ws=http%3A%2F%2Fw%2Ff&ws=http%3A%2F%2Fv%2Ff&x.pe=127.0.0.1:7000&x.pe=bad",
            m.info_hash.to_hex()
        );
        let magnet = Magnet::parse(&link).unwrap();
        let peers = merge_magnet(&mut m, &magnet);
        assert_eq!(
            m.tiers(),
            vec![
                vec!["http://a/announce".to_string()],
                vec!["http://b/announce".into()]
            ]
        );
        assert_eq!(m.url_list, ["http://w/f", "http://v/f"]);
        assert_eq!(peers, ["127.0.0.1:7000".parse::<SocketAddr>().unwrap()]);
        // Added again: nothing is new but the peers.
        let again = merge_sources(&mut m, &Sources::of_magnet(&magnet));
        assert!(again.trackers.is_empty() && again.web_seeds.is_empty());
        assert_eq!(again.peers, peers);
    }
}

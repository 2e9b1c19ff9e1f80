//! A magnet link added again for a torrent whose metadata is cached (a second `bthelper
//! download`, a daemon `add` or restart) starts as a torrent at once, from the cached
//! `.torrent`. What the link brings is merged into it, never dropped: its `tr` trackers join
//! the announce list, its `ws` web seeds the URL list, its `x.pe` peers are dialled.

use std::net::SocketAddr;

use protocol::{Magnet, Metainfo};

/// Merges `magnet`'s trackers and web seeds into `metainfo` (each new tracker its own tier,
/// after the cached ones, as a magnet's are; duplicates skipped) and returns its peers.
pub(crate) fn merge_magnet(metainfo: &mut Metainfo, magnet: &Magnet) -> Vec<SocketAddr> {
    if metainfo.announce_list.is_empty() {
        // `tiers()` reads `announce` only while the list is empty: keep it as the first tier.
        if let Some(a) = &metainfo.announce {
            metainfo.announce_list.push(vec![a.clone()]);
        }
    }
    for tracker in &magnet.trackers {
        if !metainfo
            .announce_list
            .iter()
            .flatten()
            .any(|t| t == tracker)
        {
            metainfo.announce_list.push(vec![tracker.clone()]);
        }
    }
    for seed in &magnet.web_seeds {
        if !metainfo.url_list.contains(seed) {
            metainfo.url_list.push(seed.clone());
        }
    }
    magnet.peers.iter().filter_map(|p| p.parse().ok()).collect()
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
    }
}

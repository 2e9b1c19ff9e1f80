//! Answers for the downloads page's detail pane that the engine already knows: `peers` (the
//! connected peers of one torrent). Trackers and the piece map need engine support first
//! (extension/README.md, "The downloads page", has the shapes the page reads).

use engine::PeerStatus;
use serde_json::{json, Value};

/// At most this many peers in one answer: a frame stays far under the 1 MiB limit.
const MAX_PEERS: usize = 1000;

/// The `peers` answer: address, client, state flags, rates and progress of each peer, the
/// fastest downloaders first. `flags` are words: `interested` (we want its pieces), `choked`
/// (it does not serve us now), `peer_interested` (it wants ours), `peer_choked` (we do not
/// serve it now).
pub fn peers_json(info_hash: &str, peers: &[PeerStatus]) -> Value {
    let mut sorted: Vec<&PeerStatus> = peers.iter().collect();
    sorted.sort_by(|a, b| {
        b.down_rate
            .cmp(&a.down_rate)
            .then(b.up_rate.cmp(&a.up_rate))
    });
    let list: Vec<Value> = sorted
        .iter()
        .take(MAX_PEERS)
        .map(|p| {
            let flags: Vec<&str> = [
                (p.am_interested, "interested"),
                (p.peer_choking, "choked"),
                (p.peer_interested, "peer_interested"),
                (p.am_choking, "peer_choked"),
            ]
            .into_iter()
            .filter_map(|(on, word)| on.then_some(word))
            .collect();
            json!({
                "addr": p.addr.to_string(),
                // The client name comes from the peer: the page shows it through displayText.
                "client": p.client.chars().take(80).collect::<String>(),
                "flags": flags,
                "down_rate": p.down_rate,
                "up_rate": p.up_rate,
                "progress": p.progress.clamp(0.0, 1.0),
            })
        })
        .collect();
    json!({"info_hash": info_hash, "peers": list, "total": peers.len()})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16, down: u64) -> PeerStatus {
        PeerStatus {
            addr: ([127, 0, 0, 1], port).into(),
            client: "libtorrent/2.0.11".into(),
            am_choking: true,
            am_interested: true,
            peer_choking: false,
            peer_interested: false,
            down_rate: down,
            up_rate: 0,
            progress: 1.5,
        }
    }

    #[test]
    fn peers_are_listed_fastest_first_with_flags_as_words() {
        let v = peers_json("ab", &[peer(1, 10), peer(2, 30)]);
        assert_eq!(v["total"], 2);
        assert_eq!(v["peers"][0]["addr"], "127.0.0.1:2");
        assert_eq!(v["peers"][0]["flags"], json!(["interested", "peer_choked"]));
        assert_eq!(v["peers"][0]["progress"], 1.0, "clamped");
        assert_eq!(v["peers"][1]["down_rate"], 10);
    }

    #[test]
    fn the_answer_is_bounded() {
        let many: Vec<PeerStatus> = (0..3000).map(|i| peer(i as u16, i)).collect();
        let v = peers_json("ab", &many);
        assert_eq!(v["peers"].as_array().unwrap().len(), MAX_PEERS);
        assert_eq!(v["total"], 3000);
        assert!(v.to_string().len() < 512 * 1024);
    }
}

//! Arbitrary bytes through the tracker's own request handling (what `protocol`'s fuzz targets
//! do not reach): the one-shot HTTP fast path, GET routing, UDP datagrams with a valid
//! connection id, and the two state file formats. Used by `fuzz/fuzz_targets/tracker_request.rs`
//! and, on stable, by the property test below, so the target cannot rot unnoticed.
//!
//! The first byte picks the handler; the rest is its input. Never a panic, and:
//! a fast-path reply is a whole HTTP response whose Content-Length is its body's length;
//! a UDP reply fits one 1500-byte packet; a state file that loads saves and loads back equal.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use protocol::{InfoHash, MetainfoBuilder};

use crate::config::{Config, LogTarget};
use crate::registry::Registry;
use crate::state::{now_secs, Tracker};
use crate::store::SwarmStore;
use crate::weblog::WebLog;

/// Not loopback, so a claimed `ip` is ignored and the swarm stays bounded (peers differ by
/// port only) however long a fuzzing run.
const REMOTE: &str = "192.0.2.7:40000";

/// The one published torrent's bytes (announces for other hashes are refused).
pub fn published_torrent() -> Bytes {
    MetainfoBuilder::single_file("fuzz.bin", 40_000)
        .piece_length(16_384)
        .pieces(vec![[7u8; 20]; 3])
        .announce_tiers(vec![vec!["http://127.0.0.1:1/announce".into()]])
        .build()
        .map(|m| Bytes::from(m.bytes))
        .unwrap_or_default()
}

fn tracker() -> &'static Arc<Tracker> {
    static T: OnceLock<Arc<Tracker>> = OnceLock::new();
    T.get_or_init(|| {
        let mut registry = Registry::default();
        let publisher = SocketAddr::from(([192, 0, 2, 1], 6881));
        let _ = registry.add(published_torrent(), publisher, now_secs());
        let weblog = WebLog::open(&LogTarget::None).unwrap_or_else(|_| unreachable!());
        Tracker::new(Config::default(), registry, weblog)
    })
}

/// The published torrent's info-hash (for seeds).
pub fn published_hash() -> InfoHash {
    tracker()
        .registry()
        .list()
        .first()
        .map(|p| p.info_hash)
        .unwrap_or(InfoHash([0; 20]))
}

pub fn fuzz_one(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let remote: SocketAddr = REMOTE.parse().unwrap_or_else(|_| unreachable!());
    let t = tracker();
    match mode % 5 {
        0 => fast_path(t, input, remote),
        1 => {
            let target = String::from_utf8_lossy(input);
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (&*target, None),
            };
            let from = crate::http_reply::Origin {
                ip: remote.ip(),
                proxied: mode / 5 % 2 == 0,
                host: Some("tracker.example:6969"),
            };
            let _ = crate::server::get(t, path, query, from);
        }
        2 => udp(t, input, remote, mode / 5 % 2 == 0),
        3 => snapshot(input),
        _ => state_file(input),
    }
}

fn fast_path(t: &Tracker, input: &[u8], remote: SocketAddr) {
    let Some(reply) = crate::fast_path::answer(t, input, remote) else {
        return;
    };
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a fast-path reply has a whole head");
    let head = std::str::from_utf8(&reply[..split]).expect("an ASCII head");
    assert!(head.starts_with("HTTP/1."), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.parse().ok())
        .expect("a content-length");
    assert_eq!(len, reply.len() - split - 4, "content-length is the body's");
}

/// `valid_id`: the packet's connection id is replaced by one the tracker issued, so announces
/// and scrapes get through (half the inputs, picked by the mode byte).
fn udp(t: &Tracker, input: &[u8], remote: SocketAddr, valid_id: bool) {
    let mut packet = input.to_vec();
    if valid_id && packet.len() >= 8 {
        let id = t.connection_ids.issue(remote, now_secs());
        packet[..8].copy_from_slice(&id.to_be_bytes());
    }
    let mut out = Vec::new();
    let mut scratch = crate::udp::Scratch::default();
    if crate::udp::handle(t, &packet, remote, now_secs(), &mut out, &mut scratch) {
        assert!(
            !out.is_empty() && out.len() <= 1500,
            "reply of {} bytes",
            out.len()
        );
    } else {
        assert!(out.is_empty());
    }
}

fn snapshot(input: &[u8]) {
    let now = 1_700_000_000;
    let a = SwarmStore::new(3600, 1);
    if a.restore(input, now).is_err() {
        return;
    }
    let b = SwarmStore::new(3600, 2);
    b.restore(&a.snapshot(now), now)
        .expect("a snapshot we wrote loads");
    assert_eq!(a.totals(), b.totals(), "snapshot round trip");
}

fn state_file(input: &[u8]) {
    let Ok(a) = Registry::from_state_bytes(input) else {
        return;
    };
    let b = Registry::from_state_bytes(&a.to_state_bytes()).expect("a state file we wrote loads");
    let key = |r: &Registry| -> Vec<(String, InfoHash, SocketAddr, Bytes)> {
        r.list()
            .iter()
            .map(|p| (p.name.clone(), p.info_hash, p.publisher, p.torrent.clone()))
            .collect()
    };
    assert_eq!(key(&a), key(&b), "state file round trip");
}

/// Inputs that reach deep into each handler: starting points for mutation.
pub fn seeds() -> Vec<Vec<u8>> {
    let h = published_hash();
    let pct: String = h.0.iter().map(|b| format!("%{b:02x}")).collect();
    let query = format!("info_hash={pct}&peer_id=-XX0000-000000000001&port=6881&left=0&numwant=5");
    let mut seeds = vec![
        [
            &[0u8][..],
            format!("GET /announce?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        ]
        .concat(),
        [
            &[1u8][..],
            format!("/announce?{query}&compact=0").as_bytes(),
        ]
        .concat(),
        [&[1u8][..], format!("/scrape?info_hash={pct}").as_bytes()].concat(),
        [&[1u8][..], b"/fuzz.bin.torrent"].concat(),
        [&[1u8][..], b"/?format=json"].concat(),
    ];
    let mut udp = vec![2u8];
    udp.extend_from_slice(&[0; 8]);
    udp.extend_from_slice(&1u32.to_be_bytes()); // announce
    udp.extend_from_slice(&7u32.to_be_bytes());
    udp.extend_from_slice(&h.0);
    udp.extend_from_slice(&[b'-'; 20]);
    udp.extend_from_slice(&[0; 24]);
    udp.extend_from_slice(&[0; 4]); // event
    udp.extend_from_slice(&[0; 8]); // ip, key
    udp.extend_from_slice(&(-1i32).to_be_bytes());
    udp.extend_from_slice(&6881u16.to_be_bytes());
    seeds.push(udp);
    let store = SwarmStore::new(3600, 1);
    let mut peers = Vec::new();
    for (i, ip) in ["10.0.0.1", "::1"].iter().enumerate() {
        let a = crate::store::Announce {
            info_hash: h,
            addr: SocketAddr::new(ip.parse::<IpAddr>().unwrap_or(IpAddr::from([0; 4])), 80),
            event: protocol::tracker::Event::None,
            left: i as u64,
            numwant: 0,
            start: 0,
            pinned: None,
        };
        let _ = store.announce(&a, 1_700_000_000, &mut peers);
    }
    seeds.push([&[3u8][..], &store.snapshot(1_700_000_000)].concat());
    seeds.push([&[4u8][..], &tracker().registry().to_state_bytes()].concat());
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seeds_reach_their_handlers() {
        let seeds = seeds();
        for s in &seeds {
            fuzz_one(s);
        }
        // The announce seed is answered by the fast path, the UDP one gets a reply.
        let remote: SocketAddr = REMOTE.parse().unwrap();
        let reply = crate::fast_path::answer(tracker(), &seeds[0][1..], remote).unwrap();
        assert!(reply.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(!reply.windows(7).any(|w| w == b"failure"));
        let state = seeds.last().unwrap();
        assert_eq!(Registry::from_state_bytes(&state[1..]).unwrap().len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            fuzz_one(&data);
        }

        #[test]
        fn mutated_seeds_never_panic(
            which in 0usize..10,
            edits in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..8),
            cut in any::<u16>(),
        ) {
            let seeds = seeds();
            let mut s = seeds[which % seeds.len()].clone();
            for (at, b) in edits {
                let at = 1 + usize::from(at) % (s.len().max(2) - 1);
                if let Some(x) = s.get_mut(at) {
                    *x = b;
                }
            }
            if cut % 4 == 0 {
                s.truncate(1 + usize::from(cut) % s.len());
            }
            fuzz_one(&s);
        }
    }
}

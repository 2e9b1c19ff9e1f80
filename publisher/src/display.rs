//! The seeding screen of the original publisher: a line per connected peer (address,
//! choked/interested flags, upload rate) and a total per torrent, redrawn every second.

use engine::{PeerStatus, TorrentState, TorrentStatus};

use crate::units::human_bytes;

/// The lines for one torrent: its totals, then its peers (fastest upload first).
pub fn torrent_lines(status: &TorrentStatus, peers: &[PeerStatus]) -> Vec<String> {
    let mut lines = vec![format!(
        "{}: {}, {} peer{}, uploaded {}, up {}/s",
        protocol::text::printable(&status.name),
        state_name(status.state),
        peers.len(),
        if peers.len() == 1 { "" } else { "s" },
        human_bytes(status.uploaded as f64),
        human_bytes(status.up_rate as f64),
    )];
    if let Some(error) = &status.error {
        // May quote a tracker's failure reason or warning.
        lines.push(format!("  error: {}", protocol::text::printable(error)));
    }
    let mut sorted: Vec<&PeerStatus> = peers.iter().collect();
    sorted.sort_by(|a, b| b.up_rate.cmp(&a.up_rate).then(a.addr.cmp(&b.addr)));
    lines.extend(sorted.into_iter().map(peer_line));
    lines
}

/// `  127.0.0.1:51413   unchoked interested       1.2 MiB/s  libtorrent/2.0.8`
pub fn peer_line(peer: &PeerStatus) -> String {
    format!(
        "  {:<24} {:<8} {:<14} {:>10}/s  {}",
        peer.addr.to_string(),
        if peer.am_choking {
            "choked"
        } else {
            "unchoked"
        },
        if peer.peer_interested {
            "interested"
        } else {
            "not interested"
        },
        human_bytes(peer.up_rate as f64),
        // The client string is the peer's own words: shown, never obeyed by the terminal.
        protocol::text::printable(&peer.client),
    )
}

fn state_name(state: TorrentState) -> &'static str {
    match state {
        TorrentState::Checking => "checking",
        TorrentState::Allocating => "allocating",
        TorrentState::Connecting => "connecting",
        TorrentState::Downloading => "downloading",
        TorrentState::Seeding => "seeding",
        TorrentState::Paused => "paused",
        TorrentState::Queued => "queued",
        TorrentState::AwaitingSelection => "awaiting selection",
        TorrentState::Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(addr: &str, up: u64, choking: bool, interested: bool) -> PeerStatus {
        PeerStatus {
            addr: addr.parse().unwrap(),
            client: "libtorrent/2.0.8".into(),
            am_choking: choking,
            am_interested: false,
            peer_choking: true,
            peer_interested: interested,
            down_rate: 0,
            up_rate: up,
            progress: 0.5,
        }
    }

    #[test]
    fn totals_then_peers_fastest_first() {
        let status = TorrentStatus {
            info_hash: protocol::InfoHash::default(),
            name: "movie.mpeg".into(),
            state: TorrentState::Seeding,
            progress: 1.0,
            total_bytes: 1 << 30,
            have_bytes: 1 << 30,
            downloaded: 0,
            uploaded: 3 << 20,
            down_rate: 0,
            up_rate: 1 << 20,
            peers: 2,
            seeds: 0,
            eta_secs: None,
            error: None,
            save_path: "/srv/movie.mpeg".into(),
            seeding_secs: 0,
            web_seeds: Vec::new(),
            moving: None,
        };
        let peers = [
            peer("127.0.0.1:2000", 10, true, false),
            peer("[::1]:3000", 2048, false, true),
        ];
        let lines = torrent_lines(&status, &peers);
        assert_eq!(
            lines[0],
            "movie.mpeg: seeding, 2 peers, uploaded 3.0 MiB, up 1.0 MiB/s"
        );
        assert!(lines[1].contains("[::1]:3000"), "{}", lines[1]);
        assert!(lines[1].contains("unchoked interested"), "{}", lines[1]);
        assert!(lines[1].contains("2.0 KiB/s"), "{}", lines[1]);
        assert!(lines[2].contains("choked   not interested"), "{}", lines[2]);
        assert!(lines[2].contains("10 B/s"));
    }

    #[test]
    fn a_peers_client_string_cannot_drive_the_terminal() {
        let mut p = peer("127.0.0.1:2000", 1, false, true);
        p.client = "evil\u{1b}[2J\u{1b}]8;;http://x\u{7}\r\u{202E}".into();
        let line = peer_line(&p);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(
            line.ends_with("evil\\u{1b}[2J\\u{1b}]8;;http://x\\u{7}\\u{d}\\u{202e}"),
            "{line:?}"
        );
    }
}

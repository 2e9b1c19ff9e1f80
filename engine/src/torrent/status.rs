//! What the torrent actor publishes for `Session::status`/`peers`, and per-piece priorities
//! derived from per-file ones.

use protocol::{Lengths, Metainfo};

use super::Torrent;
use crate::types::{FilePriority, PeerStatus, TorrentState, TorrentStatus};

/// Per-piece priority from per-file priorities: a piece gets the highest priority of the
/// non-pad files it touches (0 = skip only if every such file is skipped).
pub(super) fn piece_priorities(
    metainfo: &Metainfo,
    lengths: &Lengths,
    files: Option<&[FilePriority]>,
) -> Vec<u8> {
    let n = lengths.piece_count() as usize;
    let Some(files) = files else {
        return vec![protocol::picker::PRIORITY_NORMAL; n];
    };
    let mut out = vec![0u8; n];
    let plen = u64::from(lengths.default_piece_len());
    for (f, prio) in metainfo.info.files.iter().zip(files) {
        if f.pad || f.length == 0 {
            continue;
        }
        let p = match prio {
            FilePriority::Skip => 0,
            FilePriority::Low => 1,
            FilePriority::Normal => 2,
            FilePriority::High => 3,
        };
        let first = (f.offset / plen) as usize;
        let last = ((f.offset + f.length - 1) / plen) as usize;
        for slot in out.iter_mut().take(last.min(n - 1) + 1).skip(first) {
            *slot = (*slot).max(p);
        }
    }
    out
}

impl Torrent {
    pub(super) fn publish_status(&mut self) {
        let wanted_total = self.core.picker().wanted_total();
        let left = self.core.picker().wanted_left();
        let have_bytes = (self.core.have())
            .iter_ones()
            .filter_map(|i| self.lengths.validate_piece(i))
            .map(|p| u64::from(self.lengths.piece_len(p)))
            .sum();
        let state = if self.state == TorrentState::Error {
            TorrentState::Error
        } else if self.paused {
            TorrentState::Paused
        } else if self.state == TorrentState::Checking || self.state == TorrentState::Seeding {
            self.state
        } else if self.core.peer_count() == 0 && !self.webseeds.busy() {
            TorrentState::Connecting
        } else {
            TorrentState::Downloading
        };
        let progress = if self.state == TorrentState::Checking {
            f64::from(self.checking_done) / f64::from(self.lengths.piece_count().max(1))
        } else if wanted_total == 0 {
            1.0
        } else {
            (wanted_total - left) as f64 / wanted_total as f64
        };
        let status = TorrentStatus {
            info_hash: self.metainfo.info_hash,
            name: self.metainfo.info.name.clone(),
            state,
            progress,
            total_bytes: self.metainfo.info.total_length,
            have_bytes,
            downloaded: self.downloaded(),
            uploaded: self.lifetime_uploaded(),
            down_rate: self.down_rate,
            up_rate: self.up_rate,
            // Web seeds fetching right now count as peers, and as seeds: they have everything.
            peers: (self.core.peer_count() + self.webseeds.fetching()) as u32,
            seeds: (self.core.seeds() + self.webseeds.fetching()) as u32,
            eta_secs: (left > 0 && self.down_rate > 0).then(|| left / self.down_rate),
            error: self.error.clone(),
            save_path: self.save_path.clone(),
            seeding_secs: self.seeding_now(std::time::Instant::now()).as_secs(),
            web_seeds: self.webseeds.statuses(std::time::Instant::now()),
            moving: self.moving.clone(),
        };
        self.status_out.publish(status);
        let peers: Vec<PeerStatus> = self.peer_statuses();
        if let Ok(mut out) = self.peers_out.lock() {
            *out = peers;
        }
    }
}

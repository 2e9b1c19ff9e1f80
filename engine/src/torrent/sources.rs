//! Sources added to a torrent while it runs: a magnet or `.torrent` added again brings
//! trackers, web seeds and peers (`Session::add_sources`), merged with what the torrent knows
//! (`magnet_merge`), before or after its metadata.
//!
//! Each add keeps its own LAN rule (`tracker/targets.rs`): what a public page brings to a torrent
//! that came from the terminal still contacts public addresses only (unless the user allows
//! it), so its trackers get an announcer of their own and its web seeds a client of their own.

use std::net::SocketAddr;

use protocol::InfoHash;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::announcer::{self, AnnounceStats};
use super::{SessionShared, Torrent, TorrentCmd};
use crate::magnet_merge::{merge_sources, Sources};
use crate::tracker::targets::Targets;

/// An `add` of a torrent already running: what it brought, and its LAN rule.
#[derive(Debug)]
pub(crate) struct AddSources {
    pub sources: Sources,
    pub targets: Targets,
}

/// A torrent's announce stats, and the task of its own announcer.
pub(super) type Announce = Option<(watch::Sender<AnnounceStats>, JoinHandle<()>)>;

/// What a torrent started for sources added while it runs.
pub(super) struct Added {
    to_actor: mpsc::UnboundedSender<TorrentCmd>,
    /// Trackers announced to by `announcers`, each under the rule of the add that brought it.
    trackers: Vec<(String, Targets)>,
    /// An announcer per add that brought new trackers; they read the torrent's announce stats
    /// and stop with its own announcer.
    announcers: Vec<JoinHandle<()>>,
    /// Web seeds brought before the metadata, for the torrent to start.
    web_seeds: Vec<(String, Targets)>,
}

impl Added {
    pub(super) fn new(to_actor: mpsc::UnboundedSender<TorrentCmd>) -> Added {
        Added {
            to_actor,
            trackers: Vec::new(),
            announcers: Vec::new(),
            web_seeds: Vec::new(),
        }
    }

    /// Starts announcing to those of `trackers` not announced to yet under a rule that covers
    /// `targets` (each its own tier).
    pub(super) fn announce(
        &mut self,
        shared: &SessionShared,
        info_hash: InfoHash,
        trackers: Vec<String>,
        targets: Targets,
        announce: &mut Announce,
        initial: AnnounceStats,
    ) {
        let tiers: Vec<Vec<String>> = trackers
            .into_iter()
            .filter(|t| !known(&self.trackers, t, targets))
            .map(|t| vec![t])
            .collect();
        if tiers.is_empty() {
            return;
        }
        (self.trackers).extend(tiers.iter().flatten().map(|t| (t.clone(), targets)));
        // A torrent without trackers of its own has no stats channel yet: an idle stand-in for
        // its announcer makes one, and `stop` ends everything the same way.
        let (stats, _) = announce.get_or_insert_with(|| {
            let (tx, _) = watch::channel(initial);
            (tx, tokio::spawn(async {}))
        });
        let setup = announcer::AnnouncerSetup {
            tiers,
            info_hash,
            peer_id: shared.our_id,
            port: shared.listen_port,
            ip: shared.announce_ip.clone(),
            targets,
        };
        let task = announcer::spawn(setup, stats.subscribe(), self.to_actor.clone());
        self.announcers.push(task);
    }

    /// Keeps a web seed brought before the metadata, unless one that covers it is kept.
    pub(super) fn keep_web_seed(&mut self, url: String, targets: Targets) {
        if !known(&self.web_seeds, &url, targets) {
            self.web_seeds.push((url, targets));
        }
    }

    /// Takes over what the metadata phase started; returns the web seeds it was given.
    pub(super) fn adopt(&mut self, phase: Added) -> Vec<(String, Targets)> {
        self.trackers.extend(phase.trackers);
        self.announcers.extend(phase.announcers);
        phase.web_seeds
    }

    /// Tells every announcer to send `stopped` (the torrent's own included) and waits for
    /// them, bounded: a tracker may be gone.
    pub(super) async fn stop(&mut self, announce: &mut Announce, last: AnnounceStats) {
        let Some((tx, task)) = announce.take() else {
            return;
        };
        let _ = tx.send(last);
        let all = std::iter::once(task).chain(self.announcers.drain(..));
        let wait = futures::future::join_all(all);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(6), wait).await;
    }
}

/// Whether `url` is in `list` under a rule that covers `targets`.
fn known(list: &[(String, Targets)], url: &str, targets: Targets) -> bool {
    list.iter()
        .any(|(u, rule)| u == url && rule.covers(&targets))
}

/// What of `sources` the torrent's own sources (`own`, under its own rule `rule`) do not cover:
/// all of them when its rule is stricter than the add's (a page's torrent added again from the
/// terminal), else what the merge finds new. The torrent's metainfo itself stays as it came.
pub(super) fn not_covered(
    own: &protocol::Metainfo,
    rule: Targets,
    sources: Sources,
    targets: Targets,
) -> Sources {
    if rule.covers(&targets) {
        merge_sources(&mut own.clone(), &sources)
    } else {
        sources
    }
}

/// The peers `targets` lets this add's torrent dial.
pub(super) fn allowed(peers: Vec<SocketAddr>, targets: Targets) -> Vec<SocketAddr> {
    peers
        .into_iter()
        .filter(|a| targets.allows(a.ip()))
        .collect()
}

impl Torrent {
    pub(super) fn add_sources(&mut self, add: AddSources) {
        let AddSources { sources, targets } = add;
        let new = not_covered(&self.metainfo, self.shared.targets, sources, targets);
        tracing::info!(
            "{}: added again, bringing {} trackers, {} web seeds and {} peers to start",
            self.metainfo.info.name,
            new.trackers.len(),
            new.web_seeds.len(),
            new.peers.len()
        );
        let initial = self.announce_stats(false);
        let ih = self.metainfo.info_hash;
        self.added.announce(
            &self.shared,
            ih,
            new.trackers,
            targets,
            &mut self.announce,
            initial,
        );
        for url in &new.web_seeds {
            self.webseeds.add(url, targets);
        }
        self.add_candidates(allowed(new.peers, targets));
        self.fill_webseeds();
        self.publish_status();
    }

    /// Starts the web seeds the metadata phase was given.
    pub(super) fn add_phase_web_seeds(&mut self, seeds: Vec<(String, Targets)>) {
        for (url, targets) in seeds {
            self.webseeds.add(&url, targets);
        }
    }
}

//! One torrent's use of the DHT: `get_peers` for its info-hash, the peers found handed to the
//! torrent like a tracker's, then `announce_peer` with our listen port; again every few
//! minutes, sooner while the torrent has few peers. It needs only the info-hash, so a magnet
//! link finds its first peers this way. The task ends when the torrent does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use protocol::InfoHash;
use tokio::sync::mpsc;

use super::Dht;
use crate::status_feed::StatusCell;
use crate::torrent::TorrentCmd;
use crate::types::TorrentState;

/// Peers connected below which the torrent searches again soon.
const FEW_PEERS: u32 = 5;

/// How long until the next search. Pure, so the policy is tested without a network.
pub(crate) fn next_search_in(connected: u32, rounds: u32, complete: bool) -> Duration {
    if connected >= FEW_PEERS || complete && connected > 0 {
        return Duration::from_secs(300);
    }
    // 15 s, 30 s, 60 s, then every 2 minutes while peers stay few.
    Duration::from_secs(15u64 << rounds.min(3)).min(Duration::from_secs(120))
}

/// Starts the search task of one torrent. `status` is the torrent's published snapshot (for
/// its peer count and whether it is paused); `to_torrent` its command channel.
pub(crate) fn spawn_search(
    dht: Dht,
    info_hash: InfoHash,
    listen_port: u16,
    status: Arc<StatusCell>,
    to_torrent: mpsc::UnboundedSender<TorrentCmd>,
) {
    tokio::spawn(async move {
        let id = match mainline::Id::from_bytes(info_hash.0) {
            Ok(id) => id,
            Err(_) => return,
        };
        let mut rounds = 0u32;
        loop {
            let (state, connected) = status
                .lock()
                .map(|s| (s.state, s.peers))
                .unwrap_or((TorrentState::Paused, 0));
            let wait = if state == TorrentState::Paused || state == TorrentState::Error {
                Duration::from_secs(5)
            } else if let Some(node) = dht.node() {
                let found = tokio::select! {
                    found = search_once(&node, id, listen_port, &to_torrent) => found,
                    _ = to_torrent.closed() => return,
                };
                tracing::debug!("DHT: {found} peers for {info_hash}");
                rounds += 1;
                next_search_in(connected, rounds - 1, state == TorrentState::Seeding)
            } else {
                Duration::from_secs(5)
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = to_torrent.closed() => return,
            }
        }
    });
}

/// One `get_peers` (peers go to the torrent as they arrive) and one `announce_peer`.
async fn search_once(
    node: &mainline::async_dht::AsyncDht,
    id: mainline::Id,
    listen_port: u16,
    to_torrent: &mpsc::UnboundedSender<TorrentCmd>,
) -> usize {
    let mut found = 0;
    let mut stream = node.get_peers(id);
    // Bounded: a query ends by itself, but a stuck one must not stall the schedule.
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(peers) = stream.next().await {
            let peers: Vec<SocketAddr> = peers
                .into_iter()
                .filter(|a| a.port() != 0 && !a.ip().is_unspecified())
                .map(SocketAddr::V4)
                .collect();
            found += peers.len();
            if !peers.is_empty() {
                let _ = to_torrent.send(TorrentCmd::AddPeers(peers));
            }
        }
    })
    .await;
    let announce = node.announce_peer(id, Some(listen_port));
    match tokio::time::timeout(Duration::from_secs(60), announce).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::debug!("DHT announce: {e}"),
        Err(_) => tracing::debug!("DHT announce timed out"),
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_sooner_while_peers_are_few() {
        assert_eq!(next_search_in(0, 0, false), Duration::from_secs(15));
        assert_eq!(next_search_in(0, 1, false), Duration::from_secs(30));
        assert_eq!(next_search_in(2, 9, false), Duration::from_secs(120));
        assert_eq!(next_search_in(5, 0, false), Duration::from_secs(300));
        assert_eq!(next_search_in(1, 0, true), Duration::from_secs(300));
        // A seed with nobody still looks for leechers soon.
        assert_eq!(next_search_in(0, 0, true), Duration::from_secs(15));
    }
}

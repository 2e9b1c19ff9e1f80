//! The LAN rule end to end (issue 14): a torrent whose source URL is a public page contacts
//! neither its loopback tracker nor its loopback web seed (by IP literal and by a name that
//! resolves to loopback); the same torrent from the terminal, or with the user's
//! `allow_lan_for_web_torrents`, contacts both. Nothing is fetched from the source URL: the
//! torrent's bytes are given.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use engine::AddTorrent;
use protocol::Metainfo;

use super::server::{self, Mode};

/// A TCP listener on 127.0.0.1 that counts connections and never answers.
async fn silent_tracker() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/announce", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (url, count)
}

/// Adds the torrent (tracker + two web seeds) with `source_url`/`allow_lan`; returns how many
/// connections the tracker and the web seeds got, and the web seeds' errors.
async fn contacts(source_url: Option<&str>, allow_lan: bool) -> (usize, usize, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    super::write_random(&root.join("lan.bin"), 1 << 20, 50);
    let (tracker, tracker_hits) = silent_tracker().await;
    let by_ip = server::start(root.clone(), Mode::Honest, 0).await;
    let by_name = server::start(root.clone(), Mode::Honest, 0).await;
    let named = by_name.url.replace("127.0.0.1", "localhost");
    let torrent = super::make_torrent(
        &root.join("lan.bin"),
        32 * 1024,
        false,
        &[&by_ip.url, &named],
    );
    // The announce key goes before `info`'s siblings are read: bencode keys are sorted, and
    // `announce` sorts first.
    let mut bytes = b"d8:announce".to_vec();
    bytes.extend_from_slice(format!("{}:{tracker}", tracker.len()).as_bytes());
    bytes.extend_from_slice(&torrent[1..]);
    let meta = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(meta.announce.as_deref(), Some(tracker.as_str()));

    let out = dir.path().join("out");
    let session = super::session(&out, Duration::from_secs(5)).await;
    let mut add = AddTorrent::metainfo(meta);
    add.source_url = source_url.map(str::to_owned);
    add.allow_lan = allow_lan;
    let ih = session.add(add).await.unwrap();
    // Until the outcome shows (the web seeds refuse and say why, or the tracker and both web
    // seeds were reached), however loaded the machine; then a second more for stragglers.
    let seeds = || {
        by_ip.stats.connections.load(Ordering::SeqCst)
            + by_name.stats.connections.load(Ordering::SeqCst)
    };
    let errors = || -> Vec<String> {
        session
            .status(ih)
            .map(|s| s.web_seeds.iter().filter_map(|w| w.error.clone()).collect())
            .unwrap_or_default()
    };
    // A refused web seed shows its error only while it backs off: once the wait ends it tries
    // again and reads as fetching. So the errors are gathered as they show, not read once at
    // the end (on a loaded machine the last read can fall inside a retry).
    let mut seen: Vec<String> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let now_errors = errors();
        let refused = now_errors.len() == 2;
        for e in now_errors {
            if !seen.contains(&e) {
                seen.push(e);
            }
        }
        let reached = tracker_hits.load(Ordering::SeqCst) > 0
            && by_ip.stats.connections.load(Ordering::SeqCst) > 0
            && by_name.stats.connections.load(Ordering::SeqCst) > 0;
        if refused || reached {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for e in errors() {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    session.shutdown().await;
    (tracker_hits.load(Ordering::SeqCst), seeds(), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_pages_torrent_does_not_reach_loopback_trackers_or_web_seeds() {
    let (tracker, seeds, errors) = contacts(Some("https://example.com/x.torrent"), false).await;
    assert_eq!(tracker, 0, "the loopback tracker was contacted");
    assert_eq!(seeds, 0, "a loopback web seed was contacted");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("allow_lan_for_web_torrents")),
        "the web seeds say why: {errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_torrent_from_the_terminal_a_lan_page_or_allowed_reaches_them() {
    for (source, allow) in [
        (None, false),
        (Some("http://192.168.1.10/x.torrent"), false),
        (Some("https://example.com/x.torrent"), true),
    ] {
        let (tracker, seeds, errors) = contacts(source, allow).await;
        assert!(tracker > 0, "{source:?} {allow}: tracker not contacted");
        assert!(
            seeds >= 2,
            "{source:?} {allow}: web seeds not both contacted: {errors:?}"
        );
    }
}

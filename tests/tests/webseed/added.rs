//! Web seeds added to a running torrent (`Session::add_sources`: a magnet or `.torrent` added
//! again): fetched from at once, under the LAN rule of the add that brought them, whatever the
//! torrent's own origin; a URL refused under a page's rule is used once the terminal adds it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use engine::Sources;

use super::server::{self, Mode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_seed_added_to_a_running_torrent_is_fetched_under_its_adds_lan_rule() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    let data = super::write_random(&root.join("added.bin"), 1 << 20, 60);
    let srv = server::start(root.clone(), Mode::Honest, 0).await;
    // No url-list, no tracker, no peer: the torrent has no source of its own.
    let torrent = super::make_torrent(&root.join("added.bin"), 32 * 1024, false, &[]);
    let out = dir.path().join("out");
    let session = super::session(&out, Duration::from_secs(5)).await;
    let ih = super::add(&session, &torrent).await;
    let seed = Sources {
        web_seeds: vec![srv.url.clone()],
        ..Default::default()
    };

    // From a public page: the loopback web seed is refused, though the torrent is the
    // terminal's.
    let page = Some("https://example.com/files.html");
    session.add_sources(ih, seed.clone(), page, false).unwrap();
    super::wait_until("the refusal", Duration::from_secs(10), || {
        let s = session.status(ih).unwrap();
        s.web_seeds.first().is_some_and(|w| {
            w.error
                .as_deref()
                .is_some_and(|e| e.contains("local address"))
        })
    })
    .await;
    assert_eq!(srv.stats.requests.load(Ordering::SeqCst), 0);
    // The same URL from the terminal: the same web seed, now under the terminal's rule.
    session.add_sources(ih, seed.clone(), None, false).unwrap();
    super::wait_seeding(&session, ih, Duration::from_secs(30)).await;
    assert!(std::fs::read(out.join("added.bin")).unwrap() == data);
    let s = session.status(ih).unwrap();
    assert_eq!(
        s.web_seeds.len(),
        1,
        "not a second web seed: {:?}",
        s.web_seeds
    );
    // A page's add after that changes nothing: the terminal's rule covers it.
    session.add_sources(ih, seed, page, false).unwrap();
    assert_eq!(session.status(ih).unwrap().web_seeds.len(), 1);
    session.shutdown().await;
}

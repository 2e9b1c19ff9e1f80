//! Adding a torrent never holds the runtime's thread while its files are laid out: on a
//! current-thread runtime, another task keeps running while a torrent of thousands of files is
//! added (before, laying them out ran inside `Session::add`'s poll, and nothing else ran).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use protocol::MetainfoBuilder;

use crate::tests::loopback_config;
use crate::{AddTorrent, Session};

#[tokio::test(flavor = "current_thread")]
async fn other_tasks_run_while_a_large_torrent_is_laid_out() {
    const FILES: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let session = Session::start(loopback_config(dir.path())).await.unwrap();
    let files = (0..FILES).map(|i| (vec![format!("d{}", i / 100), format!("f{i}.bin")], 1000));
    let builder = MetainfoBuilder::multi_file("many", files).piece_length(16 * 1024);
    let pieces = vec![[0u8; 20]; builder.piece_count() as usize];
    let metainfo = builder.pieces(pieces).build().unwrap().metainfo;

    let turns = Arc::new(AtomicU64::new(0));
    let ticker = {
        let turns = turns.clone();
        tokio::spawn(async move {
            loop {
                turns.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };
    let before = turns.load(Ordering::Relaxed);
    session.add(AddTorrent::metainfo(metainfo)).await.unwrap();
    let during = turns.load(Ordering::Relaxed) - before;
    ticker.abort();
    assert!(
        during > 0,
        "no other task ran while {FILES} files were laid out"
    );
    session.shutdown().await;
}

//! The daemon driven in-process through the library (`bthelper::daemon::run`): no binary, no
//! environment, a temporary helper root and loopback only.

use std::time::Duration;

use bthelper::client::Client;
use bthelper::daemon::{self, Options};
use bthelper::paths::Paths;
use serde_json::json;

fn loopback_options() -> Options {
    Options {
        stream_port: Some(0),
        listen_ip: Some([127, 0, 0, 1].into()),
        no_dht: true,
        no_lsd: true,
        no_port_mapping: true,
        no_utp: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_answers_in_process_and_stops_when_its_shutdown_future_completes() {
    let root = tempfile::Builder::new()
        .prefix("slh")
        .tempdir_in("/tmp")
        .unwrap();
    let paths = Paths::under_root(root.path());
    paths.create_run_dir().unwrap();
    let listener = bthelper::ipc::Listener::bind(&paths).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn({
        let paths = paths.clone();
        async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            daemon::run(listener, &paths, loopback_options(), shutdown).await
        }
    });
    let mut client = Client::new(bthelper::ipc::connect(&paths).await.unwrap());
    let hello = client.call(json!({"cmd": "hello"})).await.unwrap();
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["torrents"], 0);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), daemon)
        .await
        .expect("the daemon stops")
        .unwrap()
        .unwrap();
}

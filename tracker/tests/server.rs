//! bttrack in-process on port 0: HTTP and UDP announce/scrape, publish, listing, torrent files,
//! metrics, every bad-input case, and graceful restart with both state files.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bttrack::{Config, LogTarget};
use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::{AnnounceRequest, AnnounceResponse, Event, ScrapeRequest, ScrapeResponse};
use protocol::{InfoHash, Metainfo, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::oneshot;

mod common;
use common::{open_config, req, torrent, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_announce_gives_peers_of_one_ip_and_scrape_counts_match() {
    let t = Running::start(open_config()).await;
    let seed = t.announce(&req(1, 7001, 0, Event::Started)).await;
    assert_eq!(
        (seed.complete, seed.incomplete, seed.peers.len()),
        (1, 0, 0)
    );
    assert_eq!(seed.interval, 1800);
    assert_eq!(seed.min_interval, Some(300));
    let leech = t.announce(&req(1, 7002, 100, Event::Started)).await;
    assert_eq!((leech.complete, leech.incomplete), (1, 1));
    let addrs: Vec<SocketAddr> = leech.peers.iter().map(|p| p.addr).collect();
    assert_eq!(addrs, vec!["127.0.0.1:7001".parse().unwrap()]);

    // Dictionary form on request.
    let mut r = req(1, 7003, 100, Event::Started);
    r.compact = false;
    let d = t.announce(&r).await;
    assert_eq!(d.peers.len(), 2);

    // The leecher completes, another stops.
    t.announce(&req(1, 7002, 0, Event::Completed)).await;
    t.announce(&req(1, 7003, 100, Event::Stopped)).await;
    let q = ScrapeRequest {
        info_hashes: vec![InfoHash([1; 20]), InfoHash([2; 20])],
    };
    let (status, _, body) = t.get(&format!("/scrape?{}", q.to_query())).await;
    assert_eq!(status, 200);
    let s = ScrapeResponse::decode(&body).unwrap();
    let one = s.files[&InfoHash([1; 20])];
    assert_eq!((one.complete, one.incomplete, one.downloaded), (2, 0, 1));
    assert_eq!(s.files[&InfoHash([2; 20])], Default::default());

    // numwant is honoured and capped.
    for port in 8000..8300 {
        t.announce(&req(3, port, 5, Event::None)).await;
    }
    let mut r = req(3, 9000, 5, Event::None);
    r.numwant = Some(10);
    assert_eq!(t.announce(&r).await.peers.len(), 10);
    r.numwant = Some(5000);
    assert_eq!(t.announce(&r).await.peers.len(), 200);

    let (_, _, metrics) = t.get("/metrics").await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("bttrack_peers 303"), "{metrics}");
    assert!(metrics
        .contains("bttrack_requests_total{protocol=\"http\",kind=\"scrape\",outcome=\"ok\"} 1"));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_request_gets_a_prompt_failure_and_the_tracker_keeps_serving() {
    let t = Running::start(Config {
        header_timeout: Duration::from_secs(1),
        trust_proxy: vec!["127.0.0.1".parse().unwrap()],
        max_publish_bytes: 64 * 1024,
        ..open_config()
    })
    .await;
    let good = req(1, 7001, 0, Event::None).to_query();
    let ih = "info_hash=%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01";
    let pid = "peer_id=-XX0000-000000000000";
    for (query, field) in [
        (format!("{pid}&port=1"), "missing info_hash"),
        (format!("info_hash=abc&{pid}&port=1"), "invalid info_hash"),
        (format!("{ih}&peer_id=short&port=1"), "invalid peer_id"),
        (format!("{ih}&port=1"), "missing peer_id"),
        (
            format!("{ih}&peer_id=%GG%00&port=1"),
            "invalid peer_id: bad percent-encoding",
        ),
        (format!("{ih}&{pid}&port=0"), "invalid port"),
        (format!("{ih}&{pid}&port=65536"), "invalid port"),
        (
            format!("{ih}&{pid}&port=1&numwant=-1"),
            "invalid numwant: negative",
        ),
        (
            format!("{ih}&{pid}&port=1&numwant=99999999"),
            "invalid numwant: too large",
        ),
        (format!("{ih}&{pid}&port=1&event=exploded"), "invalid event"),
        (format!("{ih}&{pid}&port=1&port=2"), "duplicated port"),
        (format!("{ih}&{ih}&{pid}&port=1"), "duplicated info_hash"),
        (format!("{good}&left=1"), "duplicated left"),
    ] {
        let (status, _, body) = t.get(&format!("/announce?{query}")).await;
        assert_eq!(status, 400, "{query}");
        let r = AnnounceResponse::decode(&body).unwrap();
        let reason = r.failure_reason.unwrap();
        assert!(reason.contains(field), "{query}: {reason}");
    }
    // A 70 KB query: refused with a 4xx without being parsed.
    let (status, _, _) = t
        .get(&format!("/announce?{good}&x={}", "a".repeat(70_000)))
        .await;
    assert!((400..500).contains(&status), "{status}");
    // A scrape without hashes, and with a bad one.
    assert_eq!(t.get("/scrape").await.0, 400);
    assert_eq!(t.get("/scrape?info_hash=xyz").await.0, 400);
    // Garbage publish body and an oversized one.
    let (status, _, body) = t
        .put("/publish/?port=6881", "", b"this is not bencode")
        .await;
    assert_eq!(status, 400);
    assert!(AnnounceResponse::decode(&body)
        .unwrap()
        .failure_reason
        .unwrap()
        .contains("not a valid torrent"));
    let (status, _, _) = t.put("/publish/?port=6881", "", &vec![b'x'; 100_000]).await;
    assert_eq!(status, 413);
    assert_eq!(
        t.put("/publish/?port=0", "", &torrent("a", b"a")).await.0,
        400
    );
    // Trusted proxy without X-Forwarded-For, and with garbage in it: served as the proxy itself.
    for xff in [
        "",
        "X-Forwarded-For: nonsense, \r\n",
        "X-Forwarded-For: \r\n",
    ] {
        let (status, _, _) = t
            .raw(
                format!("GET /announce?{good} HTTP/1.1\r\n{xff}Connection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{xff}");
    }
    // Without a publish key only this host may publish: a client behind the trusted proxy is not it.
    let (status, _, body) = t
        .put(
            "/publish/?port=6881",
            "X-Forwarded-For: 203.0.113.5\r\n",
            &torrent("a", b"a"),
        )
        .await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("only its own host may publish"));
    // Not HTTP at all.
    let mut s = TcpStream::connect(t.addr).await.unwrap();
    s.write_all(b"\x00\x01\x02garbage\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .unwrap();

    // A slow client that never finishes its request head is dropped after the header timeout,
    // and meanwhile everyone else is served.
    let started = Instant::now();
    let mut slow = TcpStream::connect(t.addr).await.unwrap();
    slow.write_all(b"GET /announce?info_hash=").await.unwrap();
    assert_eq!(t.announce(&req(1, 7002, 0, Event::None)).await.complete, 2);
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the slow client is cut off");
    assert!(started.elapsed() < Duration::from_secs(4));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_serves_the_torrent_byte_for_byte_and_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        publish_key: Some("sesame".into()),
        state_file: Some(dir.path().join("btstate")),
        peer_file: Some(dir.path().join("dstate")),
        log: LogTarget::File(dir.path().join("weblog")),
        ..Config::default()
    };
    let t = Running::start(config.clone()).await;
    let name = "<b>movie & \"friends\".mpeg";
    let bytes = torrent(name, b"movie data");
    let ih = Metainfo::from_bytes(&bytes).unwrap().info_hash;

    // An unpublished torrent is refused when the tracker is not open.
    let r = t
        .announce(&AnnounceRequest::new(ih, PeerId([7; 20]), 6000))
        .await;
    assert!(r.failure_reason.unwrap().contains("not published"));

    assert_eq!(t.put("/publish/?port=5989", "", &bytes).await.0, 403);
    assert_eq!(
        t.put("/publish/?port=5989", "X-Publish-Key: wrong\r\n", &bytes)
            .await
            .0,
        403
    );
    let (status, _, body) = t
        .put("/publish/?port=5989", "X-Publish-Key: sesame\r\n", &bytes)
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let reply = protocol::bencode::decode(&body).unwrap();
    let url = reply.get("url").unwrap().as_str().unwrap().to_owned();
    let torrent_url = reply
        .get("torrent_url")
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(reply.get("your ip").unwrap().as_str(), Some("127.0.0.1"));
    assert!(
        url.starts_with("http://tracker.example:8080/%3Cb%3Emovie"),
        "{url}"
    );
    assert_eq!(torrent_url, format!("{url}.torrent"));

    // Same name, other content: refused.
    let other = torrent(name, b"other data");
    assert_eq!(
        t.put("/publish/?port=5989", "X-Publish-Key: sesame\r\n", &other)
            .await
            .0,
        409
    );

    for path in [&url, &torrent_url] {
        let path = path.strip_prefix("http://tracker.example:8080").unwrap();
        let (status, head, body) = t.get(path).await;
        assert_eq!(status, 200);
        assert!(head.contains("content-type: application/x-bittorrent"));
        assert_eq!(body, bytes, "byte for byte");
    }
    let (status, _, body) = t.get("/missing.torrent").await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("list of published torrents"));

    // The publisher is a seeder already, and comes first in a leecher's list.
    t.announce(&AnnounceRequest {
        left: 5,
        ..AnnounceRequest::new(ih, PeerId([8; 20]), 6001)
    })
    .await;
    let r = t
        .announce(&AnnounceRequest {
            left: 5,
            ..AnnounceRequest::new(ih, PeerId([7; 20]), 6000)
        })
        .await;
    assert_eq!(r.peers[0].addr, "127.0.0.1:5989".parse().unwrap());
    assert_eq!((r.complete, r.incomplete), (1, 2));

    let (_, head, html) = t.get("/").await;
    let html = String::from_utf8(html).unwrap();
    assert!(head.contains("content-security-policy: default-src 'none'"));
    assert!(
        html.contains("&lt;b&gt;movie &amp; &quot;friends&quot;.mpeg"),
        "{html}"
    );
    assert!(!html.contains("<b>movie"));
    let (_, head, json) = t.get("/?format=json").await;
    assert!(head.contains("application/json"));
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let row = &json["torrents"][0];
    assert_eq!(row["name"], name);
    assert_eq!(row["info_hash"], ih.to_hex());
    assert_eq!(
        (
            row["seeders"].as_u64(),
            row["leechers"].as_u64(),
            row["size"].as_u64()
        ),
        (Some(1), Some(2), Some(10))
    );

    // Graceful restart: the torrent, the publisher and the peers come back.
    t.stop().await;
    let log = std::fs::read_to_string(dir.path().join("weblog")).unwrap();
    assert!(
        log.lines().any(|l| l.starts_with("127.0.0.1 - - [")
            && l.contains("\"PUT /publish/?port=5989 HTTP/1.1\" 200")),
        "{log}"
    );
    let t = Running::start(config).await;
    let (_, _, body) = t
        .get(&torrent_url.replace("http://tracker.example:8080", ""))
        .await;
    assert_eq!(body, bytes);
    let r = t
        .announce(&AnnounceRequest {
            left: 5,
            ..AnnounceRequest::new(ih, PeerId([9; 20]), 6002)
        })
        .await;
    assert_eq!(
        (r.complete, r.incomplete),
        (1, 3),
        "peers restored from --dfile"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_connect_announce_scrape_and_bad_connection_ids() {
    let t = Running::start(open_config()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    async fn call(c: &UdpSocket, to: SocketAddr, r: Request) -> Response {
        let mut out = Vec::new();
        r.encode(&mut out);
        c.send_to(&out, to).await.unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(5), c.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        Response::decode(&buf[..n], false).unwrap()
    }
    let Response::Connect {
        transaction_id: 9,
        connection_id,
    } = call(&client, t.addr, Request::Connect { transaction_id: 9 }).await
    else {
        panic!("connect reply expected");
    };
    // An HTTP peer and a UDP peer share the swarm.
    t.announce(&req(4, 7001, 0, Event::Started)).await;
    let announce = |cid: u64, port: u16| {
        Request::Announce(UdpAnnounce {
            connection_id: cid,
            transaction_id: 10,
            info_hash: InfoHash([4; 20]),
            peer_id: PeerId([1; 20]),
            downloaded: 0,
            left: 10,
            uploaded: 0,
            event: Event::Started,
            ip: std::net::Ipv4Addr::UNSPECIFIED,
            key: 1,
            num_want: -1,
            port,
        })
    };
    match call(&client, t.addr, announce(connection_id, 7100)).await {
        Response::Announce {
            transaction_id: 10,
            seeders: 1,
            leechers: 1,
            peers,
            ..
        } => {
            assert_eq!(peers, vec!["127.0.0.1:7001".parse::<SocketAddr>().unwrap()]);
        }
        other => panic!("{other:?}"),
    }
    // A bad connection id: no reply at all (see the scrape's reply, the next datagram back).
    let mut bad = Vec::new();
    announce(connection_id ^ 0xff, 7100).encode(&mut bad);
    client.send_to(&bad, t.addr).await.unwrap();
    let scrape = Request::Scrape {
        connection_id,
        transaction_id: 11,
        info_hashes: vec![InfoHash([4; 20]), InfoHash([5; 20])],
    };
    match call(&client, t.addr, scrape).await {
        Response::Scrape {
            transaction_id: 11,
            stats,
        } => {
            assert_eq!((stats[0].complete, stats[0].incomplete), (1, 1));
            assert_eq!(stats[1], Default::default());
        }
        other => panic!("{other:?}"),
    }
    // Garbage gets no reply (no reflection), and the tracker still answers afterwards.
    client.send_to(b"\x00\x01garbage", t.addr).await.unwrap();
    assert!(matches!(
        call(&client, t.addr, Request::Connect { transaction_id: 12 }).await,
        Response::Connect {
            transaction_id: 12,
            ..
        }
    ));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_peer_snapshot_is_ignored_but_a_damaged_state_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dstate"), b"BTDSTAT1 truncated").unwrap();
    let t = Running::start(Config {
        peer_file: Some(dir.path().join("dstate")),
        ..open_config()
    })
    .await;
    t.announce(&req(1, 1, 0, Event::None)).await;
    t.stop().await;
    write(dir.path(), "btstate", b"not a state file");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let udp = UdpSocket::bind(listener.local_addr().unwrap())
        .await
        .unwrap();
    let r = bttrack::run(
        listener,
        udp,
        Config {
            state_file: Some(dir.path().join("btstate")),
            ..open_config()
        },
        async {},
    )
    .await;
    assert!(r.is_err());
}

/// Polls `cond` until it holds (the tracker starts in a task: no sleep-and-hope).
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_state_files_are_created_at_start_and_an_unwritable_path_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        state_file: Some(dir.path().join("btstate")),
        peer_file: Some(dir.path().join("dstate")),
        ..open_config()
    };
    let t = Running::start(config.clone()).await;
    // Serving means `run` got past its start-up: both files exist before the first request.
    assert_eq!(t.get("/?format=json").await.0, 200);
    let state = std::fs::read(dir.path().join("btstate")).unwrap();
    assert!(bttrack::Registry::from_state_bytes(&state)
        .unwrap()
        .is_empty());
    let peers = std::fs::read(dir.path().join("dstate")).unwrap();
    assert_eq!(
        bttrack::SwarmStore::new(60, 1)
            .restore(&peers, bttrack::now_secs())
            .unwrap(),
        0
    );
    t.stop().await;

    // A --file whose directory does not exist: an error at start, naming the file.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let udp = UdpSocket::bind(listener.local_addr().unwrap())
        .await
        .unwrap();
    let missing = dir.path().join("no/such/dir/btstate");
    let err = bttrack::run(
        listener,
        udp,
        Config {
            state_file: Some(missing.clone()),
            ..open_config()
        },
        async {},
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_peers_come_back_in_peers6_over_http_and_as_18_byte_udp_entries() {
    let listener = TcpListener::bind("[::1]:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let udp = UdpSocket::bind(addr).await.unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(bttrack::run(listener, udp, open_config(), async {
        let _ = rx.await;
    }));
    let t = Running {
        addr,
        stop: Some(tx),
        task,
    };
    t.announce(&req(6, 7001, 0, Event::Started)).await;
    let r = t.announce(&req(6, 7002, 5, Event::Started)).await;
    let want: SocketAddr = "[::1]:7001".parse().unwrap();
    assert_eq!(
        r.peers.iter().map(|p| p.addr).collect::<Vec<_>>(),
        vec![want]
    );
    // The raw reply carries them in `peers6` (BEP 7), with an empty v4 `peers`.
    let (_, _, body) = t
        .get(&format!(
            "/announce?{}",
            req(6, 7003, 5, Event::None).to_query()
        ))
        .await;
    assert!(
        body.windows(9).any(|w| w == b"6:peers63"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    let client = UdpSocket::bind("[::1]:0").await.unwrap();
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    Request::Connect { transaction_id: 1 }.encode(&mut out);
    client.send_to(&out, addr).await.unwrap();
    let (n, _) = client.recv_from(&mut buf).await.unwrap();
    let Ok(Response::Connect { connection_id, .. }) = Response::decode(&buf[..n], true) else {
        panic!("connect reply expected");
    };
    out.clear();
    Request::Announce(UdpAnnounce {
        connection_id,
        transaction_id: 2,
        info_hash: InfoHash([6; 20]),
        peer_id: PeerId([3; 20]),
        downloaded: 0,
        left: 5,
        uploaded: 0,
        event: Event::Started,
        ip: std::net::Ipv4Addr::UNSPECIFIED,
        key: 0,
        num_want: 10,
        port: 7004,
    })
    .encode(&mut out);
    client.send_to(&out, addr).await.unwrap();
    let (n, _) = client.recv_from(&mut buf).await.unwrap();
    match Response::decode(&buf[..n], true).unwrap() {
        Response::Announce {
            peers,
            seeders: 1,
            leechers: 3,
            ..
        } => {
            assert_eq!(peers.len(), 3);
            assert!(peers.contains(&want));
        }
        other => panic!("{other:?}"),
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_honours_ip_and_is_undone_when_the_state_file_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("gone");
    std::fs::create_dir(&sub).unwrap();
    let t = Running::start(Config {
        state_file: Some(sub.join("btstate")),
        ..Config::default()
    })
    .await;
    // The file was created at start; then its directory goes away: every write of --file fails.
    wait_until("--file created at start", || sub.join("btstate").exists()).await;
    std::fs::remove_dir_all(&sub).unwrap();
    let bytes = torrent("lost.iso", b"lost");
    let (status, _, body) = t.put("/publish/?port=6881", "", &bytes).await;
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
    assert_eq!(t.get("/lost.iso").await.0, 404, "not served when not saved");
    t.stop().await;

    let t = Running::start(Config::default()).await;
    let (status, _, body) = t.put("/publish/?port=6881&ip=10.1.2.3", "", &bytes).await;
    assert_eq!(status, 200);
    let reply = protocol::bencode::decode(&body).unwrap();
    assert_eq!(reply.get("your ip").unwrap().as_str(), Some("10.1.2.3"));
    let ih = Metainfo::from_bytes(&bytes).unwrap().info_hash;
    let r = t
        .announce(&AnnounceRequest {
            left: 1,
            ..AnnounceRequest::new(ih, PeerId([1; 20]), 7000)
        })
        .await;
    assert_eq!(r.peers[0].addr, "10.1.2.3:6881".parse().unwrap());
    for bad in ["bad_name%21", "%ZZ", "name.invalid"] {
        let (status, _, _) = t
            .put(&format!("/publish/?port=6881&ip={bad}"), "", &bytes)
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    // A DNS name is resolved (as the original allowed names for --ip).
    let (status, _, body) = t.put("/publish/?port=6881&ip=localhost", "", &bytes).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let reply = protocol::bencode::decode(&body).unwrap();
    let ip: std::net::IpAddr = reply
        .get("your ip")
        .unwrap()
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ip.is_loopback(), "{ip}");
    t.stop().await;
}

//! What the audit of issue 3 found untested: /metrics counting every kind and outcome, an
//! unpublished torrent refused over UDP as over HTTP, X-Forwarded-For believed only from
//! `--trust-proxy` addresses (end to end, into the peer lists), the listing when empty and its
//! links and completed counts, and the raw announce reply forms (dictionary peers, no_peer_id,
//! key, numwant=0).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bttrack::Config;
use protocol::tracker::udp::{Request, Response, UdpAnnounce};
use protocol::tracker::{AnnounceRequest, AnnounceResponse, Event};
use protocol::{InfoHash, Metainfo, PeerId};
use tokio::net::UdpSocket;

mod common;
use common::{open_config, req, torrent, Running};

async fn metrics(t: &Running) -> String {
    let (status, head, body) = t.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    String::from_utf8(body).unwrap()
}

/// The value of the sample line `name` (with its labels), e.g. `bttrack_peers`.
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing from\n{metrics}"))
        .parse()
        .unwrap()
}

fn requests(proto: &str, kind: &str, outcome: &str) -> String {
    format!("bttrack_requests_total{{protocol=\"{proto}\",kind=\"{kind}\",outcome=\"{outcome}\"}}")
}

async fn udp_call(c: &UdpSocket, to: SocketAddr, r: &Request) -> Response {
    let mut out = Vec::new();
    r.encode(&mut out);
    c.send_to(&out, to).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), c.recv_from(&mut buf))
        .await
        .expect("a UDP reply")
        .unwrap();
    Response::decode(&buf[..n], false).unwrap()
}

fn udp_announce(connection_id: u64, info_hash: InfoHash, port: u16) -> Request {
    Request::Announce(UdpAnnounce {
        connection_id,
        transaction_id: 77,
        info_hash,
        peer_id: PeerId([port as u8; 20]),
        downloaded: 0,
        left: 3,
        uploaded: 0,
        event: Event::Started,
        ip: std::net::Ipv4Addr::UNSPECIFIED,
        key: 0,
        num_want: -1,
        port,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_every_kind_and_outcome_and_unpublished_torrents_are_refused_over_udp_too() {
    // Not --open: only published torrents are tracked.
    let t = Running::start(Config::default()).await;
    let m = metrics(&t).await;
    for name in [
        "bttrack_torrents",
        "bttrack_peers",
        "bttrack_seeders",
        "bttrack_leechers",
        "bttrack_published_torrents",
        "bttrack_http_fast_path_total",
    ] {
        assert_eq!(sample(&m, name), 0, "{name}");
        assert!(
            m.contains(&format!("# TYPE {name} ")),
            "{name} has a TYPE line"
        );
    }

    let bytes = torrent("counted.bin", b"counted");
    let ih = Metainfo::from_bytes(&bytes).unwrap().info_hash;
    assert_eq!(t.put("/publish/?port=6881", "", &bytes).await.0, 200);
    assert_eq!(t.put("/publish/?port=6881", "", b"garbage").await.0, 400);
    let leech = AnnounceRequest {
        left: 5,
        ..AnnounceRequest::new(ih, PeerId([1; 20]), 7001)
    };
    assert_eq!(t.announce(&leech).await.complete, 1, "the publisher seeds");
    // An unpublished torrent over HTTP: 200 with a failure reason (clients show it).
    let other = InfoHash([9; 20]);
    let r = t
        .announce(&AnnounceRequest::new(other, PeerId([2; 20]), 7002))
        .await;
    assert!(r.failure_reason.unwrap().contains("not published"));
    assert_eq!(
        t.get(&format!("/scrape?info_hash={}", "%09".repeat(20)))
            .await
            .0,
        200
    );
    assert_eq!(t.get("/scrape").await.0, 400);
    assert_eq!(t.get("/").await.0, 200);
    assert_eq!(t.get("/counted.bin.torrent").await.0, 200);
    assert_eq!(t.get("/nothing.torrent").await.0, 404);

    // UDP: connect, an announce, the same unpublished torrent refused with an error datagram, a
    // scrape, a bad connection id, and a garbage datagram (no reply to either, counted).
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let Response::Connect { connection_id, .. } =
        udp_call(&c, t.addr, &Request::Connect { transaction_id: 1 }).await
    else {
        panic!("connect reply expected")
    };
    match udp_call(&c, t.addr, &udp_announce(connection_id, ih, 7003)).await {
        Response::Announce {
            seeders: 1,
            leechers: 2,
            peers,
            ..
        } => assert_eq!(peers.len(), 2),
        other => panic!("{other:?}"),
    }
    match udp_call(&c, t.addr, &udp_announce(connection_id, other, 7004)).await {
        Response::Error {
            transaction_id: 77,
            message,
        } => {
            assert!(message.contains("not published"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let scrape = Request::Scrape {
        connection_id,
        transaction_id: 5,
        info_hashes: vec![ih],
    };
    assert!(matches!(
        udp_call(&c, t.addr, &scrape).await,
        Response::Scrape { .. }
    ));
    // A bad connection id gets silence (an unproven source is never sent more than it sent):
    // the next datagram back answers the next good request.
    let bad_scrape = Request::Scrape {
        connection_id: connection_id ^ 1,
        transaction_id: 6,
        info_hashes: vec![ih],
    };
    for bad in [udp_announce(connection_id ^ 1, ih, 7005), bad_scrape] {
        let mut out = Vec::new();
        bad.encode(&mut out);
        c.send_to(&out, t.addr).await.unwrap();
    }
    assert!(matches!(
        udp_call(&c, t.addr, &scrape).await,
        Response::Scrape {
            transaction_id: 5,
            ..
        }
    ));
    c.send_to(b"garbage", t.addr).await.unwrap();
    // A request hyper refuses.
    let (status, _, _) = t.raw(b"NOT HTTP\r\n\r\n").await;
    assert_eq!(status, 400);

    // The bad datagrams and the refused request are counted once handled: poll.
    let deadline = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m = metrics(&t).await;
        if sample(&m, &requests("udp", "malformed", "failed")) == 3
            && sample(&m, &requests("http", "malformed", "refused")) == 1
        {
            break m;
        }
        assert!(Instant::now() < deadline, "counters never settled:\n{m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for (proto, kind, outcome, n) in [
        ("http", "announce", "ok", 1),
        ("http", "announce", "failed", 1),
        ("http", "scrape", "ok", 1),
        ("http", "scrape", "failed", 1),
        ("http", "publish", "ok", 1),
        ("http", "publish", "refused", 1),
        ("http", "page", "ok", 2),
        ("http", "other", "not_found", 1),
        ("udp", "connect", "ok", 1),
        ("udp", "announce", "ok", 1),
        ("udp", "announce", "failed", 1),
        ("udp", "scrape", "ok", 2),
    ] {
        assert_eq!(
            sample(&m, &requests(proto, kind, outcome)),
            n,
            "{proto} {kind} {outcome}"
        );
    }
    // Publisher (seeder), the HTTP leecher and the UDP leecher in the one published swarm.
    assert_eq!(sample(&m, "bttrack_torrents"), 1);
    assert_eq!(sample(&m, "bttrack_peers"), 3);
    assert_eq!(sample(&m, "bttrack_seeders"), 1);
    assert_eq!(sample(&m, "bttrack_leechers"), 2);
    assert_eq!(sample(&m, "bttrack_published_torrents"), 1);
    // Both HTTP announces came as one-shot requests: the fast path answered them.
    assert_eq!(sample(&m, "bttrack_http_fast_path_total"), 2);
    t.stop().await;
}

/// An announce through a proxy: `X-Forwarded-For: xff` (none when empty), `ip=claimed`.
async fn via_proxy(t: &Running, xff: &str, port: u16, claimed: Option<&str>) -> AnnounceResponse {
    let mut r = req(1, port, 5, Event::Started);
    r.ip = claimed.map(str::to_owned);
    let header = if xff.is_empty() {
        String::new()
    } else {
        format!("X-Forwarded-For: {xff}\r\n")
    };
    let (status, _, body) = t
        .raw(
            format!(
                "GET /announce?{} HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n",
                r.to_query()
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(status, 200);
    AnnounceResponse::decode(&body).unwrap()
}

fn addrs(r: &AnnounceResponse) -> Vec<String> {
    let mut v: Vec<String> = r.peers.iter().map(|p| p.addr.to_string()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let trusting = Running::start(Config {
        trust_proxy: vec!["127.0.0.1".parse().unwrap()],
        ..open_config()
    })
    .await;
    via_proxy(&trusting, "198.51.100.7", 7001, None).await;
    // The last hop of a chain is the one the trusted proxy saw.
    via_proxy(&trusting, "203.0.113.9, 198.51.100.8", 7002, None).await;
    // A client behind the proxy is not this host: its claimed ip is not believed.
    via_proxy(&trusting, "198.51.100.9", 7003, Some("10.9.9.9")).await;
    via_proxy(&trusting, "2001:db8::5", 7004, None).await;
    // No header from the trusted proxy: the proxy itself (no panic, no refusal).
    let r = via_proxy(&trusting, "", 7005, None).await;
    assert_eq!(
        addrs(&r),
        [
            "198.51.100.7:7001",
            "198.51.100.8:7002",
            "198.51.100.9:7003",
            "[2001:db8::5]:7004"
        ]
    );
    trusting.stop().await;

    // The same requests to a tracker that trusts nobody: every peer is the socket's address.
    let plain = Running::start(open_config()).await;
    via_proxy(&plain, "198.51.100.7", 7001, None).await;
    via_proxy(&plain, "2001:db8::5", 7004, None).await;
    let r = via_proxy(&plain, "198.51.100.8", 7005, None).await;
    assert_eq!(addrs(&r), ["127.0.0.1:7001", "127.0.0.1:7004"]);
    plain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listing_when_empty_and_its_links_and_completed_counts() {
    let t = Running::start(Config::default()).await;
    let (status, head, html) = t.get("/").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html; charset=utf-8"));
    assert!(head.contains("content-security-policy: default-src 'none'"));
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("Nothing is published here yet"), "{html}");
    assert!(!html.contains("<li class=\"torrent\">"));
    let (_, _, json) = t.get("/?format=json").await;
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["torrents"], serde_json::json!([]));
    assert_eq!(
        (json["matching"].as_u64(), json["pages"].as_u64()),
        (Some(0), Some(1))
    );

    let bytes = torrent("a b&c.iso", &vec![7u8; 40_000]);
    let ih = Metainfo::from_bytes(&bytes).unwrap().info_hash;
    assert_eq!(t.put("/publish/?port=6881", "", &bytes).await.0, 200);
    let done = AnnounceRequest {
        event: Event::Completed,
        ..AnnounceRequest::new(ih, PeerId([3; 20]), 7001)
    };
    t.announce(&done).await;
    let (_, _, html) = t.get("/").await;
    let html = String::from_utf8(html).unwrap();
    // The link is the percent-encoded name, HTML-escaped; then size, seeders (publisher and
    // the finished peer), leechers, completed downloads.
    assert!(
        html.contains(
            "href=\"/a%20b%26c.iso.torrent\">a b&amp;c.iso</a><span class=\"size\">39.1 KiB</span>"
        ),
        "{html}"
    );
    assert!(
        html.contains("<dt>Seeders</dt><dd>2</dd></div><div><dt>Leechers</dt><dd>0</dd></div><div><dt>Downloads</dt><dd>1</dd>"),
        "{html}"
    );
    let (_, _, json) = t.get("/?format=json").await;
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let row = &json["torrents"][0];
    assert_eq!(row["completed"], 1);
    assert_eq!(row["torrent_url"], "/a%20b%26c.iso.torrent");
    let (status, _, body) = t.get("/a%20b%26c.iso.torrent").await;
    assert_eq!((status, body), (200, bytes));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_announce_replies_compact_dictionary_no_peer_id_key_and_numwant_zero() {
    let t = Running::start(open_config()).await;
    t.announce(&req(2, 7001, 0, Event::Started)).await;
    let raw = |extra: &str| {
        let q = req(2, 7002, 5, Event::None)
            .to_query()
            .replace("&compact=1", "");
        format!("/announce?{q}{extra}")
    };
    let body = |r: (u16, String, Vec<u8>)| {
        assert_eq!(r.0, 200);
        r.2
    };
    // Compact is the default (BEP 23): 6 bytes per IPv4 peer.
    let b = body(t.get(&raw("")).await);
    let mut compact = b"5:peers6:\x7f\x00\x00\x01".to_vec();
    compact.extend_from_slice(&7001u16.to_be_bytes());
    assert!(b.windows(compact.len()).any(|w| w == compact), "{b:?}");
    // compact=0: a list of dictionaries; the tracker keeps no peer ids, so with or without
    // no_peer_id the dictionaries hold ip and port only.
    for extra in ["&compact=0", "&compact=0&no_peer_id=1"] {
        let b = body(t.get(&raw(extra)).await);
        let text = String::from_utf8(b).unwrap();
        assert!(
            text.contains("5:peersld2:ip9:127.0.0.14:porti7001eee"),
            "{extra}: {text}"
        );
    }
    // key is accepted (clients send it); numwant=0 asks for no peers but still counts.
    let b = body(t.get(&raw("&key=abcd1234&numwant=0")).await);
    let r = AnnounceResponse::decode(&b).unwrap();
    assert!(r.failure_reason.is_none());
    assert_eq!((r.complete, r.incomplete, r.peers.len()), (1, 1, 0));
    t.stop().await;
}

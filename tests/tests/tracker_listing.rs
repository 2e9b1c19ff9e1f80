//! bttrack's listing, read back by real parsers: the page is well-formed HTML (Python's
//! html.parser, every element closed, no name opened one) under a CSP that allows only the
//! tracker's own stylesheet; the RSS 2.0 feed parses with feedparser (Debian's
//! python3-feedparser) with an `application/x-bittorrent` enclosure per torrent; the magnet
//! links parse in python3-libtorrent to the right info-hash, name, tracker and publisher; search
//! and paging over 10,000 published torrents, page and JSON twin alike; sorting by seeders as
//! real announces made them; and the feed's own pages, walked by feedparser through their
//! RFC 5005 `next` links.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use protocol::MetainfoBuilder;
use serde_json::Value;
use swarmlink_tests::tracker::start_bttrack;
use swarmlink_tests::SYSTEM_PYTHON;

/// A torrent the tracker accepts (it never checks the piece hashes).
fn single(name: &str, len: u64) -> Vec<u8> {
    MetainfoBuilder::single_file(name, len)
        .piece_length(1 << 20)
        .pieces(vec![[1; 20]; len.div_ceil(1 << 20).max(1) as usize])
        .build()
        .unwrap()
        .bytes
}

fn multi(name: &str, files: &[(&str, u64)]) -> Vec<u8> {
    let total: u64 = files.iter().map(|f| f.1).sum();
    let files = files
        .iter()
        .map(|(p, l)| (p.split('/').map(String::from).collect(), *l));
    MetainfoBuilder::multi_file(name, files)
        .piece_length(1 << 20)
        .pieces(vec![[2; 20]; total.div_ceil(1 << 20).max(1) as usize])
        .build()
        .unwrap()
        .bytes
}

/// One HTTP/1.0 request: status, head, body.
fn request(port: u16, head: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let at = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..at]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, buf[at + 4..].to_vec())
}

fn get(port: u16, target: &str) -> (u16, String, Vec<u8>) {
    let head = format!("GET {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    request(port, &head, b"")
}

fn publish(port: u16, torrent: &[u8], query: &str) -> u16 {
    let head = format!(
        "PUT /publish/?{query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\r\n",
        torrent.len()
    );
    request(port, &head, torrent).0
}

/// Runs a Python snippet with `input` on stdin; its stdout, which must be JSON.
fn python(script: &str, input: &[u8]) -> Value {
    let mut child = Command::new(SYSTEM_PYTHON)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every element closed in order (void elements aside); the start tags seen.
const HTML_CHECK: &str = r#"
import sys, json
from html.parser import HTMLParser
VOID = {"meta", "link", "input", "br", "img", "hr"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.errors, self.text = [], set(), [], []
    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag not in VOID:
            self.stack.append(tag)
    def handle_endtag(self, tag):
        top = self.stack.pop() if self.stack else None
        if top != tag:
            self.errors.append("closed %s, open was %s" % (tag, top))
    def handle_data(self, d):
        self.text.append(d)
p = P()
p.feed(sys.stdin.read())
p.close()
print(json.dumps({"errors": p.errors, "open": p.stack, "tags": sorted(p.tags),
                  "text": "".join(p.text)}))
"#;

const FEED_CHECK: &str = r#"
import sys, json, feedparser
d = feedparser.parse(sys.stdin.buffer.read())
print(json.dumps({
    "bozo": bool(d.bozo), "bozo_exception": str(d.get("bozo_exception", "")),
    "version": d.version, "title": d.feed.get("title"),
    "items": [{"title": e.title, "link": e.link, "id": e.id,
               "enclosures": [{"href": x.href, "type": x.type, "length": x.length}
                              for x in e.enclosures],
               "published": e.get("published_parsed") is not None,
               "magnet": e.get("torrent_magneturi")} for e in d.entries]}))
"#;

/// Walks the feed from the URL on stdin through its `<atom:link rel="next">` (at most 10 pages,
/// each fetched with a timeout): per page, whether it parsed cleanly, its item ids and its links.
const FEED_WALK: &str = r#"
import sys, json, urllib.request, feedparser
url, pages = sys.stdin.read().strip(), []
while url and len(pages) < 10:
    d = feedparser.parse(urllib.request.urlopen(url, timeout=20).read())
    links = {l["rel"]: l["href"] for l in d.feed.get("links", []) if "rel" in l}
    pages.append({"url": url, "bozo": bool(d.bozo), "version": d.version,
                  "ids": [e.id for e in d.entries], "titles": [e.title for e in d.entries],
                  "links": links})
    url = links.get("next")
print(json.dumps(pages))
"#;

const MAGNET_CHECK: &str = r#"
import sys, json, libtorrent as lt
out = []
for m in json.load(sys.stdin):
    p = lt.parse_magnet_uri(m)
    out.append({"info_hash": str(p.info_hashes.v1), "name": p.name, "trackers": list(p.trackers),
                "peers": ["%s:%d" % x for x in p.peers]})
print(json.dumps(out))
"#;

#[test]
fn page_feed_and_magnets_read_back_by_real_parsers() {
    let (_t, port) = start_bttrack(&[
        "--title",
        "Ann's <files>",
        "--about",
        "Home videos & notes",
        "--extension-url",
        "https://swarmlink.example/get",
    ]);
    let hostile = "\"><img src=x onerror=alert(1)><b>";
    let torrents = [
        (
            "Sintel trailer.mkv",
            single("Sintel trailer.mkv", 30_000_000),
            "port=5989&ip=69.69.69.69",
        ),
        (
            "Holiday photos",
            multi(
                "Holiday photos",
                &[("day 1/a & b.jpg", 2_000_000), ("c.jpg", 1000)],
            ),
            "port=5990",
        ),
    ];
    for (name, bytes, query) in &torrents {
        assert_eq!(publish(port, bytes, query), 200, "{name}");
    }
    // Names that are markup (and, below, that reorder or control text), if protocol lets such
    // a name through at all: they must show as text.
    let hostile_published = match publish(port, &single(hostile, 10), "port=5991") {
        200 => true,
        400 => false,
        other => panic!("publish answered {other}"),
    };
    // A name with a bidi override or a terminal escape, if protocol lets one through at all.
    // Our builder refuses such a name, an attacker's does not: the torrent is written with a
    // placeholder of the same length, then the name's bytes are put in its place.
    let bidi = "photo\u{202E}gpj.exe\u{1b}[2J";
    let placeholder = "photoQQQgpj.exeQ[2J";
    assert_eq!(placeholder.len(), bidi.len());
    let mut crafted = single(placeholder, 10);
    let at = crafted
        .windows(placeholder.len())
        .position(|w| w == placeholder.as_bytes())
        .unwrap();
    crafted[at..at + bidi.len()].copy_from_slice(bidi.as_bytes());
    let bidi_published = match publish(port, &crafted, "port=5992") {
        200 => true,
        400 => false,
        other => panic!("publish answered {other}"),
    };

    let (status, head, page) = get(port, "/");
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-security-policy: default-src 'none'; style-src 'self';"),
        "{head}"
    );
    let page_text = String::from_utf8(page.clone()).unwrap();
    let checked = python(HTML_CHECK, &page);
    assert_eq!(checked["errors"], serde_json::json!([]), "{page_text}");
    assert_eq!(checked["open"], serde_json::json!([]), "{page_text}");
    let tags: Vec<&str> = checked["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for never in ["img", "b", "script", "style"] {
        assert!(!tags.contains(&never), "<{never}> on the page: {tags:?}");
    }
    let text = checked["text"].as_str().unwrap();
    if hostile_published {
        assert!(text.contains(hostile), "the hostile name shows as text");
    }
    assert!(text.contains("Ann's <files>") && text.contains("Home videos & notes"));
    assert!(page_text.contains("href=\"https://swarmlink.example/get\""));
    assert!(page_text.contains("<link rel=\"alternate\" type=\"application/rss+xml\""));
    assert!(
        text.contains("day 1/a & b.jpg"),
        "multi-file torrents list their files"
    );
    if bidi_published {
        assert!(!page_text.contains('\u{202E}') && !page_text.contains('\u{1b}'));
        assert!(text.contains("photo\u{FFFD}gpj.exe\u{FFFD}[2J"));
    }
    let (status, css_head, css) = get(port, "/-/listing.css");
    assert_eq!(status, 200);
    assert!(css_head
        .to_ascii_lowercase()
        .contains("content-type: text/css"));
    assert!(String::from_utf8(css)
        .unwrap()
        .contains("prefers-color-scheme: dark"));

    // The feed, as a feed reader sees it.
    let (status, feed_head, feed) = get(port, "/feed.xml");
    assert_eq!(status, 200);
    assert!(feed_head
        .to_ascii_lowercase()
        .contains("application/rss+xml"));
    let f = python(FEED_CHECK, &feed);
    assert_eq!(f["bozo"], false, "{f}");
    assert_eq!(f["version"], "rss20");
    assert_eq!(f["title"], "Ann's <files>");
    let items = f["items"].as_array().unwrap();
    let expected = 2 + usize::from(hostile_published) + usize::from(bidi_published);
    assert_eq!(items.len(), expected);
    for item in items {
        let enc = &item["enclosures"][0];
        assert_eq!(enc["type"], "application/x-bittorrent", "{item}");
        let href = enc["href"].as_str().unwrap();
        assert!(
            href.starts_with(&format!("http://127.0.0.1:{port}/")),
            "{href}"
        );
        // The enclosure is the .torrent, byte for byte as published.
        let (status, _, body) = get(port, &href[format!("http://127.0.0.1:{port}").len()..]);
        assert_eq!(status, 200);
        assert_eq!(enc["length"], body.len().to_string());
        assert!(item["published"].as_bool().unwrap());
        assert!(item["magnet"]
            .as_str()
            .unwrap()
            .starts_with("magnet:?xt=urn:btih:"));
        let title = item["title"].as_str().unwrap();
        assert!(
            !title.contains('\u{202E}') && !title.contains('\u{1b}'),
            "{title:?}"
        );
    }
    assert_eq!(
        items.iter().any(|i| i["title"] == hostile),
        hostile_published
    );

    // The magnets, as libtorrent reads them.
    let (_, _, json) = get(port, "/?format=json");
    let json: Value = serde_json::from_slice(&json).unwrap();
    let listed = json["torrents"].as_array().unwrap();
    let magnets: Vec<&str> = listed
        .iter()
        .map(|t| t["magnet"].as_str().unwrap())
        .collect();
    let parsed = python(
        MAGNET_CHECK,
        serde_json::to_string(&magnets).unwrap().as_bytes(),
    );
    for (t, m) in listed.iter().zip(parsed.as_array().unwrap()) {
        assert_eq!(m["info_hash"], t["info_hash"]);
        assert_eq!(m["name"], t["name"]);
        assert_eq!(
            m["trackers"],
            serde_json::json!([format!("http://127.0.0.1:{port}/announce")])
        );
        // Only a public publisher is worth dialing: x.pe for Sintel's, none for loopback ones.
        let peers = if t["name"] == "Sintel trailer.mkv" {
            serde_json::json!(["69.69.69.69:5989"])
        } else {
            serde_json::json!([])
        };
        assert_eq!(m["peers"], peers, "{t}");
    }
}

#[test]
fn search_and_pages_over_ten_thousand_torrents() {
    let (_t, port) = start_bttrack(&[]);
    for i in 0..10_000u32 {
        let name = if i % 1000 == 7 {
            format!("Sintel part {i:05}.mkv")
        } else {
            format!("file {i:05}.bin")
        };
        assert_eq!(
            publish(port, &single(&name, u64::from(i) + 1), "port=6000"),
            200
        );
    }
    let json = |target: &str| -> Value {
        let (status, _, body) = get(port, target);
        assert_eq!(status, 200, "{target}");
        serde_json::from_slice(&body).unwrap()
    };
    let names = |v: &Value| -> Vec<String> {
        v["torrents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = json("/?format=json");
    assert_eq!(
        (all["published"].as_u64(), all["matching"].as_u64()),
        (Some(10_000), Some(10_000))
    );
    assert_eq!(all["pages"], 200);
    assert_eq!(names(&all).len(), 50);
    let p2 = json("/?page=2&format=json");
    assert_eq!(names(&p2)[0], "file 00051.bin", "sorted by name, 50 a page");
    let last = json("/?page=200&format=json");
    // Names sort as people read them, case aside: "Sintel…" after "file…".
    assert_eq!(names(&last).last().unwrap(), "Sintel part 09007.mkv");
    let past = json("/?page=9999&format=json");
    assert_eq!(past["page"], 200, "past the end: the last page");

    let found = json("/?q=SINTEL+part&format=json");
    assert_eq!(found["matching"], 10);
    assert_eq!(names(&found)[0], "Sintel part 00007.mkv");
    let newest = json("/?q=sintel&sort=date&format=json");
    assert_eq!(newest["matching"], 10);
    let biggest = json("/?sort=size&format=json");
    assert_eq!(names(&biggest)[0], "file 09999.bin");
    let q2 = json("/?q=file+09&page=2&format=json");
    assert_eq!(q2["matching"], 999);
    assert_eq!(q2["pages"], 20);
    assert_eq!(names(&q2)[0], "file 09051.bin");

    // The page itself: the same selection, links that keep the search.
    let (_, _, page) = get(port, "/?q=file+09&page=2");
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("999 torrents matching “file 09”"), "{page}");
    assert!(page.contains("Page 2 of 20"));
    assert!(page.contains("href=\"/?q=file%2009&amp;page=3\""));
    assert!(
        page.contains("href=\"/?q=file%2009\""),
        "page 1 of the search"
    );
    assert_eq!(page.matches("<li class=\"torrent\">").count(), 50);

    // The feed of 10,000: bounded to its newest 500, the rest on 19 more pages.
    let (_, _, feed) = get(port, "/feed.xml");
    let feed = String::from_utf8(feed).unwrap();
    assert_eq!(feed.matches("<item>").count(), 500);
    assert!(feed.contains(&format!(
        "<atom:link rel=\"last\" type=\"application/rss+xml\" href=\"http://127.0.0.1:{port}/feed.xml?page=20\"/>"
    )));
    let (_, _, last) = get(port, "/feed.xml?page=20");
    assert_eq!(
        String::from_utf8(last).unwrap().matches("<item>").count(),
        500
    );
}

#[test]
fn hide_listing_serves_no_listing() {
    let (_t, port) = start_bttrack(&["--hide-listing"]);
    assert_eq!(publish(port, &single("a.bin", 5), "port=6000"), 200);
    for target in ["/", "/?format=json", "/feed.xml", "/-/listing.css"] {
        assert_eq!(get(port, target).0, 404, "{target}");
    }
    // The torrent itself is still served: its link was handed out.
    assert_eq!(get(port, "/a.bin.torrent").0, 200);
}

/// An info-hash in hex, percent-encoded byte by byte for an announce's query.
fn hash_query(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|b| format!("%{}", std::str::from_utf8(b).unwrap()))
        .collect()
}

/// Sorting by seeders, as announces over HTTP made the counts: the page and the JSON twin list
/// the most seeders first, leechers do not count, and a tie goes by name.
#[test]
fn sort_by_seeders_as_announced() {
    let (_t, port) = start_bttrack(&[]);
    // (name, seeders, leechers)
    let swarms = [
        ("a-few.bin", 1, 5),
        ("b-most.bin", 3, 0),
        ("c-none.bin", 0, 2),
        ("d-tied.bin", 2, 0),
        ("e-tied.bin", 2, 1),
    ];
    for (name, _, _) in swarms {
        assert_eq!(publish(port, &single(name, 1000), "port=6000"), 200);
    }
    let listed: Value = serde_json::from_slice(&get(port, "/?format=json").2).unwrap();
    for (name, seeders, leechers) in swarms {
        let hex = listed["torrents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["info_hash"]
            .as_str()
            .unwrap()
            .to_owned();
        for i in 0..seeders + leechers {
            let left = if i < seeders { 0 } else { 500 };
            let target = format!(
                "/announce?info_hash={}&peer_id=-SL0001-{i:012}&port={}&uploaded=0&downloaded=0\
                 &left={left}&compact=1&event=started",
                hash_query(&hex),
                7000 + i
            );
            assert_eq!(get(port, &target).0, 200, "{target}");
        }
    }
    let expected = [
        "b-most.bin",
        "d-tied.bin",
        "e-tied.bin",
        "a-few.bin",
        "c-none.bin",
    ];
    let json: Value = serde_json::from_slice(&get(port, "/?sort=seeders&format=json").2).unwrap();
    let order: Vec<(&str, u64)> = json["torrents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["seeders"].as_u64().unwrap()))
        .collect();
    // Each publisher (port 6000, the torrent's data complete) seeds too: one more each.
    assert_eq!(
        order,
        expected
            .iter()
            .copied()
            .zip([4, 3, 3, 2, 1])
            .collect::<Vec<_>>()
    );
    let page = String::from_utf8(get(port, "/?sort=seeders").2).unwrap();
    let at: Vec<usize> = expected
        .iter()
        .map(|n| page.find(&format!(">{n}</a>")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "page order: {at:?}");
    // The other sorts are not this one by chance: by name, a-few.bin leads.
    let by_name: Value = serde_json::from_slice(&get(port, "/?format=json").2).unwrap();
    assert_eq!(by_name["torrents"][0]["name"], "a-few.bin");
}

/// The feed is paged on its own: the first page holds the newest 500 (more than the page's
/// 50), each page links the next with RFC 5005's `<atom:link rel="next">`, and feedparser,
/// following those links from /feed.xml, reads every published torrent once, newest first.
#[test]
fn the_feed_pages_through_every_torrent() {
    let (_t, port) = start_bttrack(&[]);
    let n = 1_100u32;
    for i in 0..n {
        let name = format!("clip {i:04}.mkv");
        assert_eq!(publish(port, &single(&name, 1000), "port=6000"), 200);
    }
    let start = format!("http://127.0.0.1:{port}/feed.xml");
    let pages = python(FEED_WALK, start.as_bytes());
    let pages = pages.as_array().unwrap();
    let counts: Vec<usize> = pages
        .iter()
        .map(|p| p["ids"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [500, 500, 100], "500 a page, three pages");
    let mut ids = std::collections::HashSet::new();
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p["bozo"], false, "page {}", i + 1);
        assert_eq!(p["version"], "rss20");
        let links = &p["links"];
        assert_eq!(links["self"], p["url"]);
        assert_eq!(links["first"], start.as_str());
        assert_eq!(links["last"], format!("{start}?page=3"));
        if i + 1 < pages.len() {
            assert_eq!(links["next"], format!("{start}?page={}", i + 2));
        } else {
            assert!(links.get("next").is_none(), "the last page links no next");
        }
        for id in p["ids"].as_array().unwrap() {
            assert!(ids.insert(id.as_str().unwrap().to_owned()), "{id} twice");
        }
    }
    assert_eq!(ids.len(), n as usize, "every torrent on one page");
    // Newest first across the pages: the same order as the listing sorted by date (which pages
    // by 50), item for item.
    let titles: Vec<&str> = pages
        .iter()
        .flat_map(|p| p["titles"].as_array().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut by_date = Vec::new();
    for page in 1..=(n as usize).div_ceil(50) {
        let v: Value =
            serde_json::from_slice(&get(port, &format!("/?sort=date&page={page}&format=json")).2)
                .unwrap();
        for t in v["torrents"].as_array().unwrap() {
            by_date.push(t["name"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(titles, by_date);
}

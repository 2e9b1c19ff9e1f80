use std::net::SocketAddr;

use bytes::Bytes;
use protocol::tracker::Event;
use protocol::MetainfoBuilder;

use super::*;
use crate::store::Announce;

const NOW: u64 = 1_796_611_333;

fn single(name: &str, len: u64) -> Bytes {
    let pieces = vec![[7u8; 20]; len.div_ceil(16384).max(1) as usize];
    let built = MetainfoBuilder::single_file(name, len)
        .piece_length(16384)
        .pieces(pieces)
        .build()
        .unwrap();
    Bytes::from(built.bytes)
}

fn multi(name: &str, files: &[(&str, u64)]) -> Bytes {
    let total: u64 = files.iter().map(|f| f.1).sum();
    let pieces = vec![[9u8; 20]; total.div_ceil(16384).max(1) as usize];
    let files: Vec<(Vec<String>, u64)> = files
        .iter()
        .map(|(p, l)| (p.split('/').map(String::from).collect(), *l))
        .collect();
    let built = MetainfoBuilder::multi_file(name, files)
        .piece_length(16384)
        .pieces(pieces)
        .build()
        .unwrap();
    Bytes::from(built.bytes)
}

/// A published torrent made directly: names that protocol might refuse still reach the page
/// in these tests.
fn published(name: &str, len: u64, publisher: SocketAddr, at: u64) -> PublishedTorrent {
    PublishedTorrent {
        name: name.into(),
        name_lower: name.to_lowercase(),
        info_hash: protocol::InfoHash([name.len() as u8; 20]),
        total_length: len,
        torrent: Bytes::from_static(b"d4:infodee"),
        publisher,
        published_at: at,
        files: Vec::new(),
    }
}

fn site() -> Site<'static> {
    Site {
        title: "Ann <files>",
        about: "Home videos & notes",
        extension_url: Some("https://swarmlink.example/get?a=1&b=2"),
        base: "http://tracker.example:6969".into(),
    }
}

const HTML_VOID: &[&str] = &["meta", "link", "input", "br", "img"];

/// Checks that every element opened is closed in order (void elements aside), so no name can
/// have opened or closed one.
fn assert_balanced(html: &str, void: &[&str]) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').expect("a tag ends");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closing {name}");
        } else {
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
                .collect();
            if !void.contains(&name.as_str()) && !tag.ends_with('/') {
                stack.push(name);
            }
        }
    }
    assert!(stack.is_empty(), "left open: {stack:?}");
}

fn registry() -> (Registry, SwarmStore) {
    let mut reg = Registry::default();
    let publisher: SocketAddr = "69.69.69.69:5989".parse().unwrap();
    let hostile = "\"><script>alert(1)</script><a href=x>";
    reg.insert_unchecked(published(hostile, 100, publisher, NOW - 30));
    reg.add(
        single("Sintel trailer.mkv", 30_000_000),
        publisher,
        NOW - 20,
    )
    .unwrap();
    reg.add(
        multi(
            "Holiday photos & more",
            &[("a & b.jpg", 2_000_000), ("deep/c d.jpg", 1_000)],
        ),
        "127.0.0.1:7000".parse().unwrap(),
        NOW - 10,
    )
    .unwrap();
    let store = SwarmStore::new(3600, 1);
    let sintel = reg.get_by_name("Sintel trailer.mkv").unwrap().clone();
    for (port, left) in [(5989, 0), (7001, 0), (7002, 10)] {
        let ip = if port == 5989 {
            "69.69.69.69"
        } else {
            "10.0.0.1"
        };
        let a = Announce {
            info_hash: sintel.info_hash,
            addr: SocketAddr::new(ip.parse().unwrap(), port),
            event: Event::Started,
            left,
            numwant: 0,
            start: 0,
            pinned: Some(sintel.publisher),
        };
        store.announce(&a, NOW, &mut Vec::new()).unwrap();
    }
    (reg, store)
}

#[test]
fn the_page_escapes_names_and_stays_balanced() {
    let (reg, store) = registry();
    let q = Query::parse(None);
    let sel = select(&reg, &store, NOW, &q);
    assert_eq!((sel.matching, sel.published, sel.pages), (3, 3, 1));
    let page = html(&sel, &q, &site());
    assert_balanced(&page, HTML_VOID);
    assert!(
        !page.contains("<script") && !page.contains("<a href=x"),
        "{page}"
    );
    assert!(page.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=x&gt;"));
    assert!(page.contains("<title>Ann &lt;files&gt;</title>"));
    assert!(page.contains("Home videos &amp; notes"));
    assert!(page.contains("href=\"https://swarmlink.example/get?a=1&amp;b=2\""));
    assert!(page.contains("<link rel=\"stylesheet\" href=\"/-/listing.css\">"));
    assert!(page.contains("type=\"application/rss+xml\""));
    assert!(
        !page.contains("style=") && !page.contains("<style"),
        "no inline styles"
    );
    // Sintel: three peers, two of them seeders, the publisher among them and online.
    let sintel = page
        .split("<li class=\"torrent\">")
        .find(|c| c.contains("Sintel"))
        .unwrap();
    assert!(sintel.contains("<dt>Seeders</dt><dd>2</dd>"), "{sintel}");
    assert!(sintel.contains("<dt>Leechers</dt><dd>1</dd>"));
    assert!(sintel.contains("publisher on"));
    assert!(sintel.contains("href=\"/Sintel%20trailer.mkv.torrent\""));
    assert!(sintel.contains("28.6 MiB"));
    assert!(sintel.contains("datetime=\"2026-12-07T02:41:53Z\""));
    // The multi-file torrent lists its files, escaped, in a <details>.
    let photos = page
        .split("<li class=\"torrent\">")
        .find(|c| c.contains("Holiday"))
        .unwrap();
    assert!(photos.contains("Holiday photos &amp; more"));
    assert!(photos.contains("<details class=\"files\"><summary>Show the 2 files</summary>"));
    assert!(photos.contains("a &amp; b.jpg") && photos.contains("deep/c d.jpg"));
    assert!(photos.contains("publisher off"));
}

#[test]
fn magnets_carry_name_size_tracker_and_a_public_publisher() {
    let (reg, _) = registry();
    let sintel = reg.get_by_name("Sintel trailer.mkv").unwrap();
    let m = magnet(sintel, "http://tracker.example:6969/announce");
    assert_eq!(
        m,
        format!(
            "magnet:?xt=urn:btih:{}&dn=Sintel%20trailer.mkv&xl=30000000\
             &tr=http%3A%2F%2Ftracker.example%3A6969%2Fannounce&x.pe=69.69.69.69:5989",
            sintel.info_hash.to_hex()
        )
    );
    // A publisher on loopback is no use to anyone else: no x.pe.
    let photos = reg.get_by_name("Holiday photos & more").unwrap();
    assert!(!magnet(photos, "http://t/announce").contains("x.pe"));
}

#[test]
fn search_sort_and_pages() {
    let mut reg = Registry::default();
    let publisher: SocketAddr = "127.0.0.1:1".parse().unwrap();
    for i in 0..120u64 {
        let name = format!("{} item {i:03}", if i % 2 == 0 { "Even" } else { "odd" });
        reg.add(single(&name, 1000 + i), publisher, NOW + i)
            .unwrap();
    }
    let store = SwarmStore::new(3600, 1);
    let q = Query::parse(Some("q=EVEN+item&page=2"));
    assert_eq!(q.q, "EVEN item");
    let sel = select(&reg, &store, NOW, &q);
    assert_eq!(
        (sel.matching, sel.page, sel.pages, sel.rows.len()),
        (60, 2, 2, 10)
    );
    assert_eq!(sel.rows[0].torrent.name, "Even item 100");
    // Past the last page: the last page.
    let sel = select(&reg, &store, NOW, &Query::parse(Some("page=99")));
    assert_eq!((sel.page, sel.pages, sel.rows.len()), (3, 3, 20));
    let sel = select(&reg, &store, NOW, &Query::parse(Some("sort=size")));
    assert_eq!(sel.rows[0].torrent.name, "odd item 119");
    let sel = select(&reg, &store, NOW, &Query::parse(Some("sort=date&q=odd")));
    assert_eq!(sel.rows[0].torrent.name, "odd item 119");
    assert_eq!(sel.matching, 60);
    // An info-hash finds its torrent.
    let h = reg.get_by_name("Even item 042").unwrap().info_hash.to_hex();
    let sel = select(&reg, &store, NOW, &Query::parse(Some(&format!("q={h}"))));
    assert_eq!(sel.rows.len(), 1);
    // Links keep the search and the sort.
    let q = Query::parse(Some("q=a%26b&sort=seeders&page=3&junk=1"));
    assert_eq!(q.link(q.sort, 4), "/?q=a%26b&sort=seeders&page=4");
    assert_eq!(
        Query::parse(Some("sort=bogus&page=-1")).link(Sort::Name, 1),
        "/"
    );
    let json: serde_json::Value = serde_json::from_str(&json(
        &select(
            &reg,
            &store,
            NOW,
            &Query::parse(Some("q=odd&page=2&format=json")),
        ),
        &site(),
    ))
    .unwrap();
    assert_eq!(json["matching"], 60);
    assert_eq!(json["page"], 2);
    assert_eq!(json["torrents"].as_array().unwrap().len(), 10);
    assert!(json["torrents"][0]["magnet"]
        .as_str()
        .unwrap()
        .starts_with("magnet:?xt=urn:btih:"));
}

#[test]
fn the_feed_is_escaped_and_neutralised() {
    let (reg, store) = registry();
    let mut q = Query::parse(None);
    q.sort = Sort::Date;
    let sel = select(&reg, &store, NOW, &q);
    let feed = rss(&sel, &q, &site(), NOW);
    assert_balanced(&feed, &[]);
    assert!(feed.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\""));
    assert!(!feed.contains("<script"));
    assert_eq!(feed.matches("<item>").count(), 3);
    assert!(feed.contains(
        "<enclosure url=\"http://tracker.example:6969/Sintel%20trailer.mkv.torrent\" length=\""
    ));
    assert!(feed.contains("type=\"application/x-bittorrent\"/>"));
    assert!(feed.contains("<pubDate>Mon, 07 Dec 2026 02:41:53 GMT</pubDate>"));
    // Newest first.
    assert!(feed.find("Holiday").unwrap() < feed.find("Sintel").unwrap());
}

/// Names whose characters reorder or control text (which protocol may yet let through) are
/// shown with U+FFFD on the page and in the feed.
#[test]
fn control_and_bidi_characters_never_reach_page_or_feed() {
    let name = "photo\u{202E}gpj.exe\u{1b}[31m\u{85}\u{2066}";
    let mut p = published(name, 5, "127.0.0.1:1".parse().unwrap(), NOW);
    p.files = vec![("dir\u{202E}/x\u{7}".into(), 5)];
    let sel = Selection {
        rows: vec![Row {
            torrent: Arc::new(p),
            stats: ScrapeStats::default(),
            online: false,
        }],
        matching: 1,
        published: 1,
        page: 1,
        pages: 1,
    };
    let q = Query::parse(Some("q=%E2%80%AEx%1B"));
    for out in [html(&sel, &q, &site()), rss(&sel, &q, &site(), NOW)] {
        for bad in ['\u{202E}', '\u{1b}', '\u{85}', '\u{2066}', '\u{7}'] {
            assert!(!out.contains(bad), "{bad:?} in {out}");
        }
        assert!(out.contains("photo\u{FFFD}gpj.exe\u{FFFD}[31m\u{FFFD}\u{FFFD}"));
    }
}

/// `seeders` peers with nothing left and `leechers` with something left, each from an address of
/// its own, announce `info_hash` (swarms are apart: one address may be in several).
fn swarm(store: &SwarmStore, info_hash: protocol::InfoHash, seeders: u8, leechers: u8) {
    for i in 0..seeders + leechers {
        let a = Announce {
            info_hash,
            addr: SocketAddr::new([10, 1, 0, i].into(), 6881),
            event: Event::Started,
            left: if i < seeders { 0 } else { 1000 },
            numwant: 0,
            start: 0,
            pinned: None,
        };
        store.announce(&a, NOW, &mut Vec::new()).unwrap();
    }
}

/// The names in the order the HTML page shows them.
fn page_order(page: &str) -> Vec<String> {
    page.split("<li class=\"torrent\">")
        .skip(1)
        .map(|card| {
            let at = card.find("class=\"name\"").unwrap();
            let name = &card[at..];
            let name = &name[name.find('>').unwrap() + 1..];
            name[..name.find("</a>").unwrap()].to_owned()
        })
        .collect()
}

/// The names in the order the JSON twin lists them.
fn json_order(sel: &Selection) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(&json(sel, &site())).unwrap();
    v["torrents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Each sort orders every row, on the page and in the JSON twin alike. The torrents differ in
/// each key so that no sort can pass by the chance of another: the most seeders is neither the
/// largest nor the newest, the most peers is not the most seeders (leechers do not count), and
/// two torrents tie on seeders to show the tie broken by name.
#[test]
fn every_sort_orders_the_page_and_the_json_twin() {
    let mut reg = Registry::default();
    let publisher: SocketAddr = "127.0.0.1:1".parse().unwrap();
    // (name, size, published, seeders, leechers)
    let torrents: [(&str, u64, u64, u8, u8); 5] = [
        ("alpha.iso", 5_000, NOW - 50, 1, 9),
        ("Bravo.mkv", 1_000, NOW - 10, 4, 0),
        ("charlie.pdf", 9_000, NOW - 40, 0, 2),
        ("delta.zip", 3_000, NOW - 20, 7, 1),
        ("Echo.tar", 7_000, NOW - 30, 4, 3),
    ];
    for (name, size, at, _, _) in torrents {
        reg.add(single(name, size), publisher, at).unwrap();
    }
    let store = SwarmStore::new(3600, 1);
    for (name, _, _, seeders, leechers) in torrents {
        let h = reg.get_by_name(name).unwrap().info_hash;
        swarm(&store, h, seeders, leechers);
    }
    let expected: [(&str, [&str; 5]); 4] = [
        // As people read names: case aside.
        (
            "sort=name",
            [
                "alpha.iso",
                "Bravo.mkv",
                "charlie.pdf",
                "delta.zip",
                "Echo.tar",
            ],
        ),
        // Largest first.
        (
            "sort=size",
            [
                "charlie.pdf",
                "Echo.tar",
                "alpha.iso",
                "delta.zip",
                "Bravo.mkv",
            ],
        ),
        // Most seeders first; Bravo and Echo tie at 4 and go by name; alpha's nine leechers
        // do not lift it past them.
        (
            "sort=seeders",
            [
                "delta.zip",
                "Bravo.mkv",
                "Echo.tar",
                "alpha.iso",
                "charlie.pdf",
            ],
        ),
        // Newest first.
        (
            "sort=date",
            [
                "Bravo.mkv",
                "delta.zip",
                "Echo.tar",
                "charlie.pdf",
                "alpha.iso",
            ],
        ),
    ];
    for (query, order) in expected {
        let q = Query::parse(Some(query));
        let sel = select(&reg, &store, NOW, &q);
        assert_eq!(page_order(&html(&sel, &q, &site())), order, "{query}: page");
        let q = Query::parse(Some(&format!("{query}&format=json")));
        let sel = select(&reg, &store, NOW, &q);
        assert_eq!(json_order(&sel), order, "{query}: JSON");
    }
    // The counts the page shows are the ones it sorted by.
    let q = Query::parse(Some("sort=seeders"));
    let page = html(&select(&reg, &store, NOW, &q), &q, &site());
    let shown: Vec<&str> = page
        .match_indices("<dt>Seeders</dt><dd>")
        .map(|(at, m)| {
            let rest = &page[at + m.len()..];
            &rest[..rest.find('<').unwrap()]
        })
        .collect();
    assert_eq!(shown, ["7", "4", "4", "1", "0"]);
}

/// Sorting by seeders orders the whole listing before it is cut into pages: page 2 goes on where
/// page 1 stopped.
#[test]
fn sorting_by_seeders_carries_across_pages() {
    let mut reg = Registry::default();
    let publisher: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let store = SwarmStore::new(3600, 1);
    let n = PER_PAGE + 20;
    for i in 0..n {
        let name = format!("t{i:03}");
        reg.add(single(&name, 1000), publisher, NOW).unwrap();
    }
    for i in 0..n {
        let h = reg.get_by_name(&format!("t{i:03}")).unwrap().info_hash;
        swarm(&store, h, (i % 6) as u8, 0);
    }
    let mut seen: Vec<(u32, String)> = Vec::new();
    for page in 1..=2 {
        let q = Query::parse(Some(&format!("sort=seeders&page={page}&format=json")));
        let v: serde_json::Value =
            serde_json::from_str(&json(&select(&reg, &store, NOW, &q), &site())).unwrap();
        for t in v["torrents"].as_array().unwrap() {
            seen.push((
                t["seeders"].as_u64().unwrap() as u32,
                t["name"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(seen.len(), n);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| (b.0, &a.1).cmp(&(a.0, &b.1)));
    assert_eq!(
        seen, sorted,
        "most seeders first, ties by name, across pages"
    );
    assert_eq!(seen[0].0, 5);
    assert_eq!(seen[n - 1].0, 0);
}

/// The feed holds the newest FEED_PER_PAGE torrents, more than the page's 50, and pages the
/// rest: each page links the next (RFC 5005) until the oldest, and every torrent is on exactly
/// one page. A search is kept in the links.
#[test]
fn the_feed_pages_on_its_own_terms() {
    let mut reg = Registry::default();
    let publisher: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let n = 2 * FEED_PER_PAGE + 30;
    for i in 0..n {
        reg.add(
            single(&format!("item {i:04}"), 1000),
            publisher,
            NOW + i as u64,
        )
        .unwrap();
    }
    let store = SwarmStore::new(3600, 1);
    let feed_page = |query: &str| {
        let mut q = Query::parse(Some(query));
        q.sort = Sort::Date;
        let sel = select_paged(&reg, &store, NOW, &q, FEED_PER_PAGE);
        rss(&sel, &q, &site(), NOW)
    };
    let base = "http://tracker.example:6969/feed.xml";
    let mut titles = Vec::new();
    let mut query = String::new();
    for page in 1..=3 {
        let feed = feed_page(&query);
        assert_balanced(&feed, &[]);
        let items = feed.matches("<item>").count();
        assert_eq!(
            items,
            if page < 3 { FEED_PER_PAGE } else { 30 },
            "page {page}"
        );
        let self_url = if page == 1 {
            base.to_owned()
        } else {
            format!("{base}?page={page}")
        };
        assert!(
            feed.contains(&format!(
                "<atom:link rel=\"self\" type=\"application/rss+xml\" href=\"{self_url}\"/>"
            )),
            "page {page}"
        );
        assert!(feed.contains(&format!(
            "rel=\"first\" type=\"application/rss+xml\" href=\"{base}\"/>"
        )));
        assert!(feed.contains(&format!(
            "rel=\"last\" type=\"application/rss+xml\" href=\"{base}?page=3\"/>"
        )));
        assert_eq!(feed.contains("rel=\"previous\""), page > 1);
        for t in feed.split("<item>\n<title>").skip(1) {
            titles.push(t[..t.find('<').unwrap()].to_owned());
        }
        match feed.find("<atom:link rel=\"next\" type=\"application/rss+xml\" href=\"") {
            Some(at) => {
                let rest = &feed[at..];
                let href = &rest[rest.find("href=\"").unwrap() + 6..];
                let href = &href[..href.find('"').unwrap()];
                assert_eq!(href, format!("{base}?page={}", page + 1));
                query = format!("page={}", page + 1);
            }
            None => assert_eq!(page, 3, "only the last page has no next"),
        }
    }
    let expected: Vec<String> = (0..n).rev().map(|i| format!("item {i:04}")).collect();
    assert_eq!(titles, expected, "newest first, each torrent once");
    // A searched feed keeps its search in the links; one page of matches has no next.
    let searched = feed_page("q=item+00&page=1");
    assert_eq!(searched.matches("<item>").count(), 100);
    assert!(searched.contains(&format!(
        "rel=\"self\" type=\"application/rss+xml\" href=\"{base}?q=item%2000\"/>"
    )));
    assert!(!searched.contains("rel=\"next\"") && !searched.contains("rel=\"first\""));
    let searched = feed_page("q=item&page=2");
    assert!(searched.contains(&format!("href=\"{base}?q=item&amp;page=3\"/>")));
    assert!(searched.contains(&format!(
        "rel=\"previous\" type=\"application/rss+xml\" href=\"{base}?q=item\"/>"
    )));
}

//! The RSS 2.0 feed of published torrents, newest first: one item per torrent with an
//! `enclosure` of type `application/x-bittorrent` (what qBittorrent's and Transmission's RSS
//! downloaders fetch) and the magnet link, also in the `torrent:` namespace many feeds use.

use std::fmt::Write as _;

use super::text::{escape_html, escape_name, human_size, rfc822};
use super::{magnet, Selection, Site, FEED_PATH};

pub fn rss(sel: &Selection, site: &Site<'_>, now: u64) -> String {
    let mut s = String::with_capacity(1024 + sel.rows.len() * 1200);
    s.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
         xmlns:atom=\"http://www.w3.org/2005/Atom\" \
         xmlns:torrent=\"http://xmlns.ezrss.it/0.1/\">\n<channel>\n<title>",
    );
    escape_name(site.title, &mut s);
    s.push_str("</title>\n<link>");
    escape_html(&site.base, &mut s);
    s.push_str("/</link>\n<description>");
    if site.about.is_empty() {
        s.push_str("Torrents published on this tracker");
    } else {
        escape_name(site.about, &mut s);
    }
    s.push_str("</description>\n<atom:link rel=\"self\" type=\"application/rss+xml\" href=\"");
    escape_html(&site.base, &mut s);
    s.push_str(FEED_PATH);
    let _ = write!(
        s,
        "\"/>\n<generator>bttrack</generator>\n<lastBuildDate>{}</lastBuildDate>\n",
        rfc822(now)
    );
    let announce = site.announce_url();
    for r in &sel.rows {
        let p = &r.torrent;
        let url = format!("{}{}", site.base, Site::torrent_path(p));
        let magnet = magnet(p, &announce);
        s.push_str("<item>\n<title>");
        escape_name(&p.name, &mut s);
        s.push_str("</title>\n<link>");
        escape_html(&url, &mut s);
        let _ = write!(
            s,
            "</link>\n<guid isPermaLink=\"false\">urn:btih:{}</guid>\n<pubDate>{}</pubDate>\n",
            p.info_hash.to_hex(),
            rfc822(p.published_at)
        );
        s.push_str("<description>");
        let mut text = String::new();
        let _ = write!(
            text,
            "{}; {} seeders, {} leechers, {} downloads. Magnet: ",
            human_size(p.total_length),
            r.stats.complete,
            r.stats.incomplete,
            r.stats.downloaded
        );
        text.push_str(&magnet);
        escape_html(&text, &mut s);
        s.push_str("</description>\n<enclosure url=\"");
        escape_html(&url, &mut s);
        let _ = writeln!(
            s,
            "\" length=\"{}\" type=\"application/x-bittorrent\"/>",
            p.torrent.len()
        );
        let _ = write!(
            s,
            "<torrent:infoHash>{}</torrent:infoHash>\n<torrent:contentLength>{}</torrent:contentLength>\n<torrent:magnetURI>",
            p.info_hash.to_hex(),
            p.total_length
        );
        escape_html(&magnet, &mut s);
        s.push_str("</torrent:magnetURI>\n</item>\n");
    }
    s.push_str("</channel>\n</rss>\n");
    s
}

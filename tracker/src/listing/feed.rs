//! The RSS 2.0 feed of published torrents, newest first: one item per torrent with an
//! `enclosure` of type `application/x-bittorrent` (what qBittorrent's and Transmission's RSS
//! downloaders fetch) and the magnet link, also in the `torrent:` namespace many feeds use.
//! The feed is paged on its own terms ([`FEED_PER_PAGE`]), the pages linked as RFC 5005 has it.

use std::fmt::Write as _;

use super::text::{encode_segment, escape_html, escape_name, human_size, rfc822};
use super::{magnet, Query, Selection, Site, FEED_PATH};

/// Items in one page of the feed, newest first. A feed reader fetches the first page at every
/// poll, so it is bounded: 500 items are about half a megabyte, where all of 10,000 published
/// torrents would be ten at each poll; and few trackers publish 500 torrents between two polls.
/// Older torrents are on later pages (`/feed.xml?page=N`), each linking the next with
/// `<atom:link rel="next">` (RFC 5005, paged feeds).
pub const FEED_PER_PAGE: usize = 500;

/// The absolute URL of one page of the feed, keeping the search (`q`), as the feed links it.
fn page_url(site: &Site<'_>, query: &Query, page: usize) -> String {
    let mut parts = Vec::new();
    if !query.q.is_empty() {
        parts.push(format!("q={}", encode_segment(&query.q)));
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    let sep = if parts.is_empty() { "" } else { "?" };
    format!("{}{FEED_PATH}{sep}{}", site.base, parts.join("&"))
}

/// `sel` is one page of the listing sorted newest first, [`FEED_PER_PAGE`] a page; `query`
/// is what was asked (its search is kept in the links to the other pages).
pub fn rss(sel: &Selection, query: &Query, site: &Site<'_>, now: u64) -> String {
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
    s.push_str("</description>\n");
    atom_links(&mut s, sel, query, site);
    let _ = write!(
        s,
        "<generator>bttrack</generator>\n<lastBuildDate>{}</lastBuildDate>\n",
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

/// `self`, and for a feed of more than one page `first`, `last`, `previous` and `next` (RFC 5005
/// section 3): a reader that wants the older items follows `next` until there is none.
fn atom_links(s: &mut String, sel: &Selection, query: &Query, site: &Site<'_>) {
    let mut link = |rel: &str, page: usize| {
        let _ = write!(
            s,
            "<atom:link rel=\"{rel}\" type=\"application/rss+xml\" href=\""
        );
        escape_html(&page_url(site, query, page), s);
        s.push_str("\"/>\n");
    };
    link("self", sel.page);
    if sel.pages > 1 {
        link("first", 1);
        link("last", sel.pages);
    }
    if sel.page > 1 {
        link("previous", sel.page - 1);
    }
    if sel.page < sel.pages {
        link("next", sel.page + 1);
    }
}

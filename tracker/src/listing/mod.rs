//! The listing of published torrents, the tracker's front door: the page (HTML and its own
//! stylesheet), its JSON twin and the RSS feed, all cut from one [`Selection`] (search, sort,
//! page). Names are escaped everywhere, and control and bidi-override characters are shown as
//! U+FFFD on the page and in the feed (see `text`).

mod feed;
mod page;
mod text;

use std::sync::Arc;

use protocol::tracker::ScrapeStats;

use crate::registry::{PublishedTorrent, Registry};
use crate::store::SwarmStore;

pub use feed::{rss, FEED_PER_PAGE};
pub use page::html;
pub use text::{decode_form, encode_segment, is_public};

/// The page's stylesheet, served by the tracker itself at [`CSS_PATH`].
pub const CSS: &str = include_str!("listing.css");
/// Two segments: no torrent can be served there (a torrent's path is `/<name>`, one segment).
pub const CSS_PATH: &str = "/-/listing.css";
pub const FEED_PATH: &str = "/feed.xml";

/// Nothing but the tracker's own stylesheet: no scripts, no inline styles, nothing external.
/// The search form submits to the page itself.
pub const CSP: &str = "default-src 'none'; style-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Torrents per page of the page and its JSON twin (the feed has its own, [`FEED_PER_PAGE`]).
pub const PER_PAGE: usize = 50;
/// Longest search honoured (characters); the rest is ignored.
const MAX_QUERY_CHARS: usize = 200;
/// Files of one torrent shown on the page; the count of the rest follows.
pub const MAX_FILES_SHOWN: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Name,
    /// Largest first.
    Size,
    /// Most seeders first.
    Seeders,
    /// Newest first.
    Date,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Name, Sort::Size, Sort::Seeders, Sort::Date];

    pub fn key(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Size => "size",
            Sort::Seeders => "seeders",
            Sort::Date => "date",
        }
    }

    fn parse(s: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|k| k.key() == s)
    }
}

/// What a visitor asked for: `?q=&sort=&page=&format=json` (anything else is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub q: String,
    pub sort: Sort,
    /// From 1.
    pub page: usize,
    pub json: bool,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        let mut out = Query {
            page: 1,
            ..Query::default()
        };
        for kv in query.unwrap_or("").split('&') {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "q" => {
                    let q = decode_form(v);
                    out.q = q.trim().chars().take(MAX_QUERY_CHARS).collect();
                }
                "sort" => out.sort = Sort::parse(v).unwrap_or_default(),
                "page" => out.page = v.parse::<usize>().unwrap_or(1).max(1),
                "format" => out.json = v == "json",
                _ => {}
            }
        }
        out
    }

    /// The query string of this view with another page or sort (for links), `?` included or
    /// empty for the plain front page.
    pub fn link(&self, sort: Sort, page: usize) -> String {
        let mut parts = Vec::new();
        if !self.q.is_empty() {
            parts.push(format!("q={}", encode_segment(&self.q)));
        }
        if sort != Sort::Name {
            parts.push(format!("sort={}", sort.key()));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            "/".into()
        } else {
            format!("/?{}", parts.join("&"))
        }
    }
}

/// One torrent as listed.
pub struct Row {
    pub torrent: Arc<PublishedTorrent>,
    pub stats: ScrapeStats,
    /// The publisher announced within the peer timeout.
    pub online: bool,
}

/// One page of the listing.
pub struct Selection {
    pub rows: Vec<Row>,
    /// Torrents matching the search, all pages.
    pub matching: usize,
    /// Torrents published, search or not.
    pub published: usize,
    /// The page shown (the last one when a later one was asked for), from 1.
    pub page: usize,
    pub pages: usize,
}

/// Picks the page `query` asks for, [`PER_PAGE`] torrents a page.
pub fn select(reg: &Registry, store: &SwarmStore, now: u64, query: &Query) -> Selection {
    select_paged(reg, store, now, query, PER_PAGE)
}

/// Picks the page `query` asks for, `per_page` torrents a page. Only the matching names are
/// looked at; swarm counts are read for the page's rows only, except when sorting by seeders.
pub fn select_paged(
    reg: &Registry,
    store: &SwarmStore,
    now: u64,
    query: &Query,
    per_page: usize,
) -> Selection {
    let per_page = per_page.max(1);
    let needle = query.q.to_lowercase();
    let hash_hex = (needle.len() == 40 && needle.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| needle.clone());
    let mut hits: Vec<&Arc<PublishedTorrent>> = reg
        .iter()
        .filter(|p| {
            needle.is_empty()
                || p.name_lower.contains(needle.as_str())
                || hash_hex
                    .as_deref()
                    .is_some_and(|h| p.info_hash.to_hex() == h)
        })
        .collect();
    match query.sort {
        // As people read names: case aside first.
        Sort::Name => {
            hits.sort_unstable_by(|a, b| (&a.name_lower, &a.name).cmp(&(&b.name_lower, &b.name)))
        }
        Sort::Size => {
            hits.sort_unstable_by(|a, b| (b.total_length, &a.name).cmp(&(a.total_length, &b.name)))
        }
        Sort::Date => {
            hits.sort_unstable_by(|a, b| (b.published_at, &a.name).cmp(&(a.published_at, &b.name)))
        }
        Sort::Seeders => {
            let mut keyed: Vec<(u32, &Arc<PublishedTorrent>)> = hits
                .iter()
                .map(|p| (store.scrape(&p.info_hash).complete, *p))
                .collect();
            keyed.sort_unstable_by(|a, b| (b.0, &a.1.name).cmp(&(a.0, &b.1.name)));
            hits = keyed.into_iter().map(|(_, p)| p).collect();
        }
    }
    let matching = hits.len();
    let pages = matching.div_ceil(per_page).max(1);
    let page = query.page.min(pages);
    let rows = hits
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|p| {
            let (stats, online) = store.scrape_with_peer(&p.info_hash, p.publisher, now);
            Row {
                torrent: Arc::clone(p),
                stats,
                online,
            }
        })
        .collect();
    Selection {
        rows,
        matching,
        published: reg.len(),
        page,
        pages,
    }
}

/// What the operator set for the page, and where the tracker is reached.
#[derive(Debug, Clone)]
pub struct Site<'a> {
    pub title: &'a str,
    pub about: &'a str,
    /// Where visitors get Swarmlink (`--extension-url`); nothing is fetched from there.
    pub extension_url: Option<&'a str>,
    /// `http://host:port` as clients reach the tracker (`--ip`, else the request's Host).
    pub base: String,
}

impl Site<'_> {
    pub fn announce_url(&self) -> String {
        format!("{}/announce", self.base)
    }

    pub fn torrent_path(p: &PublishedTorrent) -> String {
        format!("/{}.torrent", encode_segment(&p.name))
    }
}

/// `magnet:?xt=urn:btih:…&dn=…&xl=…&tr=…` and, when the publisher's address is public, `x.pe`
/// (BEP 9): a client can then dial the publisher before any tracker answers.
pub fn magnet(p: &PublishedTorrent, announce: &str) -> String {
    let mut m = format!(
        "magnet:?xt=urn:btih:{}&dn={}&xl={}&tr={}",
        p.info_hash.to_hex(),
        encode_segment(&p.name),
        p.total_length,
        encode_segment(announce)
    );
    if is_public(p.publisher.ip()) {
        // As written, not percent-encoded: `ip:port` and `[v6]:port` are valid in a query, and
        // libtorrent does not decode x.pe (`%3A` made it drop the peer).
        m.push_str("&x.pe=");
        m.push_str(&crate::swarm::canonical(p.publisher).to_string());
    }
    m
}

/// The JSON twin of the page: the same selection, every field the page shows.
pub fn json(sel: &Selection, site: &Site<'_>) -> String {
    let announce = site.announce_url();
    let list: Vec<serde_json::Value> = sel
        .rows
        .iter()
        .map(|r| {
            let p = &r.torrent;
            let files: Vec<serde_json::Value> = p
                .files
                .iter()
                .map(|(path, len)| serde_json::json!({ "path": path, "size": len }))
                .collect();
            serde_json::json!({
                "name": p.name,
                "info_hash": p.info_hash.to_hex(),
                "size": p.total_length,
                "files": files,
                "seeders": r.stats.complete,
                "leechers": r.stats.incomplete,
                "completed": r.stats.downloaded,
                "published": p.published_at,
                "publisher_online": r.online,
                "torrent_url": Site::torrent_path(p),
                "magnet": magnet(p, &announce),
            })
        })
        .collect();
    serde_json::json!({
        "torrents": list,
        "matching": sel.matching,
        "published": sel.published,
        "page": sel.page,
        "pages": sel.pages,
        "per_page": PER_PAGE,
    })
    .to_string()
}

#[cfg(test)]
mod tests;

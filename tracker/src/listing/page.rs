//! The listing page: semantic HTML that works with scripts off (it has none), styled by the
//! tracker's own stylesheet, one card per torrent, multi-file lists in `<details>`.

use std::fmt::Write as _;

use super::text::{escape_html, escape_name, human_size, iso8601};
use super::{magnet, Query, Row, Selection, Site, Sort, CSS_PATH, FEED_PATH, MAX_FILES_SHOWN};

pub fn html(sel: &Selection, query: &Query, site: &Site<'_>) -> String {
    let mut s = String::with_capacity(4096 + sel.rows.len() * 1500);
    head(&mut s, site);
    s.push_str("<header class=\"top\"><div class=\"wrap\">\n<h1><a href=\"/\">");
    escape_name(site.title, &mut s);
    s.push_str("</a></h1>\n");
    if !site.about.is_empty() {
        s.push_str("<p class=\"about\">");
        escape_name(site.about, &mut s);
        s.push_str("</p>\n");
    }
    search_form(&mut s, query);
    s.push_str("</div></header>\n<main class=\"wrap\">\n");
    visitor_note(&mut s, site);
    summary(&mut s, sel, query);
    if sel.rows.is_empty() {
        s.push_str("<p class=\"empty\">");
        if sel.published == 0 {
            s.push_str("Nothing is published here yet.");
        } else {
            s.push_str("No published torrent matches that search.");
        }
        s.push_str("</p>\n");
    } else {
        s.push_str("<ol class=\"torrents\">\n");
        let announce = site.announce_url();
        for r in &sel.rows {
            card(&mut s, r, &announce);
        }
        s.push_str("</ol>\n");
    }
    pager(&mut s, sel, query);
    s.push_str("</main>\n<footer class=\"wrap foot\"><p><a href=\"");
    s.push_str(FEED_PATH);
    s.push_str("\">RSS feed</a> · <a href=\"");
    escape_html(&json_link(query, sel.page), &mut s);
    s.push_str("\">JSON</a> · Tracker: <code>");
    escape_html(&announce_text(site), &mut s);
    s.push_str("</code></p></footer>\n</body>\n</html>\n");
    s
}

fn announce_text(site: &Site<'_>) -> String {
    site.announce_url()
}

fn json_link(query: &Query, page: usize) -> String {
    let l = query.link(query.sort, page);
    if l == "/" {
        "/?format=json".into()
    } else {
        format!("{l}&format=json")
    }
}

fn head(s: &mut String, site: &Site<'_>) {
    s.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n<title>",
    );
    escape_name(site.title, s);
    s.push_str("</title>\n<link rel=\"stylesheet\" href=\"");
    s.push_str(CSS_PATH);
    s.push_str("\">\n<link rel=\"alternate\" type=\"application/rss+xml\" title=\"");
    escape_name(site.title, s);
    s.push_str("\" href=\"");
    s.push_str(FEED_PATH);
    s.push_str("\">\n</head>\n<body>\n");
}

fn search_form(s: &mut String, query: &Query) {
    s.push_str(
        "<form class=\"search\" action=\"/\" method=\"get\" role=\"search\">\n\
         <input type=\"search\" name=\"q\" aria-label=\"Search names or info-hashes\" \
         placeholder=\"Search torrents\" value=\"",
    );
    escape_name(&query.q, s);
    s.push_str("\">\n");
    if query.sort != Sort::Name {
        let _ = writeln!(
            s,
            "<input type=\"hidden\" name=\"sort\" value=\"{}\">",
            query.sort.key()
        );
    }
    s.push_str("<button type=\"submit\">Search</button>\n</form>\n");
}

fn visitor_note(s: &mut String, site: &Site<'_>) {
    s.push_str(
        "<p class=\"visitor\">A click on a name downloads it over BitTorrent in the browser \
         with <strong>Swarmlink</strong>, a browser extension and a small helper program",
    );
    match site.extension_url {
        Some(url) => {
            s.push_str(": <a href=\"");
            escape_html(url, s);
            s.push_str("\">get Swarmlink</a>.");
        }
        None => s.push('.'),
    }
    s.push_str(
        " Any BitTorrent client opens the same <code>.torrent</code> and magnet links.</p>\n",
    );
}

fn summary(s: &mut String, sel: &Selection, query: &Query) {
    s.push_str("<div class=\"bar\">\n<p class=\"count\">");
    let noun = |n: usize| if n == 1 { "torrent" } else { "torrents" };
    if query.q.is_empty() {
        let _ = write!(s, "{} {} published", sel.matching, noun(sel.matching));
    } else {
        let _ = write!(s, "{} {} matching “", sel.matching, noun(sel.matching));
        escape_name(&query.q, s);
        s.push_str("” · <a href=\"/\">show all</a>");
    }
    s.push_str("</p>\n<nav class=\"sort\" aria-label=\"Sort\">Sort by");
    for k in Sort::ALL {
        let label = match k {
            Sort::Name => "name",
            Sort::Size => "size",
            Sort::Seeders => "seeders",
            Sort::Date => "newest",
        };
        if k == query.sort {
            let _ = write!(s, " <a aria-current=\"true\" href=\"");
        } else {
            s.push_str(" <a href=\"");
        }
        escape_html(&query.link(k, 1), s);
        let _ = write!(s, "\">{label}</a>");
    }
    s.push_str("</nav>\n</div>\n");
}

fn card(s: &mut String, r: &Row, announce: &str) {
    let p = &r.torrent;
    let href = Site::torrent_path(p);
    s.push_str("<li class=\"torrent\">\n<div class=\"title\"><a class=\"name\" type=\"application/x-bittorrent\" href=\"");
    escape_html(&href, s);
    s.push_str("\">");
    escape_name(&p.name, s);
    let _ = writeln!(
        s,
        "</a><span class=\"size\">{}</span></div>",
        human_size(p.total_length)
    );
    let seeded = if r.stats.complete > 0 { " live" } else { "" };
    let _ = writeln!(
        s,
        "<dl class=\"stats\"><div class=\"seeders{seeded}\"><dt>Seeders</dt><dd>{}</dd></div>\
         <div><dt>Leechers</dt><dd>{}</dd></div><div><dt>Downloads</dt><dd>{}</dd></div></dl>",
        r.stats.complete, r.stats.incomplete, r.stats.downloaded
    );
    let (class, state) = if r.online {
        ("on", "Publisher online")
    } else {
        ("off", "Publisher offline")
    };
    let _ = write!(
        s,
        "<p class=\"meta\"><span class=\"publisher {class}\">{state}</span> \
         <span>Published <time datetime=\"{at}\">{day}</time></span>",
        at = iso8601(p.published_at),
        day = &iso8601(p.published_at)[..10],
    );
    if !p.files.is_empty() {
        let n = p.files.len();
        let _ = write!(
            s,
            " <span>{n} {}</span>",
            if n == 1 { "file" } else { "files" }
        );
    }
    s.push_str("</p>\n");
    if !p.files.is_empty() {
        files(s, r);
    }
    s.push_str("<p class=\"links\"><a class=\"button\" type=\"application/x-bittorrent\" href=\"");
    escape_html(&href, s);
    s.push_str("\">.torrent</a> <a class=\"button\" href=\"");
    escape_html(&magnet(p, announce), s);
    let _ = write!(
        s,
        "\">Magnet</a> <code class=\"hash\" title=\"info-hash\">{}</code></p>\n</li>\n",
        p.info_hash.to_hex()
    );
}

fn files(s: &mut String, r: &Row) {
    let list = &r.torrent.files;
    let _ = write!(
        s,
        "<details class=\"files\"><summary>Show the {} files</summary>\n<ul>\n",
        list.len()
    );
    for (path, len) in list.iter().take(MAX_FILES_SHOWN) {
        s.push_str("<li><span class=\"path\">");
        escape_name(path, s);
        let _ = writeln!(
            s,
            "</span><span class=\"size\">{}</span></li>",
            human_size(*len)
        );
    }
    if list.len() > MAX_FILES_SHOWN {
        let _ = writeln!(
            s,
            "<li class=\"more\">and {} more</li>",
            list.len() - MAX_FILES_SHOWN
        );
    }
    s.push_str("</ul></details>\n");
}

fn pager(s: &mut String, sel: &Selection, query: &Query) {
    if sel.pages <= 1 {
        return;
    }
    s.push_str("<nav class=\"pages\" aria-label=\"Pages\">");
    if sel.page > 1 {
        s.push_str("<a rel=\"prev\" href=\"");
        escape_html(&query.link(query.sort, sel.page - 1), s);
        s.push_str("\">← Previous</a>");
    } else {
        s.push_str("<span></span>");
    }
    let _ = write!(s, "<span>Page {} of {}</span>", sel.page, sel.pages);
    if sel.page < sel.pages {
        s.push_str("<a rel=\"next\" href=\"");
        escape_html(&query.link(query.sort, sel.page + 1), s);
        s.push_str("\">Next →</a>");
    } else {
        s.push_str("<span></span>");
    }
    s.push_str("</nav>\n");
}

//! The listing page of published torrents (HTML, every name escaped, strict CSP) and its JSON twin.

use std::fmt::Write as _;

use protocol::tracker::ScrapeStats;

use crate::published::Published;

/// No scripts, no styles, nothing external: the page is plain semantic HTML, so it can forbid all.
pub const CSP: &str =
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub struct Row<'a> {
    pub torrent: &'a Published,
    pub stats: ScrapeStats,
}

pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Percent-encodes a name for use as one URL path segment.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn html(rows: &[Row<'_>]) -> String {
    let mut s = String::with_capacity(512 + rows.len() * 300);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bttrack</title></head><body>\n<h1>Published torrents</h1>\n");
    if rows.is_empty() {
        s.push_str("<p>Nothing is published here yet.</p>\n");
    } else {
        s.push_str("<table><thead><tr><th>name</th><th>size</th><th>seeders</th><th>leechers</th><th>completed</th></tr></thead><tbody>\n");
        for r in rows {
            s.push_str("<tr><td><a type=\"application/x-bittorrent\" href=\"/");
            escape_html(&encode_segment(&r.torrent.name), &mut s);
            s.push_str(".torrent\">");
            escape_html(&r.torrent.name, &mut s);
            let _ = writeln!(
                s,
                "</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                human_size(r.torrent.total_length),
                r.stats.complete,
                r.stats.incomplete,
                r.stats.downloaded
            );
        }
        s.push_str("</tbody></table>\n");
    }
    s.push_str("</body></html>\n");
    s
}

pub fn json(rows: &[Row<'_>]) -> String {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "name": r.torrent.name,
                "info_hash": r.torrent.info_hash.to_hex(),
                "size": r.torrent.total_length,
                "seeders": r.stats.complete,
                "leechers": r.stats.incomplete,
                "completed": r.stats.downloaded,
                "torrent_url": format!("/{}.torrent", encode_segment(&r.torrent.name)),
            })
        })
        .collect();
    serde_json::json!({ "torrents": list }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_in_text_and_links() {
        let mut s = String::new();
        escape_html("<script>\"x\"&'", &mut s);
        assert_eq!(s, "&lt;script&gt;&quot;x&quot;&amp;&#39;");
        assert_eq!(encode_segment("a b/<c>.iso"), "a%20b%2F%3Cc%3E.iso");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert!(html(&[]).contains("Nothing is published"));
        assert_eq!(json(&[]), "{\"torrents\":[]}");
    }
}

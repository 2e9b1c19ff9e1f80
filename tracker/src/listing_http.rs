//! The listing's HTTP side: `/` (page or `?format=json`), `/feed.xml` and the stylesheet, with
//! their headers (CSP, caching), or a plain 404 everywhere under `--hide-listing`.

use http::header::{self, HeaderValue};
use http::StatusCode;

use crate::http_reply::{reply, Origin, Reply};
use crate::listing::{self, Query, Site, Sort};
use crate::metrics::bump;
use crate::state::{now_secs, Tracker};

pub(crate) fn serve(t: &Tracker, path: &str, query: Option<&str>, from: Origin<'_>) -> Reply {
    if t.config.hide_listing {
        bump(&t.metrics.not_found);
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "This tracker publishes no listing.\n",
        );
    }
    bump(&t.metrics.pages);
    if path == listing::CSS_PATH {
        let mut r = reply(StatusCode::OK, "text/css; charset=utf-8", listing::CSS);
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        return r;
    }
    let base = format!(
        "http://{}",
        t.config
            .public_host
            .as_deref()
            .or(from.host)
            .unwrap_or("localhost")
    );
    let site = Site {
        title: &t.config.title,
        about: &t.config.about,
        extension_url: t.config.extension_url.as_deref(),
        base,
    };
    let mut q = Query::parse(query);
    let now = now_secs();
    if path == listing::FEED_PATH {
        // Newest first, whatever was asked: a feed reader looks for what is new. Paged on the
        // feed's own terms: more than the page's 50, and bounded all the same.
        q.sort = Sort::Date;
        let sel = listing::select_paged(&t.registry(), &t.store, now, &q, listing::FEED_PER_PAGE);
        return reply(
            StatusCode::OK,
            "application/rss+xml; charset=utf-8",
            listing::rss(&sel, &q, &site, now),
        );
    }
    let sel = listing::select(&t.registry(), &t.store, now, &q);
    if q.json {
        return reply(
            StatusCode::OK,
            "application/json",
            listing::json(&sel, &site),
        );
    }
    let mut r = reply(
        StatusCode::OK,
        "text/html; charset=utf-8",
        listing::html(&sel, &q, &site),
    );
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(listing::CSP),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

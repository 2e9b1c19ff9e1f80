//! Which bytes of the file a web server's answer to our range request carries. Servers differ:
//! nginx answers `206` with exactly the range asked; Python's `http.server` and many application
//! servers and CDNs ignore `Range` and send `200` with the whole file; some answer `206` for a
//! range that starts earlier or ends sooner than asked (aligned, capped). All of these are usable
//! as long as the body covers the next byte we need: the fetcher skips what comes before it and
//! asks again for what is missing after it.
//!
//! A body compressed though we asked for `identity` (`gzip`, `deflate`) is decoded
//! (`decode.rs`); its `Content-Length` then counts compressed bytes and says nothing of the
//! file, and a `Content-Range` is taken as the decoded bytes' place in the file (the only
//! reading that can be used; a body that does not decode to the file fails its hash check).

use super::context::FetchError;
use super::decode::Encoding;

/// Where the body of an accepted answer sits in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodySpan {
    /// File offset of the body's first byte.
    pub start: u64,
    /// File offset just past its last byte, when the server said.
    pub end: Option<u64>,
    /// A `200`: the server ignored `Range` (the whole file comes from byte 0).
    pub whole_file: bool,
    /// How the body is to be decoded.
    pub encoding: Encoding,
}

/// Checks the status and headers of the answer to `Range: bytes=pos-(end-1)`.
pub(crate) fn body_span<B>(
    url: &str,
    response: &http::Response<B>,
    pos: u64,
    end: u64,
) -> Result<BodySpan, FetchError> {
    let bad = |reason: String| FetchError::BadRange {
        url: url.to_owned(),
        reason,
    };
    let headers = response.headers();
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    // We ask for `identity`; a server that compresses anyway is decoded if it can be.
    let encoding = Encoding::parse(header(http::header::CONTENT_ENCODING)).map_err(bad)?;
    let length = header(http::header::CONTENT_LENGTH)
        .map(|l| {
            l.trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("Content-Length {l:?}")))
        })
        .transpose()?
        // Compressed bytes: no measure of the file.
        .filter(|_| encoding == Encoding::Identity);
    match response.status().as_u16() {
        206 => {
            let Some(range) = header(http::header::CONTENT_RANGE) else {
                return Err(bad("206 without Content-Range".into()));
            };
            let (a, b) = parse_content_range(range)
                .ok_or_else(|| bad(format!("Content-Range {range:?}")))?;
            // Usable only if it covers the next byte we need; bytes before it are skipped.
            if a > pos || b < pos {
                return Err(bad(format!(
                    "Content-Range {range:?}, asked for bytes {pos}-{}",
                    end - 1
                )));
            }
            if length.is_some_and(|l| l != b - a + 1) {
                return Err(bad(format!(
                    "Content-Length {} for Content-Range {range:?}",
                    length.unwrap_or_default()
                )));
            }
            Ok(BodySpan {
                start: a,
                end: Some(b + 1),
                whole_file: false,
                encoding,
            })
        }
        200 => {
            if length.is_some_and(|l| l < end) {
                return Err(bad(format!(
                    "the file is {} bytes, the torrent needs {end}",
                    length.unwrap_or_default()
                )));
            }
            Ok(BodySpan {
                start: 0,
                end: length,
                whole_file: true,
                encoding,
            })
        }
        status => Err(FetchError::Status {
            url: url.to_owned(),
            status,
        }),
    }
}

/// `bytes a-b/total` (total may be `*`) -> `(a, b)`.
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, _total) = rest.split_once('/')?;
    let (a, b) = range.trim().split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> http::Response<()> {
        let mut r = http::Response::builder().status(status);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(()).unwrap()
    }

    #[test]
    fn exact_wider_and_shorter_206s_are_used_from_the_byte_we_need() {
        let exact = answer(206, &[("content-range", "bytes 100-199/1000")]);
        let span = body_span("u", &exact, 100, 200).unwrap();
        assert_eq!((span.start, span.end), (100, Some(200)));
        // Aligned down and capped: starts before, ends before what we asked.
        let aligned = answer(
            206,
            &[
                ("content-range", "bytes 0-149/*"),
                ("content-length", "150"),
            ],
        );
        let span = body_span("u", &aligned, 100, 200).unwrap();
        assert_eq!((span.start, span.end), (0, Some(150)));
    }

    #[test]
    fn a_206_that_misses_the_next_byte_is_refused() {
        for cr in [
            "bytes 101-199/1000",
            "bytes 0-99/1000",
            "bytes 5-1/9",
            "items 1-2/3",
        ] {
            let r = answer(206, &[("content-range", cr)]);
            assert!(body_span("u", &r, 100, 200).is_err(), "{cr}");
        }
        assert!(body_span("u", &answer(206, &[]), 100, 200).is_err());
        let lying_length = answer(
            206,
            &[
                ("content-range", "bytes 100-199/1000"),
                ("content-length", "5"),
            ],
        );
        assert!(body_span("u", &lying_length, 100, 200).is_err());
    }

    #[test]
    fn a_200_is_the_whole_file_and_gzip_or_deflate_is_decoded() {
        let whole = answer(200, &[("content-length", "1000")]);
        let span = body_span("u", &whole, 100, 200).unwrap();
        assert_eq!(
            (span.start, span.end, span.whole_file),
            (0, Some(1000), true)
        );
        let close_delimited = answer(200, &[]);
        assert_eq!(
            body_span("u", &close_delimited, 100, 200).unwrap().end,
            None
        );
        let short = answer(200, &[("content-length", "150")]);
        assert!(body_span("u", &short, 100, 200).is_err());
        // Its Content-Length counts compressed bytes: neither "too short" nor the body's end.
        let gzip = answer(
            200,
            &[("content-length", "150"), ("content-encoding", "gzip")],
        );
        let span = body_span("u", &gzip, 100, 200).unwrap();
        assert_eq!((span.end, span.encoding), (None, Encoding::Gzip));
        let deflate = answer(
            206,
            &[
                ("content-range", "bytes 100-199/1000"),
                ("content-length", "40"),
                ("content-encoding", "deflate"),
            ],
        );
        let span = body_span("u", &deflate, 100, 200).unwrap();
        assert_eq!((span.end, span.encoding), (Some(200), Encoding::Deflate));
        let brotli = answer(200, &[("content-encoding", "br")]);
        let err = body_span("u", &brotli, 100, 200).unwrap_err().to_string();
        assert!(err.contains("br"), "{err}");
        let identity = answer(200, &[("content-encoding", "identity")]);
        assert!(body_span("u", &identity, 100, 200).is_ok());
        assert!(body_span("u", &answer(404, &[]), 100, 200).is_err());
    }
}

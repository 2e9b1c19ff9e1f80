//! The `Range` header of a streaming request (RFC 9110 §14): one byte range, or the whole file.
//! Several ranges are answered with the whole file (a server may ignore `Range`), as is a
//! header we cannot read; a range that starts past the end is unsatisfiable (416).

/// What to send of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// 200 with every byte.
    Whole,
    /// 206 with bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Reads a `Range` header value for a file of `len` bytes.
pub fn parse(header: Option<&str>, len: u64) -> Want {
    let Some(spec) = header.map(str::trim) else {
        return Want::Whole;
    };
    let Some(set) = spec
        .get(..6)
        .filter(|u| u.eq_ignore_ascii_case("bytes="))
        .map(|_| &spec[6..])
    else {
        return Want::Whole; // another unit: ignored
    };
    let mut ranges = set.split(',').map(str::trim).filter(|r| !r.is_empty());
    let (Some(range), None) = (ranges.next(), ranges.next()) else {
        return Want::Whole;
    };
    let Some((first, last)) = range.split_once('-') else {
        return Want::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // `-N`: the last N bytes.
        (true, false) => match number(last) {
            Some(0) => Want::Unsatisfiable,
            Some(n) if len > 0 => Want::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            Some(_) => Want::Unsatisfiable,
            None => Want::Whole,
        },
        // `A-` or `A-B`.
        (false, open) => {
            let Some(start) = number(first) else {
                return Want::Whole;
            };
            let end = if open {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    _ => return Want::Whole, // invalid: ignored
                }
            };
            if start >= len {
                return Want::Unsatisfiable;
            }
            Want::Part {
                start,
                end: end.min(len - 1),
            }
        }
        (true, true) => Want::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_as_rfc_9110_defines_them() {
        let part = |start, end| Want::Part { start, end };
        assert_eq!(parse(None, 100), Want::Whole);
        assert_eq!(parse(Some("bytes=0-9"), 100), part(0, 9));
        assert_eq!(parse(Some("bytes=90-"), 100), part(90, 99));
        assert_eq!(parse(Some("bytes=90-1000"), 100), part(90, 99));
        assert_eq!(parse(Some("bytes=-10"), 100), part(90, 99));
        assert_eq!(parse(Some("bytes=-1000"), 100), part(0, 99));
        assert_eq!(parse(Some("Bytes= 5-5 "), 100), part(5, 5));
    }

    #[test]
    fn past_the_end_is_unsatisfiable_and_nonsense_is_ignored() {
        assert_eq!(parse(Some("bytes=100-"), 100), Want::Unsatisfiable);
        assert_eq!(parse(Some("bytes=-0"), 100), Want::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-"), 0), Want::Unsatisfiable);
        assert_eq!(parse(Some("bytes=9-3"), 100), Want::Whole);
        assert_eq!(parse(Some("bytes=0-1,5-6"), 100), Want::Whole);
        assert_eq!(parse(Some("items=0-1"), 100), Want::Whole);
        assert_eq!(parse(Some("bytes=x-"), 100), Want::Whole);
        assert_eq!(parse(Some("bytes=-"), 100), Want::Whole);
        assert_eq!(
            parse(Some("bytes=99999999999999999999999-"), 100),
            Want::Whole
        );
    }
}

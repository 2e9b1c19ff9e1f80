//! Query-string scanning shared by announce and scrape: `&`-separated `key=value` pairs with
//! strict percent-decoding into caller-provided buffers (no allocation per byte).

use std::fmt::Write as _;

/// Longest query string accepted; a real announce is under 400 bytes, a 74-hash scrape under 5 KiB.
pub const MAX_QUERY_LEN: usize = 8 * 1024;

/// Why a query string was refused. The `Display` text is what a tracker sends as `failure reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("query string of {0} bytes is too long")]
    TooLong(usize),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("duplicated {0}")]
    Duplicate(&'static str),
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("too many info_hash values (at most {0})")]
    TooMany(usize),
}

pub(crate) fn invalid(field: &'static str, reason: &'static str) -> QueryError {
    QueryError::Invalid { field, reason }
}

/// Splits a query into `(key, raw value)` pairs; a pair without `=` has an empty value.
pub(crate) fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw` into exactly `N` bytes. `+` is a literal byte (binary ids are not form data).
pub(crate) fn decode_fixed<const N: usize>(
    raw: &[u8],
    field: &'static str,
) -> Result<[u8; N], QueryError> {
    let mut out = [0u8; N];
    let mut n = 0;
    let mut i = 0;
    while i < raw.len() {
        let b = if raw[i] == b'%' {
            let hi = raw.get(i + 1).copied().and_then(hex_val);
            let lo = raw.get(i + 2).copied().and_then(hex_val);
            match (hi, lo) {
                (Some(hi), Some(lo)) => {
                    i += 3;
                    hi << 4 | lo
                }
                _ => return Err(invalid(field, "bad percent-encoding")),
            }
        } else {
            i += 1;
            raw[i - 1]
        };
        match out.get_mut(n) {
            Some(slot) => *slot = b,
            None => return Err(invalid(field, "expected 20 bytes")),
        }
        n += 1;
    }
    if n != N {
        return Err(invalid(field, "expected 20 bytes"));
    }
    Ok(out)
}

/// Percent-decodes a short text value (trackerid, ip) of at most `max` decoded bytes.
pub(crate) fn decode_text(
    raw: &[u8],
    field: &'static str,
    max: usize,
) -> Result<String, QueryError> {
    String::from_utf8(decode_bytes(raw, field, max)?).map_err(|_| invalid(field, "not UTF-8"))
}

/// Percent-decodes an opaque value of at most `max` decoded bytes (aria2's `key` is binary).
pub(crate) fn decode_bytes(
    raw: &[u8],
    field: &'static str,
    max: usize,
) -> Result<Vec<u8>, QueryError> {
    let mut out = Vec::with_capacity(raw.len().min(max));
    let mut i = 0;
    while i < raw.len() {
        let b = if raw[i] == b'%' {
            let hi = raw.get(i + 1).copied().and_then(hex_val);
            let lo = raw.get(i + 2).copied().and_then(hex_val);
            match (hi, lo) {
                (Some(hi), Some(lo)) => {
                    i += 3;
                    hi << 4 | lo
                }
                _ => return Err(invalid(field, "bad percent-encoding")),
            }
        } else {
            i += 1;
            raw[i - 1]
        };
        if out.len() == max {
            return Err(invalid(field, "too long"));
        }
        out.push(b);
    }
    Ok(out)
}

/// A non-negative decimal integer that fits `u64` (no sign, no spaces, at most 20 digits).
pub(crate) fn decode_u64(raw: &[u8], field: &'static str) -> Result<u64, QueryError> {
    if raw.first() == Some(&b'-') {
        return Err(invalid(field, "negative"));
    }
    if raw.is_empty() || raw.len() > 20 {
        return Err(invalid(field, "not a number"));
    }
    let mut v: u64 = 0;
    for &b in raw {
        if !b.is_ascii_digit() {
            return Err(invalid(field, "not a number"));
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or_else(|| invalid(field, "too large"))?;
    }
    Ok(v)
}

/// RFC 3986 unreserved bytes stay, everything else becomes `%XX` (what every tracker accepts).
pub fn percent_encode_bytes(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

//! Text for the listing's outputs: HTML/XML escaping, URL encoding, display names with control
//! and bidi-override characters neutralised, sizes and dates. Pure functions.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::civil::utc;

/// Escapes for HTML and XML text and attribute values (the five XML entities).
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

/// Whether `c` must not be shown as it is: C0/C1 controls and DEL (terminal escapes; most are
/// not even allowed in XML 1.0), and the bidi controls that reorder text, with which
/// `gpj.exe` in a name displays as `exe.jpg` (U+202E RIGHT-TO-LEFT OVERRIDE).
pub fn is_hostile_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
        // Not characters in XML 1.0 either.
        || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Appends `name` escaped for HTML/XML, each hostile character shown as U+FFFD.
pub fn escape_name(name: &str, out: &mut String) {
    if !name.chars().any(is_hostile_char) {
        return escape_html(name, out);
    }
    let shown: String = name
        .chars()
        .map(|c| if is_hostile_char(c) { '\u{FFFD}' } else { c })
        .collect();
    escape_html(&shown, out);
}

/// Percent-encodes `s` leaving only RFC 3986 unreserved bytes: safe as one URL path segment and
/// as a query value.
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

/// Decodes one `application/x-www-form-urlencoded` value leniently: `+` is a space, a bad
/// escape stays as written, bytes that are not UTF-8 become U+FFFD. A search box is no place
/// for a 400.
pub fn decode_form(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => match (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push((hi << 4) | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: &u8) -> Option<u8> {
    (*c as char).to_digit(16).map(|d| d as u8)
}

pub fn human_size(n: u64) -> String {
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

/// `2026-12-07T02:42:13Z` (the page's `<time datetime>`).
pub fn iso8601(secs: u64) -> String {
    let (y, mo, d, h, mi, s, _) = utc(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `Mon, 07 Dec 2026 02:42:13 GMT` (RFC 822 as RSS 2.0 takes it, four-digit year).
pub fn rfc822(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, wd) = utc(secs);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[wd as usize % 7],
        MONTHS[(mo as usize + 11) % 12]
    )
}

/// Whether peers elsewhere on the Internet could reach `ip` (not loopback, private, link-local,
/// shared, documentation or unspecified): only such a publisher goes into a magnet's `x.pe`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_encoding() {
        let mut s = String::new();
        escape_html("<script>\"x\"&'", &mut s);
        assert_eq!(s, "&lt;script&gt;&quot;x&quot;&amp;&#39;");
        assert_eq!(encode_segment("a b/<c>.iso"), "a%20b%2F%3Cc%3E.iso");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10), "10 B");
    }

    #[test]
    fn hostile_characters_are_neutralised() {
        let mut s = String::new();
        escape_name("photo\u{202E}gpj.exe\u{1b}[31m\u{7f}\u{85}<b>", &mut s);
        assert_eq!(
            s,
            "photo\u{FFFD}gpj.exe\u{FFFD}[31m\u{FFFD}\u{FFFD}&lt;b&gt;"
        );
        let mut plain = String::new();
        escape_name("Sintel trailer.mkv", &mut plain);
        assert_eq!(plain, "Sintel trailer.mkv");
        for c in ['\u{2066}', '\u{2069}', '\u{200F}', '\u{061C}', '\0', '\t'] {
            assert!(is_hostile_char(c), "{c:?}");
        }
        assert!(!is_hostile_char('é') && !is_hostile_char('日'));
    }

    #[test]
    fn form_values_decode_leniently() {
        assert_eq!(decode_form("sintel+trailer"), "sintel trailer");
        assert_eq!(decode_form("a%20b%2B"), "a b+");
        assert_eq!(decode_form("100%"), "100%");
        assert_eq!(decode_form("%zz%4"), "%zz%4");
        assert_eq!(decode_form("%FF"), "\u{FFFD}");
        assert_eq!(decode_form("%C3%A9t%C3%A9"), "été");
    }

    #[test]
    fn dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc822(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        // 2026-12-07 02:42:13 UTC, a Monday.
        assert_eq!(iso8601(1_796_611_333), "2026-12-07T02:42:13Z");
        assert_eq!(rfc822(1_796_611_333), "Mon, 07 Dec 2026 02:42:13 GMT");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn public_addresses() {
        for ip in ["69.69.69.69", "2a00:1450::1", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}

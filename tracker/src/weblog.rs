//! The web log in Combined Log Format, buffered and flushed about once a second (the announce
//! path never waits for the disk).

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::sync::Mutex;

use crate::config::LogTarget;

/// Longest request line or header value written; a 70 KB query is logged truncated.
const MAX_FIELD: usize = 1024;

pub struct WebLog {
    out: Option<Mutex<BufWriter<Box<dyn Write + Send>>>>,
}

/// One request as the log sees it.
pub struct Entry<'a> {
    pub remote: IpAddr,
    pub method: &'a str,
    pub target: &'a str,
    pub version: &'a str,
    pub status: u16,
    pub bytes: usize,
    pub referer: &'a str,
    pub user_agent: &'a str,
}

impl WebLog {
    pub fn open(target: &LogTarget) -> io::Result<WebLog> {
        let w: Option<Box<dyn Write + Send>> = match target {
            LogTarget::None => None,
            LogTarget::Stdout => Some(Box::new(io::stdout())),
            LogTarget::File(p) => Some(Box::new(
                OpenOptions::new().create(true).append(true).open(p)?,
            )),
        };
        Ok(WebLog {
            out: w.map(|w| Mutex::new(BufWriter::with_capacity(64 << 10, w))),
        })
    }

    pub fn enabled(&self) -> bool {
        self.out.is_some()
    }

    pub fn log(&self, e: &Entry<'_>, now_secs: u64) {
        let Some(out) = &self.out else { return };
        let line = format_line(e, now_secs);
        let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = w.write_all(line.as_bytes());
    }

    pub fn flush(&self) {
        if let Some(out) = &self.out {
            let _ = out.lock().unwrap_or_else(|p| p.into_inner()).flush();
        }
    }
}

/// `host - - [10/Oct/2000:13:55:36 +0000] "GET /x HTTP/1.1" 200 2326 "referer" "agent"\n`
pub fn format_line(e: &Entry<'_>, now_secs: u64) -> String {
    let mut s = String::with_capacity(160 + e.target.len().min(MAX_FIELD));
    let _ = write!(s, "{} - - [{}] \"", e.remote, clf_date(now_secs));
    escape_into(&mut s, e.method);
    // A refused request is logged as the raw line it sent (in `method`), with no target/version.
    for part in [e.target, e.version] {
        if !part.is_empty() {
            s.push(' ');
            escape_into(&mut s, part);
        }
    }
    let _ = write!(s, "\" {} {} \"", e.status, e.bytes);
    escape_into(&mut s, if e.referer.is_empty() { "-" } else { e.referer });
    s.push_str("\" \"");
    escape_into(
        &mut s,
        if e.user_agent.is_empty() {
            "-"
        } else {
            e.user_agent
        },
    );
    s.push_str("\"\n");
    s
}

/// Quotes, backslashes and control characters are escaped so one line stays one record.
fn escape_into(s: &mut String, v: &str) {
    for (i, c) in v.chars().enumerate() {
        if i >= MAX_FIELD {
            s.push_str("...");
            return;
        }
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(s, "\\x{:02x}", c as u32);
            }
            c => s.push(c),
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `dd/Mon/yyyy:HH:MM:SS +0000` from Unix seconds (UTC).
pub fn clf_date(secs: u64) -> String {
    let (y, month, d) = civil(secs);
    let rem = secs % 86_400;
    format!(
        "{d:02}/{month}/{y}:{:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// [`write_http_date`] into a new string (for tests).
#[cfg(test)]
fn http_date(secs: u64) -> String {
    let mut s = String::with_capacity(29);
    write_http_date(&mut s, secs);
    s
}

/// The HTTP Date header's IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, from Unix seconds,
/// appended to `out` (the fast path rewrites its cached header in place).
pub fn write_http_date(out: &mut String, secs: u64) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let (y, month, d) = civil(secs);
    let rem = secs % 86_400;
    let weekday = DAYS
        .get((secs / 86_400 % 7) as usize)
        .copied()
        .unwrap_or("Thu");
    let _ = write!(
        out,
        "{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
}

/// (year, month name, day of month) of a Unix time (UTC).
fn civil(secs: u64) -> (i64, &'static str, i64) {
    let (y, m, d, ..) = crate::civil::utc(secs);
    let month = MONTHS.get(m as usize - 1).copied().unwrap_or("Jan");
    (y, month, i64::from(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_log_format_line() {
        let e = Entry {
            remote: "127.0.0.1".parse().unwrap(),
            method: "GET",
            target: "/announce?x=\"1\"",
            version: "HTTP/1.1",
            status: 200,
            bytes: 42,
            referer: "",
            user_agent: "curl/8\n",
        };
        assert_eq!(
            format_line(&e, 971_186_136),
            "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /announce?x=\\\"1\\\" HTTP/1.1\" 200 42 \"-\" \"curl/8\\x0a\"\n"
        );
        let refused = Entry {
            method: "GET /x\x01 HTTP/1.1",
            target: "",
            version: "",
            status: 400,
            bytes: 0,
            user_agent: "",
            ..e
        };
        assert_eq!(
            format_line(&refused, 971_186_136),
            "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /x\\x01 HTTP/1.1\" 400 0 \"-\" \"-\"\n"
        );
        assert_eq!(clf_date(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_date(1_709_210_096), "29/Feb/2024:12:34:56 +0000");
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(1_709_210_096), "Thu, 29 Feb 2024 12:34:56 GMT");
    }
}

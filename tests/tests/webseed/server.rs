//! A tiny HTTP/1.1 file server for web seed tests: GET with a single `Range: bytes=a-b` (206 and
//! Content-Range, as nginx or Apache answer), keep-alive, and misbehaviours on demand (wrong
//! bytes, 404, never answering). Python's `http.server` would not do: it ignores Range.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serves the files byte-exact.
    Honest,
    /// Serves every byte inverted (right lengths, wrong data).
    Liar,
    /// 404 to everything.
    NotFound,
    /// Reads the request and never answers.
    Hang,
    /// Ignores Range: 200 and the whole file every time.
    IgnoreRange,
    /// `206` for exactly the range asked, `Content-Encoding: gzip`, and a body of about 1 MiB
    /// that inflates to 1 GB of zeros: far more than any range.
    GzipBomb,
}

/// What the server saw, for assertions.
#[derive(Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Replies whose body is being sent right now.
    pub busy: AtomicUsize,
    pub body_bytes: AtomicU64,
    /// Request paths (percent-encoded, as sent), in order.
    pub paths: Mutex<Vec<String>>,
}

pub struct Server {
    pub url: String,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `root` at `http://127.0.0.1:PORT/`; `rate` limits body bytes per second (0 = none).
pub async fn start(root: PathBuf, mode: Mode, rate: u64) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let stats = Arc::new(Stats::default());
    let s = stats.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(connection(stream, root.clone(), mode, rate, s.clone()));
        }
    });
    Server { url, stats, task }
}

async fn connection(
    mut stream: TcpStream,
    root: PathBuf,
    mode: Mode,
    rate: u64,
    stats: Arc<Stats>,
) {
    let mut buf = Vec::new();
    loop {
        let head = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end + 4);
                break head;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 64 * 1024 {
                return;
            }
        };
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let mut lines = head.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_owned();
        stats.paths.lock().unwrap().push(path.clone());
        let range = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("range"))
            .and_then(|(_, v)| parse_range(v.trim()));
        match mode {
            Mode::Hang => {
                // Hold the connection open without a word until the client gives up.
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            Mode::NotFound => {
                if respond(&mut stream, "404 Not Found", &[], b"")
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            Mode::Honest | Mode::Liar | Mode::IgnoreRange | Mode::GzipBomb => {}
        }
        let Some(file) = decode_path(&path).map(|p| root.join(p)) else {
            let _ = respond(&mut stream, "400 Bad Request", &[], b"").await;
            return;
        };
        let Ok(data) = std::fs::read(&file) else {
            if respond(&mut stream, "404 Not Found", &[], b"")
                .await
                .is_err()
            {
                return;
            }
            continue;
        };
        let len = data.len() as u64;
        let range = range.filter(|_| mode != Mode::IgnoreRange);
        let (status, from, to, extra) = match range {
            Some((a, b)) if a < len && a <= b => {
                let b = b.min(len - 1);
                let cr = format!("Content-Range: bytes {a}-{b}/{len}");
                ("206 Partial Content", a, b + 1, vec![cr])
            }
            Some(_) => {
                let cr = format!("Content-Range: bytes */{len}");
                if respond(&mut stream, "416 Range Not Satisfiable", &[cr], b"")
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            None => ("200 OK", 0, len, vec![]),
        };
        let mut body = data[from as usize..to as usize].to_vec();
        if mode == Mode::Liar {
            body.iter_mut().for_each(|b| *b = !*b);
        }
        let mut extra = extra;
        if mode == Mode::GzipBomb {
            body = gzip_bomb().to_vec();
            extra.push("Content-Encoding: gzip".into());
        }
        stats.busy.fetch_add(1, Ordering::SeqCst);
        let sent = respond_slowly(&mut stream, status, &extra, &body, rate, Some(&stats)).await;
        stats.busy.fetch_sub(1, Ordering::SeqCst);
        if sent.is_err() {
            return;
        }
    }
}

/// 100 gzip members of 10,000,000 zeros each (a member's end never falls on a piece's), made
/// once: about 1 MiB.
fn gzip_bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        use std::io::Write;
        let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        member.write_all(&vec![0u8; 10_000_000]).unwrap();
        member.finish().unwrap().repeat(100)
    })
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    extra: &[String],
    body: &[u8],
) -> std::io::Result<()> {
    respond_slowly(stream, status, extra, body, 0, None).await
}

/// Writes the reply, the body in 16 KiB chunks at about `rate` bytes/s (0 = at once).
async fn respond_slowly(
    stream: &mut TcpStream,
    status: &str,
    extra: &[String],
    body: &[u8],
    rate: u64,
    stats: Option<&Stats>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for h in extra {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("Accept-Ranges: bytes\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    let start = tokio::time::Instant::now();
    let mut sent = 0u64;
    for chunk in body.chunks(16 * 1024) {
        stream.write_all(chunk).await?;
        sent += chunk.len() as u64;
        if let Some(stats) = stats {
            stats
                .body_bytes
                .fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
        // No pause after the last chunk: the reply is over for the client (and for `busy`).
        if rate > 0 && (sent as usize) < body.len() {
            let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
        }
    }
    Ok(())
}

fn parse_range(v: &str) -> Option<(u64, u64)> {
    let (a, b) = v.strip_prefix("bytes=")?.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `/a%20b/c` -> `a b/c`, refusing `..` and anything that leaves the root.
fn decode_path(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for comp in path.trim_start_matches('/').split('/') {
        let bytes = comp.as_bytes();
        let mut dec = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                dec.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                dec.push(bytes[i]);
                i += 1;
            }
        }
        let comp = String::from_utf8(dec).ok()?;
        if comp.is_empty() || comp == "." || comp == ".." {
            return None;
        }
        out.push(comp);
    }
    Some(out)
}

//! One HTTP/1.1 exchange with a UPnP gateway (a GET of its description, a POST of a SOAP call),
//! over hyper's connection-level client: one connection per exchange, a deadline for all of
//! it, and the answer's body capped before it is read whole.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one exchange (connect, send, read the answer) may take.
pub(super) const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// GETs `url` (`body` None) or POSTs the SOAP call; returns the status and the body as text
/// (at most `cap` bytes, else an error).
pub(super) async fn exchange(
    url: &url::Url,
    soap: Option<&protocol::portmap::upnp::SoapCall>,
    cap: usize,
) -> Result<(u16, String), String> {
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange_inner(url, soap, cap))
        .await
        .map_err(|_| format!("{url}: no answer within {EXCHANGE_TIMEOUT:?}"))?
}

async fn exchange_inner(
    url: &url::Url,
    soap: Option<&protocol::portmap::upnp::SoapCall>,
    cap: usize,
) -> Result<(u16, String), String> {
    let addr = url
        .socket_addrs(|| Some(80))
        .ok()
        .and_then(|a| a.into_iter().next())
        .ok_or_else(|| format!("{url}: no address"))?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let conn = tokio::spawn(conn);
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path = format!("{path}?{q}");
    }
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let builder = http::Request::builder()
        .uri(path)
        .header(http::header::HOST, host)
        .header(http::header::CONNECTION, "close");
    let request = match soap {
        Some(call) => builder
            .method(http::Method::POST)
            .header(http::header::CONTENT_TYPE, "text/xml; charset=\"utf-8\"")
            .header("SOAPAction", call.action.as_str())
            .body(Full::new(Bytes::from(call.body.clone()))),
        None => builder
            .method(http::Method::GET)
            .body(Full::new(Bytes::new())),
    }
    .map_err(|e| format!("{url}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), cap)
        .collect()
        .await
        .map_err(|e| format!("{url}: answer unreadable or over {cap} bytes: {e}"))?
        .to_bytes();
    conn.abort();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

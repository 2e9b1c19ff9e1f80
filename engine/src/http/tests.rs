//! The shared client's bounds, against scripted servers on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::*;
use crate::tracker::targets::Targets;

/// What the scripted server does after reading a request's head.
#[derive(Clone)]
enum Script {
    /// Writes these bytes and closes.
    Reply(&'static [u8]),
    /// A chunked `200` whose chunks never end.
    Endless,
    /// Writes these bytes (a head, perhaps some body) and then nothing, holding the connection.
    Stall(&'static [u8]),
}

/// A server answering every connection with `script`; its URL, and the request heads it read.
async fn server(script: Script) -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (heads, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, script.clone(), heads.clone()));
        }
    });
    (url, rx)
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    script: Script,
    heads: mpsc::UnboundedSender<String>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
    match script {
        Script::Reply(bytes) => {
            let _ = stream.write_all(bytes).await;
        }
        Script::Endless => {
            let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            let chunk = [
                format!("{:x}\r\n", 64 * 1024).into_bytes(),
                vec![b'x'; 64 * 1024],
            ];
            let mut chunk = chunk.concat();
            chunk.extend_from_slice(b"\r\n");
            let _ = stream.write_all(head).await;
            while stream.write_all(&chunk).await.is_ok() {}
        }
        Script::Stall(bytes) => {
            let _ = stream.write_all(bytes).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
}

/// The self-signed certificate (for 127.0.0.1) of the TLS tests' servers.
pub(crate) const TEST_CERT: &[u8] = include_bytes!("../tracker/testdata/localhost.cert.der");

/// A TLS acceptor presenting [`TEST_CERT`].
pub(crate) fn test_tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let key = include_bytes!("../tracker/testdata/localhost.key.der").to_vec();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(TEST_CERT.to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn client(timeout: Duration) -> Client {
    Client::new(timeout, Targets::default(), &[], false)
}

#[tokio::test]
async fn a_body_past_the_limit_is_an_error_not_a_growing_buffer() {
    // The server would send forever: only stopping at the limit ends the read.
    let (url, _) = server(Script::Endless).await;
    let started = Instant::now();
    let err = client(Duration::from_secs(20))
        .exchange(get(&url, &[]).unwrap(), 256 * 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit, .. } if limit == 256 * 1024),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // A Content-Length past the limit, the body cut short: the limit still decides.
    let (url, _) = server(Script::Stall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\nabc",
    ))
    .await;
    let c = client(Duration::from_secs(20));
    let (_, response) = c.follow(&url, &[]).await.unwrap();
    let err = c.read(&url, response.into_body(), 1024).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");

    let (url, _) = server(Script::Reply(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
    ))
    .await;
    let (status, body) = c.exchange(get(&url, &[]).unwrap(), 4).await.unwrap();
    assert_eq!((status.as_u16(), &body[..]), (404, &b"nope"[..]));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_every_step() {
    let timeout = Duration::from_millis(300);
    let c = client(timeout);
    let within = |started: Instant| started.elapsed() < Duration::from_secs(5);

    // No head at all.
    let (silent, _) = server(Script::Stall(b"")).await;
    let started = Instant::now();
    let err = c.follow(&silent, &[]).await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { after, .. } if after == timeout),
        "{err}"
    );
    let err = c.exchange(get(&silent, &[]).unwrap(), 1024).await;
    assert!(matches!(err, Err(Error::Timeout { .. })), "{err:?}");
    assert!(within(started));

    // A head, then a body that stops coming: both the whole read and the next frame time out.
    let (stalling, _) = server(Script::Stall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome",
    ))
    .await;
    let started = Instant::now();
    let err = c.exchange(get(&stalling, &[]).unwrap(), 1024).await;
    assert!(matches!(err, Err(Error::Timeout { .. })), "{err:?}");
    let (_, response) = c.follow(&stalling, &[]).await.unwrap();
    let mut body = response.into_body();
    assert_eq!(
        &c.frame(&stalling, &mut body).await.unwrap().unwrap()[..],
        b"some"
    );
    let err = c.frame(&stalling, &mut body).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(within(started));
}

#[tokio::test]
async fn redirects_are_followed_a_few_times_each_hop_checked() {
    let (target, _) = server(Script::Reply(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    ))
    .await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nLocation: {target}/file\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let redirect: &'static [u8] = Box::leak(redirect.into_bytes().into_boxed_slice());
    let (start, _) = server(Script::Reply(redirect)).await;
    let c = client(Duration::from_secs(5));
    let (last, response) = c.follow(&start, &[]).await.unwrap();
    assert_eq!(last, format!("{target}/file"));
    assert_eq!(
        &c.read(&last, response.into_body(), 2).await.unwrap()[..],
        b"ok"
    );

    // A page's torrent may not be sent to a LAN address, directly or by a redirect.
    let web = Client::new(
        Duration::from_secs(5),
        Targets::new(Some("https://example.com/x.torrent"), false),
        &[],
        false,
    );
    let err = web.follow(&start, &[]).await.unwrap_err();
    assert!(
        err.to_string().contains("allow_lan_for_web_torrents"),
        "{err}"
    );

    let (looping, _) = server(Script::Reply(
        b"HTTP/1.1 301 Moved\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ))
    .await;
    let err = c.follow(&looping, &[]).await.unwrap_err();
    assert!(matches!(err, Error::Redirects { .. }), "{err}");
    let (nowhere, _) = server(Script::Reply(
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ))
    .await;
    let err = c.follow(&nowhere, &[]).await.unwrap_err();
    assert!(
        matches!(err, Error::BadRedirect { status: 302, .. }),
        "{err}"
    );
    assert!(matches!(
        get("ftp://h/x", &[]),
        Err(Error::InvalidUrl { .. })
    ));
}

#[tokio::test]
async fn requests_carry_our_user_agent_unless_they_name_one() {
    let (url, mut heads) = server(Script::Reply(
        b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
    ))
    .await;
    let c = client(Duration::from_secs(5));
    let range = [(http::header::RANGE, "bytes=1-2".to_owned())];
    c.follow(&url, &range).await.unwrap();
    let head = heads.recv().await.unwrap().to_ascii_lowercase();
    assert!(head.contains("\r\nuser-agent: swarmlink/"), "{head}");
    assert!(head.contains("\r\nrange: bytes=1-2\r\n"), "{head}");
    let named = [(http::header::USER_AGENT, "btpublish/1".to_owned())];
    c.send(get(&url, &named).unwrap()).await.unwrap();
    let head = heads.recv().await.unwrap().to_ascii_lowercase();
    assert!(head.contains("\r\nuser-agent: btpublish/1\r\n"), "{head}");
    assert!(!head.contains("swarmlink"), "{head}");
}

#[test]
fn the_system_tls_setup_is_built_once_and_shared() {
    let a = tls::config(&[]);
    assert!(Arc::ptr_eq(&a, &tls::config(&[])));
    let own = tls::config(&[TEST_CERT.to_vec()]);
    assert!(
        !Arc::ptr_eq(&a, &own),
        "extra roots make a configuration of their own"
    );
    // Clients hold the shared configuration (with `a` and the cache), not copies of it.
    let clients: Vec<Client> = (0..3).map(|_| client(Duration::from_secs(1))).collect();
    assert!(
        Arc::strong_count(&a) >= 2 + clients.len(),
        "{}",
        Arc::strong_count(&a)
    );
}

#[tokio::test]
async fn https_is_spoken_and_certificates_are_checked_against_the_roots_given() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/x", listener.local_addr().unwrap());
    let (heads, _rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let acceptor = test_tls_acceptor();
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(tls) = acceptor.accept(stream).await else {
                continue; // the client refused our certificate
            };
            let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            tokio::spawn(answer(tls, Script::Reply(ok), heads.clone()));
        }
    });
    let timeout = Duration::from_secs(5);
    let trusting = Client::new(timeout, Targets::default(), &[TEST_CERT.to_vec()], false);
    let (status, body) = trusting.exchange(get(&url, &[]).unwrap(), 2).await.unwrap();
    assert_eq!((status.as_u16(), &body[..]), (200, &b"ok"[..]));
    let err = client(timeout).exchange(get(&url, &[]).unwrap(), 2).await;
    let Err(Error::Io { reason, .. }) = err else {
        panic!("{err:?}")
    };
    assert!(reason.to_lowercase().contains("certificate"), "{reason}");
}

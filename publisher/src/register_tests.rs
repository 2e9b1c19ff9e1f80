use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[test]
fn the_announce_url_replaces_the_trailing_publish() {
    assert_eq!(
        announce_url("http://69.69.69.69:8080/publish/").unwrap(),
        "http://69.69.69.69:8080/announce"
    );
    assert_eq!(
        announce_url("http://h/tracker/publish?x=1").unwrap(),
        "http://h/tracker/announce"
    );
    for bad in [
        "http://h/upload/",
        "ftp://h/publish/",
        "not a url",
        "http:///publish/",
    ] {
        assert!(
            matches!(announce_url(bad), Err(RegisterError::BadLocation(_))),
            "{bad}"
        );
    }
}

/// What the scripted tracker saw.
struct Seen {
    head: String,
    body: Vec<u8>,
}

/// Accepts one connection, reads one request, answers `status` with `body`.
async fn scripted_tracker(
    status: u16,
    body: &'static [u8],
) -> (String, tokio::task::JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let location = format!("http://{}/publish/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        let (head, body_start) = loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "request cut short");
            data.extend_from_slice(&buf[..n]);
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break (String::from_utf8_lossy(&data[..end]).into_owned(), end + 4);
            }
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        while data.len() < body_start + length {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "body cut short");
            data.extend_from_slice(&buf[..n]);
        }
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        socket.write_all(reply.as_bytes()).await.unwrap();
        socket.write_all(body).await.unwrap();
        socket.shutdown().await.unwrap();
        Seen {
            head,
            body: data[body_start..body_start + length].to_vec(),
        }
    });
    (location, task)
}

#[tokio::test]
async fn a_publish_puts_the_torrent_with_port_ip_and_key() {
    let (location, tracker) = scripted_tracker(
        200,
        b"d11:torrent_url22:http://t/x.mpeg/t.torr3:url15:http://t/x.mpeg7:your ip9:127.0.0.1e",
    )
    .await;
    let registrar = Registrar::new(&location, Duration::from_secs(5)).unwrap();
    let publication = registrar
        .publish(b"d4:infod...ee", 5989, Some("69.69.69.69"), Some("s3cret"))
        .await
        .unwrap();
    assert_eq!(publication.url, "http://t/x.mpeg");
    assert_eq!(
        publication.torrent_url.as_deref(),
        Some("http://t/x.mpeg/t.torr")
    );
    assert_eq!(publication.your_ip.as_deref(), Some("127.0.0.1"));
    let seen = tracker.await.unwrap();
    let request_line = seen.head.lines().next().unwrap();
    assert_eq!(
        request_line,
        "PUT /publish/?port=5989&ip=69.69.69.69 HTTP/1.1"
    );
    assert!(
        seen.head
            .to_ascii_lowercase()
            .contains("x-publish-key: s3cret"),
        "{}",
        seen.head
    );
    assert_eq!(seen.body, b"d4:infod...ee");
}

#[tokio::test]
async fn a_refusal_carries_the_trackers_reason_and_is_final() {
    let (location, _tracker) = scripted_tracker(403, b"d14:failure reason12:wrong key :(e").await;
    let registrar = Registrar::new(&location, Duration::from_secs(5)).unwrap();
    let err = registrar
        .publish(b"x", 1, None, Some("bad"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegisterError::Refused { status: 403, reason } if reason == "wrong key :("),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("wrong key"));
}

#[tokio::test]
async fn server_errors_and_a_closed_port_are_retryable() {
    let (location, _tracker) = scripted_tracker(503, b"busy").await;
    let registrar = Registrar::new(&location, Duration::from_secs(5)).unwrap();
    let err = registrar.publish(b"x", 1, None, None).await.unwrap_err();
    assert!(
        matches!(err, RegisterError::Server { status: 503, .. }),
        "{err}"
    );
    assert!(err.is_retryable());

    // A port nobody listens on any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let registrar =
        Registrar::new(&format!("http://{addr}/publish/"), Duration::from_secs(5)).unwrap();
    let err = registrar.publish(b"x", 1, None, None).await.unwrap_err();
    assert!(matches!(err, RegisterError::Unreachable { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(err.to_string().to_lowercase().contains("refused"), "{err}");
}

#[tokio::test]
async fn a_silent_tracker_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let location = format!("http://{}/publish/", listener.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        // Hold the connection open without answering until the test ends.
        std::future::pending::<()>().await;
        drop(socket);
    });
    let registrar = Registrar::new(&location, Duration::from_millis(300)).unwrap();
    let err = registrar.publish(b"x", 1, None, None).await.unwrap_err();
    assert!(matches!(err, RegisterError::Timeout { .. }), "{err}");
}

#[test]
fn replies_that_are_not_publish_answers_are_errors() {
    assert!(matches!(
        decode_reply("u", 200, b"<html>"),
        Err(RegisterError::BadReply { .. })
    ));
    assert!(matches!(
        decode_reply("u", 200, b"d3:foo3:bare"),
        Err(RegisterError::BadReply { .. })
    ));
    assert!(matches!(
        decode_reply("u", 404, b"Not Found"),
        Err(RegisterError::Refused { status: 404, .. })
    ));
}

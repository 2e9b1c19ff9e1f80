//! One client connection (a browser's relay, or a terminal command): read framed requests, run
//! them in order, write replies, and, once subscribed, events and progress.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc};

use super::state::{Core, Outgoing};
use crate::api::{self, ApiError, Command, ErrorCode};
use crate::frame::{self, FrameError, MAX_FROM_BROWSER, MAX_TO_BROWSER};

/// Room for the envelope around a list of statuses in one frame.
const STATUS_BUDGET: usize = MAX_TO_BROWSER - 4096;

/// `stream` is whatever `crate::ipc::Listener` accepted (a Unix socket or a named pipe).
pub async fn serve<S>(core: Arc<Core>, stream: S)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Value>(64);
    // Frames are read by a task of their own: `read_frame` is not cancel-safe (a frame cut off
    // mid-read by the progress branch of the `select!` below would lose its bytes and desync the
    // stream), whereas `mpsc::Receiver::recv` is. The channel holds one frame, so at most two
    // (one queued, one being read) are buffered beyond the one being handled.
    let (frames_tx, mut frames) = mpsc::channel::<Result<Option<Vec<u8>>, FrameError>>(1);
    let read_task = tokio::spawn(async move {
        loop {
            let read = frame::read_frame(&mut reader, MAX_FROM_BROWSER).await;
            let last = !matches!(read, Ok(Some(_)));
            if frames_tx.send(read).await.is_err() || last {
                break;
            }
        }
    });
    let write_task = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            let bytes = encode_for_browser(&message);
            if frame::write_frame(&mut writer, &bytes, MAX_TO_BROWSER)
                .await
                .is_err()
            {
                break;
            }
        }
    });

    let mut events: Option<broadcast::Receiver<Outgoing>> = None;
    loop {
        tokio::select! {
            read = frames.recv() => {
                let payload = match read {
                    Some(Ok(Some(payload))) => payload,
                    None | Some(Ok(None)) => break,
                    Some(Err(FrameError::TooLarge { len, max })) => {
                        // The rest of the stream cannot be framed any more: say why, then close.
                        let error = ApiError::new(
                            ErrorCode::FrameTooLarge,
                            format!("a frame of {len} bytes exceeds the {max}-byte limit; closing"),
                        );
                        let _ = tx.send(api::error_reply(&Value::Null, &error)).await;
                        break;
                    }
                    Some(Err(error)) => {
                        tracing::debug!(%error, "client stream ended");
                        break;
                    }
                };
                let reply = match api::parse_request(&payload) {
                    Err((id, error)) => api::error_reply(&id, &error),
                    Ok((id, Command::Subscribe)) => {
                        if events.is_none() {
                            core.subscribed();
                        }
                        let (rx, snapshot) = core.subscribe_with_snapshot();
                        events = Some(rx);
                        let _ = tx.send(api::ok_reply(&id, json!({"subscribed": true}))).await;
                        send_progress(&tx, snapshot, true).await;
                        continue;
                    }
                    Ok((id, Command::Unsubscribe)) => {
                        if events.take().is_some() {
                            core.unsubscribed().await;
                        }
                        api::ok_reply(&id, json!({"subscribed": false}))
                    }
                    Ok((id, command)) => match core.handle(command).await {
                        Ok(result) => api::ok_reply(&id, result),
                        Err(error) => api::error_reply(&id, &error),
                    },
                };
                if tx.send(reply).await.is_err() {
                    break;
                }
            }
            out = next_outgoing(&mut events) => match out {
                Ok(Outgoing::Event(event)) => {
                    if tx.send((*event).clone()).await.is_err() {
                        break;
                    }
                }
                Ok(Outgoing::Progress(changed)) => send_progress(&tx, (*changed).clone(), false).await,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Missed some changes: a fresh receiver (dropping the stale backlog) and a
                    // full snapshot make the client whole again.
                    let (rx, snapshot) = core.subscribe_with_snapshot();
                    events = Some(rx);
                    send_progress(&tx, snapshot, true).await;
                }
                Err(broadcast::error::RecvError::Closed) => events = None,
            },
        }
    }
    read_task.abort();
    if events.is_some() {
        core.unsubscribed().await;
    }
    drop(tx);
    let _ = write_task.await;
}

async fn next_outgoing(
    events: &mut Option<broadcast::Receiver<Outgoing>>,
) -> Result<Outgoing, broadcast::error::RecvError> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Sends statuses as one or more `progress` events, each frame under the browser's limit.
/// `full` marks a complete snapshot (the client may drop torrents it does not see in it).
async fn send_progress(tx: &mpsc::Sender<Value>, statuses: Vec<Value>, full: bool) {
    let mut groups = frame::split_by_size(statuses, STATUS_BUDGET);
    if groups.is_empty() && full {
        groups.push(Vec::new());
    }
    let parts = groups.len();
    for (part, torrents) in groups.into_iter().enumerate() {
        let event = json!({
            "event": "progress",
            "torrents": torrents,
            "full": full,
            "part": part + 1,
            "parts": parts,
        });
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

/// Serialises a message; one that would exceed the browser's limit becomes an error reply with
/// the same id, so the browser never sees a frame that kills its port.
fn encode_for_browser(message: &Value) -> Vec<u8> {
    let bytes = serde_json::to_vec(message).unwrap_or_default();
    if bytes.len() <= MAX_TO_BROWSER {
        return bytes;
    }
    tracing::error!(
        len = bytes.len(),
        "reply too large for the browser; replaced by an error"
    );
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let error = ApiError::new(ErrorCode::Internal, "the reply was too large to send");
    serde_json::to_vec(&api::error_reply(&id, &error)).unwrap_or_default()
}

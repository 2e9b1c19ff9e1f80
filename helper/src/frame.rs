//! Native-messaging framing: a 4-byte native-endian length, then that many bytes of UTF-8 JSON.
//! The daemon's socket speaks the same framing, so the relay a browser starts only moves bytes.
//!
//! Why not the `webextension-native-messaging` crate (evaluated; it is in the workspace deps): its
//! only public functions are synchronous and bound to the locked process stdin/stdout (its generic
//! reader/writer are crate-private), it has no size caps (a lying length prefix makes it wait for,
//! or allocate, up to 4 GiB), and it decodes straight into the typed message with
//! `serde_json::from_reader` over a `take`: a frame whose JSON fails the typed decode leaves the
//! rest of that frame unread, so the next read starts mid-frame and the stream is desynchronised.
//! Here a frame is read whole (after checking its length against the cap), and typed decoding
//! happens afterwards on the complete bytes (see `api::parse_request`), so a bad command costs one
//! error reply and nothing else. The format itself is ten lines, so owning it is cheaper than
//! wrapping around the crate's gaps.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Host to browser: Chromium and Firefox drop the port on a larger message.
pub const MAX_TO_BROWSER: usize = 1024 * 1024;
/// Browser to host: Chromium's limit (Firefox allows 4 GiB, which we refuse to buffer).
pub const MAX_FROM_BROWSER: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: u64, max: usize },
    #[error("stream ended inside a frame ({got} of {want} bytes)")]
    Truncated { got: usize, want: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Encodes one frame, refusing payloads over `max`.
pub fn encode(payload: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    let len = checked_len(payload.len() as u64, max)?;
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Splits one frame off the front of `buf`: `Ok(None)` when more bytes are needed, else the
/// payload and how many bytes of `buf` it used. The length is checked before anything waits for
/// the payload, so a lying prefix is refused at once.
#[cfg_attr(not(test), allow(dead_code))] // the pure form of `read_frame`, kept for tests and fuzzing
pub fn decode(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(prefix);
    let len = checked_len(u64::from(u32::from_ne_bytes(len_bytes)), max)? as usize;
    match buf.get(4..4 + len) {
        Some(payload) => Ok(Some((payload, 4 + len))),
        None => Ok(None),
    }
}

fn checked_len(len: u64, max: usize) -> Result<u32, FrameError> {
    if len > max as u64 {
        return Err(FrameError::TooLarge { len, max });
    }
    u32::try_from(len).map_err(|_| FrameError::TooLarge { len, max })
}

/// Reads one frame. `Ok(None)` is a clean end of stream (EOF before a length prefix); EOF inside
/// a frame is `Truncated`.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = reader.read(&mut prefix[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated { got, want: 4 })
            };
        }
        got += n;
    }
    let want = checked_len(u64::from(u32::from_ne_bytes(prefix)), max)? as usize;
    // Grow as bytes arrive instead of trusting the prefix with one big allocation.
    let mut payload = Vec::with_capacity(want.min(64 * 1024));
    let got = (&mut *reader)
        .take(want as u64)
        .read_to_end(&mut payload)
        .await?;
    if got < want {
        return Err(FrameError::Truncated { got, want });
    }
    Ok(Some(payload))
}

/// Writes one frame and flushes it.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    payload: &[u8],
    max: usize,
) -> Result<(), FrameError> {
    let frame = encode(payload, max)?;
    writer.write_all(&frame).await?;
    writer.flush().await?;
    Ok(())
}

/// Splits already-serialised items into groups whose JSON array stays under `budget` bytes. An
/// item larger than the budget on its own is dropped (and logged): one absurd status must never
/// make the browser drop the whole port.
pub fn split_by_size(items: Vec<serde_json::Value>, budget: usize) -> Vec<Vec<serde_json::Value>> {
    let mut groups = Vec::new();
    let mut current = Vec::new();
    let mut size = 2;
    for item in items {
        let len = serde_json::to_vec(&item)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if len.saturating_add(3) > budget {
            tracing::warn!(len, "status too large for one frame; not sent");
            continue;
        }
        if size + len + 1 > budget && !current.is_empty() {
            groups.push(std::mem::take(&mut current));
            size = 2;
        }
        size += len + 1;
        current.push(item);
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn prefix_is_native_endian() {
        let frame = encode(b"{}", MAX_TO_BROWSER).unwrap();
        assert_eq!(&frame[..4], &2u32.to_ne_bytes());
        assert_eq!(&frame[4..], b"{}");
    }

    #[test]
    fn oversized_payload_is_refused_on_both_sides() {
        let big = vec![b' '; MAX_TO_BROWSER + 1];
        assert!(matches!(
            encode(&big, MAX_TO_BROWSER),
            Err(FrameError::TooLarge { .. })
        ));
        let lying = (MAX_FROM_BROWSER as u32 + 1).to_ne_bytes();
        assert!(matches!(
            decode(&lying, MAX_FROM_BROWSER),
            Err(FrameError::TooLarge { .. })
        ));
        let mut r: &[u8] = &lying;
        assert!(matches!(
            block_on(read_frame(&mut r, MAX_FROM_BROWSER)),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn eof_before_a_frame_is_clean_and_inside_one_is_truncation() {
        let mut empty: &[u8] = &[];
        assert!(block_on(read_frame(&mut empty, 100)).unwrap().is_none());
        let mut half_prefix: &[u8] = &[5, 0];
        assert!(matches!(
            block_on(read_frame(&mut half_prefix, 100)),
            Err(FrameError::Truncated { got: 2, want: 4 })
        ));
        let mut lying = 10u32.to_ne_bytes().to_vec();
        lying.extend_from_slice(b"{}");
        let mut r: &[u8] = &lying;
        assert!(matches!(
            block_on(read_frame(&mut r, 100)),
            Err(FrameError::Truncated { got: 2, want: 10 })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8)) {
            let mut stream = Vec::new();
            for p in &payloads {
                stream.extend(encode(p, 1000).unwrap());
            }
            // Pure decoder, frame by frame.
            let mut rest = &stream[..];
            for p in &payloads {
                let (got, used) = decode(rest, 1000).unwrap().unwrap();
                prop_assert_eq!(got, &p[..]);
                rest = &rest[used..];
            }
            prop_assert!(rest.is_empty());
            // Async reader over the same bytes.
            let mut r = &stream[..];
            let read = block_on(async {
                let mut out = Vec::new();
                while let Some(f) = read_frame(&mut r, 1000).await.unwrap() {
                    out.push(f);
                }
                out
            });
            prop_assert_eq!(read, payloads);
        }

        #[test]
        fn every_split_point_is_partial_until_complete(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            let frame = encode(&payload, 1000).unwrap();
            for cut in 0..frame.len() {
                prop_assert!(decode(&frame[..cut], 1000).unwrap().is_none());
            }
            prop_assert!(decode(&frame, 1000).unwrap().is_some());
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes, 16);
            let mut r = &bytes[..];
            block_on(async {
                while let Ok(Some(_)) = read_frame(&mut r, 16).await {}
            });
        }

        #[test]
        fn lying_prefix_never_yields_a_frame(claimed in 1u32..5000, actual in 0usize..100) {
            let mut stream = claimed.to_ne_bytes().to_vec();
            stream.extend(std::iter::repeat_n(b'x', actual.min(claimed as usize - 1)));
            let mut r = &stream[..];
            let result = block_on(read_frame(&mut r, 1000));
            let refused = matches!(result, Err(FrameError::TooLarge { .. }) | Err(FrameError::Truncated { .. }));
            prop_assert!(refused);
        }
    }

    #[test]
    fn split_keeps_every_group_under_budget() {
        let items: Vec<serde_json::Value> = (0..1000)
            .map(|i| serde_json::json!({"name": "x".repeat(i % 50), "i": i}))
            .collect();
        let groups = split_by_size(items, 2000);
        assert!(groups.len() > 1);
        let total: usize = groups.iter().map(Vec::len).sum();
        assert_eq!(total, 1000);
        for g in &groups {
            assert!(serde_json::to_vec(g).unwrap().len() <= 2000);
        }
        assert!(split_by_size(vec![serde_json::json!("y".repeat(5000))], 2000).is_empty());
    }
}

//! Fetching a `.torrent` by URL (http or https, a few redirects, bounded size and time), for the
//! daemon's `add` with a `url` and for `bthelper download URL`. The extension normally fetches with
//! the user's cookies and sends the bytes; this path serves the terminal and links the extension
//! cannot fetch.

use std::time::Duration;

use anyhow::bail;
use engine::http::Client;

/// For the answer's head (per redirect hop), and again for the body.
const TIMEOUT: Duration = Duration::from_secs(30);

pub async fn fetch_torrent(url: &str) -> anyhow::Result<Vec<u8>> {
    // No connection reuse: a fetch is a one-off, and a server that closes after a redirect
    // (without saying so) would otherwise fail the follow-up request on a dead pooled socket.
    let client = Client::new(TIMEOUT, Default::default(), &[], false);
    let (url, response) = client.follow(url, &[]).await?;
    let status = response.status();
    if !status.is_success() {
        bail!("server answered {status}");
    }
    let limit = protocol::metainfo::MAX_METAINFO_SIZE;
    Ok(client
        .read(&url, response.into_body(), limit)
        .await?
        .to_vec())
}

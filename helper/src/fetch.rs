//! Fetching a `.torrent` by URL (http or https, a few redirects, bounded size and time), for the
//! daemon's `add` with a `url` and for `bthelper download URL`. The extension normally fetches with
//! the user's cookies and sends the bytes; this path serves the terminal and links the extension
//! cannot fetch.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const MAX_REDIRECTS: usize = 5;
const TIMEOUT: Duration = Duration::from_secs(30);

pub async fn fetch_torrent(url: &str) -> anyhow::Result<Vec<u8>> {
    let mut current = url::Url::parse(url).context("not a URL")?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls_config()).clone())
        .https_or_http()
        .enable_http1()
        .build();
    // No connection reuse: a fetch is a one-off, and a server that closes after a redirect
    // (without saying so) would otherwise fail the follow-up request on a dead pooled socket.
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(current.scheme(), "http" | "https") {
            bail!(
                "only http and https URLs can be fetched, not {}",
                current.scheme()
            );
        }
        let uri: http::Uri = current.as_str().parse().context("not a valid URI")?;
        let response = tokio::time::timeout(TIMEOUT, client.get(uri))
            .await
            .context("timed out")??;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .context("redirect without a Location")?;
            current = current.join(location).context("bad redirect Location")?;
            continue;
        }
        if !status.is_success() {
            bail!("server answered {status}");
        }
        let body = Limited::new(response.into_body(), protocol::metainfo::MAX_METAINFO_SIZE);
        let bytes = tokio::time::timeout(TIMEOUT, body.collect())
            .await
            .context("timed out reading the body")?
            .map_err(|e| anyhow::anyhow!("reading the body: {e}"))?
            .to_bytes();
        return Ok(bytes.to_vec());
    }
    bail!("more than {MAX_REDIRECTS} redirects")
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                // The ring provider supports the default TLS versions: this cannot fail.
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

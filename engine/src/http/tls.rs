//! TLS for `https://`: rustls on the ring provider, trusting the system's roots (read once per
//! process from the OS store) plus any extra roots a client names (a private tracker's own CA;
//! tests use a self-signed one).

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The client TLS configuration trusting `extra_roots` (DER) besides the system's: built once
/// and shared by every client when there are none.
pub(super) fn config(extra_roots: &[Vec<u8>]) -> Arc<ClientConfig> {
    static SYSTEM: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if extra_roots.is_empty() {
        return SYSTEM.get_or_init(|| build(&[])).clone();
    }
    build(extra_roots)
}

fn build(extra_roots: &[Vec<u8>]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "skipping an unreadable system root certificate");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system root certificates for https");
    let extra = extra_roots
        .iter()
        .map(|der| CertificateDer::from(der.clone()));
    let (_, bad) = roots.add_parsable_certificates(extra);
    if bad > 0 {
        tracing::warn!(
            bad,
            "extra root certificates that are not valid DER were ignored"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // The ring provider supports TLS 1.2 and 1.3, the safe defaults: this cannot fail.
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

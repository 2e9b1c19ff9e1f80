//! The LAN rule (see `protocol::lan`) applied where we connect: a filter every tracker, web seed
//! and PEX address of a torrent passes before it is contacted. Names are resolved first and
//! checked by address (a public name may resolve to 192.168.x.x), by a DNS resolver for hyper's
//! connector that drops the addresses the torrent may not reach; IP literals, which hyper never
//! resolves, are checked by [`Targets::check_url`] before each request and redirect hop.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;
use protocol::lan::{may_contact, Origin};

/// Which addresses one torrent may contact. `Default`: all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Targets {
    pub origin: Origin,
    /// The user's `allow_lan_for_web_torrents`.
    pub allow_lan: bool,
}

impl Targets {
    pub fn new(source_url: Option<&str>, allow_lan: bool) -> Self {
        Targets {
            origin: Origin::of(source_url),
            allow_lan,
        }
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        may_contact(self.origin, self.allow_lan, ip)
    }

    /// Whether a source contacted under `self` reaches everything it would under `other`: a
    /// source known under a stricter rule is started again when an add allows it more.
    pub fn covers(&self, other: &Targets) -> bool {
        let unrestricted = |t: &Targets| t.origin == Origin::Local || t.allow_lan;
        unrestricted(self) || !unrestricted(other)
    }

    /// Refuses a URL whose host is an IP literal this torrent may not contact (names are
    /// checked after resolving, by [`TargetResolver`]).
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let Ok(parsed) = url::Url::parse(url) else {
            return Ok(()); // the request itself reports a bad URL
        };
        let ip = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        if self.allows(ip) {
            Ok(())
        } else {
            Err(refusal(ip))
        }
    }

    /// Resolves `host:port` to the addresses this torrent may contact (an error if none).
    pub async fn resolve(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let all: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        let allowed: Vec<SocketAddr> = all
            .iter()
            .copied()
            .filter(|a| self.allows(a.ip()))
            .collect();
        match (allowed.is_empty(), all.first()) {
            (true, Some(a)) => Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{host}: {}", refusal(a.ip())),
            )),
            _ => Ok(allowed),
        }
    }
}

fn refusal(ip: IpAddr) -> String {
    format!(
        "{ip} is a local address and this torrent came from a public web page \
         (allow_lan_for_web_torrents allows it)"
    )
}

/// hyper's DNS step with the LAN rule applied to what it returns.
#[derive(Clone, Default)]
pub struct TargetResolver {
    pub targets: Targets,
}

impl tower_service::Service<Name> for TargetResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let targets = self.targets;
        Box::pin(async move {
            // The connector sets the port afterwards.
            Ok(targets.resolve(name.as_str(), 0).await?.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_are_checked_by_what_they_resolve_to() {
        let web = Targets::new(Some("https://example.com/x.torrent"), false);
        let err = web.resolve("localhost", 80).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
        assert!(web.check_url("http://127.0.0.1:1/announce").is_err());
        assert!(web.check_url("http://[::1]:1/announce").is_err());
        assert!(
            web.check_url("http://localhost:1/announce").is_ok(),
            "names: at resolve"
        );
        for t in [
            Targets::default(),
            Targets::new(Some("https://example.com/"), true),
        ] {
            assert!(!t.resolve("localhost", 80).await.unwrap().is_empty());
            assert!(t.check_url("http://127.0.0.1:1/announce").is_ok());
        }
        let terminal = Targets::default();
        assert!(terminal.covers(&web) && web.covers(&web));
        assert!(
            !web.covers(&terminal),
            "a LAN source refused under the page's rule"
        );
    }
}

//! Whether a torrent may make us contact an address in the user's own network (libtorrent's
//! `ssrf_mitigation` is the model). A web page can hand the browser a `.torrent` whose trackers,
//! web seeds or PEX peers point into the LAN (`http://192.168.1.1/admin?...`): the helper would
//! send those requests from inside. So a torrent that came from a public web page contacts only
//! public addresses, unless the user allows it; a torrent from a loopback or LAN page, a local
//! file or the terminal (no source URL) is unrestricted.
//!
//! ```
//! use protocol::lan::{Origin, may_contact};
//! let web = Origin::of(Some("https://example.com/x.torrent"));
//! assert_eq!(web, Origin::PublicWeb);
//! assert!(!may_contact(web, false, "192.168.1.1".parse().unwrap()));
//! assert!(may_contact(web, false, "93.184.216.34".parse().unwrap()));
//! assert!(may_contact(Origin::of(None), false, "127.0.0.1".parse().unwrap()));
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where a torrent came from, as far as the LAN rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// The terminal, a local file, or a page on loopback or the LAN: anything goes.
    #[default]
    Local,
    /// A page on a public host: only public addresses may be contacted.
    PublicWeb,
}

impl Origin {
    /// The origin of a torrent fetched from `source_url` (`None`: not from the web).
    pub fn of(source_url: Option<&str>) -> Origin {
        let Some(url) = source_url else {
            return Origin::Local;
        };
        let Ok(parsed) = url::Url::parse(url) else {
            // Unparsable: treat as the web (the cautious side); the user can allow it.
            return Origin::PublicWeb;
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            // file:, data:, blob:, the extension's own pages: nothing a remote page chose.
            return if parsed.scheme() == "file" {
                Origin::Local
            } else {
                Origin::PublicWeb
            };
        }
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) if is_local(IpAddr::V4(ip)) => Origin::Local,
            Some(url::Host::Ipv6(ip)) if is_local(IpAddr::V6(ip)) => Origin::Local,
            Some(url::Host::Domain(name)) if is_local_name(name) => Origin::Local,
            _ => Origin::PublicWeb,
        }
    }
}

/// Whether a torrent of `origin` may contact `ip` (`allow_lan`: the user's
/// `allow_lan_for_web_torrents` setting).
pub fn may_contact(origin: Origin, allow_lan: bool, ip: IpAddr) -> bool {
    origin == Origin::Local || allow_lan || !is_local(ip)
}

/// Loopback, private, link-local, shared (CGNAT), unspecified, or anything that is not a
/// globally routed unicast address we know of; IPv4-mapped IPv6 is judged as IPv4.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_local_v4(v4),
            None => is_local_v6(v6),
        },
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), RFC 6598
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        // NAT64 of a local IPv4 (64:ff9b::/96) reaches it just the same.
        || (ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
            && is_local_v4(Ipv4Addr::from(
                (u32::from(ip.segments()[6]) << 16) | u32::from(ip.segments()[7]),
            )))
}

/// Host names that only mean something inside a LAN: `localhost`, single labels (`nas`), and
/// the special-use local suffixes.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    const SUFFIXES: [&str; 5] = [".localhost", ".local", ".lan", ".home.arpa", ".internal"];
    name == "localhost" || !name.contains('.') || SUFFIXES.iter().any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_public_addresses() {
        let local = [
            "127.0.0.1",
            "127.4.5.6",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fc12::1",
            "fe80::1",
            "fec0::1",
            "::ffff:192.168.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
        ];
        for a in local {
            assert!(is_local(a.parse().unwrap()), "{a} is local");
        }
        let public = [
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ];
        for a in public {
            assert!(!is_local(a.parse().unwrap()), "{a} is public");
        }
    }

    #[test]
    fn origins() {
        let table = [
            (None, Origin::Local),
            (Some("file:///home/u/x.torrent"), Origin::Local),
            (Some("http://127.0.0.1:8080/x"), Origin::Local),
            (Some("http://[::1]/x"), Origin::Local),
            (Some("http://192.168.1.20/files/x.torrent"), Origin::Local),
            (Some("http://localhost:3000/x"), Origin::Local),
            (Some("http://nas/x.torrent"), Origin::Local),
            (Some("http://printer.local/x"), Origin::Local),
            (Some("https://router.home.arpa/x"), Origin::Local),
            (Some("https://example.com/x.torrent"), Origin::PublicWeb),
            (Some("https://93.184.216.34/x"), Origin::PublicWeb),
            (Some("HTTPS://EXAMPLE.COM/x"), Origin::PublicWeb),
            (Some("https://localhost.example.com/x"), Origin::PublicWeb),
            (
                Some("data:application/x-bittorrent;base64,AA"),
                Origin::PublicWeb,
            ),
            (Some("not a url"), Origin::PublicWeb),
        ];
        for (url, want) in table {
            assert_eq!(Origin::of(url), want, "{url:?}");
        }
    }

    #[test]
    fn the_rule() {
        let lan: IpAddr = "10.1.2.3".parse().unwrap();
        let net: IpAddr = "8.8.8.8".parse().unwrap();
        let table = [
            (Origin::Local, false, lan, true),
            (Origin::Local, false, net, true),
            (Origin::PublicWeb, false, lan, false),
            (Origin::PublicWeb, false, net, true),
            (Origin::PublicWeb, true, lan, true),
        ];
        for (origin, allow, ip, want) in table {
            assert_eq!(
                may_contact(origin, allow, ip),
                want,
                "{origin:?} {allow} {ip}"
            );
        }
    }
}

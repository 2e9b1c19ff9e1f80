//! UPnP Internet Gateway Device: the SSDP search datagram, the gateway's answer, its device
//! description (where the WAN connection service is controlled) and the SOAP calls we make
//! (`GetExternalIPAddress`, `AddPortMapping`, `DeletePortMapping`).
//!
//! The gateway is a stranger on the LAN: whatever it sends is capped in length and scanned, not
//! trusted. Its description and control URLs must name the very address its SSDP answer came
//! from (checked by the caller with `same_host`), so a LAN device cannot point us elsewhere.
//! The XML is not parsed as a tree: we need three elements, and scan for them.

use std::net::IpAddr;

/// Where SSDP searches go (IPv4; miniupnpd and home routers answer there).
pub const SSDP_GROUP: ([u8; 4], u16) = ([239, 255, 255, 250], 1900);
/// The longest SSDP answer we read.
pub const MAX_SSDP_LEN: usize = 2048;
/// The longest device description we read (real ones are a few KiB).
pub const MAX_DESCRIPTION_LEN: usize = 64 * 1024;
/// The longest SOAP answer we read.
pub const MAX_SOAP_LEN: usize = 16 * 1024;
/// What we search for: any IGD answers it.
pub const SEARCH_TARGET: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";

/// The connection services that carry port mappings, best first.
const WAN_SERVICES: [&str; 3] = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];

/// The M-SEARCH datagram.
pub fn encode_search() -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: {SEARCH_TARGET}\r\n\
         MAN: \"ssdp:discover\"\r\nMX: 2\r\n\r\n"
    )
    .into_bytes()
}

/// Why a gateway's answer or description is of no use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpnpError {
    #[error("SSDP answer is not `HTTP/1.1 200 OK` text")]
    NotOk,
    #[error("SSDP answer without a LOCATION")]
    NoLocation,
    #[error("URL {0:?} is not plain http:// on the gateway that answered")]
    ForeignUrl(String),
    #[error("the device offers no WANIPConnection or WANPPPConnection service")]
    NoWanService,
    #[error("SOAP answer without {0}")]
    Missing(&'static str),
    #[error("the gateway refused: UPnP error {code} {description}")]
    Fault { code: u32, description: String },
}

/// The description URL from an SSDP answer (`LOCATION` header).
pub fn decode_search_answer(bytes: &[u8]) -> Result<String, UpnpError> {
    if bytes.len() > MAX_SSDP_LEN {
        return Err(UpnpError::NotOk);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| UpnpError::NotOk)?;
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") && !status.starts_with("HTTP/1.0 200") {
        return Err(UpnpError::NotOk);
    }
    lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or(UpnpError::NoLocation)
}

/// `url` as a `url::Url` if it is `http://` on `host` (the address the SSDP answer came from).
pub fn same_host(url: &str, host: IpAddr) -> Result<url::Url, UpnpError> {
    let foreign = || UpnpError::ForeignUrl(url.chars().take(200).collect());
    let parsed = url::Url::parse(url).map_err(|_| foreign())?;
    let on_host = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip) == host,
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip) == host,
        _ => false,
    };
    if parsed.scheme() != "http" || !on_host || !parsed.username().is_empty() {
        return Err(foreign());
    }
    Ok(parsed)
}

/// The WAN connection service a description offers: its type and control URL (absolute,
/// resolved against `base`, the description's own URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WanService {
    pub service_type: String,
    pub control_url: url::Url,
}

/// Finds the best WAN connection service in a device description.
pub fn decode_description(xml: &str, base: &url::Url) -> Result<WanService, UpnpError> {
    let mut best: Option<(usize, WanService)> = None;
    for block in elements(xml, "service") {
        let (Some(kind), Some(control)) =
            (text_of(block, "serviceType"), text_of(block, "controlURL"))
        else {
            continue;
        };
        let Some(rank) = WAN_SERVICES.iter().position(|s| *s == kind.trim()) else {
            continue;
        };
        let Ok(control_url) = base.join(control.trim()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            let service = WanService {
                service_type: kind.trim().to_string(),
                control_url,
            };
            best = Some((rank, service));
        }
    }
    best.map(|(_, s)| s).ok_or(UpnpError::NoWanService)
}

/// One SOAP action: its body and the `SOAPAction` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapCall {
    pub action: String,
    pub body: String,
}

fn soap(service_type: &str, action: &str, args: &[(&str, String)]) -> SoapCall {
    let mut inner = String::new();
    for (name, value) in args {
        inner.push_str(&format!("<{name}>{}</{name}>", escape(value)));
    }
    SoapCall {
        action: format!("\"{service_type}#{action}\""),
        body: format!(
            "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>\
             <u:{action} xmlns:u=\"{service_type}\">{inner}</u:{action}></s:Body></s:Envelope>\r\n"
        ),
    }
}

pub fn encode_get_external_ip(service_type: &str) -> SoapCall {
    soap(service_type, "GetExternalIPAddress", &[])
}

/// Forward `external` on the gateway to `client:internal` for `lease_secs` (0: until removed).
pub fn encode_add_port_mapping(
    service_type: &str,
    transport: super::Transport,
    external: u16,
    client: IpAddr,
    internal: u16,
    lease_secs: u32,
    description: &str,
) -> SoapCall {
    soap(
        service_type,
        "AddPortMapping",
        &[
            ("NewRemoteHost", String::new()),
            ("NewExternalPort", external.to_string()),
            ("NewProtocol", transport.name().to_string()),
            ("NewInternalPort", internal.to_string()),
            ("NewInternalClient", client.to_string()),
            ("NewEnabled", "1".to_string()),
            ("NewPortMappingDescription", description.to_string()),
            ("NewLeaseDuration", lease_secs.to_string()),
        ],
    )
}

pub fn encode_delete_port_mapping(
    service_type: &str,
    transport: super::Transport,
    external: u16,
) -> SoapCall {
    soap(
        service_type,
        "DeletePortMapping",
        &[
            ("NewRemoteHost", String::new()),
            ("NewExternalPort", external.to_string()),
            ("NewProtocol", transport.name().to_string()),
        ],
    )
}

/// UPnP's error for "this gateway only takes leases of 0 (permanent)".
pub const ONLY_PERMANENT_LEASES: u32 = 725;

/// Checks a SOAP answer: a fault (whatever the HTTP status) becomes `UpnpError::Fault`.
pub fn decode_soap(xml: &str) -> Result<(), UpnpError> {
    if let Some(code) = text_of(xml, "errorCode") {
        return Err(UpnpError::Fault {
            code: code.trim().parse().unwrap_or(0),
            description: text_of(xml, "errorDescription")
                .unwrap_or_default()
                .trim()
                .chars()
                .take(100)
                .collect(),
        });
    }
    if text_of(xml, "Body").is_none() {
        return Err(UpnpError::Missing("a SOAP Body"));
    }
    Ok(())
}

/// The address from a `GetExternalIPAddress` answer.
pub fn decode_external_ip(xml: &str) -> Result<IpAddr, UpnpError> {
    decode_soap(xml)?;
    text_of(xml, "NewExternalIPAddress")
        .and_then(|t| t.trim().parse().ok())
        .ok_or(UpnpError::Missing("NewExternalIPAddress"))
}

/// The contents of each `<name>...</name>` (any namespace prefix, attributes allowed).
fn elements<'a>(xml: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut rest = xml;
    std::iter::from_fn(move || {
        let open_end = find_open(rest, name)?;
        let body = &rest[open_end..];
        let close = find_close(body, name)?;
        rest = &body[close..];
        Some(&body[..close])
    })
}

fn text_of<'a>(xml: &'a str, name: &'a str) -> Option<&'a str> {
    elements(xml, name).next()
}

/// Finds `<name ...>` or `<prefix:name ...>` (not self-closing); returns where the tag ends.
fn find_open(xml: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = xml[from..].find('<').map(|i| i + from) {
        let tag_end = xml[i..].find('>').map(|e| e + i)?;
        let tag = &xml[i + 1..tag_end];
        let tag_name = tag.split(|c: char| c.is_whitespace() || c == '/').next()?;
        let local = tag_name.rsplit(':').next().unwrap_or(tag_name);
        if local == name && !tag.starts_with('/') && !tag.ends_with('/') {
            return Some(tag_end + 1);
        }
        from = tag_end + 1;
    }
    None
}

/// Where `</name>` or `</prefix:name>` starts in `xml`.
fn find_close(xml: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = xml[from..].find("</").map(|i| i + from) {
        let tag_end = xml[i..].find('>').map(|e| e + i)?;
        let tag = xml[i + 2..tag_end].trim();
        if tag.rsplit(':').next() == Some(name) {
            return Some(i);
        }
        from = tag_end + 1;
    }
    None
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portmap::Transport;
    use proptest::prelude::*;

    const DESCRIPTION: &str = r#"<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
<controlURL>/ctl/L3F</controlURL></service></serviceList>
<deviceList><device><serviceList>
<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/ctl/IPConn1</controlURL></service>
<service>
 <serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType>
 <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
 <controlURL>/ctl/IPConn</controlURL>
</service></serviceList></device></deviceList></device></root>"#;

    #[test]
    fn reads_the_location_of_an_ssdp_answer() {
        let answer = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:x\r\nLocation: http://10.77.0.1:43313/rootDesc.xml\r\n\r\n";
        assert_eq!(
            decode_search_answer(answer).unwrap(),
            "http://10.77.0.1:43313/rootDesc.xml"
        );
        assert_eq!(
            decode_search_answer(b"NOTIFY * HTTP/1.1\r\n\r\n"),
            Err(UpnpError::NotOk)
        );
        assert_eq!(
            decode_search_answer(b"HTTP/1.1 200 OK\r\nST: x\r\n\r\n"),
            Err(UpnpError::NoLocation)
        );
        let search = String::from_utf8(encode_search()).unwrap();
        assert!(search.starts_with("M-SEARCH * HTTP/1.1\r\n") && search.ends_with("\r\n\r\n"));
    }

    #[test]
    fn urls_must_stay_on_the_gateway() {
        let gw: IpAddr = "10.77.0.1".parse().unwrap();
        assert!(same_host("http://10.77.0.1:5000/desc.xml", gw).is_ok());
        for bad in [
            "http://10.77.0.2:5000/x",
            "https://10.77.0.1/x",
            "http://router.lan/x",
            "file:///etc/passwd",
            "http://u:p@10.77.0.1/x",
        ] {
            assert!(same_host(bad, gw).is_err(), "{bad}");
        }
    }

    #[test]
    fn picks_the_best_wan_service() {
        let base = url::Url::parse("http://10.77.0.1:43313/rootDesc.xml").unwrap();
        let s = decode_description(DESCRIPTION, &base).unwrap();
        assert_eq!(
            s.service_type,
            "urn:schemas-upnp-org:service:WANIPConnection:2"
        );
        assert_eq!(s.control_url.as_str(), "http://10.77.0.1:43313/ctl/IPConn");
        assert_eq!(
            decode_description("<root><service></service></root>", &base),
            Err(UpnpError::NoWanService)
        );
    }

    #[test]
    fn soap_calls_and_answers() {
        let st = "urn:schemas-upnp-org:service:WANIPConnection:1";
        let call = encode_add_port_mapping(
            st,
            Transport::Tcp,
            6881,
            "10.77.0.2".parse().unwrap(),
            6881,
            3600,
            "Swarmlink <6881>",
        );
        assert_eq!(call.action, format!("\"{st}#AddPortMapping\""));
        assert!(call
            .body
            .contains("<NewInternalClient>10.77.0.2</NewInternalClient>"));
        assert!(call.body.contains("Swarmlink &lt;6881&gt;"));
        let ok = r#"<s:Envelope><s:Body><u:GetExternalIPAddressResponse xmlns:u="x"><NewExternalIPAddress>44.1.2.3</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"#;
        assert_eq!(decode_external_ip(ok), Ok("44.1.2.3".parse().unwrap()));
        let fault = r#"<s:Envelope><s:Body><s:Fault><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>725</errorCode><errorDescription>OnlyPermanentLeasesSupported</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#;
        assert!(matches!(
            decode_soap(fault),
            Err(UpnpError::Fault {
                code: ONLY_PERMANENT_LEASES,
                ..
            })
        ));
        assert!(decode_soap("<html>no</html>").is_err());
    }

    proptest! {
        #[test]
        fn any_text_never_panics(text in ".{0,300}") {
            let base = url::Url::parse("http://10.0.0.1/").unwrap();
            let _ = decode_description(&text, &base);
            let _ = decode_external_ip(&text);
            let _ = decode_search_answer(text.as_bytes());
        }
    }
}

//! How `doctor` tells whether peers can reach the daemon: the router's port mapping and
//! whether incoming connections arrive, from the daemon's `hello`.

use serde_json::Value;

/// The "reachability" lines of `doctor` for a `hello` answer.
pub fn describe(hello: &Value) -> String {
    let map = &hello["port_mapping"];
    let mapping = match map["state"].as_str() {
        Some("mapped") => format!(
            "mapped via {}: peers outside your router reach {}",
            map["method"].as_str().unwrap_or("?"),
            map["external"].as_str().unwrap_or("?")
        ),
        Some("failed") => format!(
            "failed ({})",
            protocol::text::printable(map["error"].as_str().unwrap_or("?"))
        ),
        Some("searching") => "looking for a router (PCP, NAT-PMP, UPnP)".to_string(),
        Some("off") => "off".to_string(),
        _ => "unknown (an older daemon)".to_string(),
    };
    let c = &hello["connectable"];
    let (lan, internet) = (&c["incoming_lan"], &c["incoming_internet"]);
    let connectable = match c["state"].as_str() {
        Some("yes") => format!(
            "yes: {internet} connections from the internet (and {lan} from the LAN) since the daemon started"
        ),
        Some("lan_only") => format!(
            "from the LAN only ({lan} connections): none from the internet yet, which a router without port forwarding explains"
        ),
        Some("not_yet") => {
            "no peer has connected to us yet (normal in the first minutes; if it stays so, the router or a firewall blocks incoming connections)".to_string()
        }
        _ => "unknown (an older daemon)".to_string(),
    };
    let minutes = c["up_secs"].as_u64().unwrap_or(0) / 60;
    let external_port = map["external"]
        .as_str()
        .and_then(|e| e.rsplit(':').next())
        .map(|p| protocol::text::printable(p).into_owned());
    let warning = match c["warning"].as_str() {
        Some("no_mapping") => format!(
            "\n  warning       no peer from the internet has reached us in {minutes} minutes, and the router forwards no port to us: turn on UPnP or NAT-PMP/PCP in the router, or forward the peer port (TCP and UDP) to this computer by hand"
        ),
        Some("firewall") => format!(
            "\n  warning       the router forwards port {} to us, yet no peer from the internet has reached us in {minutes} minutes: a firewall on this computer, or a second NAT (the provider's), likely blocks incoming connections",
            external_port.unwrap_or_else(|| "?".to_string())
        ),
        _ => String::new(),
    };
    let listening = hello["listen_addrs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".to_string());
    format!(
        "reachability:\n  listening     {listening}\n  port mapping  {mapping}\n  connectable   {connectable}{warning}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describes_each_state() {
        let mapped = json!({"port_mapping": {"state": "mapped", "method": "upnp", "external": "44.1.2.3:6881", "error": null}});
        assert!(describe(&mapped)
            .contains("mapped via upnp: peers outside your router reach 44.1.2.3:6881"));
        let failed = json!({"port_mapping": {"state": "failed", "error": "NAT-PMP: no\u{1b}[2J"}});
        let text = describe(&failed);
        assert!(
            text.contains("failed (NAT-PMP: no") && !text.contains('\u{1b}'),
            "{text}"
        );
        assert!(describe(&json!({})).contains("older daemon"));
        let reached = json!({"listen_addrs": ["0.0.0.0:6881", "[::]:6881"],
            "connectable": {"state": "yes", "incoming_lan": 2, "incoming_internet": 5}});
        let text = describe(&reached);
        assert!(
            text.contains("listening     0.0.0.0:6881, [::]:6881"),
            "{text}"
        );
        assert!(
            text.contains("yes: 5 connections from the internet (and 2 from the LAN)"),
            "{text}"
        );
        let lan = json!({"connectable": {"state": "lan_only", "incoming_lan": 1, "incoming_internet": 0}});
        assert!(describe(&lan).contains("from the LAN only (1 connections)"));
        assert!(!describe(&lan).contains("warning"));
        let unmapped = json!({"port_mapping": {"state": "failed", "error": "x"},
            "connectable": {"state": "not_yet", "incoming_lan": 0, "incoming_internet": 0,
                "up_secs": 660, "warning": "no_mapping"}});
        let text = describe(&unmapped);
        assert!(
            text.contains("warning       no peer from the internet has reached us in 11 minutes, and the router forwards no port"),
            "{text}"
        );
        let walled = json!({"port_mapping": {"state": "mapped", "method": "pcp", "external": "44.1.2.3:6881"},
            "connectable": {"state": "not_yet", "up_secs": 600, "warning": "firewall"}});
        let text = describe(&walled);
        assert!(text.contains("mapped via pcp"), "{text}");
        assert!(
            text.contains("the router forwards port 6881 to us, yet no peer from the internet has reached us in 10 minutes: a firewall"),
            "{text}"
        );
    }
}

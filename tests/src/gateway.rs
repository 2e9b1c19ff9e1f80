//! A home router of the test's own, with Debian's `miniupnpd` on it (UPnP IGD and NAT-PMP),
//! for the port-mapping tests. Three network namespaces:
//!
//! ```text
//!  the test thread's own         gateway namespace                 "internet" namespace
//!  lan0 10.77.0.2  <-veth->  gw0 10.77.0.1 | wan0 44.1.2.3  <-veth->  inet0 44.1.2.4
//!  default via 10.77.0.1         miniupnpd, nftables NAT, forwarding
//! ```
//!
//! The test thread calls [`crate::netns::own_network`] first, so `lan0` lands in a namespace
//! that dies with the thread; the other two are named, and removed (and miniupnpd stopped, by
//! its PID) when the [`Gateway`] is dropped. Nothing touches the host's network.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const LAN_IP: &str = "10.77.0.2";
pub const GATEWAY_IP: &str = "10.77.0.1";
pub const EXTERNAL_IP: &str = "44.1.2.3";

/// The tables and chains miniupnpd's nftables backend fills (its defaults: one `inet filter`
/// table). Debian's package ships an init script for this that needs a file it lacks.
const RULESET: &str = "flush ruleset
table inet filter {
  chain miniupnpd { }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
}
";

pub struct Gateway {
    gw: String,
    inet: String,
    dir: PathBuf,
    miniupnpd: Option<Child>,
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

impl Gateway {
    /// Builds the three networks and starts miniupnpd with NAT-PMP on or off (UPnP is always
    /// on). The calling thread must already be in a namespace of its own.
    pub fn start(natpmp: bool) -> Result<Gateway, String> {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(format!("swl-gateway-{tag}"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut gateway = Gateway {
            gw: format!("swl-gw-{tag}"),
            inet: format!("swl-inet-{tag}"),
            dir,
            miniupnpd: None,
        };
        gateway.build(natpmp)?;
        Ok(gateway)
    }

    fn build(&mut self, natpmp: bool) -> Result<(), String> {
        let (gw, inet) = (self.gw.as_str(), self.inet.as_str());
        run(&["ip", "netns", "add", gw])?;
        run(&["ip", "netns", "add", inet])?;
        run(&[
            "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "gw0", "netns", gw,
        ])?;
        run(&[
            "ip", "-n", gw, "link", "add", "wan0", "type", "veth", "peer", "name", "inet0",
            "netns", inet,
        ])?;
        run(&["ip", "addr", "add", &format!("{LAN_IP}/24"), "dev", "lan0"])?;
        run(&["ip", "link", "set", "lan0", "up"])?;
        run(&["ip", "route", "add", "default", "via", GATEWAY_IP])?;
        for (ns, dev, ip) in [
            (gw, "gw0", GATEWAY_IP),
            (gw, "wan0", EXTERNAL_IP),
            (inet, "inet0", "44.1.2.4"),
        ] {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                dev,
            ])?;
            run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        run(&[
            "ip",
            "netns",
            "exec",
            gw,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ])?;
        let rules = self.dir.join("ruleset.nft");
        std::fs::write(&rules, RULESET).map_err(|e| e.to_string())?;
        run(&[
            "ip",
            "netns",
            "exec",
            gw,
            "nft",
            "-f",
            rules.to_str().unwrap_or_default(),
        ])?;
        let conf = self.dir.join("miniupnpd.conf");
        std::fs::write(
            &conf,
            format!(
                "ext_ifname=wan0\nlistening_ip=gw0\nport=0\nenable_natpmp={}\nenable_upnp=yes\n\
                 secure_mode=yes\nsystem_uptime=yes\nuuid=3d3cec3a-8cf0-11e0-98ee-001a6b5b8f3d\n\
                 allow 1024-65535 10.77.0.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n",
                if natpmp { "yes" } else { "no" }
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = self.dir.join("miniupnpd.log");
        let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = Command::new("ip")
            .args(["netns", "exec", gw, "miniupnpd", "-d", "-f"])
            .arg(&conf)
            .arg("-P")
            .arg(self.dir.join("miniupnpd.pid"))
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("miniupnpd: {e}"))?;
        self.miniupnpd = Some(child);
        // Ready once it says it listens for what we asked.
        let ready = if natpmp {
            "Listening for NAT-PMP"
        } else {
            "HTTP listening"
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains(ready) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("miniupnpd did not start: {text}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The gateway's firewall and NAT rules as `nft list ruleset` prints them.
    pub fn ruleset(&self) -> String {
        Command::new("ip")
            .args(["netns", "exec", &self.gw, "nft", "list", "ruleset"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The forwarding rules (TCP and UDP) miniupnpd holds for our `port`.
    pub fn forwards_to(&self, port: u16) -> usize {
        self.ruleset()
            .matches(&format!("dnat ip to {LAN_IP}:{port}"))
            .count()
    }

    /// Opens a TCP connection from the "internet" to the gateway's external address, holds it
    /// a moment and closes it; `Err` if it cannot connect.
    pub fn connect_from_outside(&self, port: u16) -> Result<(), String> {
        let script = format!(
            "import socket,time\ns=socket.create_connection(('{EXTERNAL_IP}',{port}),5)\ntime.sleep(0.3)\ns.close()"
        );
        run(&[
            "ip",
            "netns",
            "exec",
            &self.inet,
            "/usr/bin/python3",
            "-c",
            &script,
        ])
    }

    /// miniupnpd's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("miniupnpd.log")).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.miniupnpd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = run(&["ip", "netns", "del", &self.gw]);
        let _ = run(&["ip", "netns", "del", &self.inet]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! Port mapping against a real router: Debian's miniupnpd (UPnP IGD, PCP and NAT-PMP, nftables
//! backend) in a gateway namespace of the test's own (`swarmlink_tests::gateway`). The engine
//! maps its peer port (TCP and UDP), the mapping carries a connection from the "internet" side
//! to our listener (which then counts us as connectable), and shutdown removes it. Needs root (network namespaces); without it each
//! test says SKIPPED and returns.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use engine::{ConnectableState, PortMapState, PortMapStatus, Session, SessionConfig};
use swarmlink_tests::gateway::{Gateway, EXTERNAL_IP};

fn runtime() -> tokio::runtime::Runtime {
    // Current-thread: every socket the engine opens is in this thread's namespace.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn own_network_or_skip(test: &str) -> bool {
    match swarmlink_tests::netns::own_network() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            false
        }
    }
}

fn mapping_config() -> SessionConfig {
    SessionConfig {
        listen: SocketAddr::from(([0, 0, 0, 0], 0)),
        download_dir: std::env::temp_dir(),
        port_mapping: true,
        ..SessionConfig::default()
    }
}

async fn wait_for_state(session: &Session, state: PortMapState, within: Duration) -> PortMapStatus {
    let deadline = Instant::now() + within;
    loop {
        let status = session.port_mapping();
        if status.state == state || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Maps through `natpmp` on or off at the gateway, checks the rules, a connection from outside,
/// and the removal at shutdown; returns the method the engine used.
fn map_through_gateway(test: &str, natpmp: bool) -> Option<&'static str> {
    if !own_network_or_skip(test) {
        return None;
    }
    let gateway = Gateway::start(natpmp).expect("gateway namespace with miniupnpd");
    runtime().block_on(async {
        let session = Session::start(mapping_config()).await.unwrap();
        let port = session.local_addr().port();
        let status = wait_for_state(&session, PortMapState::Mapped, Duration::from_secs(15)).await;
        assert_eq!(
            status.state,
            PortMapState::Mapped,
            "{status:?}\n{}",
            gateway.log()
        );
        let external: SocketAddr = format!("{EXTERNAL_IP}:{port}").parse().unwrap();
        assert_eq!(status.external, Some(external));
        assert_eq!(
            gateway.forwards_to(port),
            2,
            "TCP and UDP\n{}",
            gateway.ruleset()
        );
        // The mapping works: a peer on the far side of the router reaches our listener.
        gateway
            .connect_from_outside(port)
            .expect("connecting to the external address from outside");
        // ...and counts as one from the internet: we are connectable.
        let deadline = Instant::now() + Duration::from_secs(5);
        while session.connectable().state != ConnectableState::Yes && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let connectable = session.connectable();
        assert_eq!(connectable.state, ConnectableState::Yes, "{connectable:?}");
        assert_eq!(connectable.incoming_internet, 1);
        let started = Instant::now();
        session.shutdown().await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "shutdown took {:?}",
            started.elapsed()
        );
        assert_eq!(
            gateway.forwards_to(port),
            0,
            "removed at shutdown\n{}",
            gateway.ruleset()
        );
        status.method
    })
}

/// miniupnpd speaks PCP and NAT-PMP on one port (one switch for both): PCP is asked first.
/// (NAT-PMP, the fall-back, is tested against a scripted NAT-PMP-only gateway in the engine's
/// `portmap::tests`.)
#[test]
fn pcp_maps_the_peer_port_and_removes_it_at_shutdown() {
    if let Some(method) = map_through_gateway("pcp_maps_the_peer_port", true) {
        assert_eq!(method, "pcp");
    }
}

#[test]
fn upnp_maps_when_the_gateway_has_no_natpmp() {
    if let Some(method) = map_through_gateway("upnp_maps_when_the_gateway_has_no_natpmp", false) {
        assert_eq!(method, "upnp");
    }
}

#[test]
fn without_a_gateway_mapping_fails_quickly_and_says_why() {
    if !own_network_or_skip("without_a_gateway_mapping_fails_quickly") {
        return;
    }
    runtime().block_on(async {
        let session = Session::start(mapping_config()).await.unwrap();
        let status = wait_for_state(&session, PortMapState::Failed, Duration::from_secs(10)).await;
        assert_eq!(status.state, PortMapState::Failed, "{status:?}");
        let error = status.error.unwrap_or_default();
        assert!(
            error.contains("NAT-PMP") && error.contains("UPnP"),
            "{error}"
        );
        let started = Instant::now();
        session.shutdown().await;
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn a_loopback_listener_maps_nothing() {
    runtime().block_on(async {
        let session = Session::start(SessionConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..mapping_config()
        })
        .await
        .unwrap();
        assert_eq!(session.port_mapping().state, PortMapState::Off);
        session.shutdown().await;
    });
}

//! The PCP/NAT-PMP client against scripted gateways on loopback: the fall-back from PCP to
//! NAT-PMP, and PCP's nonces across renewal and removal. (The real router, miniupnpd, is in
//! `tests/tests/portmap.rs`.)

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

use super::{map_at, renew, Gateway};

/// A gateway on 127.0.0.1 that answers each datagram with `respond` (or not, for `None`) and
/// keeps the requests it saw.
async fn scripted(
    respond: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static,
) -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            log.lock().unwrap().push(buf[..n].to_vec());
            if let Some(answer) = respond(&buf[..n]) {
                let _ = socket.send_to(&answer, from).await;
            }
        }
    });
    (addr, seen)
}

/// RFC 6886's gateway: external address 44.1.2.3, every mapping granted as asked, and
/// "unsupported version" to anything not version 0.
fn natpmp_only(req: &[u8]) -> Option<Vec<u8>> {
    let epoch = [0, 0, 0, 9];
    if req[0] != 0 {
        return Some([&[0, 128, 0, 1][..], &epoch].concat());
    }
    match req[1] {
        0 => Some([&[0, 128, 0, 0][..], &epoch, &[44, 1, 2, 3]].concat()),
        op @ (1 | 2) => Some([&[0, 128 + op, 0, 0][..], &epoch, &req[4..12]].concat()),
        _ => None,
    }
}

/// A PCP gateway: grants every MAP as asked, from external address 44.1.2.3.
fn pcp_gateway(req: &[u8]) -> Option<Vec<u8>> {
    let mut a = req.to_vec();
    a[1] |= 0x80;
    a[8..24].fill(0);
    a[44..60].copy_from_slice(
        &std::net::Ipv4Addr::new(44, 1, 2, 3)
            .to_ipv6_mapped()
            .octets(),
    );
    Some(a)
}

#[tokio::test]
async fn falls_back_to_natpmp_when_the_gateway_answers_pcp_as_natpmp_only() {
    let (server, seen) = scripted(natpmp_only).await;
    let mapped = map_at(server, 6881).await.unwrap();
    assert!(matches!(mapped.gateway, Gateway::NatPmp(_)));
    assert_eq!(mapped.external, "44.1.2.3:6881".parse().unwrap());
    assert_eq!(mapped.status().method, Some("natpmp"));
    let seen = seen.lock().unwrap();
    // One PCP request, then NAT-PMP's external address and two mappings.
    let versions: Vec<u8> = seen.iter().map(|r| r[0]).collect();
    assert_eq!(versions, [2, 0, 0, 0]);
}

#[tokio::test]
async fn pcp_keeps_each_mappings_nonce_for_renewal_and_removal() {
    let (server, seen) = scripted(pcp_gateway).await;
    let mut mapped = map_at(server, 6881).await.unwrap();
    assert_eq!(mapped.status().method, Some("pcp"));
    assert_eq!(mapped.external, "44.1.2.3:6881".parse().unwrap());
    assert_eq!(mapped.lease_secs, 7200);
    renew(&mut mapped.gateway, 6881).await.unwrap();
    super::remove(&mut mapped, 6881).await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 6, "TCP and UDP, three times");
    let nonce = |i: usize| seen[i][24..36].to_vec();
    let protocol = |i: usize| seen[i][36];
    let lifetime = |i: usize| u32::from_be_bytes(seen[i][4..8].try_into().unwrap());
    for i in 0..6 {
        assert_eq!(protocol(i), [6, 17][i % 2]);
        assert_eq!(
            nonce(i),
            nonce(i % 2),
            "request {i} reuses its mapping's nonce"
        );
        assert_eq!(lifetime(i), if i < 4 { 7200 } else { 0 });
        // The client field is our address as the gateway sees it.
        assert_eq!(
            &seen[i][8..24],
            &std::net::Ipv4Addr::LOCALHOST.to_ipv6_mapped().octets()
        );
    }
    assert_ne!(nonce(0), nonce(1), "each mapping has its own nonce");
}

#[tokio::test]
async fn a_refusal_says_why_and_silence_skips_natpmp() {
    // PCP refused (NOT_AUTHORIZED), NAT-PMP refused too: both reasons.
    let (server, _) = scripted(|req: &[u8]| {
        if req[0] == 2 {
            let mut a = pcp_gateway(req)?;
            a[3] = 2;
            Some(a)
        } else {
            Some(vec![0, 128 + req[1], 0, 2, 0, 0, 0, 9])
        }
    })
    .await;
    let error = map_at(server, 6881).await.err().unwrap();
    assert!(
        error.contains("PCP") && error.contains("not authorized") && error.contains("NAT-PMP"),
        "{error}"
    );
    // Nobody there: one round of PCP tries, no NAT-PMP after it.
    let (server, seen) = scripted(|_: &[u8]| None).await;
    let error = map_at(server, 6881).await.err().unwrap();
    assert!(error.contains("does not answer"), "{error}");
    assert!(seen.lock().unwrap().iter().all(|r| r[0] == 2));
}

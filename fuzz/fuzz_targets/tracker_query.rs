#![no_main]
//! Arbitrary bytes through the tracker wire types (owned by the tracker engineer): the announce and
//! scrape query parsers a tracker runs on every request, the UDP (BEP 15) packet decoders, and the
//! bencoded responses a client decodes. Never a panic; a parsed announce survives `to_query`.

use protocol::tracker::{udp, AnnounceRequest, AnnounceResponse, ScrapeRequest, ScrapeResponse};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(request) = AnnounceRequest::parse_query(data) {
        let again = AnnounceRequest::parse_query(request.to_query().as_bytes());
        assert_eq!(again.as_ref(), Ok(&request), "announce query round trip");
    }
    let _ = ScrapeRequest::parse_query(data);
    let _ = AnnounceResponse::decode(data);
    let _ = ScrapeResponse::decode(data);
    let _ = udp::Request::decode(data);
    let _ = udp::Response::decode(data, false);
    let _ = udp::Response::decode(data, true);
});

//! Tracker wire types: what an HTTP tracker reads from a query string and writes back in bencode
//! (BEP 3, 7, 23, 48), and the UDP tracker's packets (BEP 15).
//!
//! Both sides use these: the tracker parses [`AnnounceRequest::parse_query`] on its hot path and
//! encodes [`AnnounceResponse`]; a client builds [`AnnounceRequest::to_query`] and decodes the reply.
//! Parsing is strict (a malformed request is an error naming the field) and never panics.

mod announce;
mod query;
mod response;
mod scrape;
pub mod udp;

pub use announce::{AnnounceRequest, Event};
pub use query::{percent_encode_bytes, QueryError, MAX_QUERY_LEN};
pub use response::{AnnounceResponse, PeerFormat, ResponseDecodeError, ResponsePeer};
pub use scrape::{ScrapeRequest, ScrapeResponse, ScrapeStats, MAX_SCRAPE_HASHES};

/// The body of a cargo-fuzz target for every tracker decoder: nothing panics, and whatever
/// decodes re-encodes to something that decodes to the same value.
pub fn fuzz_one(data: &[u8]) {
    if let Ok(r) = AnnounceRequest::parse_query(data) {
        let again = AnnounceRequest::parse_query(r.to_query().as_bytes());
        assert_eq!(
            again.as_ref(),
            Ok(&r),
            "announce query is not a fixed point"
        );
    }
    if let Ok(r) = ScrapeRequest::parse_query(data) {
        assert_eq!(ScrapeRequest::parse_query(r.to_query().as_bytes()), Ok(r));
    }
    if let Ok(r) = ScrapeResponse::decode(data) {
        assert_eq!(ScrapeResponse::decode(&r.to_bytes()), Ok(r));
    }
    if let Ok(r) = AnnounceResponse::decode(data) {
        // Dictionary lists keep order and every field; compact ones regroup v4 before v6.
        let format = PeerFormat::Dict { with_peer_id: true };
        let again = AnnounceResponse::decode(&r.to_bytes(format));
        assert_eq!(
            again.as_ref(),
            Ok(&r),
            "announce reply is not a fixed point"
        );
    }
    if let Ok(r) = udp::Request::decode(data) {
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(udp::Request::decode(&out), Ok(r));
    }
    for v6 in [false, true] {
        if let Ok(r) = udp::Response::decode(data, v6) {
            let mut out = Vec::new();
            r.encode(&mut out);
            assert_eq!(udp::Response::decode(&out, v6), Ok(r));
        }
    }
}

#[cfg(test)]
mod fuzz_tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fuzz_one_holds_on_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            super::fuzz_one(&data);
        }

        #[test]
        fn fuzz_one_holds_on_query_like_text(data in "[a-z_=&%0-9A-F]{0,300}") {
            super::fuzz_one(data.as_bytes());
        }
    }

    #[test]
    fn fuzz_one_holds_on_real_inputs() {
        super::fuzz_one(b"info_hash=%C3..L%21%5B%FB%CC%BF%E8%AC9%1Ag%91%83a%E7%C9X&peer_id=A2-1-36-0-%87%5B%16q%B5%8E%A2%DC%8A-&left=1&key=%16q%B5&port=6973");
        super::fuzz_one(
            b"d8:completei1e10:incompletei2e8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1e",
        );
        super::fuzz_one(
            b"d5:peersld2:ip9:127.0.0.14:porti1e7:peer id20:aaaaaaaaaaaaaaaaaaaaee8:intervali1ee",
        );
    }
}

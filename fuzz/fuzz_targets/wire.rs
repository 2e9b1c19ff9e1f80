#![no_main]
//! Arbitrary bytes through the peer wire decoders (owned by the wire engineer; the same calls run
//! as property tests in protocol/src/wire): never a panic, and a decoded frame stays in bounds.

use protocol::wire::{self, ExtendedHandshake, Handshake, MetadataMessage, PexMessage};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some((_, used))) = wire::decode(rest, wire::DEFAULT_MAX_FRAME) {
        assert!(used > 0 && used <= rest.len());
        rest = &rest[used..];
    }
    let _ = Handshake::decode(data);
    let _ = ExtendedHandshake::decode(data);
    let _ = MetadataMessage::decode(data);
    let _ = PexMessage::decode(data);
});

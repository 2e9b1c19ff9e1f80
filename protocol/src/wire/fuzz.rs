//! The body of the `wire` cargo-fuzz target, kept here so the property tests run it on stable too.

use super::{decode, ExtendedHandshake, Handshake, MetadataMessage, PexMessage, DEFAULT_MAX_FRAME};

/// Feeds arbitrary bytes to every wire decoder. Panicking is its job: each `assert!` is an
/// invariant that must hold for every input, and decoding itself must never panic.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    // Frames: each decoded message re-encodes to exactly the bytes it came from (the format has
    // one encoding per message), and `consumed` always moves forward within the buffer.
    let mut rest = data;
    while let Ok(Some((message, used))) = decode(rest, DEFAULT_MAX_FRAME) {
        assert!(
            used >= 4 && used <= rest.len(),
            "consumed {used} of {}",
            rest.len()
        );
        let mut again = Vec::new();
        message.encode(&mut again);
        assert_eq!(again, rest[..used], "re-encoding {message:?}");
        rest = &rest[used..];
    }
    // A tight frame limit refuses what the default accepts, never the other way round.
    if decode(data, 16).is_ok_and(|m| m.is_some()) {
        assert!(decode(data, DEFAULT_MAX_FRAME).is_ok_and(|m| m.is_some()));
    }

    if let Ok(Some(h)) = Handshake::decode(data) {
        let mut again = Vec::new();
        h.encode(&mut again);
        assert_eq!(again, data[..Handshake::LEN]);
    }

    // Payload codecs are lenient on input, so check that their output is a fixed point instead.
    if let Ok(hs) = ExtendedHandshake::decode(data) {
        let mut again = Vec::new();
        hs.encode(&mut again);
        assert_eq!(ExtendedHandshake::decode(&again).as_ref(), Ok(&hs));
    }
    if let Ok(m) = MetadataMessage::decode(data) {
        let mut again = Vec::new();
        m.encode(&mut again);
        assert_eq!(MetadataMessage::decode(&again), Ok(m));
    }
    if let Ok(pex) = PexMessage::decode(data) {
        let mut again = Vec::new();
        pex.encode(&mut again);
        assert_eq!(PexMessage::decode(&again).as_ref(), Ok(&pex));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Seeds that reach deep into each decoder, each also tried with bytes appended.
    const SEEDS: &[&[u8]] = &[
        b"\0\0\0\x0d\x06\0\0\0\x01\0\0\x40\0\0\0\x40\0\0\0\0\x01\x0e",
        b"\x13BitTorrent protocol\0\0\0\0\0\x10\0\x04aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbb",
        b"d1:md11:ut_metadatai2e6:ut_pexi1ee1:pi6881e1:v4:teste",
        b"d8:msg_typei1e5:piecei0e10:total_sizei5eeabcde",
        b"d5:added6:\x7f\0\0\x01\x1a\xe17:added.f1:\x02e",
    ];

    #[test]
    fn seeds_hold_the_invariants() {
        for seed in SEEDS {
            fuzz_one(seed);
        }
    }

    proptest! {
        #[test]
        fn random_bytes_hold_the_invariants(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            fuzz_one(&bytes);
        }

        #[test]
        fn mutated_seeds_hold_the_invariants(which in 0..SEEDS.len(), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
            let mut data = SEEDS[which].to_vec();
            let at = at % data.len();
            data[at] = byte;
            data.truncate(1 + cut % data.len());
            fuzz_one(&data);
        }
    }
}

//! Message stream encryption (MSE/PE, "protocol encryption"): the Diffie-Hellman + RC4
//! obfuscation layer that many swarms require before the BitTorrent handshake.
//!
//! Pure: the caller owns the socket, feeds received bytes to an [`Initiator`] (outgoing) or a
//! [`Responder`] (incoming) and sends what they return. An incoming connection whose first byte
//! is 19 followed by "BitTorrent protocol" is plaintext; anything else may be MSE.

mod dh;
mod handshake;
mod policy;
mod rc4;

pub use handshake::{
    Established, Initiator, MseError, Responder, Step, CRYPTO_PLAINTEXT, CRYPTO_RC4,
    MAX_INITIAL_PAYLOAD, MAX_PAD,
};
pub use policy::{classify, Attempt, EncryptionPolicy, IncomingKind, ParsePolicyError};
pub use rc4::Rc4;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InfoHash;
    use rand::SeedableRng;

    /// Runs both machines against each other, delivering `chunk` bytes at a time.
    fn run(
        provide: u32,
        allowed: u32,
        ours: InfoHash,
        theirs: &[InfoHash],
        chunk: usize,
        seed: u64,
    ) -> Result<(Established, Established), MseError> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut a, first) = Initiator::new(ours, provide, b"IA: hello", &mut rng);
        let mut b = Responder::new(allowed, &mut rng);
        let (mut to_b, mut to_a) = (first, Vec::new());
        let (mut seen_b, mut seen_a) = (0, 0);
        let (mut done_a, mut done_b): (Option<Box<Established>>, Option<Box<Established>>) =
            (None, None);
        for _ in 0..100_000 {
            if done_b.is_none() && seen_b < to_b.len() {
                seen_b = (seen_b + chunk).min(to_b.len());
                match b.handle(&to_b[..seen_b], theirs, &mut rng)? {
                    Step::NeedMore => {}
                    Step::Send(bytes) => to_a.extend(bytes),
                    Step::Done(est) => {
                        to_a.extend(&est.send);
                        done_b = Some(est);
                    }
                }
            }
            if done_a.is_none() && seen_a < to_a.len() {
                seen_a = (seen_a + chunk).min(to_a.len());
                match a.handle(&to_a[..seen_a])? {
                    Step::NeedMore => {}
                    Step::Send(bytes) => to_b.extend(bytes),
                    Step::Done(est) => done_a = Some(est),
                }
            }
            if let (Some(_), Some(_)) = (&done_a, &done_b) {
                return Ok((*done_a.unwrap(), *done_b.unwrap()));
            }
        }
        panic!("the handshake did not finish");
    }

    #[test]
    fn both_sides_meet_and_the_streams_line_up() {
        let ih = InfoHash([0x42; 20]);
        for (chunk, seed) in [(1, 1), (7, 2), (100, 3), (4096, 4)] {
            let (mut a, mut b) = run(
                CRYPTO_RC4 | CRYPTO_PLAINTEXT,
                CRYPTO_RC4,
                ih,
                &[InfoHash([1; 20]), ih],
                chunk,
                seed,
            )
            .unwrap();
            assert_eq!(b.info_hash, ih);
            assert_eq!(b.initial_payload, b"IA: hello");
            let (a_send, a_recv) = a.cipher.as_mut().expect("rc4 selected");
            let (b_send, b_recv) = b.cipher.as_mut().expect("rc4 selected");
            let mut msg = b"\x13BitTorrent protocol".to_vec();
            a_send.apply(&mut msg);
            b_recv.apply(&mut msg);
            assert_eq!(&msg, b"\x13BitTorrent protocol");
            let mut back = b"unchoke".to_vec();
            b_send.apply(&mut back);
            a_recv.apply(&mut back);
            assert_eq!(&back, b"unchoke");
        }
    }

    #[test]
    fn plaintext_can_be_negotiated() {
        let ih = InfoHash([7; 20]);
        let (a, b) = run(
            CRYPTO_PLAINTEXT,
            CRYPTO_RC4 | CRYPTO_PLAINTEXT,
            ih,
            &[ih],
            50,
            9,
        )
        .unwrap();
        assert!(a.cipher.is_none() && b.cipher.is_none());
    }

    #[test]
    fn mismatches_are_errors() {
        let ih = InfoHash([7; 20]);
        assert_eq!(
            run(CRYPTO_RC4, CRYPTO_RC4, ih, &[InfoHash([8; 20])], 64, 5).unwrap_err(),
            MseError::UnknownTorrent
        );
        assert!(matches!(
            run(CRYPTO_PLAINTEXT, CRYPTO_RC4, ih, &[ih], 64, 6).unwrap_err(),
            MseError::NoCommonCrypto { .. }
        ));
    }

    #[test]
    fn a_plaintext_bittorrent_peer_is_not_mistaken_for_mse() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut b = Responder::new(CRYPTO_RC4, &mut rng);
        // 96 bytes of "public key" from a peer that is not doing MSE, then more garbage.
        let junk = vec![0x13u8; 96 + MAX_PAD + 20];
        assert!(matches!(
            b.handle(&junk[..96], &[], &mut rng),
            Ok(Step::Send(_))
        ));
        assert_eq!(
            b.handle(&junk, &[], &mut rng).unwrap_err(),
            MseError::NoSync("req1 hash")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..800)) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            let mut b = Responder::new(CRYPTO_RC4 | CRYPTO_PLAINTEXT, &mut rng);
            let _ = b.handle(&bytes, &[InfoHash([1; 20])], &mut rng);
            let _ = b.handle(&bytes, &[InfoHash([1; 20])], &mut rng);
            let (mut a, _) = Initiator::new(InfoHash([1; 20]), CRYPTO_RC4, &[], &mut rng);
            let _ = a.handle(&bytes);
            let _ = a.handle(&bytes);
        }
    }
}

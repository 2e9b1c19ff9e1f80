//! The MSE/PE handshake as two pure state machines. Each is fed the whole buffer received so far
//! (the caller only appends) and answers with bytes to send, a request for more, or the
//! established stream.
//!
//! ```text
//! A->B  Ya, PadA
//! B->A  Yb, PadB
//! A->B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
//!       ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
//! B->A  ENCRYPT(VC, crypto_select, len(PadD), PadD)
//! ```
//! S is the DH secret, SKEY the info-hash, VC eight zero bytes; A encrypts with RC4 keyed by
//! HASH('keyA', S, SKEY), B with HASH('keyB', S, SKEY).

use rand::Rng;
use sha1::{Digest, Sha1};

use super::dh::{self, KEY_LEN};
use super::rc4::Rc4;
use crate::InfoHash;

/// crypto_provide / crypto_select bit: the stream continues in plaintext after the handshake.
pub const CRYPTO_PLAINTEXT: u32 = 0x01;
/// crypto_provide / crypto_select bit: the stream continues RC4-encrypted.
pub const CRYPTO_RC4: u32 = 0x02;

/// Longest PadA/PadB/PadC/PadD the spec allows.
pub const MAX_PAD: usize = 512;
/// Longest initial payload (IA): its length travels in 16 bits. Some clients send their
/// handshake with a bitfield in it, so we accept all the field allows (64 KiB is bounded).
pub const MAX_INITIAL_PAYLOAD: usize = u16::MAX as usize;

const VC: [u8; 8] = [0; 8];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MseError {
    #[error("the peer's public key is degenerate")]
    DegenerateKey,
    #[error("no {0} within the padding limit: not an MSE peer, or a different torrent")]
    NoSync(&'static str),
    #[error("the peer asked for a torrent we do not have")]
    UnknownTorrent,
    #[error("the verification constant did not decrypt to zeros")]
    BadVc,
    #[error("{what} of {len} bytes exceeds the limit")]
    TooLong { what: &'static str, len: usize },
    #[error("no common crypto method (peer offers {offered:#x}, we allow {allowed:#x})")]
    NoCommonCrypto { offered: u32, allowed: u32 },
    #[error("the peer selected crypto {0:#x}, which we did not offer")]
    BadSelect(u32),
}

/// What the stream is once the handshake is over.
#[derive(Debug)]
pub struct Established {
    /// Bytes to send now, before any peer-wire data.
    pub send: Vec<u8>,
    /// How many bytes of the receive buffer the handshake used. What follows is peer-wire data,
    /// still to be decrypted with `cipher`'s receive half when the stream is RC4.
    pub consumed: usize,
    /// `Some((encrypt_outgoing, decrypt_incoming))` for RC4, `None` for plaintext.
    pub cipher: Option<(Rc4, Rc4)>,
    pub info_hash: InfoHash,
    /// The initiator's IA (decrypted): usually its BitTorrent handshake. Empty on the initiator.
    pub initial_payload: Vec<u8>,
}

#[derive(Debug)]
pub enum Step {
    /// Feed more received bytes.
    NeedMore,
    /// Send these bytes, then feed more received bytes.
    Send(Vec<u8>),
    Done(Box<Established>),
}

fn hash(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn keys(secret: &[u8; KEY_LEN], skey: &InfoHash) -> ([u8; 20], [u8; 20]) {
    (
        hash(&[b"keyA", secret, skey.as_bytes()]),
        hash(&[b"keyB", secret, skey.as_bytes()]),
    )
}

fn public_and_pad<R: Rng + ?Sized>(private: &[u8; 20], rng: &mut R) -> Vec<u8> {
    let mut out = dh::public_key(private).to_vec();
    let pad = rng.random_range(0..=MAX_PAD);
    out.extend((0..pad).map(|_| rng.random::<u8>()));
    out
}

fn their_public(buf: &[u8]) -> Option<&[u8; KEY_LEN]> {
    buf.first_chunk::<KEY_LEN>()
}

/// Finds `pattern` starting within `max_start` bytes after `from`; `Err` once it can no longer
/// appear, `Ok(None)` while more bytes could still bring it.
fn find(
    buf: &[u8],
    from: usize,
    pattern: &[u8],
    max_start: usize,
    what: &'static str,
) -> Result<Option<usize>, MseError> {
    let window_end = (from + max_start + pattern.len()).min(buf.len());
    if let Some(window) = buf.get(from..window_end) {
        if let Some(i) = window.windows(pattern.len()).position(|w| w == pattern) {
            return Ok(Some(from + i));
        }
    }
    if buf.len() >= from + max_start + pattern.len() {
        return Err(MseError::NoSync(what));
    }
    Ok(None)
}

fn be_u16(b: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([b[0], b[1]]))
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The connecting side (A).
#[derive(Debug)]
pub struct Initiator {
    private: [u8; 20],
    info_hash: InfoHash,
    provide: u32,
    initial_payload: Vec<u8>,
    state: InitiatorState,
}

#[derive(Debug)]
enum InitiatorState {
    AwaitPublic,
    AwaitSelect { ciphers: Box<(Rc4, Rc4)> },
    Finished,
}

impl Initiator {
    /// Starts a handshake for `info_hash`, offering `provide` (a mix of [`CRYPTO_RC4`] and
    /// [`CRYPTO_PLAINTEXT`]); `initial_payload` (our BitTorrent handshake, say) rides along
    /// encrypted to save a round trip; past [`MAX_INITIAL_PAYLOAD`] bytes it is cut (send the
    /// rest after the handshake). Returns the machine and the first bytes to send.
    pub fn new<R: Rng + ?Sized>(
        info_hash: InfoHash,
        provide: u32,
        initial_payload: &[u8],
        rng: &mut R,
    ) -> (Initiator, Vec<u8>) {
        let private: [u8; 20] = rng.random();
        let first = public_and_pad(&private, rng);
        let machine = Initiator {
            private,
            info_hash,
            provide,
            initial_payload: initial_payload.to_vec(),
            state: InitiatorState::AwaitPublic,
        };
        (machine, first)
    }

    /// Feeds everything received so far.
    pub fn handle(&mut self, buf: &[u8]) -> Result<Step, MseError> {
        match &mut self.state {
            InitiatorState::AwaitPublic => {
                let Some(yb) = their_public(buf) else {
                    return Ok(Step::NeedMore);
                };
                let secret = dh::shared_secret(yb, &self.private).ok_or(MseError::DegenerateKey)?;
                let skey = self.info_hash;
                let (key_a, key_b) = keys(&secret, &skey);
                let (mut send, recv) = (Rc4::mse(&key_a), Rc4::mse(&key_b));
                let mut out = hash(&[b"req1", &secret]).to_vec();
                let req2 = hash(&[b"req2", skey.as_bytes()]);
                let req3 = hash(&[b"req3", &secret]);
                out.extend(req2.iter().zip(req3).map(|(a, b)| a ^ b));
                let ia_len = u16::try_from(self.initial_payload.len()).unwrap_or(u16::MAX);
                let mut plain = VC.to_vec();
                plain.extend_from_slice(&self.provide.to_be_bytes());
                plain.extend_from_slice(&0u16.to_be_bytes()); // no PadC
                plain.extend_from_slice(&ia_len.to_be_bytes());
                plain.extend_from_slice(&self.initial_payload[..usize::from(ia_len)]);
                send.apply(&mut plain);
                out.extend_from_slice(&plain);
                self.state = InitiatorState::AwaitSelect {
                    ciphers: Box::new((send, recv)),
                };
                Ok(Step::Send(out))
            }
            InitiatorState::AwaitSelect { ciphers } => {
                let recv = &ciphers.1;
                // B's reply starts after Yb and up to 512 bytes of PadB, with VC encrypted.
                let mut pattern = VC;
                recv.clone().apply(&mut pattern);
                let Some(at) = find(buf, KEY_LEN, &pattern, MAX_PAD, "encrypted VC")? else {
                    return Ok(Step::NeedMore);
                };
                let Some(head) = buf.get(at..at + 14) else {
                    return Ok(Step::NeedMore);
                };
                let mut head: [u8; 14] = head.try_into().map_err(|_| MseError::BadVc)?;
                let mut peek = recv.clone();
                peek.apply(&mut head);
                let select = be_u32(&head[8..12]);
                let pad_len = be_u16(&head[12..14]);
                if pad_len > MAX_PAD {
                    return Err(MseError::TooLong {
                        what: "PadD",
                        len: pad_len,
                    });
                }
                let end = at + 14 + pad_len;
                let Some(pad) = buf.get(at + 14..end) else {
                    return Ok(Step::NeedMore);
                };
                if select.count_ones() != 1 || select & self.provide == 0 {
                    return Err(MseError::BadSelect(select));
                }
                let mut pad = pad.to_vec();
                peek.apply(&mut pad);
                let InitiatorState::AwaitSelect { ciphers } =
                    std::mem::replace(&mut self.state, InitiatorState::Finished)
                else {
                    return Err(MseError::BadVc);
                };
                let send = ciphers.0;
                Ok(Step::Done(Box::new(Established {
                    send: Vec::new(),
                    consumed: end,
                    cipher: (select == CRYPTO_RC4).then_some((send, peek)),
                    info_hash: self.info_hash,
                    initial_payload: Vec::new(),
                })))
            }
            InitiatorState::Finished => Ok(Step::NeedMore),
        }
    }
}

/// The accepting side (B).
#[derive(Debug)]
pub struct Responder {
    private: [u8; 20],
    allowed: u32,
    state: ResponderState,
}

#[derive(Debug)]
enum ResponderState {
    AwaitPublic,
    AwaitReq1 { secret: Box<[u8; KEY_LEN]> },
    Finished,
}

impl Responder {
    /// A responder that accepts the crypto methods in `allowed` (RC4 preferred when both are).
    pub fn new<R: Rng + ?Sized>(allowed: u32, rng: &mut R) -> Responder {
        Responder {
            private: rng.random(),
            allowed,
            state: ResponderState::AwaitPublic,
        }
    }

    /// Feeds everything received so far; `torrents` are the info-hashes we serve.
    pub fn handle<R: Rng + ?Sized>(
        &mut self,
        buf: &[u8],
        torrents: &[InfoHash],
        rng: &mut R,
    ) -> Result<Step, MseError> {
        match &self.state {
            ResponderState::AwaitPublic => {
                let Some(ya) = their_public(buf) else {
                    return Ok(Step::NeedMore);
                };
                let secret = dh::shared_secret(ya, &self.private).ok_or(MseError::DegenerateKey)?;
                self.state = ResponderState::AwaitReq1 {
                    secret: Box::new(secret),
                };
                Ok(Step::Send(public_and_pad(&self.private, rng)))
            }
            ResponderState::AwaitReq1 { secret } => {
                let secret = **secret;
                let req1 = hash(&[b"req1", &secret]);
                let Some(at) = find(buf, KEY_LEN, &req1, MAX_PAD, "req1 hash")? else {
                    return Ok(Step::NeedMore);
                };
                // req1(20) req2^req3(20) then ENCRYPT(VC 8, provide 4, len(PadC) 2).
                let Some(fixed) = buf.get(at + 20..at + 54) else {
                    return Ok(Step::NeedMore);
                };
                let req3 = hash(&[b"req3", &secret]);
                let req2: Vec<u8> = fixed[..20].iter().zip(req3).map(|(a, b)| a ^ b).collect();
                let info_hash = *torrents
                    .iter()
                    .find(|ih| hash(&[b"req2", ih.as_bytes()])[..] == req2[..])
                    .ok_or(MseError::UnknownTorrent)?;
                let (key_a, key_b) = keys(&secret, &info_hash);
                let mut recv = Rc4::mse(&key_a);
                let mut head: [u8; 14] = fixed[20..34].try_into().map_err(|_| MseError::BadVc)?;
                recv.apply(&mut head);
                if head[..8] != VC {
                    return Err(MseError::BadVc);
                }
                let provide = be_u32(&head[8..12]);
                let pad_len = be_u16(&head[12..14]);
                if pad_len > MAX_PAD {
                    return Err(MseError::TooLong {
                        what: "PadC",
                        len: pad_len,
                    });
                }
                let pad_end = at + 54 + pad_len;
                let Some(pad_and_len) = buf.get(at + 54..pad_end + 2) else {
                    return Ok(Step::NeedMore);
                };
                let mut pad_and_len = pad_and_len.to_vec();
                recv.apply(&mut pad_and_len);
                let ia_len = be_u16(&pad_and_len[pad_len..]);
                let end = pad_end + 2 + ia_len;
                let Some(ia) = buf.get(pad_end + 2..end) else {
                    return Ok(Step::NeedMore);
                };
                let mut initial_payload = ia.to_vec();
                recv.apply(&mut initial_payload);

                let common = provide & self.allowed;
                let select = if common & CRYPTO_RC4 != 0 {
                    CRYPTO_RC4
                } else if common & CRYPTO_PLAINTEXT != 0 {
                    CRYPTO_PLAINTEXT
                } else {
                    return Err(MseError::NoCommonCrypto {
                        offered: provide,
                        allowed: self.allowed,
                    });
                };
                let mut send = Rc4::mse(&key_b);
                let mut reply = VC.to_vec();
                reply.extend_from_slice(&select.to_be_bytes());
                reply.extend_from_slice(&0u16.to_be_bytes()); // no PadD
                send.apply(&mut reply);
                self.state = ResponderState::Finished;
                Ok(Step::Done(Box::new(Established {
                    send: reply,
                    consumed: end,
                    cipher: (select == CRYPTO_RC4).then_some((send, recv)),
                    info_hash,
                    initial_payload,
                })))
            }
            ResponderState::Finished => Ok(Step::NeedMore),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Values computed with Python's integers, hashlib and OpenSSL's RC4 (an implementation
    /// independent of ours): private keys 01..14 and 20 x a5, SKEY 20 x 42.
    #[test]
    fn known_answers_from_an_independent_implementation() {
        let xa: [u8; 20] = std::array::from_fn(|i| i as u8 + 1);
        let xb = [0xa5u8; 20];
        let ya = dh::public_key(&xa);
        assert_eq!(
            hex::encode(ya),
            "96e112dab29e8c5272accb9b17b26887ce54a144a4e3b697c7d159b7a817e556b0918db2b4c658e0\
             2a87f7e5fb14b18a553e084cbf3dad2d30f16596ccb982d406258c61b30c5c1dae2ddc60bdbd48d7\
             9896312aad63238c39e1a633821eb693"
        );
        let s = dh::shared_secret(&dh::public_key(&xb), &xa).unwrap();
        assert_eq!(Some(s), dh::shared_secret(&ya, &xb));
        assert_eq!(
            hex::encode(s),
            "8be8cddb2a0c9f861334a12da32887367689533c8e4ef85111538f02e0815d122b48acc1e8d6380b\
             0ea64f4ec96d12b1aadc7101a17deccebce8e3673d63826d8a449a2d43391da0e76d3933c0a0b5ec\
             0fbee0d742fa932e9e7cede4fdbc3afe"
        );
        let skey = InfoHash([0x42; 20]);
        let (key_a, key_b) = keys(&s, &skey);
        // Keystream bytes 1024..1040: the first MSE uses.
        let mut ks = [0u8; 16];
        Rc4::mse(&key_a).apply(&mut ks);
        assert_eq!(hex::encode(ks), "6a58fd6ca0e8eab05c0ffc7187985aee");
        let mut ks = [0u8; 16];
        Rc4::mse(&key_b).apply(&mut ks);
        assert_eq!(hex::encode(ks), "1e61856bff161c9f50a2348ded717901");
        assert_eq!(
            hex::encode(hash(&[b"req1", &s])),
            "d99ccea72c8c483adbf6b3c469e999720fc026b4"
        );
        let req2 = hash(&[b"req2", skey.as_bytes()]);
        let req3 = hash(&[b"req3", &s]);
        let x: Vec<u8> = req2.iter().zip(req3).map(|(a, b)| a ^ b).collect();
        assert_eq!(hex::encode(x), "3d7aa55be9afedd05df9483b5ebe1098d6028eda");
    }

    #[test]
    fn a_responder_that_never_sends_the_vc_is_refused_after_the_padding_limit() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (mut a, _) = Initiator::new(InfoHash([3; 20]), CRYPTO_RC4, &[], &mut rng);
        let mut buf = dh::public_key(&[0x77; 20]).to_vec();
        assert!(matches!(a.handle(&buf), Ok(Step::Send(_))));
        buf.extend(std::iter::repeat_n(0x5a, MAX_PAD + 7));
        assert!(matches!(a.handle(&buf), Ok(Step::NeedMore)));
        buf.push(0x5a);
        assert_eq!(
            a.handle(&buf).unwrap_err(),
            MseError::NoSync("encrypted VC")
        );
    }

    #[test]
    fn degenerate_public_keys_are_refused() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let mut one = [0u8; KEY_LEN];
        one[KEY_LEN - 1] = 1;
        let mut b = Responder::new(CRYPTO_RC4, &mut rng);
        assert_eq!(
            b.handle(&one, &[], &mut rng).unwrap_err(),
            MseError::DegenerateKey
        );
        let (mut a, _) = Initiator::new(InfoHash([3; 20]), CRYPTO_RC4, &[], &mut rng);
        assert_eq!(
            a.handle(&[0; KEY_LEN]).unwrap_err(),
            MseError::DegenerateKey
        );
    }

    #[test]
    fn an_oversized_pad_c_is_refused() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        let ih = InfoHash([9; 20]);
        let xa = [0x31u8; 20];
        let mut b = Responder::new(CRYPTO_RC4, &mut rng);
        let mut buf = dh::public_key(&xa).to_vec();
        let Ok(Step::Send(reply)) = b.handle(&buf, &[ih], &mut rng) else {
            panic!("no Yb");
        };
        let yb: &[u8; KEY_LEN] = reply.first_chunk().unwrap();
        let s = dh::shared_secret(yb, &xa).unwrap();
        buf.extend(hash(&[b"req1", &s]));
        let req2 = hash(&[b"req2", ih.as_bytes()]);
        buf.extend(req2.iter().zip(hash(&[b"req3", &s])).map(|(a, b)| a ^ b));
        let mut head = VC.to_vec();
        head.extend(CRYPTO_RC4.to_be_bytes());
        head.extend(((MAX_PAD + 1) as u16).to_be_bytes());
        Rc4::mse(&keys(&s, &ih).0).apply(&mut head);
        buf.extend(head);
        assert_eq!(
            b.handle(&buf, &[ih], &mut rng).unwrap_err(),
            MseError::TooLong {
                what: "PadC",
                len: MAX_PAD + 1
            }
        );
    }
}

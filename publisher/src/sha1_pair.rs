//! Two SHA-1 digests computed together on one core.
//!
//! SHA-1 is a chain: each 64-byte block needs the state the previous block left, so one stream
//! keeps the CPU's SHA unit waiting on its own results (`sha1rnds4` has a latency of several
//! cycles but accepts a new instruction every cycle or two). Two independent pieces interleaved
//! instruction by instruction fill those gaps: measured on the 2-core Xeon (SHA-NI) that runs
//! bench/hash.sh, about 14% more bytes per CPU-second than the `sha1` crate's single stream, which
//! itself runs at the speed of `openssl speed -evp sha1`. Where the CPU has no SHA extensions
//! (or is not x86), this falls back to two ordinary `sha1::Sha1` hashers.
//!
//! The x86 code is the Intel SHA-extensions sequence of the `sha1` crate (its
//! `compress/x86.rs`), duplicated lane by lane.

use sha1::{Digest, Sha1};

/// SHA-1's initial state (FIPS 180-4, 5.3.1).
const H0: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// Hashes two messages of equal length, fed in equal-length chunks.
pub struct Sha1Pair {
    inner: Inner,
}

enum Inner {
    /// SHA-NI: both states, a partial block of each, and the bytes fed so far (per message).
    #[cfg(target_arch = "x86_64")]
    Fast {
        states: [[u32; 5]; 2],
        partial: [[u8; 64]; 2],
        partial_len: usize,
        length: u64,
    },
    Portable(Box<[Sha1; 2]>),
}

impl Default for Sha1Pair {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha1Pair {
    pub fn new() -> Sha1Pair {
        #[cfg(target_arch = "x86_64")]
        if x86::available() {
            return Sha1Pair {
                inner: Inner::Fast {
                    states: [H0; 2],
                    partial: [[0; 64]; 2],
                    partial_len: 0,
                    length: 0,
                },
            };
        }
        Sha1Pair::portable()
    }

    /// The fallback, whatever the CPU (tests compare it with the fast path).
    pub fn portable() -> Sha1Pair {
        Sha1Pair {
            inner: Inner::Portable(Box::new([Sha1::new(), Sha1::new()])),
        }
    }

    /// Feeds the next `a.len()` bytes of each message.
    ///
    /// # Panics
    /// If `a` and `b` differ in length (a bug in the caller: both messages advance together).
    pub fn update(&mut self, a: &[u8], b: &[u8]) {
        assert_eq!(a.len(), b.len(), "Sha1Pair is fed equal-length chunks");
        match &mut self.inner {
            #[cfg(target_arch = "x86_64")]
            Inner::Fast {
                states,
                partial,
                partial_len,
                length,
            } => {
                *length += a.len() as u64;
                let (mut a, mut b) = (a, b);
                if *partial_len > 0 {
                    let take = (64 - *partial_len).min(a.len());
                    partial[0][*partial_len..*partial_len + take].copy_from_slice(&a[..take]);
                    partial[1][*partial_len..*partial_len + take].copy_from_slice(&b[..take]);
                    *partial_len += take;
                    (a, b) = (&a[take..], &b[take..]);
                    if *partial_len < 64 {
                        return;
                    }
                    let [pa, pb] = &*partial;
                    x86::compress(states, pa, pb);
                    *partial_len = 0;
                }
                let whole = a.len() / 64 * 64;
                x86::compress(states, &a[..whole], &b[..whole]);
                let rest = a.len() - whole;
                partial[0][..rest].copy_from_slice(&a[whole..]);
                partial[1][..rest].copy_from_slice(&b[whole..]);
                *partial_len = rest;
            }
            Inner::Portable(hashers) => {
                hashers[0].update(a);
                hashers[1].update(b);
            }
        }
    }

    /// The two digests.
    pub fn finalize(self) -> [[u8; 20]; 2] {
        match self.inner {
            #[cfg(target_arch = "x86_64")]
            Inner::Fast {
                mut states,
                partial,
                partial_len,
                length,
            } => {
                // FIPS 180-4 padding: 0x80, zeros, the bit length; one or two blocks.
                let mut tails = [[0u8; 128]; 2];
                let blocks = if partial_len < 56 { 64 } else { 128 };
                for (tail, part) in tails.iter_mut().zip(&partial) {
                    tail[..partial_len].copy_from_slice(&part[..partial_len]);
                    tail[partial_len] = 0x80;
                    tail[blocks - 8..blocks].copy_from_slice(&(length * 8).to_be_bytes());
                }
                let [ta, tb] = &tails;
                x86::compress(&mut states, &ta[..blocks], &tb[..blocks]);
                states.map(|state| {
                    let mut digest = [0u8; 20];
                    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
                        out.copy_from_slice(&word.to_be_bytes());
                    }
                    digest
                })
            }
            Inner::Portable(hashers) => {
                let [a, b] = *hashers;
                [a.finalize().into(), b.finalize().into()]
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    use std::arch::x86_64::*;

    /// Whether this CPU has the instructions [`compress_pair`] is compiled for.
    pub fn available() -> bool {
        is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("sse2")
            && is_x86_feature_detected!("ssse3")
            && is_x86_feature_detected!("sse4.1")
    }

    /// Runs the blocks of `a` through `states[0]` and those of `b` through `states[1]`.
    /// `a` and `b` hold the same whole number of 64-byte blocks.
    pub fn compress(states: &mut [[u32; 5]; 2], a: &[u8], b: &[u8]) {
        debug_assert!(a.len() == b.len() && a.len().is_multiple_of(64));
        if a.is_empty() {
            return;
        }
        // A real check, not a debug one: this safe function is the only gate in front of
        // instructions that are undefined behaviour on a CPU without them. The detection result
        // is cached by the standard library, so this costs one load per call of many blocks.
        assert!(
            available(),
            "SHA-NI compress called on a CPU without SHA-NI"
        );
        // SAFETY: the assert above confirmed the CPU has every feature `compress_pair` is
        // compiled for; the function itself touches memory only through slices.
        unsafe { compress_pair(states, a, b) }
    }

    /// Four big-endian message words of a block, as the SHA instructions want them.
    macro_rules! load {
        ($block:expr, $i:expr, $mask:expr) => {{
            let word = |j: usize| {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&$block[$i * 16 + j..$i * 16 + j + 8]);
                i64::from_le_bytes(bytes)
            };
            _mm_shuffle_epi8(_mm_set_epi64x(word(8), word(0)), $mask)
        }};
    }

    macro_rules! rounds4 {
        ($h0:ident, $h1:ident, $wk:expr, $i:expr) => {
            _mm_sha1rnds4_epu32($h0, _mm_sha1nexte_epu32($h1, $wk), $i)
        };
    }

    macro_rules! schedule {
        ($v0:expr, $v1:expr, $v2:expr, $v3:expr) => {
            _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32($v0, $v1), $v2), $v3)
        };
    }

    /// Four rounds of each lane, with the next four message words of each.
    macro_rules! step {
        ($h0:ident, $h1:ident, $g0:ident, $g1:ident,
         $w0:ident, $w1:ident, $w2:ident, $w3:ident, $w4:ident,
         $v0:ident, $v1:ident, $v2:ident, $v3:ident, $v4:ident, $i:expr) => {
            $w4 = schedule!($w0, $w1, $w2, $w3);
            $v4 = schedule!($v0, $v1, $v2, $v3);
            $h1 = rounds4!($h0, $h1, $w4, $i);
            $g1 = rounds4!($g0, $g1, $v4, $i);
        };
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn compress_pair(states: &mut [[u32; 5]; 2], a: &[u8], b: &[u8]) {
        let mask = _mm_set_epi64x(0x0001_0203_0405_0607, 0x0809_0A0B_0C0D_0E0F);
        let abcd = |s: &[u32; 5]| _mm_set_epi32(s[0] as i32, s[1] as i32, s[2] as i32, s[3] as i32);
        let (mut abcd_a, mut e_a) = (
            abcd(&states[0]),
            _mm_set_epi32(states[0][4] as i32, 0, 0, 0),
        );
        let (mut abcd_b, mut e_b) = (
            abcd(&states[1]),
            _mm_set_epi32(states[1][4] as i32, 0, 0, 0),
        );
        for (block_a, block_b) in a.chunks_exact(64).zip(b.chunks_exact(64)) {
            let (mut a0, mut a1, mut a2, mut a3) = (
                load!(block_a, 0, mask),
                load!(block_a, 1, mask),
                load!(block_a, 2, mask),
                load!(block_a, 3, mask),
            );
            let (mut b0, mut b1, mut b2, mut b3) = (
                load!(block_b, 0, mask),
                load!(block_b, 1, mask),
                load!(block_b, 2, mask),
                load!(block_b, 3, mask),
            );
            let (mut a4, mut b4);
            let (mut ah0, mut bh0) = (abcd_a, abcd_b);
            let mut ah1 = _mm_add_epi32(e_a, a0);
            let mut bh1 = _mm_add_epi32(e_b, b0);

            // Rounds 0..20
            ah1 = _mm_sha1rnds4_epu32(ah0, ah1, 0);
            bh1 = _mm_sha1rnds4_epu32(bh0, bh1, 0);
            ah0 = rounds4!(ah1, ah0, a1, 0);
            bh0 = rounds4!(bh1, bh0, b1, 0);
            ah1 = rounds4!(ah0, ah1, a2, 0);
            bh1 = rounds4!(bh0, bh1, b2, 0);
            ah0 = rounds4!(ah1, ah0, a3, 0);
            bh0 = rounds4!(bh1, bh0, b3, 0);
            step!(ah0, ah1, bh0, bh1, a0, a1, a2, a3, a4, b0, b1, b2, b3, b4, 0);
            // Rounds 20..40
            step!(ah1, ah0, bh1, bh0, a1, a2, a3, a4, a0, b1, b2, b3, b4, b0, 1);
            step!(ah0, ah1, bh0, bh1, a2, a3, a4, a0, a1, b2, b3, b4, b0, b1, 1);
            step!(ah1, ah0, bh1, bh0, a3, a4, a0, a1, a2, b3, b4, b0, b1, b2, 1);
            step!(ah0, ah1, bh0, bh1, a4, a0, a1, a2, a3, b4, b0, b1, b2, b3, 1);
            step!(ah1, ah0, bh1, bh0, a0, a1, a2, a3, a4, b0, b1, b2, b3, b4, 1);
            // Rounds 40..60
            step!(ah0, ah1, bh0, bh1, a1, a2, a3, a4, a0, b1, b2, b3, b4, b0, 2);
            step!(ah1, ah0, bh1, bh0, a2, a3, a4, a0, a1, b2, b3, b4, b0, b1, 2);
            step!(ah0, ah1, bh0, bh1, a3, a4, a0, a1, a2, b3, b4, b0, b1, b2, 2);
            step!(ah1, ah0, bh1, bh0, a4, a0, a1, a2, a3, b4, b0, b1, b2, b3, 2);
            step!(ah0, ah1, bh0, bh1, a0, a1, a2, a3, a4, b0, b1, b2, b3, b4, 2);
            // Rounds 60..80
            step!(ah1, ah0, bh1, bh0, a1, a2, a3, a4, a0, b1, b2, b3, b4, b0, 3);
            step!(ah0, ah1, bh0, bh1, a2, a3, a4, a0, a1, b2, b3, b4, b0, b1, 3);
            step!(ah1, ah0, bh1, bh0, a3, a4, a0, a1, a2, b3, b4, b0, b1, b2, 3);
            step!(ah0, ah1, bh0, bh1, a4, a0, a1, a2, a3, b4, b0, b1, b2, b3, 3);
            step!(ah1, ah0, bh1, bh0, a0, a1, a2, a3, a4, b0, b1, b2, b3, b4, 3);

            abcd_a = _mm_add_epi32(abcd_a, ah0);
            e_a = _mm_sha1nexte_epu32(ah1, e_a);
            abcd_b = _mm_add_epi32(abcd_b, bh0);
            e_b = _mm_sha1nexte_epu32(bh1, e_b);
        }
        for (state, (abcd, e)) in states.iter_mut().zip([(abcd_a, e_a), (abcd_b, e_b)]) {
            *state = [
                _mm_extract_epi32(abcd, 3) as u32,
                _mm_extract_epi32(abcd, 2) as u32,
                _mm_extract_epi32(abcd, 1) as u32,
                _mm_extract_epi32(abcd, 0) as u32,
                _mm_extract_epi32(e, 3) as u32,
            ];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(pair: impl Fn() -> Sha1Pair, a: &[u8], b: &[u8], chunk: usize) -> [[u8; 20]; 2] {
        let mut hasher = pair();
        for (x, y) in a.chunks(chunk.max(1)).zip(b.chunks(chunk.max(1))) {
            hasher.update(x, y);
        }
        hasher.finalize()
    }

    fn expected(a: &[u8], b: &[u8]) -> [[u8; 20]; 2] {
        [Sha1::digest(a).into(), Sha1::digest(b).into()]
    }

    #[test]
    fn known_answers_at_every_padding_boundary() {
        // Lengths around the one- and two-block padding cases and a whole block.
        for len in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 16384] {
            let a: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let b: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
            for chunk in [1, 63, 64, 100, 4096] {
                assert_eq!(
                    both(Sha1Pair::new, &a, &b, chunk),
                    expected(&a, &b),
                    "{len} {chunk}"
                );
                assert_eq!(both(Sha1Pair::portable, &a, &b, chunk), expected(&a, &b));
            }
        }
        // FIPS 180 "abc".
        let abc = both(Sha1Pair::new, b"abc", b"abc", 3);
        assert_eq!(
            abc[0],
            [
                0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
                0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d
            ]
        );
    }

    proptest! {
        #[test]
        fn equals_two_ordinary_digests(
            seed_a in any::<u8>(),
            seed_b in any::<u8>(),
            len in 0usize..3000,
            chunk in 1usize..700,
        ) {
            let a: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed_a).collect();
            let b: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(17) ^ seed_b).collect();
            prop_assert_eq!(both(Sha1Pair::new, &a, &b, chunk), expected(&a, &b));
        }
    }
}

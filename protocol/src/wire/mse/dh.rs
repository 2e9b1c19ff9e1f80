//! The Diffie-Hellman group of BEP-less "message stream encryption" (MSE/PE): a fixed 768-bit
//! prime, generator 2, 160-bit private keys. Modular exponentiation in Montgomery form over
//! twelve 64-bit limbs: no bignum dependency, no allocation.
//!
//! MSE is obfuscation against traffic shaping, not authentication; this code aims to be correct
//! and bounded, not constant-time.

/// Limbs of a 768-bit number, least significant first.
const LIMBS: usize = 12;
type Limbs = [u64; LIMBS];

/// Public keys and the shared secret travel as 96 big-endian bytes.
pub const KEY_LEN: usize = 96;

/// The MSE prime P (big-endian hex, as the spec gives it).
const PRIME_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563";

struct Modulus {
    p: Limbs,
    /// -p^-1 mod 2^64.
    n0: u64,
    /// R^2 mod p with R = 2^768, to enter Montgomery form.
    r2: Limbs,
}

fn modulus() -> &'static Modulus {
    static M: std::sync::OnceLock<Modulus> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let mut bytes = [0u8; KEY_LEN];
        // A constant: the decode cannot fail, and a test pins it.
        hex::decode_to_slice(PRIME_HEX, &mut bytes).unwrap_or_default();
        let p = from_be(&bytes);
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(p[0].wrapping_mul(inv)));
        }
        let mut r2 = [0u64; LIMBS];
        r2[0] = 1;
        for _ in 0..2 * 64 * LIMBS {
            let carry = shl1(&mut r2);
            if carry || !less(&r2, &p) {
                sub(&mut r2, &p);
            }
        }
        Modulus {
            p,
            n0: inv.wrapping_neg(),
            r2,
        }
    })
}

fn from_be(bytes: &[u8; KEY_LEN]) -> Limbs {
    let mut limbs = [0u64; LIMBS];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let end = KEY_LEN - 8 * i;
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[end - 8..end]);
        *limb = u64::from_be_bytes(word);
    }
    limbs
}

fn to_be(limbs: &Limbs) -> [u8; KEY_LEN] {
    let mut bytes = [0u8; KEY_LEN];
    for (i, limb) in limbs.iter().enumerate() {
        let end = KEY_LEN - 8 * i;
        bytes[end - 8..end].copy_from_slice(&limb.to_be_bytes());
    }
    bytes
}

fn less(a: &Limbs, b: &Limbs) -> bool {
    for i in (0..LIMBS).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// a -= b (wrapping), for a >= b or to undo an overflow.
fn sub(a: &mut Limbs, b: &Limbs) {
    let mut borrow = false;
    for i in 0..LIMBS {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        a[i] = d;
        borrow = b1 || b2;
    }
}

/// a <<= 1; returns the bit shifted out.
fn shl1(a: &mut Limbs) -> bool {
    let mut carry = 0u64;
    for limb in a.iter_mut() {
        let next = *limb >> 63;
        *limb = (*limb << 1) | carry;
        carry = next;
    }
    carry != 0
}

/// Montgomery product a * b / R mod p (CIOS).
fn mont_mul(a: &Limbs, b: &Limbs, m: &Modulus) -> Limbs {
    let mut t = [0u64; LIMBS + 2];
    for &bi in b.iter() {
        let mut carry: u128 = 0;
        for j in 0..LIMBS {
            let s = u128::from(t[j]) + u128::from(a[j]) * u128::from(bi) + carry;
            t[j] = s as u64;
            carry = s >> 64;
        }
        let s = u128::from(t[LIMBS]) + carry;
        t[LIMBS] = s as u64;
        t[LIMBS + 1] = (s >> 64) as u64;

        let q = t[0].wrapping_mul(m.n0);
        let s = u128::from(t[0]) + u128::from(q) * u128::from(m.p[0]);
        let mut carry = s >> 64;
        for j in 1..LIMBS {
            let s = u128::from(t[j]) + u128::from(q) * u128::from(m.p[j]) + carry;
            t[j - 1] = s as u64;
            carry = s >> 64;
        }
        let s = u128::from(t[LIMBS]) + carry;
        t[LIMBS - 1] = s as u64;
        t[LIMBS] = t[LIMBS + 1] + (s >> 64) as u64;
        t[LIMBS + 1] = 0;
    }
    let mut r = [0u64; LIMBS];
    r.copy_from_slice(&t[..LIMBS]);
    if t[LIMBS] != 0 || !less(&r, &m.p) {
        sub(&mut r, &m.p);
    }
    r
}

/// base^exponent mod P; `base` is reduced first, `exponent` is big-endian of any length.
fn mod_pow(base: &[u8; KEY_LEN], exponent: &[u8]) -> [u8; KEY_LEN] {
    let m = modulus();
    let mut b = from_be(base);
    if !less(&b, &m.p) {
        sub(&mut b, &m.p); // b < 2^768 < 2p, so once is enough
    }
    let mut one = [0u64; LIMBS];
    one[0] = 1;
    let b = mont_mul(&b, &m.r2, m);
    let mut acc = mont_mul(&one, &m.r2, m);
    for byte in exponent {
        for bit in (0..8).rev() {
            acc = mont_mul(&acc, &acc, m);
            if byte >> bit & 1 == 1 {
                acc = mont_mul(&acc, &b, m);
            }
        }
    }
    to_be(&mont_mul(&acc, &one, m))
}

/// Our public key 2^private mod P for a 160-bit private key.
pub fn public_key(private: &[u8; 20]) -> [u8; KEY_LEN] {
    let mut two = [0u8; KEY_LEN];
    two[KEY_LEN - 1] = 2;
    mod_pow(&two, private)
}

/// The shared secret S = their_public^private mod P, or `None` for a degenerate public key
/// (0, 1 or P-1 would make S guessable).
pub fn shared_secret(their_public: &[u8; KEY_LEN], private: &[u8; 20]) -> Option<[u8; KEY_LEN]> {
    let m = modulus();
    let mut y = from_be(their_public);
    if !less(&y, &m.p) {
        sub(&mut y, &m.p);
    }
    let mut p_minus_1 = m.p;
    p_minus_1[0] -= 1; // P is odd
    let mut one = [0u64; LIMBS];
    one[0] = 1;
    if y == [0u64; LIMBS] || y == one || y == p_minus_1 {
        return None;
    }
    Some(mod_pow(&to_be(&y), private))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(n: u64) -> [u8; KEY_LEN] {
        let mut b = [0u8; KEY_LEN];
        b[KEY_LEN - 8..].copy_from_slice(&n.to_be_bytes());
        b
    }

    #[test]
    fn the_prime_is_what_the_spec_says() {
        let p = to_be(&modulus().p);
        assert_eq!(hex::encode_upper(p), PRIME_HEX);
        assert_eq!(
            p[0], 0xFF,
            "top bit set: the doubling reduction relies on it"
        );
    }

    #[test]
    fn small_powers_are_exact() {
        assert_eq!(mod_pow(&small(2), &[10]), small(1024));
        assert_eq!(mod_pow(&small(3), &[0]), small(1));
        assert_eq!(mod_pow(&small(7), &[0, 3]), small(343));
        assert_eq!(
            mod_pow(&small(0xffff_ffff), &[2]),
            small(0xffff_fffe_0000_0001)
        );
    }

    #[test]
    fn fermat_holds_for_the_prime() {
        // x^(P-1) = 1 mod P for a prime P: exercises every limb and the full reduction.
        let mut p_minus_1 = to_be(&modulus().p);
        p_minus_1[KEY_LEN - 1] -= 1;
        for x in [2u64, 3, 0xdead_beef, u64::MAX] {
            assert_eq!(mod_pow(&small(x), &p_minus_1), small(1), "x = {x}");
        }
        let big = [0x5a; KEY_LEN];
        assert_eq!(mod_pow(&big, &p_minus_1), small(1));
    }

    #[test]
    fn both_sides_agree_on_the_secret() {
        let (a, b) = ([0x11u8; 20], [0xeeu8; 20]);
        let (ya, yb) = (public_key(&a), public_key(&b));
        assert_ne!(ya, yb);
        assert_eq!(shared_secret(&yb, &a), shared_secret(&ya, &b));
        assert!(shared_secret(&small(1), &a).is_none());
        assert!(shared_secret(&small(0), &a).is_none());
    }
}

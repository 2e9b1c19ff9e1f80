//! BEP 6 allowed-fast sets: the pieces a peer may download from us while we choke it.
//!
//! The set is a pure function of the peer's network, the info-hash and the piece count, so
//! both sides could compute it and a peer gains nothing by reconnecting: x = the /24 of the
//! IPv4 address followed by the info-hash; repeatedly x = SHA-1(x) and each of the digest's five
//! big-endian u32 words, modulo the piece count, joins the set unless already in it.
//!
//! BEP 6 defines the set for IPv4 only. For IPv6 we hash the /64 network (the first 8 bytes:
//! what one subscriber usually gets, as one /24 was), an IPv4-mapped address counts as IPv4.

use std::net::IpAddr;

use sha1::{Digest, Sha1};

use crate::InfoHash;

/// What to feed the generator for `ip`: its network prefix, masked as described above.
pub fn allowed_fast_prefix(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            vec![o[0], o[1], o[2], 0]
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => allowed_fast_prefix(IpAddr::V4(v4)),
            None => v6.octets()[..8].to_vec(),
        },
    }
}

/// The canonical allowed-fast set of `k` pieces for a peer at `ip`, in generation order.
/// A torrent of `piece_count <= k` pieces yields every piece; no pieces yields an empty set.
pub fn allowed_fast_set(ip: IpAddr, info_hash: &InfoHash, piece_count: u32, k: u32) -> Vec<u32> {
    allowed_fast_from(&allowed_fast_prefix(ip), info_hash, piece_count, k)
}

/// The generator on raw address bytes, unmasked (libtorrent, for one, hashes the whole
/// address: tests use this to predict the set it grants us).
pub fn allowed_fast_from(
    addr_bytes: &[u8],
    info_hash: &InfoHash,
    piece_count: u32,
    k: u32,
) -> Vec<u32> {
    if piece_count <= k {
        // The sequence could never yield more distinct pieces than there are.
        return (0..piece_count).collect();
    }
    let mut out: Vec<u32> = Vec::with_capacity(k as usize);
    let mut x = addr_bytes.to_vec();
    x.extend_from_slice(&info_hash.0);
    // piece_count > k, so each new index has a fair chance; the bound only guards against a
    // pathological (astronomically unlikely) run of repeats ever looping for long.
    for _ in 0..(64 * k as usize + 64) {
        if out.len() >= k as usize {
            break;
        }
        let digest: [u8; 20] = Sha1::digest(&x).into();
        for word in digest.chunks_exact(4) {
            if out.len() >= k as usize {
                break;
            }
            let y = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            let index = y % piece_count;
            if !out.contains(&index) {
                out.push(index);
            }
        }
        x = digest.to_vec();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEP6_HASH: InfoHash = InfoHash([0xAA; 20]);

    #[test]
    fn bep6_test_vectors() {
        let ip: IpAddr = "80.4.4.200".parse().unwrap();
        assert_eq!(
            allowed_fast_set(ip, &BEP6_HASH, 1313, 7),
            vec![1059, 431, 808, 1217, 287, 376, 1188]
        );
        assert_eq!(
            allowed_fast_set(ip, &BEP6_HASH, 1313, 9),
            vec![1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
        );
    }

    #[test]
    fn the_whole_slash_24_shares_one_set_and_others_differ() {
        let a = allowed_fast_set("80.4.4.1".parse().unwrap(), &BEP6_HASH, 1313, 7);
        assert_eq!(a[0], 1059);
        let mapped: IpAddr = "::ffff:80.4.4.77".parse().unwrap();
        assert_eq!(allowed_fast_set(mapped, &BEP6_HASH, 1313, 7), a);
        let other = allowed_fast_set("80.4.5.200".parse().unwrap(), &BEP6_HASH, 1313, 7);
        assert_ne!(other, a);
        // Unmasked bytes are a different input (what libtorrent hashes).
        assert_ne!(allowed_fast_from(&[80, 4, 4, 200], &BEP6_HASH, 1313, 7), a);
    }

    #[test]
    fn ipv6_uses_the_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let set = allowed_fast_set(a, &BEP6_HASH, 500, 10);
        assert_eq!(set.len(), 10);
        assert_eq!(allowed_fast_set(b, &BEP6_HASH, 500, 10), set);
        assert_ne!(allowed_fast_set(c, &BEP6_HASH, 500, 10), set);
    }

    #[test]
    fn small_torrents_and_bounds() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(allowed_fast_set(ip, &BEP6_HASH, 0, 10), Vec::<u32>::new());
        assert_eq!(allowed_fast_set(ip, &BEP6_HASH, 3, 10), vec![0, 1, 2]);
        assert_eq!(allowed_fast_set(ip, &BEP6_HASH, 10, 10).len(), 10);
        assert_eq!(allowed_fast_set(ip, &BEP6_HASH, 100, 0), Vec::<u32>::new());
        for n in [11u32, 12, 50, 1 << 20] {
            let set = allowed_fast_set(ip, &BEP6_HASH, n, 10);
            assert_eq!(set.len(), 10, "n = {n}");
            assert!(set.iter().all(|&i| i < n));
            let mut sorted = set.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 10, "distinct");
        }
    }
}

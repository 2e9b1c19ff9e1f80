//! RC4, as MSE uses it: keyed with a SHA-1 digest, the first 1024 bytes of keystream discarded.

/// One direction's RC4 keystream.
#[derive(Clone)]
pub struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl std::fmt::Debug for Rc4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rc4(..)") // never print key material
    }
}

impl Rc4 {
    pub fn new(key: &[u8]) -> Rc4 {
        let mut s = [0u8; 256];
        for (i, v) in s.iter_mut().enumerate() {
            *v = i as u8;
        }
        let mut j: u8 = 0;
        if !key.is_empty() {
            for i in 0..256 {
                j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
                s.swap(i, usize::from(j));
            }
        }
        Rc4 { s, i: 0, j: 0 }
    }

    /// Keyed for MSE: RC4 with the first 1024 keystream bytes thrown away.
    pub fn mse(key: &[u8; 20]) -> Rc4 {
        let mut rc4 = Rc4::new(key);
        rc4.apply(&mut [0u8; 1024]);
        rc4
    }

    /// Encrypts or decrypts `data` in place (the same operation).
    pub fn apply(&mut self, data: &mut [u8]) {
        for byte in data {
            self.i = self.i.wrapping_add(1);
            self.j = self.j.wrapping_add(self.s[usize::from(self.i)]);
            self.s.swap(usize::from(self.i), usize::from(self.j));
            let k = self.s[usize::from(
                self.s[usize::from(self.i)].wrapping_add(self.s[usize::from(self.j)]),
            )];
            *byte ^= k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // The classic test vectors (Wikipedia / RFC 6229 style).
        let mut data = *b"Plaintext";
        Rc4::new(b"Key").apply(&mut data);
        assert_eq!(hex::encode(data), "bbf316e8d940af0ad3");
        let mut data = *b"pedia";
        Rc4::new(b"Wiki").apply(&mut data);
        assert_eq!(hex::encode(data), "1021bf0420");
    }

    #[test]
    fn the_same_keystream_decrypts() {
        let key = [9u8; 20];
        let mut data = b"attack at dawn".to_vec();
        Rc4::mse(&key).apply(&mut data);
        assert_ne!(&data, b"attack at dawn");
        Rc4::mse(&key).apply(&mut data);
        assert_eq!(&data, b"attack at dawn");
    }
}

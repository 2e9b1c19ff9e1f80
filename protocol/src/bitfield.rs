//! A fixed-length set of piece indices, stored the way the wire carries it (high bit first).

/// Why a peer's bitfield cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BitfieldError {
    #[error("bitfield of {got} bytes, expected {expected} for {pieces} pieces")]
    WrongLength {
        got: usize,
        expected: usize,
        pieces: u32,
    },
    #[error("bitfield has bits set past the last piece")]
    SpareBitsSet,
}

/// `len` bits; bits past `len` in the last byte are always zero.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

impl Bitfield {
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; byte_len(len)],
            len,
            ones: 0,
        }
    }

    pub fn full(len: u32) -> Self {
        let mut b = Self::new(len);
        for i in 0..len {
            b.set(i);
        }
        b
    }

    /// Reads a peer's `bitfield` message: exactly `ceil(len/8)` bytes, spare bits zero.
    pub fn from_wire(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let expected = byte_len(len);
        if bytes.len() != expected {
            return Err(BitfieldError::WrongLength {
                got: bytes.len(),
                expected,
                pieces: len,
            });
        }
        let spare = (expected * 8) as u64 - u64::from(len);
        if spare > 0 {
            let mask = (1u8 << spare) - 1;
            if bytes.last().is_some_and(|&b| b & mask != 0) {
                return Err(BitfieldError::SpareBitsSet);
            }
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len,
            ones,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Out-of-range indices are simply absent.
    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bytes[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Sets bit `i`; returns whether it changed. Out of range is a no-op returning false.
    pub fn set(&mut self, i: u32) -> bool {
        if i >= self.len || self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] |= 0x80 >> (i % 8);
        self.ones += 1;
        true
    }

    pub fn clear(&mut self, i: u32) -> bool {
        if !self.get(i) {
            return false;
        }
        self.bytes[(i / 8) as usize] &= !(0x80 >> (i % 8));
        self.ones -= 1;
        true
    }

    pub fn count_ones(&self) -> u32 {
        self.ones
    }

    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }

    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(|&i| self.get(i))
    }
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{})", self.ones, self.len)
    }
}

fn byte_len(bits: u32) -> usize {
    (bits as usize).div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_length_and_spare_bits_are_checked() {
        assert!(Bitfield::from_wire(&[0xff, 0x80], 9).is_ok());
        assert_eq!(
            Bitfield::from_wire(&[0xff, 0xc0], 9),
            Err(BitfieldError::SpareBitsSet)
        );
        assert!(matches!(
            Bitfield::from_wire(&[0xff], 9),
            Err(BitfieldError::WrongLength { .. })
        ));
        assert!(Bitfield::from_wire(&[], 0).is_ok());
    }

    #[test]
    fn set_clear_count() {
        let mut b = Bitfield::new(10);
        assert!(b.set(9));
        assert!(!b.set(9));
        assert!(!b.set(10));
        assert!(b.get(9) && !b.get(8) && !b.get(100));
        assert_eq!(b.count_ones(), 1);
        assert_eq!(b.as_bytes(), &[0, 0x40]);
        assert!(b.clear(9));
        assert_eq!(b.count_ones(), 0);
        assert!(Bitfield::full(10).is_full());
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..20), len in 0u32..200) {
            if let Ok(b) = Bitfield::from_wire(&bytes, len) {
                prop_assert_eq!(b.as_bytes(), &bytes[..]);
                prop_assert_eq!(b.iter_ones().count() as u32, b.count_ones());
            }
        }
    }
}

//! Test data on disk.

use std::path::Path;

/// Writes `len` pseudo-random bytes (the same for the same `seed`) to `path`, creating its
/// directory, and returns them for comparing with what a client downloaded.
pub fn write_random(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut data = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, &data).unwrap();
    data
}

#![no_main]
//! Arbitrary bytes through `protocol::magnet`: never a panic, and its invariants hold.

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::magnet::fuzz_one(data));

#![no_main]
//! Arbitrary bytes through `protocol::bencode`: never a panic, and its invariants hold.

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::bencode::fuzz_one(data));

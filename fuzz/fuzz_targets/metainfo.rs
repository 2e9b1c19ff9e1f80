#![no_main]
//! Arbitrary bytes through `protocol::metainfo`: never a panic, and its invariants hold.

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::metainfo::fuzz_one(data));

#![no_main]
//! Arbitrary bytes through bttrack's own request handling: the one-shot HTTP fast path, GET
//! routing (announce, scrape, listing, .torrent files), UDP datagrams with a valid connection
//! id, and the --dfile/--file state formats (see `bttrack::fuzz`).

libfuzzer_sys::fuzz_target!(|data: &[u8]| bttrack::fuzz::fuzz_one(data));

//! Hashes one file the way `btpublish` does and prints the time; bench/hash.sh uses it to try
//! thread counts and read sizes. Usage: hash_file FILE PIECE_LENGTH [THREADS] [READ_SIZE]
use std::time::Instant;

use btpublish::{hash_pieces, HashOptions, Segment};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(piece)) = (args.get(1), args.get(2).and_then(|s| s.parse().ok())) else {
        eprintln!("usage: hash_file FILE PIECE_LENGTH [THREADS] [READ_SIZE]");
        std::process::exit(2);
    };
    let mut options = HashOptions::default();
    if let Some(t) = args.get(3).and_then(|s| s.parse().ok()) {
        options.threads = t;
    }
    if let Some(r) = args.get(4).and_then(|s| s.parse().ok()) {
        options.read_size = r;
    }
    let length = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let segments = [Segment::File {
        path: path.into(),
        length,
    }];
    let started = Instant::now();
    match hash_pieces(&segments, piece, options, &|_| {}) {
        Ok(pieces) => {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{} pieces in {secs:.3} s = {:.0} MB/s ({options:?})",
                pieces.len(),
                length as f64 / secs / 1e6
            );
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

//! Small torrents for the storage tests: one builder instead of a copy in each test module.

use protocol::{FileEntry, Info};

/// A torrent named `name` of 16-byte pieces whose files are `(path, length, pad)`, with `/`
/// separating a path's components; the piece hashes are zeros (the storage never checks them).
pub(crate) fn test_info<P: AsRef<str>>(
    name: &str,
    single_file: bool,
    files: &[(P, u64, bool)],
) -> Info {
    let mut offset = 0;
    let files = files
        .iter()
        .map(|(path, length, pad)| {
            let e = FileEntry {
                path: path.as_ref().split('/').map(str::to_owned).collect(),
                length: *length,
                offset,
                pad: *pad,
                executable: false,
                hidden: false,
            };
            offset += length;
            e
        })
        .collect();
    Info {
        name: name.into(),
        piece_length: 16,
        pieces: vec![[0; 20]; offset.div_ceil(16) as usize],
        files,
        single_file,
        private: false,
        total_length: offset,
    }
}

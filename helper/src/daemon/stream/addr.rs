//! The streaming server's address and secret: what the daemon's state keeps and URLs are made
//! of (below both the state and the server).

use super::mime;

/// Where the server listens and the secret its URLs carry.
#[derive(Clone)]
pub struct StreamAddr {
    pub port: u16,
    pub token: String,
}

impl StreamAddr {
    /// The URL of file `index` (named `name`) of torrent `info_hash` (hex).
    pub fn url(&self, info_hash: &str, index: usize, name: &str) -> String {
        format!(
            "http://127.0.0.1:{}/stream/{}/{info_hash}/{index}/{}",
            self.port,
            self.token,
            mime::url_segment(name)
        )
    }
}

/// 128 bits from the operating system's generator, as 32 hex digits.
pub(super) fn new_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_128_random_bits_and_urls_name_the_file_safely() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        let addr = StreamAddr {
            port: 4000,
            token: a.clone(),
        };
        assert_eq!(
            addr.url(&"ab".repeat(20), 3, "a b.mkv"),
            format!(
                "http://127.0.0.1:4000/stream/{a}/{}/3/a%20b.mkv",
                "ab".repeat(20)
            )
        );
    }
}

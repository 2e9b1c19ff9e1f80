//! BEP 48 scrape: `GET /scrape?info_hash=...&info_hash=...` and its `files` dictionary.

use std::collections::BTreeMap;

use super::query::{decode_fixed, pairs, percent_encode_bytes};
use super::response::{failure_bytes, put_int, ResponseDecodeError, REPLY_LIMITS};
use super::{QueryError, MAX_QUERY_LEN};
use crate::bencode::{self, Value};
use crate::InfoHash;

/// Most info-hashes in one scrape (BEP 15's UDP limit is about 74; HTTP queries stay small too).
pub const MAX_SCRAPE_HASHES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapeRequest {
    /// Empty means "every torrent" (a full scrape), which trackers may refuse.
    pub info_hashes: Vec<InfoHash>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrapeStats {
    /// Seeders.
    pub complete: u32,
    /// Completed downloads ever reported.
    pub downloaded: u32,
    /// Leechers.
    pub incomplete: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapeResponse {
    pub failure_reason: Option<String>,
    /// Sorted by info-hash (the order bencode requires).
    pub files: BTreeMap<InfoHash, ScrapeStats>,
}

impl ScrapeRequest {
    pub fn to_query(&self) -> String {
        let mut q = String::with_capacity(self.info_hashes.len() * 71);
        for (i, h) in self.info_hashes.iter().enumerate() {
            if i > 0 {
                q.push('&');
            }
            q.push_str("info_hash=");
            percent_encode_bytes(h.as_bytes(), &mut q);
        }
        q
    }

    /// Every `info_hash` value (repeats are the point here); other keys are ignored.
    pub fn parse_query(query: &[u8]) -> Result<ScrapeRequest, QueryError> {
        if query.len() > MAX_QUERY_LEN {
            return Err(QueryError::TooLong(query.len()));
        }
        let mut info_hashes = Vec::new();
        for (k, v) in pairs(query) {
            if k == b"info_hash" {
                if info_hashes.len() == MAX_SCRAPE_HASHES {
                    return Err(QueryError::TooMany(MAX_SCRAPE_HASHES));
                }
                info_hashes.push(InfoHash(decode_fixed::<20>(v, "info_hash")?));
            }
        }
        Ok(ScrapeRequest { info_hashes })
    }
}

impl ScrapeResponse {
    pub fn failure(reason: impl Into<String>) -> Self {
        ScrapeResponse {
            failure_reason: Some(reason.into()),
            files: BTreeMap::new(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(reason) = &self.failure_reason {
            failure_bytes(reason, out);
            return;
        }
        out.extend_from_slice(b"d5:filesd");
        for (h, s) in &self.files {
            out.extend_from_slice(b"20:");
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(b"d8:complete");
            put_int(out, i64::from(s.complete));
            out.extend_from_slice(b"10:downloaded");
            put_int(out, i64::from(s.downloaded));
            out.extend_from_slice(b"10:incomplete");
            put_int(out, i64::from(s.incomplete));
            out.push(b'e');
        }
        out.extend_from_slice(b"ee");
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.files.len() * 80);
        self.encode(&mut out);
        out
    }

    /// Reads a scrape reply; entries whose key is not 20 bytes are an error, missing counts are 0.
    pub fn decode(bytes: &[u8]) -> Result<ScrapeResponse, ResponseDecodeError> {
        let root = bencode::decode_with(bytes, REPLY_LIMITS)?;
        if root.as_dict().is_none() {
            return Err(ResponseDecodeError::NotADict);
        }
        if let Some(reason) = root.get("failure reason") {
            let reason = reason
                .as_bytes()
                .ok_or(ResponseDecodeError::Invalid("failure reason"))?;
            return Ok(ScrapeResponse::failure(String::from_utf8_lossy(reason)));
        }
        let mut files = BTreeMap::new();
        if let Some(v) = root.get("files") {
            let dict = v.as_dict().ok_or(ResponseDecodeError::Invalid("files"))?;
            for (k, entry) in dict {
                let h =
                    InfoHash::from_slice(k).map_err(|_| ResponseDecodeError::Invalid("files"))?;
                let n = |key: &str| -> Result<u32, ResponseDecodeError> {
                    match entry.get(key) {
                        None => Ok(0),
                        Some(v) => v
                            .as_int()
                            .and_then(|i| u32::try_from(i).ok())
                            .ok_or(ResponseDecodeError::Invalid("files")),
                    }
                };
                if !matches!(entry, Value::Dict(_)) {
                    return Err(ResponseDecodeError::Invalid("files"));
                }
                files.insert(
                    h,
                    ScrapeStats {
                        complete: n("complete")?,
                        downloaded: n("downloaded")?,
                        incomplete: n("incomplete")?,
                    },
                );
            }
        }
        Ok(ScrapeResponse {
            failure_reason: None,
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_scrape_queries_are_errors() {
        assert!(ScrapeRequest::parse_query(b"info_hash=abc").is_err());
        assert!(ScrapeRequest::parse_query(b"info_hash=%G0").is_err());
        let many = vec!["info_hash=aaaaaaaaaaaaaaaaaaaa"; MAX_SCRAPE_HASHES + 1].join("&");
        assert_eq!(
            ScrapeRequest::parse_query(many.as_bytes()),
            Err(QueryError::TooMany(MAX_SCRAPE_HASHES))
        );
        assert_eq!(
            ScrapeRequest::parse_query(b"").unwrap().info_hashes.len(),
            0
        );
    }

    proptest! {
        #[test]
        fn request_round_trips(hashes in proptest::collection::vec(any::<[u8; 20]>(), 0..MAX_SCRAPE_HASHES)) {
            let r = ScrapeRequest { info_hashes: hashes.into_iter().map(InfoHash).collect() };
            prop_assert_eq!(ScrapeRequest::parse_query(r.to_query().as_bytes()), Ok(r));
        }

        #[test]
        fn response_round_trips(files in proptest::collection::btree_map(any::<[u8; 20]>(), any::<(u32, u32, u32)>(), 0..30)) {
            let r = ScrapeResponse {
                failure_reason: None,
                files: files.into_iter().map(|(h, (c, d, i))| (InfoHash(h), ScrapeStats { complete: c, downloaded: d, incomplete: i })).collect(),
            };
            let bytes = r.to_bytes();
            prop_assert_eq!(bencode::decode(&bytes).unwrap().to_bytes(), bytes.clone());
            prop_assert_eq!(ScrapeResponse::decode(&bytes), Ok(r));
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = ScrapeRequest::parse_query(&bytes);
            let _ = ScrapeResponse::decode(&bytes);
        }
    }
}

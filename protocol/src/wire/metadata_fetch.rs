//! Assembling a torrent's info dictionary from BEP 9 pieces (the magnet-link path), and answering
//! other peers' requests for ours. Pure bookkeeping: which peer to ask, and when to give up on a
//! request, are the engine's.

use super::{metadata_piece_count, ExtensionError, MetadataMessage, METADATA_PIECE_LEN};
use crate::InfoHash;

/// Why a received metadata piece or the assembled whole was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error(transparent)]
    Size(#[from] ExtensionError),
    #[error("peer says the metadata is {got} bytes, we expect {expected}")]
    TotalSizeMismatch { got: u64, expected: u64 },
    #[error("metadata piece {piece} does not exist (there are {count})")]
    NoSuchPiece { piece: u32, count: u32 },
    #[error("metadata piece {piece} has {len} bytes, expected {expected}")]
    WrongLength {
        piece: u32,
        len: usize,
        expected: usize,
    },
    #[error("metadata does not hash to the info-hash {0}")]
    HashMismatch(InfoHash),
}

/// Collects the pieces of one torrent's info dictionary, sized by the `metadata_size` a peer
/// announced in its extended handshake.
///
/// If the finished bytes do not hash to the info-hash, [`finish`](Self::finish) fails and the
/// download starts over (the engine should then distrust the peers that supplied it).
#[derive(Debug, Clone)]
pub struct MetadataDownload {
    info_hash: InfoHash,
    bytes: Vec<u8>,
    received: Vec<bool>,
}

impl MetadataDownload {
    /// Bounded by [`MAX_METADATA_SIZE`](super::MAX_METADATA_SIZE): a peer announcing more is
    /// refused before anything is allocated.
    pub fn new(info_hash: InfoHash, metadata_size: u64) -> Result<Self, MetadataError> {
        let count = metadata_piece_count(metadata_size)?;
        Ok(MetadataDownload {
            info_hash,
            bytes: vec![0; metadata_size as usize],
            received: vec![false; count as usize],
        })
    }

    pub fn total_size(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn piece_count(&self) -> u32 {
        self.received.len() as u32
    }

    /// Pieces still to fetch, lowest first.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        self.received
            .iter()
            .enumerate()
            .filter(|(_, got)| !**got)
            .map(|(i, _)| i as u32)
    }

    pub fn is_complete(&self) -> bool {
        self.received.iter().all(|&got| got)
    }

    /// Stores a `Data` message's piece after checking its index, length and `total_size`.
    pub fn on_data(
        &mut self,
        piece: u32,
        total_size: u64,
        data: &[u8],
    ) -> Result<(), MetadataError> {
        if total_size != self.total_size() {
            return Err(MetadataError::TotalSizeMismatch {
                got: total_size,
                expected: self.total_size(),
            });
        }
        let range = piece_range(self.bytes.len(), piece).ok_or(MetadataError::NoSuchPiece {
            piece,
            count: self.piece_count(),
        })?;
        if data.len() != range.len() {
            return Err(MetadataError::WrongLength {
                piece,
                len: data.len(),
                expected: range.len(),
            });
        }
        self.bytes[range].copy_from_slice(data);
        self.received[piece as usize] = true;
        Ok(())
    }

    /// The verified info dictionary. On a hash mismatch every piece is marked missing again.
    pub fn finish(&mut self) -> Result<Vec<u8>, MetadataError> {
        if InfoHash::of_info_bytes(&self.bytes) != self.info_hash {
            self.received.iter_mut().for_each(|got| *got = false);
            return Err(MetadataError::HashMismatch(self.info_hash));
        }
        Ok(std::mem::take(&mut self.bytes))
    }
}

impl MetadataDownload {
    /// A `.torrent` file around a fetched info dictionary, with a magnet link's trackers (one
    /// tier each, as they are independent) and web seeds. `info` is spliced in byte for byte,
    /// so the file's info-hash is the one the metadata was verified against.
    pub fn torrent_file(info: &[u8], trackers: &[String], web_seeds: &[String]) -> Vec<u8> {
        use crate::bencode::Value;
        let string = |s: &String| Value::bytes(s.as_bytes());
        let mut out = b"d".to_vec();
        let put = |key: &str, value: Value<'_>, out: &mut Vec<u8>| {
            Value::bytes(key.as_bytes()).encode(out);
            value.encode(out);
        };
        // Keys in sorted order, as BEP 3 requires: announce, announce-list, info, url-list.
        if let Some(first) = trackers.first() {
            put("announce", string(first), &mut out);
            let tiers = trackers.iter().map(|t| Value::List(vec![string(t)]));
            put("announce-list", Value::List(tiers.collect()), &mut out);
        }
        out.extend_from_slice(b"4:info");
        out.extend_from_slice(info);
        if !web_seeds.is_empty() {
            put(
                "url-list",
                Value::List(web_seeds.iter().map(string).collect()),
                &mut out,
            );
        }
        out.push(b'e');
        out
    }
}

/// The byte range of metadata piece `piece` in an info dictionary of `total` bytes.
fn piece_range(total: usize, piece: u32) -> Option<std::ops::Range<usize>> {
    let start = (piece as usize).checked_mul(METADATA_PIECE_LEN)?;
    if start >= total {
        return None;
    }
    Some(start..total.min(start + METADATA_PIECE_LEN))
}

/// Our answer to a peer's request for metadata piece `piece` of `info` (our raw info
/// dictionary): the piece, or a reject if it does not exist.
pub fn metadata_reply(info: &[u8], piece: u32) -> MetadataMessage<'_> {
    match piece_range(info.len(), piece) {
        Some(range) => MetadataMessage::Data {
            piece,
            total_size: info.len() as u64,
            data: &info[range],
        },
        None => MetadataMessage::Reject { piece },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn pieces_served_by_one_side_assemble_on_the_other() {
        let ours = info(2 * METADATA_PIECE_LEN + 100);
        let ih = InfoHash::of_info_bytes(&ours);
        let mut download = MetadataDownload::new(ih, ours.len() as u64).unwrap();
        assert_eq!(download.piece_count(), 3);
        for piece in download.missing().collect::<Vec<_>>().into_iter().rev() {
            let MetadataMessage::Data {
                piece,
                total_size,
                data,
            } = metadata_reply(&ours, piece)
            else {
                panic!("piece {piece} exists")
            };
            download.on_data(piece, total_size, data).unwrap();
        }
        assert!(download.is_complete());
        assert_eq!(download.finish().unwrap(), ours);
        assert_eq!(
            metadata_reply(&ours, 3),
            MetadataMessage::Reject { piece: 3 }
        );
        assert_eq!(
            metadata_reply(&ours, u32::MAX),
            MetadataMessage::Reject { piece: u32::MAX }
        );
    }

    #[test]
    fn lying_pieces_are_refused() {
        let ours = info(METADATA_PIECE_LEN + 10);
        let ih = InfoHash::of_info_bytes(&ours);
        let mut d = MetadataDownload::new(ih, ours.len() as u64).unwrap();
        let total = ours.len() as u64;
        assert!(matches!(
            d.on_data(0, total + 1, &ours[..METADATA_PIECE_LEN]),
            Err(MetadataError::TotalSizeMismatch { .. })
        ));
        assert!(matches!(
            d.on_data(2, total, &[]),
            Err(MetadataError::NoSuchPiece { piece: 2, count: 2 })
        ));
        assert!(matches!(
            d.on_data(1, total, &ours[..11]),
            Err(MetadataError::WrongLength { expected: 10, .. })
        ));
        assert!(MetadataDownload::new(ih, 0).is_err());
        assert!(MetadataDownload::new(ih, u64::MAX).is_err());
    }

    #[test]
    fn the_torrent_file_keeps_the_info_bytes_and_the_links_trackers() {
        let info =
            b"d6:lengthi5e4:name5:a.txt12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxe";
        let trackers = vec!["http://a/announce".to_string(), "udp://b:1".to_string()];
        let seeds = vec!["http://w/a.txt".to_string()];
        let bytes = MetadataDownload::torrent_file(info, &trackers, &seeds);
        let m = crate::Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(m.info_hash, InfoHash::of_info_bytes(info));
        assert_eq!(m.info_bytes(), info);
        assert_eq!(
            m.tiers(),
            vec![vec![trackers[0].clone()], vec![trackers[1].clone()]]
        );
        assert_eq!(m.url_list, seeds);
        let bare =
            crate::Metainfo::from_bytes(&MetadataDownload::torrent_file(info, &[], &[])).unwrap();
        assert!(bare.tiers().is_empty());
    }

    #[test]
    fn a_wrong_hash_starts_over() {
        let ours = info(100);
        let mut d = MetadataDownload::new(InfoHash([9; 20]), 100).unwrap();
        d.on_data(0, 100, &ours).unwrap();
        assert!(d.is_complete());
        assert_eq!(
            d.finish(),
            Err(MetadataError::HashMismatch(InfoHash([9; 20])))
        );
        assert_eq!(d.missing().collect::<Vec<_>>(), vec![0]);
    }
}

//! Bodies a web server compressed though we asked for `identity` (some servers and CDNs gzip
//! whatever they send): `gzip` and `deflate` are decoded as they stream past.
//!
//! Bounded like any other body: decoded bytes come out a chunk (at most [`MAX_CHUNK`]) at a time,
//! only from what has been received, and the reader stops asking once its range is filled. So a
//! few kilobytes that inflate to gigabytes (a gzip bomb) cost a chunk of memory and nothing on
//! disk beyond the range asked for (see `fetch::read_body`).

use std::io::Write;

use bytes::{Buf, Bytes};
use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};

/// The most decoded bytes held at once: flate2's writer buffers 32 KiB, and each chunk is
/// taken out before more input goes in.
pub(crate) const MAX_CHUNK: usize = 64 * 1024;

/// What a `Content-Encoding` asks of us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    /// HTTP's `deflate` is zlib (RFC 1950), but some servers send raw deflate: sniffed.
    Deflate,
}

impl Encoding {
    /// The encoding named by a `Content-Encoding` header (absent: identity); an error names one
    /// we cannot decode (`br`, `zstd`, several stacked).
    pub(crate) fn parse(header: Option<&str>) -> Result<Encoding, String> {
        let Some(value) = header else {
            return Ok(Encoding::Identity);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "deflate" => Ok(Encoding::Deflate),
            _ => Err(format!(
                "Content-Encoding {value:?} (only gzip and deflate can be decoded)"
            )),
        }
    }
}

enum Inner {
    Identity,
    /// `deflate` before its first two bytes said whether it is zlib or raw.
    Sniffing,
    Gzip(MultiGzDecoder<Vec<u8>>),
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
}

/// Turns body frames into decoded bytes: [`Decoder::feed`] a frame, then take
/// [`Decoder::next_chunk`] until it says it needs more.
pub(crate) struct Decoder {
    inner: Inner,
    /// Received bytes not yet taken by the decoder.
    input: Bytes,
}

impl Decoder {
    pub(crate) fn new(encoding: Encoding) -> Decoder {
        let inner = match encoding {
            Encoding::Identity => Inner::Identity,
            Encoding::Gzip => Inner::Gzip(MultiGzDecoder::new(Vec::new())),
            Encoding::Deflate => Inner::Sniffing,
        };
        Decoder {
            inner,
            input: Bytes::new(),
        }
    }

    /// Adds a received frame; call only once `next_chunk` has returned `None`.
    pub(crate) fn feed(&mut self, data: Bytes) {
        if self.input.is_empty() {
            self.input = data;
        } else {
            // Only `Sniffing` keeps input across frames (a 1-byte first frame): tiny.
            let mut joined = self.input.to_vec();
            joined.extend_from_slice(&data);
            self.input = joined.into();
        }
    }

    /// The next decoded bytes from what was fed (at most [`MAX_CHUNK`]); `None`: feed more.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<Bytes>, String> {
        if matches!(self.inner, Inner::Identity) {
            return Ok((!self.input.is_empty()).then(|| std::mem::take(&mut self.input)));
        }
        if matches!(self.inner, Inner::Sniffing) {
            let [a, b, ..] = self.input[..] else {
                return Ok(None);
            };
            // RFC 1950: method 8 in the low nibble, and the two bytes a multiple of 31.
            let zlib = a & 0x0f == 8 && (u16::from(a) << 8 | u16::from(b)) % 31 == 0;
            self.inner = if zlib {
                Inner::Zlib(ZlibDecoder::new(Vec::new()))
            } else {
                Inner::Raw(DeflateDecoder::new(Vec::new()))
            };
        }
        loop {
            if let Some(out) = self.take_output() {
                return Ok(Some(out));
            }
            if self.input.is_empty() {
                return Ok(None);
            }
            let used = self.write()?;
            if used == 0 {
                return Err("bytes after the end of the compressed body".into());
            }
            self.input.advance(used);
        }
    }

    /// The body ended: the bytes the decoder still held (`None` if nothing), or an error for a
    /// compressed stream cut short or corrupt.
    pub(crate) fn finish(&mut self) -> Result<Option<Bytes>, String> {
        let done = match &mut self.inner {
            Inner::Identity => return self.next_chunk(),
            Inner::Sniffing => {
                return match self.input.is_empty() {
                    true => Ok(None),
                    false => Err("a deflate body of one byte".into()),
                }
            }
            Inner::Gzip(d) => d.try_finish(),
            Inner::Zlib(d) => d.try_finish(),
            Inner::Raw(d) => d.try_finish(),
        };
        done.map_err(|e| format!("cannot decode the compressed body: {e}"))?;
        Ok(self.take_output())
    }

    fn write(&mut self) -> Result<usize, String> {
        let input = &self.input[..];
        let written = match &mut self.inner {
            Inner::Gzip(d) => d.write(input),
            Inner::Zlib(d) => d.write(input),
            Inner::Raw(d) => d.write(input),
            Inner::Identity | Inner::Sniffing => Ok(input.len()),
        };
        written.map_err(|e| format!("cannot decode the compressed body: {e}"))
    }

    fn take_output(&mut self) -> Option<Bytes> {
        let out = match &mut self.inner {
            Inner::Gzip(d) => d.get_mut(),
            Inner::Zlib(d) => d.get_mut(),
            Inner::Raw(d) => d.get_mut(),
            Inner::Identity | Inner::Sniffing => return None,
        };
        debug_assert!(
            out.len() <= MAX_CHUNK,
            "{} decoded bytes at once",
            out.len()
        );
        (!out.is_empty()).then(|| Bytes::from(std::mem::take(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

    fn decode_all(encoding: Encoding, body: &[u8], frame: usize) -> Result<Vec<u8>, String> {
        let mut d = Decoder::new(encoding);
        let mut out = Vec::new();
        for f in body.chunks(frame) {
            d.feed(Bytes::copy_from_slice(f));
            while let Some(c) = d.next_chunk()? {
                out.extend_from_slice(&c);
            }
        }
        if let Some(c) = d.finish()? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }

    fn compressed(encoding: &str, data: &[u8]) -> Vec<u8> {
        match encoding {
            "gzip" => {
                let mut e = GzEncoder::new(Vec::new(), Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "zlib" => {
                let mut e = ZlibEncoder::new(Vec::new(), Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            _ => {
                let mut e = DeflateEncoder::new(Vec::new(), Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_decode_whatever_the_framing() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for (name, encoding) in [
            ("gzip", Encoding::Gzip),
            ("zlib", Encoding::Deflate),
            ("raw", Encoding::Deflate),
        ] {
            let body = compressed(name, &data);
            for frame in [1, 7, 16384, body.len()] {
                assert!(
                    decode_all(encoding, &body, frame).unwrap() == data,
                    "{name} in frames of {frame}"
                );
            }
        }
        assert_eq!(decode_all(Encoding::Identity, b"abc", 2).unwrap(), b"abc");
    }

    #[test]
    fn corrupt_cut_and_padded_bodies_are_errors() {
        let body = compressed("gzip", &[5u8; 100_000]);
        assert!(decode_all(Encoding::Gzip, &body[..body.len() / 2], 4096).is_err());
        let mut flipped = body.clone();
        flipped[20] ^= 0xff;
        assert!(decode_all(Encoding::Gzip, &flipped, 4096).is_err());
        let mut padded = body;
        padded.extend_from_slice(b"trailing");
        assert!(decode_all(Encoding::Gzip, &padded, 4096).is_err());
    }

    #[test]
    fn a_bomb_comes_out_a_chunk_at_a_time() {
        // 64 MiB of zeros in about 64 KiB of gzip, fed as one frame: memory stays at a chunk,
        // and the reader can stop after the first ones without decoding the rest.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 128 * 1024, "{}", bomb.len());
        let mut d = Decoder::new(Encoding::Gzip);
        d.feed(bomb.into());
        let mut taken = 0;
        while taken < 1 << 20 {
            let chunk = d.next_chunk().unwrap().expect("more output");
            assert!(chunk.len() <= MAX_CHUNK, "{}", chunk.len());
            taken += chunk.len();
        }
    }

    #[test]
    fn content_encodings() {
        assert_eq!(Encoding::parse(None), Ok(Encoding::Identity));
        assert_eq!(Encoding::parse(Some(" GZIP ")), Ok(Encoding::Gzip));
        assert_eq!(Encoding::parse(Some("deflate")), Ok(Encoding::Deflate));
        assert!(Encoding::parse(Some("br")).unwrap_err().contains("br"));
        assert!(Encoding::parse(Some("gzip, br")).is_err());
    }
}

//! Bencode (BEP 3): a strict, bounded decoder into [`Value`], a canonical encoder, and a span scan
//! that finds the exact raw bytes of a dictionary value (the info-hash is the SHA-1 of those bytes,
//! never of a re-encoding, because real torrents carry keys and orderings we do not model).
//!
//! Strict means: integers are canonical (`i0e`, no leading zeros, no `-0`), string lengths are
//! canonical, dictionary keys are unique and (by default) in sorted byte order, and nothing may
//! follow the top-level value. Hostile input is bounded: nesting depth and the number of values are
//! capped before anything is allocated, and string lengths are checked against the bytes present.
//!
//! ```
//! use protocol::bencode::{self, Value};
//! let v = bencode::decode(b"d3:cow3:moo4:spaml1:a1:bee").unwrap();
//! assert_eq!(v.get("cow").and_then(Value::as_str), Some("moo"));
//! assert_eq!(v.to_bytes(), b"d3:cow3:moo4:spaml1:a1:bee");
//! assert_eq!(bencode::raw_dict_value(b"d1:ai1e1:bli2eee", b"b").unwrap(), Some(&b"li2ee"[..]));
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

#[path = "bencode_parser.rs"]
mod parser;
use parser::Parser;

/// A decoded bencode value. Byte strings borrow from the input when decoded, and may be owned when
/// a value is built to be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bytes(Cow<'a, [u8]>),
    List(Vec<Value<'a>>),
    /// Keys sorted by raw bytes, which is exactly the order BEP 3 requires on the wire.
    Dict(BTreeMap<Cow<'a, [u8]>, Value<'a>>),
}

/// Bounds applied while decoding untrusted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of lists and dictionaries (the top-level value is depth 1).
    pub max_depth: usize,
    /// Most values of any kind in one document (bounds the memory of the decoded tree).
    pub max_items: usize,
    /// Accept dictionaries whose keys are not in sorted order (some old tools wrote them so);
    /// duplicate keys are always an error.
    pub allow_unsorted_keys: bool,
}

impl Limits {
    /// Strict BEP 3 with bounds comfortable for any real torrent (a 100k-file torrent holds
    /// about 600k values).
    pub const DEFAULT: Limits = Limits {
        max_depth: 64,
        max_items: 4_000_000,
        allow_unsorted_keys: false,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// What went wrong, and the byte offset where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid bencode at byte {offset}: {kind}")]
pub struct DecodeError {
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("input ends in the middle of a value")]
    UnexpectedEof,
    #[error("unexpected byte {0:#04x}")]
    UnexpectedByte(u8),
    #[error("integer is not canonical (leading zero, `-0` or empty)")]
    NonCanonicalInteger,
    #[error("integer does not fit in 64 bits")]
    IntegerOverflow,
    #[error("string declares {declared} bytes but only {available} remain")]
    StringTooLong { declared: u64, available: usize },
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    #[error("more than {0} values")]
    TooManyItems(usize),
    #[error("dictionary key {0:?} is out of sorted order")]
    UnsortedKey(String),
    #[error("dictionary key {0:?} appears twice")]
    DuplicateKey(String),
    #[error("{0} bytes follow the top-level value")]
    TrailingBytes(usize),
}

/// Decodes one complete value with the default (strict) limits.
pub fn decode(input: &[u8]) -> Result<Value<'_>, DecodeError> {
    decode_with(input, Limits::DEFAULT)
}

/// Decodes one complete value; bytes after it are an error.
pub fn decode_with(input: &[u8], limits: Limits) -> Result<Value<'_>, DecodeError> {
    let (value, used) = decode_prefix(input, limits)?;
    if used != input.len() {
        return Err(DecodeError {
            offset: used,
            kind: DecodeErrorKind::TrailingBytes(input.len() - used),
        });
    }
    Ok(value)
}

/// Decodes the value at the start of `input` and says how many bytes it used (for formats where
/// raw data follows a dictionary, like `ut_metadata` pieces).
pub fn decode_prefix(input: &[u8], limits: Limits) -> Result<(Value<'_>, usize), DecodeError> {
    let mut parser = Parser::new(input, limits);
    let value = parser.value(1)?;
    Ok((value, parser.pos))
}

/// Finds `key` in the top-level dictionary of `input` and returns the exact bytes of its value,
/// without building a tree. The whole document is validated along the way (same limits as
/// [`decode`], but unsorted keys tolerated), so a `Some` is always a well-formed value.
pub fn raw_dict_value<'a>(input: &'a [u8], key: &[u8]) -> Result<Option<&'a [u8]>, DecodeError> {
    Ok(dict_value_span(input, key)?.map(|span| &input[span]))
}

/// Like [`raw_dict_value`], but returns the byte range of the value within `input`.
pub fn dict_value_span(input: &[u8], key: &[u8]) -> Result<Option<Range<usize>>, DecodeError> {
    let lenient = Limits {
        allow_unsorted_keys: true,
        ..Limits::DEFAULT
    };
    let mut parser = Parser::new(input, lenient);
    match parser.peek()? {
        b'd' => parser.enter(1)?,
        other => return Err(parser.error(DecodeErrorKind::UnexpectedByte(other))),
    }
    let mut found = None;
    parser.skip_dict(1, |this_key, span| {
        if this_key == key {
            found = Some(span);
        }
    })?;
    if parser.pos != input.len() {
        return Err(parser.error(DecodeErrorKind::TrailingBytes(input.len() - parser.pos)));
    }
    Ok(found)
}

impl<'a> Value<'a> {
    /// A byte-string value from anything byte-like (owned).
    pub fn bytes(b: impl Into<Vec<u8>>) -> Value<'static> {
        Value::Bytes(Cow::Owned(b.into()))
    }

    /// An empty dictionary, to be filled with [`Value::insert`].
    pub fn dict() -> Value<'static> {
        Value::Dict(BTreeMap::new())
    }

    /// Sets `key` in a dictionary (no effect on other kinds); returns `self` for chaining.
    pub fn insert(&mut self, key: &str, value: Value<'a>) -> &mut Self {
        if let Value::Dict(map) = self {
            map.insert(Cow::Owned(key.as_bytes().to_vec()), value);
        }
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.as_dict()?.get(key.as_bytes())
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&BTreeMap<Cow<'a, [u8]>, Value<'a>>> {
        match self {
            Value::Dict(map) => Some(map),
            _ => None,
        }
    }

    /// A short name of the kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bytes(_) => "byte string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }

    /// Canonical bencode (keys sorted, which the map guarantees).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Appends canonical bencode to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode(out);
                }
                out.push(b'e');
            }
            Value::Dict(map) => {
                out.push(b'd');
                for (key, value) in map {
                    encode_bytes(key, out);
                    value.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Detaches the value from the input it was decoded from.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Int(i) => Value::Int(i),
            Value::Bytes(b) => Value::Bytes(Cow::Owned(b.into_owned())),
            Value::List(items) => Value::List(items.into_iter().map(Value::into_owned).collect()),
            Value::Dict(map) => Value::Dict(
                map.into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }
}

/// Why bytes could not be decoded into a typed struct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypedDecodeError {
    #[error(transparent)]
    Bencode(#[from] DecodeError),
    #[error("bencode does not have the expected shape: {0}")]
    Shape(String),
}

/// Serde-based typed decoding (via serde_bencode) behind this module's bounds: the document is
/// first validated by the strict decoder, so serde_bencode's recursion never sees hostile nesting.
pub fn decode_typed<T: serde::de::DeserializeOwned>(input: &[u8]) -> Result<T, TypedDecodeError> {
    decode(input)?;
    serde_bencode::from_bytes(input).map_err(|e| TypedDecodeError::Shape(e.to_string()))
}

/// The checks a fuzzer runs on arbitrary bytes (cargo-fuzz target `bencode`; the property tests
/// run it too, so it cannot rot). Panicking is its job: each `assert!` is an invariant that holds
/// for every input, and decoding itself must never panic.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    if let Ok(value) = decode(data) {
        assert_eq!(
            value.to_bytes(),
            data,
            "strict decoding accepts canonical bytes only"
        );
    }
    if let Ok(Some(span)) = dict_value_span(data, b"info") {
        let lenient = Limits {
            allow_unsorted_keys: true,
            ..Limits::DEFAULT
        };
        assert!(
            decode_with(&data[span], lenient).is_ok(),
            "a found span is one whole value"
        );
    }
    let _ = decode_prefix(data, Limits::DEFAULT);
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

#[cfg(test)]
#[path = "bencode_tests.rs"]
mod tests;

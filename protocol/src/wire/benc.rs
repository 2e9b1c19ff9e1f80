//! Bencode for the dictionaries inside extended messages: `crate::bencode` with bounds for
//! what a peer may send (a payload is one frame at most, but nesting and item counts are still
//! capped so a hostile peer cannot blow the stack or make a huge tree of tiny values).

use std::borrow::Cow;

pub(crate) use crate::bencode::Value;
use crate::bencode::{self, Limits};

use super::ExtensionError;

/// The real payloads are two levels deep (`{"m": {...}}`) with a dozen values; peers' keys are
/// accepted in any order, as mainstream clients accept them.
const PEER_LIMITS: Limits = Limits {
    max_depth: 16,
    max_items: 4096,
    allow_unsorted_keys: true,
};

/// Decodes one value from the start of `buf`, returning it and the number of bytes it used.
pub(crate) fn decode_prefix(buf: &[u8]) -> Result<(Value<'_>, usize), ExtensionError> {
    Ok(bencode::decode_prefix(buf, PEER_LIMITS)?)
}

/// Decodes a value that must span all of `buf`.
pub(crate) fn decode_exact(buf: &[u8]) -> Result<Value<'_>, ExtensionError> {
    Ok(bencode::decode_with(buf, PEER_LIMITS)?)
}

/// A dictionary to encode (the map sorts the keys, as BEP 3 requires).
pub(crate) fn dict<'a>(entries: Vec<(&'a [u8], Value<'a>)>) -> Value<'a> {
    Value::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (Cow::Borrowed(k), v))
            .collect(),
    )
}

/// A byte string to encode, borrowed.
pub(crate) fn bytes(b: &[u8]) -> Value<'_> {
    Value::Bytes(Cow::Borrowed(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_values_and_reports_the_used_length() {
        let (v, used) = decode_prefix(b"d1:md6:ut_pexi2ee1:pi6881eeTAIL").unwrap();
        assert_eq!(used, 27);
        assert_eq!(v.get("p").and_then(Value::as_int), Some(6881));
        let m = v.get("m").unwrap();
        assert_eq!(m.get("ut_pex").and_then(Value::as_int), Some(2));
        // Unsorted keys from a sloppy peer are fine; trailing bytes are not, for exact decoding.
        assert!(decode_exact(b"d1:pi1e1:md1:xi1eee").is_ok());
        assert!(decode_exact(b"i1ei2e").is_err());
    }

    #[test]
    fn deep_nesting_and_item_floods_are_refused() {
        let deep = format!("{}{}", "l".repeat(10_000), "e".repeat(10_000));
        assert!(decode_prefix(deep.as_bytes()).is_err());
        let flood = format!("l{}e", "i0e".repeat(PEER_LIMITS.max_items + 1));
        assert!(decode_prefix(flood.as_bytes()).is_err());
    }

    #[test]
    fn built_dictionaries_encode_sorted() {
        let v = dict(vec![(b"z", Value::Int(1)), (b"a", bytes(b"xy"))]);
        assert_eq!(v.to_bytes(), b"d1:a2:xy1:zi1ee");
    }
}

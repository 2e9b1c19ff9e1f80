//! A small, bounded bencode reader and writer for the dictionaries inside extended messages.
//!
//! Extended payloads are at most one frame long, but a hostile peer can still nest lists to blow
//! the stack or send thousands of tiny items; both are capped here. The reader also reports how
//! many bytes the value used, which `ut_metadata` needs (its raw piece follows the dictionary).

use super::ExtensionError;

/// Deepest nesting accepted: the real payloads are two levels deep (`{"m": {...}}`).
const MAX_DEPTH: usize = 16;
/// Most values (of any kind) in one payload.
const MAX_ITEMS: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    /// Keys in the order they came; lookups are linear (dictionaries here are tiny).
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

impl<'a> Value<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Dict(entries) => entries
                .iter()
                .find(|(k, _)| *k == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub(crate) fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Appends canonical bencode (dictionary keys sorted) to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => put_bytes(out, b),
            Value::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Value::Dict(entries) => {
                let mut sorted: Vec<_> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                out.push(b'd');
                for (k, v) in sorted {
                    put_bytes(out, k);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Decodes one value from the start of `buf`, returning it and the number of bytes it used.
pub(crate) fn decode_prefix(buf: &[u8]) -> Result<(Value<'_>, usize), ExtensionError> {
    let mut reader = Reader {
        buf,
        pos: 0,
        items: 0,
    };
    let value = reader.value(0)?;
    Ok((value, reader.pos))
}

/// Decodes a value that must span all of `buf`.
pub(crate) fn decode_exact(buf: &[u8]) -> Result<Value<'_>, ExtensionError> {
    let (value, used) = decode_prefix(buf)?;
    if used != buf.len() {
        return Err(ExtensionError::Bencode {
            offset: used,
            what: "trailing bytes after the value",
        });
    }
    Ok(value)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    items: usize,
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, what: &'static str) -> Result<T, ExtensionError> {
        Err(ExtensionError::Bencode {
            offset: self.pos,
            what,
        })
    }

    fn peek(&self) -> Result<u8, ExtensionError> {
        match self.buf.get(self.pos) {
            Some(&b) => Ok(b),
            None => self.fail("unexpected end of input"),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, ExtensionError> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return self.fail("too many values");
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.integer(b'e')?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' | b'd' if depth >= MAX_DEPTH => self.fail("nested too deeply"),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut entries = Vec::new();
                while self.peek()? != b'e' {
                    if !self.peek()?.is_ascii_digit() {
                        return self.fail("dictionary key is not a byte string");
                    }
                    let key = self.bytes()?;
                    let value = self.value(depth + 1)?;
                    entries.push((key, value));
                }
                self.pos += 1;
                Ok(Value::Dict(entries))
            }
            _ => self.fail("not a bencode value"),
        }
    }

    /// Reads a canonical integer up to `end` (no leading zeros, no `-0`, fits in i64).
    fn integer(&mut self, end: u8) -> Result<i64, ExtensionError> {
        let start = self.pos;
        let rest = self.buf.get(start..).unwrap_or(&[]);
        let Some(len) = rest.iter().position(|&b| b == end) else {
            return self.fail("unterminated integer");
        };
        let text = &rest[..len];
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits == b"0" || digits[0] != b'0')
            && !(text.len() != digits.len() && digits == b"0");
        if !canonical {
            return self.fail("malformed integer");
        }
        let parsed = std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse::<i64>().ok());
        let Some(n) = parsed else {
            return self.fail("integer out of range");
        };
        self.pos = start + len + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ExtensionError> {
        let len = self.integer(b':')?;
        let len = usize::try_from(len).or_else(|_| self.fail("negative string length"))?;
        let Some(bytes) = self
            .pos
            .checked_add(len)
            .and_then(|end| self.buf.get(self.pos..end))
        else {
            return self.fail("string runs past the end");
        };
        self.pos += len;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_nested_values_and_reports_the_used_length() {
        let (v, used) = decode_prefix(b"d1:md6:ut_pexi2ee1:pi6881eeTAIL").unwrap();
        assert_eq!(used, 27);
        assert_eq!(v.get("p").and_then(Value::as_int), Some(6881));
        let m = v.get("m").unwrap();
        assert_eq!(m.get("ut_pex").and_then(Value::as_int), Some(2));
    }

    #[test]
    fn malformed_input_is_an_error_with_an_offset() {
        for bad in [
            &b"i01e"[..],
            b"i-0e",
            b"ie",
            b"i99999999999999999999e",
            b"5:abc",
            b"-1:a",
            b"di1ei2ee",
            b"l",
            b"x",
            b"",
        ] {
            assert!(decode_prefix(bad).is_err(), "{bad:?}");
        }
        assert!(decode_exact(b"i1ei2e").is_err());
    }

    #[test]
    fn deep_nesting_and_item_floods_are_refused() {
        let deep = format!("{}{}", "l".repeat(10_000), "e".repeat(10_000));
        assert!(decode_prefix(deep.as_bytes()).is_err());
        let flood = format!("l{}e", "i0e".repeat(MAX_ITEMS + 1));
        assert!(decode_prefix(flood.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_prefix(&bytes);
        }

        #[test]
        fn encode_then_decode_round_trips(n in any::<i64>(), s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let v = Value::Dict(vec![(b"z", Value::Int(n)), (b"a", Value::List(vec![Value::Bytes(&s)]))]);
            let mut out = Vec::new();
            v.encode(&mut out);
            let back = decode_exact(&out).unwrap();
            prop_assert_eq!(back.get("z"), Some(&Value::Int(n)));
            prop_assert_eq!(back.get("a"), Some(&Value::List(vec![Value::Bytes(&s)])));
        }
    }
}

//! The bencode cursor behind [`super::decode`] and the span scan: one pass over borrowed bytes,
//! counting values and depth before descending, checking canonical form as it goes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use super::{DecodeError, DecodeErrorKind, Limits, Value};

pub(super) struct Parser<'a> {
    pub(super) input: &'a [u8],
    pub(super) pos: usize,
    items: usize,
    limits: Limits,
    /// Off only when re-walking bytes whose keys were already checked.
    validate_keys: bool,
}

impl<'a> Parser<'a> {
    pub(super) fn new(input: &'a [u8], limits: Limits) -> Self {
        Parser {
            input,
            pos: 0,
            items: 0,
            limits,
            validate_keys: true,
        }
    }

    pub(super) fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset: self.pos,
            kind,
        }
    }

    pub(super) fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.error(DecodeErrorKind::UnexpectedEof))
    }

    /// Counts one more value and checks the depth of the container about to be entered.
    pub(super) fn enter(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.items += 1;
        if self.items > self.limits.max_items {
            return Err(self.error(DecodeErrorKind::TooManyItems(self.limits.max_items)));
        }
        if depth > self.limits.max_depth {
            return Err(self.error(DecodeErrorKind::TooDeep(self.limits.max_depth)));
        }
        Ok(())
    }

    pub(super) fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        self.enter(depth)?;
        match self.peek()? {
            b'i' => self.integer().map(Value::Int),
            b'0'..=b'9' => self.byte_string().map(|b| Value::Bytes(Cow::Borrowed(b))),
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
                let mut map = BTreeMap::new();
                let mut previous: Option<&'a [u8]> = None;
                while self.peek()? != b'e' {
                    let key_at = self.pos;
                    let key = self.byte_string()?;
                    self.check_key_order(previous, key, key_at)?;
                    previous = Some(key);
                    let value = self.value(depth + 1)?;
                    if map.insert(Cow::Borrowed(key), value).is_some() {
                        return Err(DecodeError {
                            offset: key_at,
                            kind: DecodeErrorKind::DuplicateKey(lossy(key)),
                        });
                    }
                }
                self.pos += 1;
                Ok(Value::Dict(map))
            }
            other => Err(self.error(DecodeErrorKind::UnexpectedByte(other))),
        }
    }

    fn check_key_order(
        &self,
        previous: Option<&[u8]>,
        key: &[u8],
        key_at: usize,
    ) -> Result<(), DecodeError> {
        let Some(previous) = previous else {
            return Ok(());
        };
        let kind = match previous.cmp(key) {
            std::cmp::Ordering::Less => return Ok(()),
            std::cmp::Ordering::Equal => DecodeErrorKind::DuplicateKey(lossy(key)),
            std::cmp::Ordering::Greater if self.limits.allow_unsorted_keys => return Ok(()),
            std::cmp::Ordering::Greater => DecodeErrorKind::UnsortedKey(lossy(key)),
        };
        Err(DecodeError {
            offset: key_at,
            kind,
        })
    }

    /// Validates and steps over one value without building it (used by the span scan).
    fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        self.enter(depth)?;
        match self.peek()? {
            b'i' => self.integer().map(drop),
            b'0'..=b'9' => self.byte_string().map(drop),
            b'l' => {
                self.pos += 1;
                while self.peek()? != b'e' {
                    self.skip(depth + 1)?;
                }
                self.pos += 1;
                Ok(())
            }
            b'd' => self.skip_dict(depth, |_, _| {}),
            other => Err(self.error(DecodeErrorKind::UnexpectedByte(other))),
        }
    }

    /// Steps over the dictionary at the cursor (already counted by `enter`), calling `seen` with
    /// each key and the byte range of its value.
    pub(super) fn skip_dict(
        &mut self,
        depth: usize,
        mut seen: impl FnMut(&'a [u8], Range<usize>),
    ) -> Result<(), DecodeError> {
        let dict_start = self.pos;
        self.pos += 1;
        let mut previous: Option<&'a [u8]> = None;
        let mut sorted = true;
        while self.peek()? != b'e' {
            let key_at = self.pos;
            let key = self.byte_string()?;
            if self.validate_keys {
                self.check_key_order(previous, key, key_at)?;
                sorted &= previous.is_none_or(|p| p < key);
            }
            previous = Some(key);
            let value_start = self.pos;
            self.skip(depth + 1)?;
            seen(key, value_start..self.pos);
        }
        self.pos += 1;
        if !sorted {
            self.check_unique_keys(dict_start)?;
        }
        Ok(())
    }

    /// Duplicate keys in a dictionary that is out of order cannot be caught by comparing
    /// neighbours, so such a dictionary is walked once more with a set of its keys. The second
    /// walk does not re-check nested dictionaries (they were checked on the first), which keeps
    /// the cost linear instead of doubling at every level of nesting.
    fn check_unique_keys(&self, dict_start: usize) -> Result<(), DecodeError> {
        let mut rescan = Parser {
            input: self.input,
            pos: dict_start + 1,
            items: 0,
            limits: Limits {
                max_items: usize::MAX,
                ..self.limits
            },
            validate_keys: false,
        };
        let mut keys = std::collections::HashSet::new();
        while rescan.peek()? != b'e' {
            let key_at = rescan.pos;
            let key = rescan.byte_string()?;
            if !keys.insert(key) {
                return Err(DecodeError {
                    offset: key_at,
                    kind: DecodeErrorKind::DuplicateKey(lossy(key)),
                });
            }
            rescan.skip(1)?;
        }
        Ok(())
    }

    /// `i<digits>e`, canonical.
    fn integer(&mut self) -> Result<i64, DecodeError> {
        self.pos += 1; // the 'i'
        let start = self.pos;
        let end = start
            + self.input[start..]
                .iter()
                .position(|&b| b == b'e')
                .ok_or(DecodeError {
                    offset: self.input.len(),
                    kind: DecodeErrorKind::UnexpectedEof,
                })?;
        let text = &self.input[start..end];
        let (negative, digits) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        if let Some(bad) = digits.iter().position(|b| !b.is_ascii_digit()) {
            self.pos = start + usize::from(negative) + bad;
            return Err(self.error(DecodeErrorKind::UnexpectedByte(digits[bad])));
        }
        let canonical = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => true,
        };
        if !canonical {
            return Err(self.error(DecodeErrorKind::NonCanonicalInteger));
        }
        let mut value: i64 = 0;
        for &d in digits {
            let digit = i64::from(d - b'0');
            // Accumulate negatively so that i64::MIN itself is representable.
            value = value
                .checked_mul(10)
                .and_then(|v| {
                    if negative {
                        v.checked_sub(digit)
                    } else {
                        v.checked_add(digit)
                    }
                })
                .ok_or_else(|| self.error(DecodeErrorKind::IntegerOverflow))?;
        }
        self.pos = end + 1;
        Ok(value)
    }

    /// `<length>:<bytes>`, borrowing the bytes.
    fn byte_string(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let mut declared: u64 = 0;
        loop {
            let b = self.peek()?;
            match b {
                b'0'..=b'9' => {
                    if self.pos > start && self.input[start] == b'0' {
                        return Err(self.error(DecodeErrorKind::NonCanonicalInteger));
                    }
                    declared = declared
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(b - b'0')))
                        .ok_or_else(|| self.error(DecodeErrorKind::IntegerOverflow))?;
                    self.pos += 1;
                }
                b':' if self.pos > start => break,
                other => return Err(self.error(DecodeErrorKind::UnexpectedByte(other))),
            }
        }
        self.pos += 1; // the ':'
        let available = self.input.len() - self.pos;
        let len = usize::try_from(declared)
            .ok()
            .filter(|&len| len <= available)
            .ok_or_else(|| {
                self.error(DecodeErrorKind::StringTooLong {
                    declared,
                    available,
                })
            })?;
        let bytes = &self.input[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

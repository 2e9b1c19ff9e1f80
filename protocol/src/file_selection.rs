//! Choosing a torrent's files by index: the lists like `0,2,4-6` of BEP 53's magnet `so=` and
//! of `bthelper add --only`. Indices count the info dictionary's files in order, pad files
//! included (as BEP 53 and libtorrent count them).

/// The largest index a list may name: a list comes from outside (a web page's magnet link), and
/// a range like `0-4000000000` must not become four billion entries.
pub const MAX_INDEX: u32 = (1 << 20) - 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexListError {
    #[error("{0:?} is not a file index or a range like 4-6")]
    NotAnIndex(String),
    #[error("range {0:?} ends before it starts")]
    Backwards(String),
    #[error("index {0} is past the largest allowed ({MAX_INDEX})")]
    TooLarge(u64),
    #[error("the list selects no file")]
    Empty,
}

/// Parses `0,2,4-6` into sorted, distinct indices (`[0, 2, 4, 5, 6]`). Spaces around items are
/// allowed; empty items (`1,,2`) are skipped; a list naming nothing is an error.
pub fn parse_indices(text: &str) -> Result<Vec<u32>, IndexListError> {
    let number = |s: &str, item: &str| -> Result<u32, IndexListError> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IndexListError::NotAnIndex(item.to_owned()));
        }
        let n: u64 = s.parse().map_err(|_| IndexListError::TooLarge(u64::MAX))?;
        u32::try_from(n)
            .ok()
            .filter(|&n| n <= MAX_INDEX)
            .ok_or(IndexListError::TooLarge(n))
    };
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a, item)?, number(b, item)?);
                if b < a {
                    return Err(IndexListError::Backwards(item.to_owned()));
                }
                out.extend(a..=b);
            }
            None => out.push(number(item, item)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(IndexListError::Empty);
    }
    Ok(out)
}

/// Writes sorted, distinct indices back as a list with ranges: `[0, 2, 4, 5, 6]` -> `0,2,4-6`.
pub fn format_indices(indices: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        parts.push(if end == start {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Which of `file_count` files a list selects: `true` = download. Indices past the last file
/// are ignored (a magnet's list is written before anyone checks it against the files); a list
/// that selects none of the files selects them all, since a torrent downloading nothing is
/// never what the link meant.
pub fn selection_mask(file_count: usize, indices: &[u32]) -> Vec<bool> {
    let mut mask = vec![false; file_count];
    for &i in indices {
        if let Some(slot) = mask.get_mut(i as usize) {
            *slot = true;
        }
    }
    if !mask.contains(&true) {
        mask.fill(true);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lists_and_ranges_parse_as_bep_53_writes_them() {
        assert_eq!(parse_indices("0,2,4-6").unwrap(), vec![0, 2, 4, 5, 6]);
        assert_eq!(parse_indices(" 3 , 1,1, 2-3 ").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_indices("7").unwrap(), vec![7]);
        assert_eq!(parse_indices("1,,2").unwrap(), vec![1, 2]);
    }

    #[test]
    fn bad_lists_are_errors_that_say_why() {
        assert!(matches!(parse_indices(""), Err(IndexListError::Empty)));
        assert!(matches!(
            parse_indices("a"),
            Err(IndexListError::NotAnIndex(_))
        ));
        assert!(matches!(
            parse_indices("-3"),
            Err(IndexListError::NotAnIndex(_))
        ));
        assert!(matches!(
            parse_indices("1-2-3"),
            Err(IndexListError::NotAnIndex(_))
        ));
        assert!(matches!(
            parse_indices("5-2"),
            Err(IndexListError::Backwards(_))
        ));
        assert!(matches!(
            parse_indices("0-4000000000"),
            Err(IndexListError::TooLarge(4_000_000_000))
        ));
        assert!(matches!(
            parse_indices("99999999999999999999999"),
            Err(IndexListError::TooLarge(_))
        ));
    }

    #[test]
    fn masks_ignore_indices_past_the_end_and_never_select_nothing() {
        assert_eq!(selection_mask(3, &[0, 2, 9]), vec![true, false, true]);
        assert_eq!(selection_mask(3, &[7]), vec![true, true, true]);
        assert_eq!(selection_mask(0, &[1]), Vec::<bool>::new());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(mut v in proptest::collection::vec(0u32..200, 1..40)) {
            v.sort_unstable();
            v.dedup();
            prop_assert_eq!(parse_indices(&format_indices(&v)).unwrap(), v);
        }

        #[test]
        fn any_text_never_panics(s in "\\PC{0,40}") {
            let _ = parse_indices(&s);
        }
    }
}

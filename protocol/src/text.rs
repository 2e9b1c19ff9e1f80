//! Text from outside (torrent names, peers' client strings, tracker messages) made safe to show.
//!
//! A terminal obeys what it prints: `ESC [ 2 J` clears the screen, `ESC ] 8 ;;` plants a link,
//! a bare `\r` overwrites the line before it, and a bidirectional override (U+202E) makes
//! `photo\u{202E}gpj.exe` read as `photoexe.jpg`. Every display of outside text goes through
//! [`printable`], which spells those characters out as `\u{..}` escapes so they are seen, not
//! obeyed. Ordinary text, including right-to-left scripts, is returned unchanged (and unallocated).

use std::borrow::Cow;

use crate::path::{is_bidi_override, is_control};

/// `s` with every control character (C0, DEL, C1) and bidirectional override written as a
/// visible `\u{XX}` escape.
pub fn printable(s: &str) -> Cow<'_, str> {
    let hostile = |c: char| is_control(c) || is_bidi_override(c);
    if !s.contains(hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hostile(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_are_shown_not_obeyed() {
        assert_eq!(printable("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(printable("-lt\r\n0001-"), "-lt\\u{d}\\u{a}0001-");
        assert_eq!(printable("csi\u{9b}31m"), "csi\\u{9b}31m");
        assert_eq!(printable("photo\u{202E}gpj.exe"), "photo\\u{202e}gpj.exe");
        assert_eq!(printable("x\u{2066}y"), "x\\u{2066}y");
    }

    #[test]
    fn ordinary_text_is_untouched() {
        for s in [
            "movie.mkv",
            "-qB4650-",
            "שלום",
            "日本語",
            "Star Wars: Episode IV",
        ] {
            assert!(matches!(printable(s), Cow::Borrowed(b) if b == s));
        }
    }

    proptest! {
        #[test]
        fn nothing_hostile_survives(s in any::<String>()) {
            let p = printable(&s);
            prop_assert!(!p.chars().any(|c| c.is_control() || is_bidi_override(c)));
        }
    }
}

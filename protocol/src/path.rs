//! Validation of file names that come from metainfo: they are hostile until proven otherwise.
//!
//! A torrent's `name` and every component of every file `path` must name a plain entry inside the
//! torrent's own directory on every platform we ship to, so anything that could climb out (`..`),
//! jump elsewhere (absolute paths, drive letters, separators hidden inside a component) or open a
//! device on Windows (reserved names like `CON` or `com1.txt`) is refused with a reason.
//!
//! Names that would lie on a screen are refused too: C0/C1 control characters (a name holding
//! `ESC [ ...` rewrites the user's terminal when printed) and the bidirectional embeddings,
//! overrides and isolates (U+202A..U+202E, U+2066..U+2069: `invoice\u{202E}fdp.exe` shows as
//! `invoiceexe.pdf`). Refusing, not rewriting, keeps the name on disk equal to the name in the
//! torrent, which resume data and other clients' copies of the same torrent rely on.
//!
//! Characters Windows cannot store (`<>:"|?*`, where `name:stream` would even open an alternate
//! data stream) are common in real torrents ("Star Wars: Episode IV"), so they are not refused:
//! [`windows_file_name`] rewrites them where files are created on Windows.

use std::borrow::Cow;

/// Why one path component is unsafe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty component")]
    Empty,
    #[error("`.` component")]
    CurrentDir,
    #[error("`..` component (would leave the torrent's directory)")]
    ParentDir,
    #[error("contains a NUL byte")]
    Nul,
    #[error("contains the separator {0:?}")]
    Separator(char),
    #[error("starts with a drive letter")]
    DriveLetter,
    #[error("{0:?} is a reserved device name on Windows")]
    Reserved(String),
    #[error("a path needs at least one component")]
    NoComponents,
    #[error("contains the control or bidirectional-override character U+{:04X}", u32::from(*.0))]
    Control(char),
}

/// Whether `c` is a C0/C1 control or DEL: printing it can move or recolour a terminal.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// Whether `c` changes the direction in which the text after it is shown: the embeddings,
/// overrides and isolates, and the pop that ends them.
pub fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Windows device names, reserved with or without an extension (`nul.txt` opens the device too).
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2", "LPT3",
    "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Checks one component of a relative path (a file or directory name).
pub fn validate_component(component: &str) -> Result<(), PathError> {
    match component {
        "" => return Err(PathError::Empty),
        "." => return Err(PathError::CurrentDir),
        ".." => return Err(PathError::ParentDir),
        _ => {}
    }
    if component.contains('\0') {
        return Err(PathError::Nul);
    }
    if let Some(c) = component
        .chars()
        .find(|&c| is_control(c) || is_bidi_override(c))
    {
        return Err(PathError::Control(c));
    }
    if let Some(sep) = component.chars().find(|&c| c == '/' || c == '\\') {
        return Err(PathError::Separator(sep));
    }
    let bytes = component.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(PathError::DriveLetter);
    }
    // Windows ignores trailing dots and spaces and anything after the first dot when it matches
    // device names, so `con .txt` and `Con.` are the console as well.
    let stem = component
        .split('.')
        .next()
        .unwrap_or(component)
        .trim_end_matches([' ', '.']);
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return Err(PathError::Reserved(component.to_owned()));
    }
    Ok(())
}

/// Checks every component of a relative path given as its components.
pub fn validate_path<S: AsRef<str>>(components: &[S]) -> Result<(), PathError> {
    if components.is_empty() {
        return Err(PathError::NoComponents);
    }
    components
        .iter()
        .try_for_each(|c| validate_component(c.as_ref()))
}

/// A validated component as Windows can store it: each of `<>:"|?*` becomes `_`, and trailing
/// dots and spaces (which Windows silently strips, so `a.` and `a` would be one file) become `_`.
/// Other platforms use the component as it is.
pub fn windows_file_name(component: &str) -> Cow<'_, str> {
    let bad = |c: char| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*');
    let trimmed = component.trim_end_matches(['.', ' ']);
    if !component.contains(bad) && trimmed.len() == component.len() {
        return Cow::Borrowed(component);
    }
    let mut out: String = trimmed
        .chars()
        .map(|c| if bad(c) { '_' } else { c })
        .collect();
    out.extend(std::iter::repeat_n('_', component.len() - trimmed.len()));
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_names_pass() {
        for ok in [
            "movie.mkv",
            "Star Wars: Episode IV",
            "...and justice for all",
            "a..b",
            ".hidden",
            "console.txt",
            "COM10",
            "LPT",
            "日本語のファイル.txt",
            "résumé",
        ] {
            assert_eq!(validate_component(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_path(&["dir", "sub", "file"]), Ok(()));
    }

    #[test]
    fn hostile_names_fail_with_a_reason() {
        let cases: &[(&str, PathError)] = &[
            ("", PathError::Empty),
            (".", PathError::CurrentDir),
            ("..", PathError::ParentDir),
            ("a\0b", PathError::Nul),
            ("/etc", PathError::Separator('/')),
            ("a/../../b", PathError::Separator('/')),
            ("..\\windows", PathError::Separator('\\')),
            ("C:", PathError::DriveLetter),
            ("c:evil", PathError::DriveLetter),
            ("CON", PathError::Reserved("CON".into())),
            ("nul.txt", PathError::Reserved("nul.txt".into())),
            ("Com1.tar.gz", PathError::Reserved("Com1.tar.gz".into())),
            ("lpt9", PathError::Reserved("lpt9".into())),
            ("aux .", PathError::Reserved("aux .".into())),
            ("PRN.", PathError::Reserved("PRN.".into())),
            ("\u{1b}[2Jclear", PathError::Control('\u{1b}')),
            ("two\nlines", PathError::Control('\n')),
            ("tab\there", PathError::Control('\t')),
            ("del\u{7f}", PathError::Control('\u{7f}')),
            ("csi\u{9b}31m", PathError::Control('\u{9b}')),
            ("invoice\u{202E}fdp.exe", PathError::Control('\u{202E}')),
            ("iso\u{2067}late", PathError::Control('\u{2067}')),
        ];
        for (name, expected) in cases {
            assert_eq!(validate_component(name).as_ref(), Err(expected), "{name:?}");
        }
        assert_eq!(validate_path::<&str>(&[]), Err(PathError::NoComponents));
        assert_eq!(validate_path(&["ok", ".."]), Err(PathError::ParentDir));
    }

    #[test]
    fn right_to_left_text_is_not_an_override() {
        // Hebrew and Arabic names, and the marks (LRM/RLM) they use, are ordinary text.
        for ok in ["שלום.txt", "ملف.pdf", "a\u{200F}b", "a\u{200E}b"] {
            assert_eq!(validate_component(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn windows_names_lose_what_windows_cannot_store() {
        assert_eq!(windows_file_name("movie.mkv"), "movie.mkv");
        assert_eq!(
            windows_file_name("Star Wars: Episode IV"),
            "Star Wars_ Episode IV"
        );
        assert_eq!(windows_file_name("file.txt:ads"), "file.txt_ads");
        assert_eq!(windows_file_name("a<b>c\"d|e?f*"), "a_b_c_d_e_f_");
        assert_eq!(windows_file_name("dots..."), "dots___");
        assert_eq!(windows_file_name("space "), "space_");
        assert!(matches!(windows_file_name("plain"), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn windows_names_are_storable(s in "\\PC{1,12}") {
            let w = windows_file_name(&s);
            prop_assert!(!w.contains(['<', '>', ':', '"', '|', '?', '*']));
            prop_assert!(!w.ends_with(['.', ' ']));
            prop_assert_eq!(w.chars().count(), s.chars().count());
        }

        #[test]
        fn accepted_components_stay_inside(s in "\\PC{0,12}") {
            if validate_component(&s).is_ok() {
                prop_assert!(!s.is_empty() && s != "." && s != "..");
                prop_assert!(!s.contains(['/', '\\', '\0']));
                prop_assert!(!s.chars().any(|c| c.is_control() || is_bidi_override(c)));
                let joined = std::path::Path::new("root").join(&s);
                prop_assert!(joined.starts_with("root"));
                prop_assert_eq!(joined.components().count(), 2);
            }
        }
    }
}

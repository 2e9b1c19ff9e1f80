//! Validation of file names that come from metainfo: they are hostile until proven otherwise.
//!
//! A torrent's `name` and every component of every file `path` must name a plain entry inside the
//! torrent's own directory on every platform we ship to, so anything that could climb out (`..`),
//! jump elsewhere (absolute paths, drive letters, separators hidden inside a component) or open a
//! device on Windows (reserved names like `CON` or `com1.txt`) is refused with a reason.

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
        ];
        for (name, expected) in cases {
            assert_eq!(validate_component(name).as_ref(), Err(expected), "{name:?}");
        }
        assert_eq!(validate_path::<&str>(&[]), Err(PathError::NoComponents));
        assert_eq!(validate_path(&["ok", ".."]), Err(PathError::ParentDir));
    }

    proptest! {
        #[test]
        fn accepted_components_stay_inside(s in "\\PC{0,12}") {
            if validate_component(&s).is_ok() {
                prop_assert!(!s.is_empty() && s != "." && s != "..");
                prop_assert!(!s.contains(['/', '\\', '\0']));
                let joined = std::path::Path::new("root").join(&s);
                prop_assert!(joined.starts_with("root"));
                prop_assert_eq!(joined.components().count(), 2);
            }
        }
    }
}

//! Files only the user may read: the helper's state (the download list, settings, `.torrent`
//! copies that may carry a private tracker's passkey in their announce URL), resume data and
//! logs. Directories are 0700 and files 0600 on Unix whatever the umask; a directory an older
//! version left wider is tightened when it is opened. On Windows the files inherit the ACL of the
//! per-user `%LOCALAPPDATA%` (the user, SYSTEM and administrators), which is already private.

use std::fs::OpenOptions;
use std::path::Path;

/// Creates `dir` (and missing parents) as 0700, and tightens it if it already existed.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Options that create a file as 0600 (the mode applies only when the file is created).
pub fn file_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

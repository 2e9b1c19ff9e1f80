//! `install --system` on Windows: who may write `%ProgramData%\Swarmlink`.
//!
//! The manifests there are what every user's browser runs (HKLM names them): whoever can write
//! one can make every user's browser start a program of theirs. `%ProgramData%` lets any user
//! create a folder in it, which that user then owns, so a standard user could create
//! `Swarmlink` before an administrator installs, and keep write access to it. So:
//! - a missing `Swarmlink` is created owned by Administrators with a protected DACL (nothing
//!   inherited from `%ProgramData%`): full control for Administrators and SYSTEM, read and
//!   execute for Users (their browsers read the manifests);
//! - an existing one, and every existing folder below it on the way to a manifest, must be
//!   owned by Administrators or SYSTEM and must not be a link or junction, else `install`
//!   refuses with the owner's SID; the DACL above is then set on it again (children inherit).

// Win32 security calls: descriptors, owners, DACLs.
#![allow(unsafe_code)]

use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Context};
use windows_sys::Win32::Foundation::{LocalFree, ERROR_ALREADY_EXISTS, ERROR_INVALID_OWNER};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, GetNamedSecurityInfoW, SetNamedSecurityInfoW, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    GetSecurityDescriptorDacl, IsWellKnownSid, WinBuiltinAdministratorsSid, WinLocalSystemSid, ACL,
    DACL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES,
};
use windows_sys::Win32::Storage::FileSystem::{CreateDirectoryW, FILE_ATTRIBUTE_REPARSE_POINT};

use crate::ipc::SecurityDescriptor;

/// Owner Administrators; protected DACL, inherited by subfolders and files: Administrators and
/// SYSTEM full control, Users read and execute (FILE_GENERIC_READ | FILE_GENERIC_EXECUTE).
pub const SYSTEM_DIR_SDDL: &str = "O:BAD:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)";

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// Makes `root` (`%ProgramData%\Swarmlink`) administrators-only as the module doc says, after
/// checking it and every existing folder from it down to `dir`.
pub fn secure_system_dir(root: &Path, dir: &Path) -> anyhow::Result<()> {
    let sd = SecurityDescriptor::from_sddl(SYSTEM_DIR_SDDL)
        .context("building the administrators-only security descriptor")?;
    // A folder this call created (CreateDirectoryW fails if anything has the name) is ours
    // whatever owner the system reports (Wine records the caller); any other is checked.
    let mut created = false;
    if std::fs::symlink_metadata(root).is_err() {
        if let Some(parent) = root.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let attributes = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: sd.0,
            bInheritHandle: 0,
        };
        // SAFETY: a NUL-terminated path and a valid descriptor, both alive for the call.
        created = unsafe { CreateDirectoryW(wide(root).as_ptr(), &attributes) } != 0;
        if !created {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error().map(|c| c as u32) {
                Some(ERROR_ALREADY_EXISTS) => {} // someone was quicker: checked below
                Some(ERROR_INVALID_OWNER) => {
                    bail!(
                        "creating {} owned by Administrators needs an elevated prompt",
                        root.display()
                    )
                }
                _ => return Err(e).with_context(|| format!("creating {}", root.display())),
            }
        }
    }
    let mut path = root.to_path_buf();
    if !created {
        check_owner(&path)?;
    }
    for component in dir.strip_prefix(root).unwrap_or(Path::new("")).components() {
        path.push(component);
        if std::fs::symlink_metadata(&path).is_err() {
            break; // created by `install`, inheriting the DACL
        }
        check_owner(&path)?;
    }
    set_protected_dacl(root, &sd)
}

/// Refuses a link or junction, and a folder not owned by Administrators or SYSTEM.
fn check_owner(path: &Path) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("{}", path.display()))?;
    if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 || !meta.is_dir() {
        bail!(
            "{} is a link, a junction or not a folder: refusing to install there",
            path.display()
        );
    }
    let mut owner: PSID = std::ptr::null_mut();
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: on success `owner` points into `sd`, which LocalFree releases below.
    let err = unsafe {
        GetNamedSecurityInfoW(
            wide(path).as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    if err != 0 {
        bail!("reading the owner of {}: error {err}", path.display());
    }
    // SAFETY: `owner` is a valid SID inside `sd` until `sd` is freed.
    let (admin, name) = unsafe {
        let admin = IsWellKnownSid(owner, WinBuiltinAdministratorsSid) != 0
            || IsWellKnownSid(owner, WinLocalSystemSid) != 0;
        (admin, sid_string(owner))
    };
    // SAFETY: allocated by GetNamedSecurityInfoW, freed once.
    unsafe { LocalFree(sd) };
    if !admin {
        bail!(
            "{} is owned by {name}, not by Administrators or SYSTEM: a standard user may have \
             created it, and could change what every browser runs. Refusing; delete it from an \
             elevated prompt and run `bthelper install --system` again",
            path.display()
        );
    }
    Ok(())
}

/// `S-1-5-...` for messages.
///
/// # Safety
/// `sid` must be a valid SID.
unsafe fn sid_string(sid: PSID) -> String {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is valid (the caller's promise); `text` receives a LocalAlloc'd,
    // NUL-terminated string, read up to its NUL and freed once.
    unsafe {
        if ConvertSidToStringSidW(sid, &mut text) == 0 || text.is_null() {
            return "an unknown account".into();
        }
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        let s = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
        LocalFree(text.cast());
        s
    }
}

fn set_protected_dacl(root: &Path, sd: &SecurityDescriptor) -> anyhow::Result<()> {
    let (mut present, mut defaulted) = (0, 0);
    let mut dacl: *mut ACL = std::ptr::null_mut();
    // SAFETY: `sd` is a valid descriptor; `dacl` points into it and is used while it lives.
    let ok = unsafe { GetSecurityDescriptorDacl(sd.0, &mut present, &mut dacl, &mut defaulted) };
    if ok == 0 || present == 0 {
        bail!("the administrators-only descriptor has no DACL");
    }
    // SAFETY: a NUL-terminated path and a DACL alive for the call.
    let err = unsafe {
        SetNamedSecurityInfoW(
            wide(root).as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            dacl,
            std::ptr::null(),
        )
    };
    if err != 0 {
        bail!(
            "setting the administrators-only DACL on {}: error {err}",
            root.display()
        );
    }
    Ok(())
}

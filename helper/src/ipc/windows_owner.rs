//! Who serves the pipe? Before a client sends anything (a `.torrent` may carry a private
//! tracker's passkey), it checks that the process at the other end of the pipe runs as the same
//! user. Pipe names are machine-wide: another user's program could create our name first (a
//! squatter) and would otherwise receive our requests. The pipe's DACL protects the daemon's
//! pipe from other users; this protects the client from a pipe that is not the daemon's.
//!
//! The server's process id comes from `GetNamedPipeServerProcessId`; its token's user SID is
//! compared with ours (`EqualSid`). A process we may not even query (another user's, or a
//! protected one) is refused like one that runs as someone else.

// Win32 calls: the pipe's server process, process tokens and SIDs.
#![allow(unsafe_code)]

use std::io;
use std::os::windows::io::AsRawHandle;

use tokio::net::windows::named_pipe::NamedPipeClient;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, TokenUser, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeServerProcessId;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// A kernel handle closed on drop.
struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: a handle this module opened, closed exactly once.
        unsafe {
            CloseHandle(self.0);
        }
    }
}

/// A process token's `TOKEN_USER`, in a buffer of its own (the SID it points to lives inside).
struct TokenUserBuf(Vec<u64>);

impl TokenUserBuf {
    fn of_process(process: HANDLE) -> io::Result<TokenUserBuf> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: `token` receives a handle on success, which `Owned` closes.
        if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let token = Owned(token);
        let mut len = 0u32;
        // SAFETY: a size query (no buffer); it fails with ERROR_INSUFFICIENT_BUFFER and sets `len`.
        unsafe { GetTokenInformation(token.0, TokenUser, std::ptr::null_mut(), 0, &mut len) };
        if len < std::mem::size_of::<TOKEN_USER>() as u32 || len > 4096 {
            return Err(io::Error::last_os_error());
        }
        // u64s: aligned for TOKEN_USER's pointer.
        let mut buf = vec![0u64; (len as usize).div_ceil(8)];
        // SAFETY: `buf` has room for `len` bytes.
        let ok = unsafe {
            GetTokenInformation(token.0, TokenUser, buf.as_mut_ptr().cast(), len, &mut len)
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(TokenUserBuf(buf))
    }

    fn same_user(&self, other: &TokenUserBuf) -> bool {
        // SAFETY: both buffers hold a TOKEN_USER filled by GetTokenInformation, whose SID
        // pointers point into the same (still alive, never moved) heap buffers.
        unsafe {
            let a = &*self.0.as_ptr().cast::<TOKEN_USER>();
            let b = &*other.0.as_ptr().cast::<TOKEN_USER>();
            EqualSid(a.User.Sid, b.User.Sid) != 0
        }
    }
}

/// Whether the process serving `pipe` runs as the user running this one. An error means we
/// could not even find out (the caller refuses the pipe then, too).
pub fn server_is_this_user(pipe: &NamedPipeClient) -> io::Result<bool> {
    let mut pid = 0u32;
    // SAFETY: a live pipe handle (borrowed for the call); `pid` receives the id.
    if unsafe { GetNamedPipeServerProcessId(pipe.as_raw_handle() as HANDLE, &mut pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain call; a null handle means failure.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return Err(io::Error::last_os_error());
    }
    let process = Owned(process);
    let theirs = TokenUserBuf::of_process(process.0)?;
    // SAFETY: the pseudo-handle of this process; it needs no closing.
    let ours = TokenUserBuf::of_process(unsafe { GetCurrentProcess() })?;
    Ok(ours.same_user(&theirs))
}

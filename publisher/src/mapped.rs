//! Read-only memory maps of the source files, so pieces are hashed straight from the page cache
//! without being copied out of it first (the copy costs about a fifth of the CPU time otherwise).
//!
//! A mapped file that shrinks under us would raise SIGBUS on the next access to the lost pages.
//! While maps are in use, [`SigbusGuard`] turns that signal into a one-line error and exit
//! status 1 (a file changing while it is hashed is bad input, never a crash or a wrong hash).

// mmap, madvise and sigaction have no safe std equivalent; each use says why it is sound.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A whole file mapped read-only.
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// The mapping is read-only and lives until drop: sharing it between threads is sharing a `&[u8]`.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps the first `len` bytes of `file`; `None` when mapping is not possible (then read).
    pub fn new(file: &File, len: u64) -> Option<Mapped> {
        let len = usize::try_from(len).ok().filter(|&l| l > 0)?;
        // SAFETY: a fresh read-only shared mapping of an open file; checked for failure.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: advice on our own mapping; failure only loses the hint.
        unsafe {
            libc::madvise(ptr, len, libc::MADV_SEQUENTIAL);
        }
        Some(Mapped { ptr, len })
    }

    /// The bytes `[from, from + len)` (within the mapping), made present first so the hash does
    /// not stop at a page fault every 4 KiB.
    pub fn bytes(&self, from: usize, len: usize) -> &[u8] {
        assert!(
            from <= self.len && len <= self.len - from,
            "outside the mapping"
        );
        // SAFETY: within the mapping (asserted); the mapping outlives the borrow of self.
        unsafe {
            let start = (self.ptr as *const u8).add(from);
            let page = 4096;
            let aligned = (start as usize) & !(page - 1);
            // Where unsupported (before Linux 5.14) this fails and the pages fault in as read.
            libc::madvise(
                aligned as *mut libc::c_void,
                len + (start as usize - aligned),
                MADV_POPULATE_READ,
            );
            std::slice::from_raw_parts(start, len)
        }
    }
}

/// Linux 5.14: fault the range in (read) now, in one call.
const MADV_POPULATE_READ: libc::c_int = 22;

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped, once.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

/// Guards in use: the handler stays installed while any is alive.
static GUARDS: AtomicUsize = AtomicUsize::new(0);

/// While alive, a SIGBUS (a mapped source file shrank) prints a clear error and exits 1.
pub struct SigbusGuard(());

impl SigbusGuard {
    pub fn install() -> SigbusGuard {
        if GUARDS.fetch_add(1, Ordering::AcqRel) == 0 {
            // SAFETY: installing a handler that only calls async-signal-safe functions.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_sigbus as *const () as usize;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
            }
        }
        SigbusGuard(())
    }
}

impl Drop for SigbusGuard {
    fn drop(&mut self) {
        if GUARDS.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: back to the default action.
            unsafe {
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
            }
        }
    }
}

extern "C" fn on_sigbus(_: libc::c_int) {
    const MSG: &[u8] =
        b"btpublish: a source file shrank while it was being hashed (it changed): run btpublish again\n";
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::_exit(1);
    }
}

/* A stand-in for Windows 10's bcryptprimitives.dll, for Wine 8 only (Wine 9 ships one).
 *
 * Rust's standard library (1.78+) gets its random seeds from ProcessPrng in bcryptprimitives.dll,
 * which Debian's Wine 8 lacks, so every Rust .exe fails to load there (status c0000135; see
 * rust-lang/rust#121337). scripts/test.d/60-windows.sh builds this with MinGW and copies it into
 * the test's Wine prefix (system32). Real Windows 10 and 11 have the DLL: nothing ships with it.
 *
 * ProcessPrng fills the buffer from the system RNG (BCryptGenRandom, which Wine implements) and,
 * like the real one, always reports success; a failure here would be Wine's RNG failing. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

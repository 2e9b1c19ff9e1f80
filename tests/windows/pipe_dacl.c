/* Prints the DACL of a named pipe as SDDL: helper/tests/windows_wine.rs checks that the daemon's
 * pipe carries the owner-only descriptor bthelper asks for. (Wine stores pipe DACLs but does not
 * enforce them, so reading the descriptor back is what can be checked under Wine; refusing other
 * users needs a real Windows.) Usage: pipe_dacl.exe \\.\pipe\NAME. Opening the pipe connects to
 * the daemon as a client that hangs up at once, which the daemon treats as any closed connection. */
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>

int wmain(int argc, wchar_t **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pipe_dacl.exe \\\\.\\pipe\\NAME\n");
        return 2;
    }
    HANDLE pipe = CreateFileW(argv[1], READ_CONTROL, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (pipe == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "opening %ls: error %lu\n", argv[1], GetLastError());
        return 1;
    }
    PACL dacl;
    PSECURITY_DESCRIPTOR sd;
    LPWSTR sddl;
    DWORD err = GetSecurityInfo(pipe, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL,
                                &dacl, NULL, &sd);
    if (err != ERROR_SUCCESS) {
        fprintf(stderr, "reading the security descriptor: error %lu\n", err);
        return 1;
    }
    if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, SDDL_REVISION_1,
                                                              DACL_SECURITY_INFORMATION, &sddl, NULL)) {
        fprintf(stderr, "converting to SDDL: error %lu\n", GetLastError());
        return 1;
    }
    printf("%ls\n", sddl);
    LocalFree(sddl);
    LocalFree(sd);
    CloseHandle(pipe);
    return 0;
}

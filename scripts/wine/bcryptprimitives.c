/* Wine 8 lacks bcryptprimitives.dll, from which Rust's std (1.78+) imports
   ProcessPrng on Windows: without it every test executable exits at once.
   This stand-in fills the buffer through RtlGenRandom (advapi32), which
   wine has. Test-only: it is installed into the wine prefix, never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}

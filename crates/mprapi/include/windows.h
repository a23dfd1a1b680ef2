/*
 * windows.h — the openrras porting kit: the part of Windows a console RRAS
 * administration tool uses, so it compiles on Linux unchanged. Not a
 * general Win32 layer: base types, SAL annotations, a few macros, and the
 * runtime functions below (implemented in libmprapi_kit.a).
 *
 *   gcc -fshort-wchar tool.c $(pkg-config --cflags --libs mprapi)
 *
 * -fshort-wchar is required: Windows code writes L"..." for WCHAR strings.
 * With it glibc's wide functions (which assume a 4-byte wchar_t) would read
 * garbage, so this header redirects the wide (and the narrow printf)
 * family to UTF-16 versions with the MSVC meanings — see openrras/wide.h.
 * Output is UTF-8. A program may define wmain() instead of main(): the kit
 * supplies a main() that passes it the arguments as UTF-16.
 */
#ifndef OPENRRAS_WINDOWS_H
#define OPENRRAS_WINDOWS_H

#if !defined(__SIZEOF_WCHAR_T__) || __SIZEOF_WCHAR_T__ != 2
#error "the openrras porting kit needs -fshort-wchar (WCHAR strings are L\"...\" literals)"
#endif

/* The C library first, so the redirects below apply to every later use and
   a system header included after this one finds its guards already set. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#ifdef __cplusplus
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#endif

#include "openrras/wintypes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Calling conventions and annotations (no meaning on x64 Linux) ----- */
#ifndef __cdecl
#define __cdecl
#endif
#ifndef _cdecl
#define _cdecl
#endif
#ifndef __stdcall
#define __stdcall
#endif
#ifndef _stdcall
#define _stdcall
#endif
#define APIENTRY
#define CALLBACK
#define WINAPIV
#define FAR
#define NEAR
#define CONST const
#define IN
#define OUT
#define OPTIONAL
#define UNREFERENCED_PARAMETER(p) ((void)(p))

/* SAL: source annotations are checked by MSVC's analyser only. */
#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _In_reads_(n)
#define _In_reads_opt_(n)
#define _In_reads_bytes_(n)
#define _Out_
#define _Out_opt_
#define _Out_writes_(n)
#define _Out_writes_opt_(n)
#define _Out_writes_z_(n)
#define _Out_writes_bytes_(n)
#define _Inout_
#define _Inout_opt_
#define _Inout_z_
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Deref_out_
#define _Reserved_
#define _Ret_maybenull_
#define _Ret_z_
#define _Success_(e)
#define _Check_return_
#define _Must_inspect_result_
#define _Use_decl_annotations_
#define _Printf_format_string_
#define _Null_terminated_
#define __in
#define __in_opt
#define __out
#define __out_opt
#define __inout
#define __inout_opt
#define __reserved

/* ---- More base types ---------------------------------------------------- */
#define VOID void
typedef char CHAR;
typedef int16_t SHORT;
typedef uint16_t WORD;
typedef int32_t INT;
typedef uint32_t UINT;
typedef int32_t LONG;
typedef uint32_t ULONG;
typedef int64_t LONGLONG;
typedef int64_t LONG64;
typedef int64_t INT64;
typedef uint64_t UINT64;
typedef uint64_t DWORD64;
typedef uint64_t DWORDLONG;
typedef intptr_t INT_PTR;
typedef uintptr_t UINT_PTR;
typedef intptr_t LONG_PTR;
typedef uintptr_t ULONG_PTR;
typedef uintptr_t DWORD_PTR;
typedef size_t SIZE_T;
typedef ptrdiff_t SSIZE_T;
typedef BYTE BOOLEAN;
typedef int32_t HRESULT;
typedef CHAR *PCHAR, *LPSTR, *PSTR;
typedef const CHAR *LPCSTR, *PCSTR;
typedef WCHAR *PWCHAR, *PWSTR;
typedef const WCHAR *LPCWSTR, *PCWSTR;
typedef void *PVOID;
typedef const void *LPCVOID;
typedef BOOL *PBOOL, *LPBOOL;
typedef BYTE *PBYTE;
typedef WORD *PWORD, *LPWORD;
typedef DWORD *PDWORD;
typedef ULONG *PULONG;
typedef LONG *PLONG, *LPLONG;
typedef HANDLE *PHANDLE, *LPHANDLE;
typedef HANDLE HMODULE, HINSTANCE;

typedef union _LARGE_INTEGER {
    struct {
        DWORD LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        DWORD LowPart;
        DWORD HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef struct _SYSTEMTIME {
    WORD wYear;
    WORD wMonth;
    WORD wDayOfWeek;
    WORD wDay;
    WORD wHour;
    WORD wMinute;
    WORD wSecond;
    WORD wMilliseconds;
} SYSTEMTIME, *PSYSTEMTIME, *LPSYSTEMTIME;

/* UNICODE is the only mode: TCHAR is WCHAR. */
#ifndef UNICODE
#define UNICODE 1
#endif
#ifndef _UNICODE
#define _UNICODE 1
#endif
typedef WCHAR TCHAR, *LPTSTR;
typedef const WCHAR *LPCTSTR;
#define TEXT(s) L##s
#define __TEXT(s) L##s

/* ---- Constants and macros ------------------------------------------------ */
#ifndef ERROR_SUCCESS
#define ERROR_SUCCESS 0
#endif
#ifndef ERROR_FILE_NOT_FOUND
#define ERROR_FILE_NOT_FOUND 2
#endif
#ifndef ERROR_OUTOFMEMORY
#define ERROR_OUTOFMEMORY 14
#endif
#ifndef ERROR_INVALID_DATA
#define ERROR_INVALID_DATA 13
#endif
#ifndef ERROR_BAD_ARGUMENTS
#define ERROR_BAD_ARGUMENTS 160
#endif
#ifndef ERROR_INSUFFICIENT_BUFFER
#define ERROR_INSUFFICIENT_BUFFER 122
#endif
#ifndef ERROR_INVALID_PARAMETER
#define ERROR_INVALID_PARAMETER 87
#endif
#define MAX_PATH 260
#define INFINITE 0xFFFFFFFFu
#define S_OK ((HRESULT)0)
#define S_FALSE ((HRESULT)1)
#define E_FAIL ((HRESULT)0x80004005u)
#define E_INVALIDARG ((HRESULT)0x80070057u)
#define E_OUTOFMEMORY ((HRESULT)0x8007000Eu)
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#define HRESULT_FROM_WIN32(e) \
    ((HRESULT)(e) <= 0 ? (HRESULT)(e) : (HRESULT)(((uint32_t)(e) & 0xFFFFu) | 0x80070000u))

#define LOBYTE(w) ((BYTE)((DWORD_PTR)(w) & 0xFF))
#define HIBYTE(w) ((BYTE)(((DWORD_PTR)(w) >> 8) & 0xFF))
#define LOWORD(l) ((WORD)((DWORD_PTR)(l) & 0xFFFF))
#define HIWORD(l) ((WORD)(((DWORD_PTR)(l) >> 16) & 0xFFFF))
#define MAKEWORD(a, b) ((WORD)(((BYTE)(a)) | ((WORD)((BYTE)(b))) << 8))
#define MAKELONG(a, b) ((LONG)(((WORD)(a)) | ((DWORD)((WORD)(b))) << 16))
#define ARRAYSIZE(a) (sizeof(a) / sizeof((a)[0]))
#ifndef _countof
#define _countof(a) (sizeof(a) / sizeof((a)[0]))
#endif
#if !defined(NOMINMAX) && !defined(__cplusplus)
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#endif

#define ZeroMemory(p, n) ((void)memset((p), 0, (n)))
#define RtlZeroMemory(p, n) ((void)memset((p), 0, (n)))
#define SecureZeroMemory(p, n) openrras_secure_zero((p), (n))
#define CopyMemory(d, s, n) ((void)memcpy((d), (s), (n)))
#define RtlCopyMemory(d, s, n) ((void)memcpy((d), (s), (n)))
#define MoveMemory(d, s, n) ((void)memmove((d), (s), (n)))
#define FillMemory(p, n, v) ((void)memset((p), (v), (n)))

/* ---- Process heap: malloc underneath ---------------------------------- */
#define HEAP_ZERO_MEMORY 0x00000008
static inline HANDLE GetProcessHeap(void) { return (HANDLE)(uintptr_t)1; }
static inline LPVOID HeapAlloc(HANDLE heap, DWORD flags, SIZE_T bytes) {
    (void)heap;
    return (flags & HEAP_ZERO_MEMORY) ? calloc(1, bytes ? bytes : 1) : malloc(bytes ? bytes : 1);
}
static inline BOOL HeapFree(HANDLE heap, DWORD flags, LPVOID mem) {
    (void)heap;
    (void)flags;
    free(mem);
    return TRUE;
}

/* ---- Runtime (libmprapi_kit.a) ------------------------------------------ */
/* The calling thread's last error (the kit's functions set it on failure). */
DWORD WINAPI GetLastError(void);
void WINAPI SetLastError(DWORD dwErrCode);
void *openrras_secure_zero(void *p, size_t n);

void WINAPI Sleep(DWORD dwMilliseconds);
DWORD WINAPI GetTickCount(void);
ULONGLONG WINAPI GetTickCount64(void);

/* Time: FILETIME counts 100 ns since 1601-01-01 UTC. */
void WINAPI GetSystemTimeAsFileTime(LPFILETIME lpSystemTimeAsFileTime);
void WINAPI GetSystemTime(LPSYSTEMTIME lpSystemTime);
void WINAPI GetLocalTime(LPSYSTEMTIME lpSystemTime);
BOOL WINAPI FileTimeToSystemTime(const FILETIME *lpFileTime, LPSYSTEMTIME lpSystemTime);
BOOL WINAPI SystemTimeToFileTime(const SYSTEMTIME *lpSystemTime, LPFILETIME lpFileTime);
BOOL WINAPI FileTimeToLocalFileTime(const FILETIME *lpFileTime, LPFILETIME lpLocalFileTime);
/* lpTimeZone must be NULL (the system's zone, from TZ / /etc/localtime). */
BOOL WINAPI SystemTimeToTzSpecificLocalTime(const void *lpTimeZone, const SYSTEMTIME *lpUniversalTime,
                                            LPSYSTEMTIME lpLocalTime);

/* Code pages: CP_ACP and CP_OEMCP are UTF-8 on Linux. */
#define CP_ACP 0
#define CP_OEMCP 1
#define CP_UTF8 65001
#define MB_ERR_INVALID_CHARS 0x00000008
#define WC_ERR_INVALID_CHARS 0x00000080
int WINAPI MultiByteToWideChar(UINT CodePage, DWORD dwFlags, LPCSTR lpMultiByteStr, int cbMultiByte,
                               LPWSTR lpWideCharStr, int cchWideChar);
int WINAPI WideCharToMultiByte(UINT CodePage, DWORD dwFlags, LPCWSTR lpWideCharStr, int cchWideChar,
                               LPSTR lpMultiByteStr, int cbMultiByte, LPCSTR lpDefaultChar, LPBOOL lpUsedDefaultChar);

/* wmain: the kit's main() calls it with UTF-16 arguments. Declared for C++
   so that a later definition gets C linkage, as MSVC gives it. */
#ifdef __cplusplus
int wmain(int argc, wchar_t **argv);
#endif

#ifdef __cplusplus
}
#endif

#include "openrras/wide.h"

#endif /* OPENRRAS_WINDOWS_H */

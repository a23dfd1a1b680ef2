/*
 * openrras/wintypes.h — the Windows base types that mprapi.h and the
 * porting kit's windows.h share. Defined once here, so either header may
 * come first. Sizes are Windows x64's (LLP64): DWORD and LONG are 32 bits,
 * pointers 64.
 */
#ifndef OPENRRAS_WINTYPES_H
#define OPENRRAS_WINTYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__SIZEOF_WCHAR_T__) && __SIZEOF_WCHAR_T__ == 2
/* -fshort-wchar: WCHAR is wchar_t, so L"..." literals are WCHAR strings. */
typedef wchar_t WCHAR;
#elif defined(__cplusplus)
typedef char16_t WCHAR;
#else
#include <uchar.h>
typedef char16_t WCHAR;
#endif
typedef uint32_t DWORD;
typedef int32_t BOOL;
typedef uint8_t BYTE;
typedef uint8_t UCHAR;
typedef uint16_t USHORT;
typedef uint64_t ULONG64;
typedef uint64_t ULONGLONG;
typedef void *HANDLE;
typedef void *LPVOID;
typedef void *HLOCAL;
typedef WCHAR *LPWSTR;
typedef BYTE *LPBYTE;
typedef DWORD *LPDWORD;

#ifndef INVALID_HANDLE_VALUE
#define INVALID_HANDLE_VALUE ((HANDLE)(intptr_t)-1)
#endif
/* Calling conventions: x64 has one, so these say nothing. */
#ifndef WINAPI
#define WINAPI
#endif
#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

typedef struct _GUID {
    uint32_t Data1;
    uint16_t Data2;
    uint16_t Data3;
    uint8_t Data4[8];
} GUID;

typedef struct _FILETIME {
    DWORD dwLowDateTime;
    DWORD dwHighDateTime;
} FILETIME, *PFILETIME, *LPFILETIME;

/* Windows' in6_addr. The tag differs from Linux's `struct in6_addr` so the
   two never collide; the kit's ws2tcpip.h maps the Windows spelling. */
typedef struct in6_addr_win {
    union {
        UCHAR Byte[16];
        USHORT Word[8];
    } u;
} IN6_ADDR, *PIN6_ADDR, *LPIN6_ADDR;

#ifdef __cplusplus
}
#endif

#endif /* OPENRRAS_WINTYPES_H */

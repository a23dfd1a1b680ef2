/*
 * openrras/wide.h — UTF-16 string and formatting functions with the MSVC
 * meanings, for code built with -fshort-wchar (included by windows.h).
 *
 * glibc's wide functions assume a 4-byte wchar_t; under -fshort-wchar they
 * would misread every string. The names below are redirected (by macro) to
 * the kit's UTF-16 versions in libmprapi_kit.a. The printf family, narrow
 * and wide, formats as MSVC does:
 *
 *   in wprintf & co.  %s %ls %ws  a wide string     %S %hs  a narrow string
 *                     %c %lc %wc  a wide character  %C %hc  a narrow one
 *   in printf & co.   %s %hs      a narrow string   %S %ls %ws  a wide one
 *   both              %lu %ld %lx  32-bit (long is 32 bits on Windows)
 *                     %I64u %I64d %I64x %llu  64-bit   %Iu %zu  size_t
 *                     %I32u  32-bit   %p  16 upper-case hex digits
 *                     %n  refused (returns -1)
 *
 * Output to a stream is UTF-8. Narrow strings are taken as UTF-8.
 */
#ifndef OPENRRAS_WIDE_H
#define OPENRRAS_WIDE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <wchar.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Wide formatting ---------------------------------------------------- */
int openrras_wprintf(const wchar_t *format, ...);
int openrras_fwprintf(FILE *stream, const wchar_t *format, ...);
int openrras_vwprintf(const wchar_t *format, va_list args);
int openrras_vfwprintf(FILE *stream, const wchar_t *format, va_list args);
/* ISO form: at most count units with the terminator; -1 when cut. */
int openrras_swprintf(wchar_t *buffer, size_t count, const wchar_t *format, ...);
int openrras_vswprintf(wchar_t *buffer, size_t count, const wchar_t *format, va_list args);
/* MSVC: count units, no terminator when the text fills them; -1 when cut. */
int _snwprintf(wchar_t *buffer, size_t count, const wchar_t *format, ...);
int _vsnwprintf(wchar_t *buffer, size_t count, const wchar_t *format, va_list args);
/* Secure form: a text that does not fit empties the buffer and returns -1. */
int swprintf_s(wchar_t *buffer, size_t sizeOfBuffer, const wchar_t *format, ...);
int vswprintf_s(wchar_t *buffer, size_t sizeOfBuffer, const wchar_t *format, va_list args);
int wprintf_s(const wchar_t *format, ...);
int fwprintf_s(FILE *stream, const wchar_t *format, ...);
int openrras_fputws(const wchar_t *str, FILE *stream);
int _putws(const wchar_t *str);

/* ---- Narrow formatting with the MSVC meanings -------------------------- */
int openrras_printf(const char *format, ...);
int openrras_fprintf(FILE *stream, const char *format, ...);
int openrras_vprintf(const char *format, va_list args);
int openrras_vfprintf(FILE *stream, const char *format, va_list args);
int openrras_sprintf(char *buffer, const char *format, ...);
int openrras_snprintf(char *buffer, size_t count, const char *format, ...);
int openrras_vsnprintf(char *buffer, size_t count, const char *format, va_list args);
int _snprintf(char *buffer, size_t count, const char *format, ...);
int sprintf_s(char *buffer, size_t sizeOfBuffer, const char *format, ...);
int printf_s(const char *format, ...);

/* ---- Wide strings (UTF-16 units) --------------------------------------- */
size_t openrras_wcslen(const wchar_t *s);
size_t openrras_wcsnlen(const wchar_t *s, size_t max);
int openrras_wcscmp(const wchar_t *a, const wchar_t *b);
int openrras_wcsncmp(const wchar_t *a, const wchar_t *b, size_t n);
int _wcsicmp(const wchar_t *a, const wchar_t *b);
int _wcsnicmp(const wchar_t *a, const wchar_t *b, size_t n);
wchar_t *openrras_wcscpy(wchar_t *dst, const wchar_t *src);
wchar_t *openrras_wcsncpy(wchar_t *dst, const wchar_t *src, size_t n);
wchar_t *openrras_wcscat(wchar_t *dst, const wchar_t *src);
wchar_t *openrras_wcsncat(wchar_t *dst, const wchar_t *src, size_t n);
wchar_t *openrras_wcschr(const wchar_t *s, wchar_t c);
wchar_t *openrras_wcsrchr(const wchar_t *s, wchar_t c);
wchar_t *openrras_wcsstr(const wchar_t *haystack, const wchar_t *needle);
wchar_t *openrras_wcsdup(const wchar_t *s);
unsigned long openrras_wcstoul(const wchar_t *s, wchar_t **end, int base);
long openrras_wcstol(const wchar_t *s, wchar_t **end, int base);
wchar_t *openrras_wmemset(wchar_t *dst, wchar_t c, size_t n);
wchar_t *openrras_wmemcpy(wchar_t *dst, const wchar_t *src, size_t n);
wchar_t *openrras_wmemmove(wchar_t *dst, const wchar_t *src, size_t n);
int openrras_wmemcmp(const wchar_t *a, const wchar_t *b, size_t n);
wchar_t *openrras_wmemchr(const wchar_t *s, wchar_t c, size_t n);
size_t openrras_wcsspn(const wchar_t *s, const wchar_t *accept);
size_t openrras_wcscspn(const wchar_t *s, const wchar_t *reject);
wchar_t *openrras_wcspbrk(const wchar_t *s, const wchar_t *accept);
/* ISO form with the caller's context (MSVC: wcstok_s). */
wchar_t *openrras_wcstok(wchar_t *s, const wchar_t *delim, wchar_t **context);
unsigned long long openrras_wcstoull(const wchar_t *s, wchar_t **end, int base);
long long openrras_wcstoll(const wchar_t *s, wchar_t **end, int base);
double openrras_wcstod(const wchar_t *s, wchar_t **end);
wint_t openrras_fputwc(wchar_t c, FILE *stream);
wint_t openrras_putwchar(wchar_t c);
/* UTF-8 both ways. */
size_t openrras_mbstowcs(wchar_t *dst, const char *src, size_t n);
size_t openrras_wcstombs(char *dst, const wchar_t *src, size_t n);
int _wtoi(const wchar_t *s);
long _wtol(const wchar_t *s);
/* Secure forms: 0 on success, an errno value (EINVAL, ERANGE) otherwise;
   on failure dst (if it has room) is emptied. */
int wcscpy_s(wchar_t *dst, size_t dstSize, const wchar_t *src);
int wcscat_s(wchar_t *dst, size_t dstSize, const wchar_t *src);
int wcsncpy_s(wchar_t *dst, size_t dstSize, const wchar_t *src, size_t count);

/* What the kit does not provide would misread UTF-16 silently in glibc's
   4-byte version: a call is a compile error instead. */
#ifdef __cplusplus
#define OPENRRAS_NOT_IN_KIT(name) \
    int openrras_not_in_kit_##name(...) __attribute__((error(#name "() is not in the openrras porting kit")));
#else
#define OPENRRAS_NOT_IN_KIT(name) \
    int openrras_not_in_kit_##name() __attribute__((error(#name "() is not in the openrras porting kit")));
#endif
OPENRRAS_NOT_IN_KIT(swscanf)
OPENRRAS_NOT_IN_KIT(wscanf)
OPENRRAS_NOT_IN_KIT(fwscanf)
OPENRRAS_NOT_IN_KIT(vswscanf)
OPENRRAS_NOT_IN_KIT(fgetws)
OPENRRAS_NOT_IN_KIT(fgetwc)
OPENRRAS_NOT_IN_KIT(getwchar)
OPENRRAS_NOT_IN_KIT(wcsftime)
OPENRRAS_NOT_IN_KIT(wcscoll)
OPENRRAS_NOT_IN_KIT(wcsxfrm)
OPENRRAS_NOT_IN_KIT(mbtowc)
OPENRRAS_NOT_IN_KIT(wctomb)
OPENRRAS_NOT_IN_KIT(mbrtowc)
OPENRRAS_NOT_IN_KIT(wcrtomb)
OPENRRAS_NOT_IN_KIT(mbsrtowcs)
OPENRRAS_NOT_IN_KIT(wcsrtombs)

#ifdef __cplusplus
}
#endif

/* The redirects. A header glibc already declared (included above) keeps
   its declaration; uses below this point reach the kit. */
#undef wprintf
#undef fwprintf
#undef vwprintf
#undef vfwprintf
#undef swprintf
#undef vswprintf
#undef fputws
#undef printf
#undef fprintf
#undef vprintf
#undef vfprintf
#undef sprintf
#undef snprintf
#undef vsnprintf
#undef wcslen
#undef wcsnlen
#undef wcscmp
#undef wcsncmp
#undef wcscpy
#undef wcsncpy
#undef wcscat
#undef wcsncat
#undef wcschr
#undef wcsrchr
#undef wcsstr
#undef wcsdup
#undef wcstoul
#undef wcstol
#undef wcsspn
#undef wcscspn
#undef wcspbrk
#undef wcstoull
#undef wcstoll
#undef wcstod
#undef fputwc
#undef putwchar
#undef mbstowcs
#undef wcstombs
#undef wcstok
#undef swscanf
#undef wscanf
#undef fwscanf
#undef vswscanf
#undef fgetws
#undef fgetwc
#undef getwchar
#undef wcsftime
#undef wcscoll
#undef wcsxfrm
#undef mbtowc
#undef wctomb
#undef mbrtowc
#undef wcrtomb
#undef mbsrtowcs
#undef wcsrtombs
#undef wmemset
#undef wmemcpy
#undef wmemmove
#undef wmemcmp
#undef wmemchr
#define wprintf openrras_wprintf
#define fwprintf openrras_fwprintf
#define vwprintf openrras_vwprintf
#define vfwprintf openrras_vfwprintf
#define swprintf openrras_swprintf
#define vswprintf openrras_vswprintf
#define fputws openrras_fputws
#define printf openrras_printf
#define fprintf openrras_fprintf
#define vprintf openrras_vprintf
#define vfprintf openrras_vfprintf
#define sprintf openrras_sprintf
#define snprintf openrras_snprintf
#define vsnprintf openrras_vsnprintf
#define wcslen openrras_wcslen
#define wcsnlen openrras_wcsnlen
#define wcscmp openrras_wcscmp
#define wcsncmp openrras_wcsncmp
#define wcscpy openrras_wcscpy
#define wcsncpy openrras_wcsncpy
#define wcscat openrras_wcscat
#define wcsncat openrras_wcsncat
#define wcschr openrras_wcschr
#define wcsrchr openrras_wcsrchr
#define wcsstr openrras_wcsstr
#define wcsdup openrras_wcsdup
#define _wcsdup openrras_wcsdup
#define wcstoul openrras_wcstoul
#define wcstol openrras_wcstol
#define wcsspn openrras_wcsspn
#define wcscspn openrras_wcscspn
#define wcspbrk openrras_wcspbrk
#define wcstoull openrras_wcstoull
#define wcstoll openrras_wcstoll
#define wcstod openrras_wcstod
#define fputwc openrras_fputwc
#define putwchar openrras_putwchar
#define mbstowcs openrras_mbstowcs
#define wcstombs openrras_wcstombs
#define wcstok openrras_wcstok
#define wcstok_s openrras_wcstok
#define swscanf openrras_not_in_kit_swscanf
#define wscanf openrras_not_in_kit_wscanf
#define fwscanf openrras_not_in_kit_fwscanf
#define vswscanf openrras_not_in_kit_vswscanf
#define fgetws openrras_not_in_kit_fgetws
#define fgetwc openrras_not_in_kit_fgetwc
#define getwchar openrras_not_in_kit_getwchar
#define wcsftime openrras_not_in_kit_wcsftime
#define wcscoll openrras_not_in_kit_wcscoll
#define wcsxfrm openrras_not_in_kit_wcsxfrm
#define mbtowc openrras_not_in_kit_mbtowc
#define wctomb openrras_not_in_kit_wctomb
#define mbrtowc openrras_not_in_kit_mbrtowc
#define wcrtomb openrras_not_in_kit_wcrtomb
#define mbsrtowcs openrras_not_in_kit_mbsrtowcs
#define wcsrtombs openrras_not_in_kit_wcsrtombs
#define wmemset openrras_wmemset
#define wmemcpy openrras_wmemcpy
#define wmemmove openrras_wmemmove
#define wmemcmp openrras_wmemcmp
#define wmemchr openrras_wmemchr
#define wcsicmp _wcsicmp

#endif /* OPENRRAS_WIDE_H */

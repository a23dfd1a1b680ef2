/* UTF-16 string functions (the wcs* family for a 2-byte wchar_t). Case
 * folding is ASCII-only, as the RRAS strings compared by tools are. */
#include "kit.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

size_t openrras_wcslen(const unit16 *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

size_t openrras_wcsnlen(const unit16 *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) n++;
    return n;
}

int openrras_wcsncmp(const unit16 *a, const unit16 *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
        if (!a[i]) return 0;
    }
    return 0;
}

int openrras_wcscmp(const unit16 *a, const unit16 *b) { return openrras_wcsncmp(a, b, SIZE_MAX); }

static unit16 fold(unit16 c) { return c >= 'A' && c <= 'Z' ? (unit16)(c + 32) : c; }

int _wcsnicmp(const unit16 *a, const unit16 *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unit16 x = fold(a[i]), y = fold(b[i]);
        if (x != y) return x < y ? -1 : 1;
        if (!x) return 0;
    }
    return 0;
}

int _wcsicmp(const unit16 *a, const unit16 *b) { return _wcsnicmp(a, b, SIZE_MAX); }

unit16 *openrras_wcscpy(unit16 *dst, const unit16 *src) {
    memmove(dst, src, (openrras_wcslen(src) + 1) * sizeof *src);
    return dst;
}

unit16 *openrras_wcsncpy(unit16 *dst, const unit16 *src, size_t n) {
    size_t i = 0;
    for (; i < n && src[i]; i++) dst[i] = src[i];
    for (; i < n; i++) dst[i] = 0;
    return dst;
}

unit16 *openrras_wcscat(unit16 *dst, const unit16 *src) {
    openrras_wcscpy(dst + openrras_wcslen(dst), src);
    return dst;
}

unit16 *openrras_wcsncat(unit16 *dst, const unit16 *src, size_t n) {
    unit16 *end = dst + openrras_wcslen(dst);
    size_t i = 0;
    for (; i < n && src[i]; i++) end[i] = src[i];
    end[i] = 0;
    return dst;
}

unit16 *openrras_wcschr(const unit16 *s, unit16 c) {
    for (;; s++) {
        if (*s == c) return (unit16 *)s;
        if (!*s) return NULL;
    }
}

unit16 *openrras_wcsrchr(const unit16 *s, unit16 c) {
    const unit16 *last = NULL;
    for (;; s++) {
        if (*s == c) last = s;
        if (!*s) return (unit16 *)last;
    }
}

unit16 *openrras_wcsstr(const unit16 *haystack, const unit16 *needle) {
    size_t n = openrras_wcslen(needle);
    for (; *haystack; haystack++)
        if (openrras_wcsncmp(haystack, needle, n) == 0) return (unit16 *)haystack;
    return n == 0 ? (unit16 *)haystack : NULL;
}

unit16 *openrras_wcsdup(const unit16 *s) {
    size_t bytes = (openrras_wcslen(s) + 1) * sizeof *s;
    unit16 *copy = malloc(bytes);
    if (copy) memcpy(copy, s, bytes);
    return copy;
}

/* The ASCII digits of a wide number, narrowed for strtoull: a number never
   needs more than 80 characters, and a wider one stops at the first unit
   that is not ASCII. */
static size_t narrow_number(const unit16 *s, char *buf, size_t cap) {
    size_t i = 0;
    for (; s[i] && s[i] < 128 && i + 1 < cap; i++) buf[i] = (char)s[i];
    buf[i] = 0;
    return i;
}

unsigned long openrras_wcstoul(const unit16 *s, unit16 **end, int base) {
    char buf[96], *stop;
    narrow_number(s, buf, sizeof buf);
    unsigned long long v = strtoull(buf, &stop, base);
    if (v > UINT32_MAX) {
        v = UINT32_MAX; /* unsigned long is 32 bits on Windows */
        errno = ERANGE;
    }
    if (end) *end = (unit16 *)s + (stop - buf);
    return (unsigned long)v;
}

long openrras_wcstol(const unit16 *s, unit16 **end, int base) {
    char buf[96], *stop;
    narrow_number(s, buf, sizeof buf);
    long long v = strtoll(buf, &stop, base);
    if (v > INT32_MAX || v < INT32_MIN) {
        v = v > 0 ? INT32_MAX : INT32_MIN;
        errno = ERANGE;
    }
    if (end) *end = (unit16 *)s + (stop - buf);
    return (long)v;
}

long _wtol(const unit16 *s) { return openrras_wcstol(s, NULL, 10); }
int _wtoi(const unit16 *s) { return (int)openrras_wcstol(s, NULL, 10); }

int wcsncpy_s(unit16 *dst, size_t size, const unit16 *src, size_t count) {
    if (!dst || size == 0) return EINVAL;
    if (!src) {
        dst[0] = 0;
        return EINVAL;
    }
    size_t n = openrras_wcsnlen(src, count);
    if (n >= size) {
        dst[0] = 0;
        return ERANGE;
    }
    memmove(dst, src, n * sizeof *src);
    dst[n] = 0;
    return 0;
}

int wcscpy_s(unit16 *dst, size_t size, const unit16 *src) { return wcsncpy_s(dst, size, src, SIZE_MAX); }

int wcscat_s(unit16 *dst, size_t size, const unit16 *src) {
    if (!dst || size == 0) return EINVAL;
    size_t used = openrras_wcsnlen(dst, size);
    if (used == size || !src) {
        dst[0] = 0;
        return EINVAL;
    }
    int rc = wcscpy_s(dst + used, size - used, src);
    if (rc != 0) dst[0] = 0;
    return rc;
}

unit16 *openrras_wmemset(unit16 *dst, unit16 c, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = c;
    return dst;
}

unit16 *openrras_wmemcpy(unit16 *dst, const unit16 *src, size_t n) {
    memcpy(dst, src, n * sizeof *src);
    return dst;
}

unit16 *openrras_wmemmove(unit16 *dst, const unit16 *src, size_t n) {
    memmove(dst, src, n * sizeof *src);
    return dst;
}

int openrras_wmemcmp(const unit16 *a, const unit16 *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

unit16 *openrras_wmemchr(const unit16 *s, unit16 c, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == c) return (unit16 *)s + i;
    return NULL;
}

size_t openrras_wcsspn(const unit16 *s, const unit16 *accept) {
    size_t n = 0;
    while (s[n] && openrras_wcschr(accept, s[n])) n++;
    return n;
}

size_t openrras_wcscspn(const unit16 *s, const unit16 *reject) {
    size_t n = 0;
    while (s[n] && !openrras_wcschr(reject, s[n])) n++;
    return n;
}

unit16 *openrras_wcspbrk(const unit16 *s, const unit16 *accept) {
    s += openrras_wcscspn(s, accept);
    return *s ? (unit16 *)s : NULL;
}

/* ISO wcstok (and MSVC's wcstok_s): the caller keeps the position. */
unit16 *openrras_wcstok(unit16 *s, const unit16 *delim, unit16 **context) {
    if (!s) s = *context;
    if (!s) return NULL;
    s += openrras_wcsspn(s, delim);
    if (!*s) {
        *context = NULL;
        return NULL;
    }
    unit16 *end = s + openrras_wcscspn(s, delim);
    if (*end) {
        *end = 0;
        *context = end + 1;
    } else {
        *context = NULL;
    }
    return s;
}

unsigned long long openrras_wcstoull(const unit16 *s, unit16 **end, int base) {
    char buf[96], *stop;
    narrow_number(s, buf, sizeof buf);
    unsigned long long v = strtoull(buf, &stop, base);
    if (end) *end = (unit16 *)s + (stop - buf);
    return v;
}

long long openrras_wcstoll(const unit16 *s, unit16 **end, int base) {
    char buf[96], *stop;
    narrow_number(s, buf, sizeof buf);
    long long v = strtoll(buf, &stop, base);
    if (end) *end = (unit16 *)s + (stop - buf);
    return v;
}

double openrras_wcstod(const unit16 *s, unit16 **end) {
    char buf[96], *stop;
    narrow_number(s, buf, sizeof buf);
    double v = strtod(buf, &stop);
    if (end) *end = (unit16 *)s + (stop - buf);
    return v;
}

/* One unit to a stream as UTF-8 (a lone surrogate half becomes U+FFFD). */
unsigned openrras_fputwc(unit16 c, FILE *stream) {
    kit_text t = {0};
    kit_push_utf16(&t, &c, 1);
    int ok = !t.failed && fwrite(t.bytes, 1, t.len, stream) == t.len;
    kit_text_free(&t);
    return ok ? c : 0xFFFFu;
}

unsigned openrras_putwchar(unit16 c) { return openrras_fputwc(c, stdout); }

/* mbstowcs / wcstombs: UTF-8 both ways; the count excludes the terminator. */
size_t openrras_mbstowcs(unit16 *dst, const char *src, size_t n) {
    size_t len = strlen(src);
    size_t units = kit_utf16_len(src, len);
    if (!dst) return units;
    size_t written = kit_utf8_to_utf16(src, len, dst, n);
    size_t kept = written < n ? written : n;
    if (kept < n) dst[kept] = 0;
    return kept;
}

size_t openrras_wcstombs(char *dst, const unit16 *src, size_t n) {
    kit_text t = {0};
    kit_push_utf16(&t, src, (size_t)-1);
    if (t.failed) {
        kit_text_free(&t);
        return (size_t)-1;
    }
    size_t len = t.len;
    if (dst) {
        size_t kept = len < n ? len : n;
        /* Never cut inside a character. */
        while (kept > 0 && kept < len && ((unsigned char)t.bytes[kept] & 0xC0) == 0x80) kept--;
        memcpy(dst, t.bytes ? t.bytes : "", kept);
        if (kept < n) dst[kept] = 0;
        len = kept;
    }
    kit_text_free(&t);
    return len;
}

/* Helpers shared by the C tests: checks that print where they failed, and
 * WCHAR <-> UTF-8 for messages. The tests build twice: with -fshort-wchar
 * (W("x") is L"x", as Windows code writes) and without (W("x") is u"x"). */
#ifndef RRAS_TEST_COMMON_H
#define RRAS_TEST_COMMON_H

#include <mprapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SIZEOF_WCHAR_T__) && __SIZEOF_WCHAR_T__ == 2
#define W(s) L##s
#else
#define W(s) u##s
#endif

static int g_failures = 0;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
            g_failures++;                                                 \
        }                                                                 \
    } while (0)

#define CHECK_CODE(expr, expected)                                        \
    do {                                                                  \
        DWORD got_ = (expr);                                              \
        CHECK(got_ == (DWORD)(expected), "%s returned %u, expected %u", #expr, got_, (unsigned)(expected)); \
    } while (0)

/* ASCII/UTF-16 text of a WCHAR string (non-ASCII as '?'), into buf. */
static inline const char *narrow(const WCHAR *w, char *buf, size_t n) {
    size_t i = 0;
    for (; w[i] && i + 1 < n; i++) buf[i] = w[i] < 128 ? (char)w[i] : '?';
    buf[i] = 0;
    return buf;
}

/* A WCHAR copy of an ASCII string (static buffer, one at a time). */
static inline WCHAR *widen(const char *s) {
    static WCHAR buf[1024];
    size_t i = 0;
    for (; s[i] && i + 1 < sizeof buf / sizeof buf[0]; i++) buf[i] = (WCHAR)(unsigned char)s[i];
    buf[i] = 0;
    return buf;
}

static inline int starts_with_w(const WCHAR *w, const char *prefix) {
    for (size_t i = 0; prefix[i]; i++)
        if (w[i] != (WCHAR)prefix[i]) return 0;
    return 1;
}

static inline int cmp_handle(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static inline int finish(const char *name) {
    if (g_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, g_failures);
        return 1;
    }
    printf("%s: ALL OK\n", name);
    return 0;
}

#endif

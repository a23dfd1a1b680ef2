/*
 * The porting kit's private header. The kit is written with uint16_t for a
 * UTF-16 unit, which is what wchar_t is in a program built with
 * -fshort-wchar; so the archive itself does not depend on that flag, and
 * its files can include Linux headers that windows.h would clash with.
 */
#ifndef OPENRRAS_KIT_H
#define OPENRRAS_KIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef uint16_t unit16;

/* A growing UTF-8 buffer; `failed` once an allocation failed. */
typedef struct {
    char *bytes;
    size_t len, cap;
    int failed;
} kit_text;

void kit_text_push(kit_text *t, const char *bytes, size_t n);
void kit_text_free(kit_text *t);

/* Appends UTF-16 units (n of them, or up to the terminator when n is
   (size_t)-1) as UTF-8; a lone surrogate becomes U+FFFD. */
void kit_push_utf16(kit_text *t, const unit16 *s, size_t n);
/* How many UTF-16 units the UTF-8 bytes decode to. */
size_t kit_utf16_len(const char *utf8, size_t n);
/* Decodes UTF-8 into at most cap units of out (no terminator); returns the
   units the whole text needs. Invalid bytes become U+FFFD. */
size_t kit_utf8_to_utf16(const char *utf8, size_t n, unit16 *out, size_t cap);

/* Formats with the MSVC meanings. `wide`: the format is UTF-16 and %s/%c
   are wide; else the format is UTF-8 and %s/%c narrow. Returns 0, or -1
   for a format the kit refuses (%n, unknown conversions). */
int kit_format(kit_text *out, int wide, const void *format, va_list args);

/* What a buffer function does with a text that does not fit. */
enum cut_rule {
    CUT_ISO,    /* swprintf, snprintf: cut, terminate; swprintf returns -1 */
    CUT_MSVC,   /* _snwprintf, _snprintf: fill, no terminator, -1 */
    CUT_SECURE, /* swprintf_s, sprintf_s: empty the buffer, -1 (ERANGE) */
};

/* Formats wide into buffer (count units) under `rule`; the printf-family
   return value (units written, or -1). */
int kit_wide_buffer(unit16 *buffer, size_t count, int rule, const unit16 *format, va_list args);

/* The thread's last error, and setting it. */
uint32_t GetLastError(void);
void kit_set_last_error(uint32_t code);

#endif

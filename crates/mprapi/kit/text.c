/* UTF-8 <-> UTF-16 and the growing text buffer the formatter writes to. */
#include "kit.h"

#include <stdlib.h>
#include <string.h>

void kit_text_push(kit_text *t, const char *bytes, size_t n) {
    if (t->failed || n == 0) return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 128;
        while (cap < t->len + n + 1) cap *= 2;
        char *grown = realloc(t->bytes, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->bytes = grown;
        t->cap = cap;
    }
    memcpy(t->bytes + t->len, bytes, n);
    t->len += n;
    t->bytes[t->len] = 0;
}

void kit_text_free(kit_text *t) {
    free(t->bytes);
    t->bytes = NULL;
    t->len = t->cap = 0;
}

static size_t encode_utf8(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

void kit_push_utf16(kit_text *t, const unit16 *s, size_t n) {
    for (size_t i = 0; (n == (size_t)-1 ? s[i] != 0 : i < n); i++) {
        uint32_t cp = s[i];
        int has_next = n == (size_t)-1 ? s[i + 1] != 0 : i + 1 < n;
        if (cp >= 0xD800 && cp < 0xDC00 && has_next && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00u);
            i++;
        } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        char buf[4];
        kit_text_push(t, buf, encode_utf8(cp, buf));
    }
}

/* The next code point of UTF-8 at s[*i] (s has n bytes); U+FFFD for an
   invalid sequence, which is skipped one byte at a time. */
static uint32_t next_code_point(const char *s, size_t n, size_t *i) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned char b = u[*i];
    size_t need;
    uint32_t cp, min;
    if (b < 0x80) {
        (*i)++;
        return b;
    } else if ((b & 0xE0) == 0xC0) {
        need = 1, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
        need = 2, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
        need = 3, cp = b & 0x07, min = 0x10000;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    if (*i + need >= n) {
        (*i)++;
        return 0xFFFD;
    }
    for (size_t k = 1; k <= need; k++) {
        if ((u[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (u[*i + k] & 0x3F);
    }
    *i += need + 1;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return 0xFFFD;
    return cp;
}

size_t kit_utf8_to_utf16(const char *utf8, size_t n, unit16 *out, size_t cap) {
    size_t units = 0, i = 0;
    while (i < n) {
        uint32_t cp = next_code_point(utf8, n, &i);
        if (cp >= 0x10000) {
            if (units + 1 < cap) {
                out[units] = (unit16)(0xD800 + ((cp - 0x10000) >> 10));
                out[units + 1] = (unit16)(0xDC00 + ((cp - 0x10000) & 0x3FF));
            }
            units += 2;
        } else {
            if (units < cap) out[units] = (unit16)cp;
            units++;
        }
    }
    return units;
}

size_t kit_utf16_len(const char *utf8, size_t n) {
    return kit_utf8_to_utf16(utf8, n, NULL, 0);
}

/* The printf family with the MSVC meanings (see include/openrras/wide.h):
 * one formatter that writes UTF-8, and the wide and narrow front ends for
 * streams and buffers with each one's truncation rule. */
#define _GNU_SOURCE /* strnlen */
#include "kit.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum size_mod { SZ_INT, SZ_CHAR, SZ_SHORT, SZ_32, SZ_64, SZ_PTR, SZ_WIDE, SZ_LONG_DOUBLE };

struct spec {
    char flags[8];
    int width;     /* -1: none */
    int precision; /* -1: none */
    int left;
    int zero;
    enum size_mod size;
    char conv;
};

/* snprintf of one numeric conversion into the text. */
static void push_printf(kit_text *out, const char *fmt, ...) {
    char small[128];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        out->failed = 1;
    } else if ((size_t)n < sizeof small) {
        kit_text_push(out, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big) {
            out->failed = 1;
        } else {
            vsnprintf(big, (size_t)n + 1, fmt, again);
            kit_text_push(out, big, (size_t)n);
            free(big);
        }
    }
    va_end(again);
}

/* The C format for one numeric conversion: flags, width, precision, then
   `length` and the conversion character. */
static void c_format(char *buf, size_t n, const struct spec *s, const char *length, char conv) {
    char width[16] = "", precision[16] = "";
    if (s->width >= 0) snprintf(width, sizeof width, "%d", s->width);
    if (s->precision >= 0) snprintf(precision, sizeof precision, ".%d", s->precision);
    snprintf(buf, n, "%%%s%s%s%s%s%c", s->flags, s->left ? "-" : "", width, precision, length, conv);
}

/* Pads a string piece to the width, counted in the caller's units. */
static void push_padded(kit_text *out, const struct spec *s, int wide_fn, const char *piece, size_t len) {
    size_t units = wide_fn ? kit_utf16_len(piece, len) : len;
    size_t pad = s->width > 0 && (size_t)s->width > units ? (size_t)s->width - units : 0;
    char fill = s->zero && !s->left ? '0' : ' ';
    if (!s->left)
        for (size_t i = 0; i < pad; i++) kit_text_push(out, &fill, 1);
    kit_text_push(out, piece, len);
    if (s->left)
        for (size_t i = 0; i < pad; i++) kit_text_push(out, &fill, 1);
}

/* Whether a %s / %c argument is wide: by the letter's case relative to the
   function (s/c: the function's own width, S/C: the other), overridden by
   h (narrow) and l / w (wide). */
static int is_wide_arg(const struct spec *s, int wide_fn) {
    if (s->size == SZ_SHORT) return 0;
    if (s->size == SZ_32 || s->size == SZ_WIDE) return 1;
    int upper = s->conv == 'S' || s->conv == 'C';
    return upper ? !wide_fn : wide_fn;
}

static void push_string(kit_text *out, const struct spec *s, int wide_fn, va_list *ap) {
    kit_text piece = {0};
    if (is_wide_arg(s, wide_fn)) {
        const unit16 *w = va_arg(*ap, const unit16 *);
        if (!w) {
            kit_text_push(&piece, "(null)", 6);
        } else {
            size_t n = 0;
            while (w[n] && (s->precision < 0 || n < (size_t)s->precision)) n++;
            kit_push_utf16(&piece, w, n);
        }
    } else {
        const char *b = va_arg(*ap, const char *);
        if (!b) b = "(null)";
        size_t n = s->precision < 0 ? strlen(b) : strnlen(b, (size_t)s->precision);
        kit_text_push(&piece, b, n);
    }
    if (piece.failed) out->failed = 1;
    push_padded(out, s, wide_fn, piece.bytes ? piece.bytes : "", piece.len);
    kit_text_free(&piece);
}

static void push_char(kit_text *out, const struct spec *s, int wide_fn, va_list *ap) {
    int value = va_arg(*ap, int);
    kit_text piece = {0};
    if (is_wide_arg(s, wide_fn)) {
        unit16 u = (unit16)value;
        kit_push_utf16(&piece, &u, 1);
    } else {
        char c = (char)value;
        kit_text_push(&piece, &c, 1);
    }
    if (piece.failed) out->failed = 1;
    push_padded(out, s, wide_fn, piece.bytes ? piece.bytes : "", piece.len);
    kit_text_free(&piece);
}

static void push_integer(kit_text *out, const struct spec *s, va_list *ap) {
    char fmt[64];
    int is_signed = s->conv == 'd' || s->conv == 'i';
    long long sv = 0;
    unsigned long long uv = 0;
    switch (s->size) {
    case SZ_64:
    case SZ_PTR:
        if (is_signed)
            sv = va_arg(*ap, long long);
        else
            uv = va_arg(*ap, unsigned long long);
        break;
    case SZ_CHAR:
        if (is_signed)
            sv = (signed char)va_arg(*ap, int);
        else
            uv = (unsigned char)va_arg(*ap, unsigned int);
        break;
    case SZ_SHORT:
        if (is_signed)
            sv = (short)va_arg(*ap, int);
        else
            uv = (unsigned short)va_arg(*ap, unsigned int);
        break;
    default: /* int, and long: 32 bits on Windows */
        if (is_signed)
            sv = va_arg(*ap, int);
        else
            uv = va_arg(*ap, unsigned int);
        break;
    }
    c_format(fmt, sizeof fmt, s, "ll", s->conv == 'i' ? 'd' : s->conv);
    if (is_signed)
        push_printf(out, fmt, sv);
    else
        push_printf(out, fmt, uv);
}

/* Reads one conversion's flags, width, precision and size at f[*i]
   (after the %). Returns 0, or -1 at the end of the format. */
static int read_spec(const char *f, size_t n, size_t *i, struct spec *s, va_list *ap) {
    size_t k = *i, nf = 0;
    memset(s, 0, sizeof *s);
    s->width = s->precision = -1;
    for (; k < n && strchr("-+ #0", f[k]); k++) {
        if (f[k] == '-')
            s->left = 1;
        else if (nf + 1 < sizeof s->flags)
            s->flags[nf++] = f[k];
        if (f[k] == '0') s->zero = 1;
    }
    if (k < n && f[k] == '*') {
        s->width = va_arg(*ap, int);
        if (s->width < 0) {
            s->left = 1;
            s->width = s->width == INT_MIN ? INT_MAX : -s->width;
        }
        k++;
    } else {
        for (; k < n && f[k] >= '0' && f[k] <= '9'; k++) {
            int w = s->width < 0 ? 0 : s->width;
            s->width = w > (INT_MAX - 9) / 10 ? INT_MAX : w * 10 + (f[k] - '0');
        }
    }
    if (k < n && f[k] == '.') {
        k++;
        s->precision = 0;
        if (k < n && f[k] == '*') {
            s->precision = va_arg(*ap, int);
            if (s->precision < 0) s->precision = -1;
            k++;
        } else {
            for (; k < n && f[k] >= '0' && f[k] <= '9'; k++)
                s->precision = s->precision > (INT_MAX - 9) / 10 ? INT_MAX : s->precision * 10 + (f[k] - '0');
        }
    }
    s->size = SZ_INT;
    if (k + 2 < n && f[k] == 'I' && f[k + 1] == '6' && f[k + 2] == '4') {
        s->size = SZ_64, k += 3;
    } else if (k + 2 < n && f[k] == 'I' && f[k + 1] == '3' && f[k + 2] == '2') {
        s->size = SZ_32, k += 3;
    } else if (k < n && (f[k] == 'I' || f[k] == 'z' || f[k] == 'j' || f[k] == 't')) {
        s->size = SZ_PTR, k++;
    } else if (k + 1 < n && f[k] == 'l' && f[k + 1] == 'l') {
        s->size = SZ_64, k += 2;
    } else if (k + 1 < n && f[k] == 'h' && f[k + 1] == 'h') {
        s->size = SZ_CHAR, k += 2;
    } else if (k < n && f[k] == 'l') {
        s->size = SZ_32, k++;
    } else if (k < n && f[k] == 'h') {
        s->size = SZ_SHORT, k++;
    } else if (k < n && f[k] == 'w') {
        s->size = SZ_WIDE, k++;
    } else if (k < n && f[k] == 'q') {
        s->size = SZ_64, k++;
    } else if (k < n && f[k] == 'L') {
        s->size = SZ_LONG_DOUBLE, k++;
    }
    if (k >= n) return -1;
    s->conv = f[k];
    *i = k + 1;
    return 0;
}

int kit_format(kit_text *out, int wide, const void *format, va_list args) {
    va_list ap;
    kit_text converted = {0};
    const char *f = format;
    if (wide) {
        kit_push_utf16(&converted, format, (size_t)-1);
        if (converted.failed) return -1;
        f = converted.bytes ? converted.bytes : "";
    }
    size_t n = strlen(f), i = 0;
    int rc = 0;
    va_copy(ap, args);
    while (i < n && rc == 0) {
        if (f[i] != '%') {
            size_t j = i;
            while (j < n && f[j] != '%') j++;
            kit_text_push(out, f + i, j - i);
            i = j;
            continue;
        }
        i++;
        if (i < n && f[i] == '%') {
            kit_text_push(out, "%", 1);
            i++;
            continue;
        }
        struct spec s;
        char fmt[64];
        if (read_spec(f, n, &i, &s, &ap) != 0) {
            rc = -1;
            break;
        }
        switch (s.conv) {
        case 'd':
        case 'i':
        case 'u':
        case 'o':
        case 'x':
        case 'X':
            push_integer(out, &s, &ap);
            break;
        case 's':
        case 'S':
            push_string(out, &s, wide, &ap);
            break;
        case 'c':
        case 'C':
            push_char(out, &s, wide, &ap);
            break;
        case 'p': {
            /* MSVC: the pointer as 16 upper-case hex digits, no 0x. */
            char hex[32];
            snprintf(hex, sizeof hex, "%016llX", (unsigned long long)(uintptr_t)va_arg(ap, void *));
            push_padded(out, &s, 0, hex, strlen(hex));
            break;
        }
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            /* MSVC's long double is double: %Lf takes a double. */
            c_format(fmt, sizeof fmt, &s, "", s.conv);
            push_printf(out, fmt, va_arg(ap, double));
            break;
        default: /* %n is refused, as MSVC does by default; so is the unknown */
            rc = -1;
            break;
        }
    }
    va_end(ap);
    kit_text_free(&converted);
    if (out->failed) rc = -1;
    if (rc != 0) errno = EINVAL;
    return rc;
}

static int clamp_int(size_t n) { return n > INT_MAX ? INT_MAX : (int)n; }

/* ---- Streams ------------------------------------------------------------ */

static int to_stream(FILE *stream, int wide, const void *format, va_list args) {
    if (!stream || !format) {
        errno = EINVAL;
        return -1;
    }
    kit_text t = {0};
    int result = -1;
    if (kit_format(&t, wide, format, args) == 0) {
        if (t.len == 0 || fwrite(t.bytes, 1, t.len, stream) == t.len)
            result = clamp_int(wide ? kit_utf16_len(t.bytes, t.len) : t.len);
    }
    kit_text_free(&t);
    return result;
}

int openrras_vfwprintf(FILE *stream, const unit16 *format, va_list args) { return to_stream(stream, 1, format, args); }
int openrras_vwprintf(const unit16 *format, va_list args) { return to_stream(stdout, 1, format, args); }
int openrras_vfprintf(FILE *stream, const char *format, va_list args) { return to_stream(stream, 0, format, args); }
int openrras_vprintf(const char *format, va_list args) { return to_stream(stdout, 0, format, args); }

#define FORWARD(call)         \
    va_list args;             \
    va_start(args, format);   \
    int result = call;        \
    va_end(args);             \
    return result

int openrras_wprintf(const unit16 *format, ...) { FORWARD(to_stream(stdout, 1, format, args)); }
int openrras_fwprintf(FILE *stream, const unit16 *format, ...) { FORWARD(to_stream(stream, 1, format, args)); }
int wprintf_s(const unit16 *format, ...) { FORWARD(to_stream(stdout, 1, format, args)); }
int fwprintf_s(FILE *stream, const unit16 *format, ...) { FORWARD(to_stream(stream, 1, format, args)); }
int openrras_printf(const char *format, ...) { FORWARD(to_stream(stdout, 0, format, args)); }
int openrras_fprintf(FILE *stream, const char *format, ...) { FORWARD(to_stream(stream, 0, format, args)); }
int printf_s(const char *format, ...) { FORWARD(to_stream(stdout, 0, format, args)); }

int openrras_fputws(const unit16 *str, FILE *stream) {
    if (!str || !stream) {
        errno = EINVAL;
        return -1;
    }
    kit_text t = {0};
    kit_push_utf16(&t, str, (size_t)-1);
    int result = t.failed || (t.len && fwrite(t.bytes, 1, t.len, stream) != t.len) ? -1 : 0;
    kit_text_free(&t);
    return result;
}

int _putws(const unit16 *str) {
    if (openrras_fputws(str, stdout) != 0 || fputc('\n', stdout) == EOF) return -1;
    return 0;
}

/* ---- Buffers -------------------------------------------------------------- */

int kit_wide_buffer(unit16 *buffer, size_t count, int rule, const unit16 *format, va_list args) {
    if (!format || (!buffer && count)) {
        errno = EINVAL;
        return -1;
    }
    kit_text t = {0};
    if (kit_format(&t, 1, format, args) != 0) {
        kit_text_free(&t);
        if (buffer && count) buffer[0] = 0;
        return -1;
    }
    size_t total = kit_utf16_len(t.bytes ? t.bytes : "", t.len);
    unit16 *all = malloc((total + 1) * sizeof *all);
    if (!all) {
        kit_text_free(&t);
        errno = ENOMEM;
        return -1;
    }
    kit_utf8_to_utf16(t.bytes ? t.bytes : "", t.len, all, total);
    kit_text_free(&t);
    int result;
    if (total < count) {
        memcpy(buffer, all, total * sizeof *all);
        buffer[total] = 0;
        result = clamp_int(total);
    } else if (rule == CUT_MSVC) {
        if (count) memcpy(buffer, all, count * sizeof *all);
        result = total == count ? clamp_int(total) : -1;
    } else if (rule == CUT_SECURE || count == 0) {
        if (count) buffer[0] = 0;
        errno = ERANGE;
        result = -1;
    } else {
        size_t keep = count - 1;
        /* Never keep half of a surrogate pair. */
        if (keep && all[keep - 1] >= 0xD800 && all[keep - 1] < 0xDC00) keep--;
        memcpy(buffer, all, keep * sizeof *all);
        buffer[keep] = 0;
        result = -1;
    }
    free(all);
    return result;
}

static int narrow_buffer(char *buffer, size_t count, int rule, const char *format, va_list args) {
    if (!format || (!buffer && count)) {
        errno = EINVAL;
        return -1;
    }
    kit_text t = {0};
    if (kit_format(&t, 0, format, args) != 0) {
        kit_text_free(&t);
        if (buffer && count) buffer[0] = 0;
        return -1;
    }
    size_t total = t.len;
    int result;
    if (total < count) {
        memcpy(buffer, t.bytes ? t.bytes : "", total + 1);
        result = clamp_int(total);
    } else if (rule == CUT_MSVC) {
        if (count) memcpy(buffer, t.bytes, count);
        result = total == count ? clamp_int(total) : -1;
    } else if (rule == CUT_SECURE) {
        if (count) buffer[0] = 0;
        errno = ERANGE;
        result = -1;
    } else {
        /* C99 snprintf: cut, terminate, return the length it needed. */
        if (count) {
            memcpy(buffer, t.bytes, count - 1);
            buffer[count - 1] = 0;
        }
        result = clamp_int(total);
    }
    kit_text_free(&t);
    return result;
}

int openrras_vswprintf(unit16 *buffer, size_t count, const unit16 *format, va_list args) {
    return kit_wide_buffer(buffer, count, CUT_ISO, format, args);
}
int _vsnwprintf(unit16 *buffer, size_t count, const unit16 *format, va_list args) {
    return kit_wide_buffer(buffer, count, CUT_MSVC, format, args);
}
int vswprintf_s(unit16 *buffer, size_t size, const unit16 *format, va_list args) {
    return kit_wide_buffer(buffer, size, CUT_SECURE, format, args);
}
int openrras_swprintf(unit16 *buffer, size_t count, const unit16 *format, ...) {
    FORWARD(kit_wide_buffer(buffer, count, CUT_ISO, format, args));
}
int _snwprintf(unit16 *buffer, size_t count, const unit16 *format, ...) {
    FORWARD(kit_wide_buffer(buffer, count, CUT_MSVC, format, args));
}
int swprintf_s(unit16 *buffer, size_t size, const unit16 *format, ...) {
    FORWARD(kit_wide_buffer(buffer, size, CUT_SECURE, format, args));
}

int openrras_vsnprintf(char *buffer, size_t count, const char *format, va_list args) {
    return narrow_buffer(buffer, count, CUT_ISO, format, args);
}
int openrras_snprintf(char *buffer, size_t count, const char *format, ...) {
    FORWARD(narrow_buffer(buffer, count, CUT_ISO, format, args));
}
int openrras_sprintf(char *buffer, const char *format, ...) {
    /* Unbounded, as sprintf is: the caller promised the room. */
    FORWARD(narrow_buffer(buffer, buffer ? SIZE_MAX : 0, CUT_ISO, format, args));
}
int _snprintf(char *buffer, size_t count, const char *format, ...) {
    FORWARD(narrow_buffer(buffer, count, CUT_MSVC, format, args));
}
int sprintf_s(char *buffer, size_t size, const char *format, ...) {
    FORWARD(narrow_buffer(buffer, size, CUT_SECURE, format, args));
}

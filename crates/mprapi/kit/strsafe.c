/* strsafe.h's counted-character (Cch) functions, wide forms: the result is
 * always terminated; a text that does not fit is cut and reported. */
#include "kit.h"

#include <string.h>

#define S_OK 0
#define STRSAFE_E_INSUFFICIENT_BUFFER ((int32_t)0x8007007A)
#define STRSAFE_E_INVALID_PARAMETER ((int32_t)0x80070057)
#define STRSAFE_MAX_CCH 2147483647u

int32_t StringCchVPrintfW(unit16 *dst, size_t cch, const unit16 *format, va_list args) {
    if (!dst || cch == 0 || cch > STRSAFE_MAX_CCH) return STRSAFE_E_INVALID_PARAMETER;
    if (!format) {
        dst[0] = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    return kit_wide_buffer(dst, cch, CUT_ISO, format, args) < 0 ? STRSAFE_E_INSUFFICIENT_BUFFER : S_OK;
}

int32_t StringCchPrintfW(unit16 *dst, size_t cch, const unit16 *format, ...) {
    va_list args;
    va_start(args, format);
    int32_t hr = StringCchVPrintfW(dst, cch, format, args);
    va_end(args);
    return hr;
}

int32_t StringCchLengthW(const unit16 *s, size_t max, size_t *length) {
    if (!s || max > STRSAFE_MAX_CCH) return STRSAFE_E_INVALID_PARAMETER;
    size_t n = 0;
    while (n < max && s[n]) n++;
    if (n == max) return STRSAFE_E_INVALID_PARAMETER;
    if (length) *length = n;
    return S_OK;
}

/* Appends src at dst[used] (used < cch), cutting to fit. */
static int32_t copy_at(unit16 *dst, size_t cch, size_t used, const unit16 *src) {
    size_t i = 0;
    for (; src[i] && used + i + 1 < cch; i++) dst[used + i] = src[i];
    dst[used + i] = 0;
    return src[i] ? STRSAFE_E_INSUFFICIENT_BUFFER : S_OK;
}

int32_t StringCchCopyW(unit16 *dst, size_t cch, const unit16 *src) {
    if (!dst || cch == 0 || cch > STRSAFE_MAX_CCH) return STRSAFE_E_INVALID_PARAMETER;
    if (!src) {
        dst[0] = 0;
        return STRSAFE_E_INVALID_PARAMETER;
    }
    return copy_at(dst, cch, 0, src);
}

int32_t StringCchCatW(unit16 *dst, size_t cch, const unit16 *src) {
    size_t used;
    if (!dst || !src || StringCchLengthW(dst, cch, &used) != S_OK) return STRSAFE_E_INVALID_PARAMETER;
    return copy_at(dst, cch, used, src);
}

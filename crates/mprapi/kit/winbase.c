/* The Win32 runtime calls of windows.h: last error, sleeping and ticks,
 * FILETIME / SYSTEMTIME, and the code-page conversions (UTF-8). */
#define _GNU_SOURCE /* timegm, tm_gmtoff */
#include "kit.h"

#include <string.h>
#include <time.h>

typedef struct {
    uint32_t low, high;
} filetime;

typedef struct {
    uint16_t year, month, day_of_week, day, hour, minute, second, milliseconds;
} systemtime;

#define ERROR_INVALID_PARAMETER 87
#define ERROR_INSUFFICIENT_BUFFER 122
#define ERROR_NO_UNICODE_TRANSLATION 1113

/* 100 ns ticks from 1601-01-01 to 1970-01-01. */
#define EPOCH_DIFF 116444736000000000ULL

static _Thread_local uint32_t last_error;

uint32_t GetLastError(void) { return last_error; }
void SetLastError(uint32_t code) { last_error = code; }
void kit_set_last_error(uint32_t code) { last_error = code; }

void *openrras_secure_zero(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
    return p;
}

void Sleep(uint32_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

uint64_t GetTickCount64(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint32_t GetTickCount(void) { return (uint32_t)GetTickCount64(); }

static uint64_t ticks_of(const filetime *ft) { return (uint64_t)ft->high << 32 | ft->low; }

static void set_ticks(filetime *ft, uint64_t t) {
    ft->low = (uint32_t)t;
    ft->high = (uint32_t)(t >> 32);
}

void GetSystemTimeAsFileTime(filetime *ft) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    set_ticks(ft, (uint64_t)ts.tv_sec * 10000000u + (uint64_t)ts.tv_nsec / 100u + EPOCH_DIFF);
}

/* FILETIME → broken-down UTC. Years 1601–30827, as Windows. */
int FileTimeToSystemTime(const filetime *ft, systemtime *st) {
    if (!ft || !st || ticks_of(ft) > 0x7FFFFFFFFFFFFFFFULL) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    uint64_t t = ticks_of(ft);
    /* Seconds from 1970 may be negative (before 1970). */
    int64_t secs = (int64_t)(t / 10000000u) - (int64_t)(EPOCH_DIFF / 10000000u);
    time_t tt = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    st->year = (uint16_t)(tm.tm_year + 1900);
    st->month = (uint16_t)(tm.tm_mon + 1);
    st->day_of_week = (uint16_t)tm.tm_wday;
    st->day = (uint16_t)tm.tm_mday;
    st->hour = (uint16_t)tm.tm_hour;
    st->minute = (uint16_t)tm.tm_min;
    st->second = (uint16_t)tm.tm_sec;
    st->milliseconds = (uint16_t)(t / 10000u % 1000u);
    return 1;
}

int SystemTimeToFileTime(const systemtime *st, filetime *ft) {
    if (!st || !ft || st->month < 1 || st->month > 12 || st->day < 1 || st->day > 31 || st->hour > 23 ||
        st->minute > 59 || st->second > 59 || st->milliseconds > 999 || st->year < 1601) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = st->year - 1900;
    tm.tm_mon = st->month - 1;
    tm.tm_mday = st->day;
    tm.tm_hour = st->hour;
    tm.tm_min = st->minute;
    tm.tm_sec = st->second;
    time_t secs = timegm(&tm);
    set_ticks(ft, (uint64_t)((int64_t)secs * 10000000 + (int64_t)EPOCH_DIFF) + st->milliseconds * 10000u);
    return 1;
}

/* The local zone's offset from UTC at a moment, in seconds. */
static long local_offset(int64_t unix_secs) {
    time_t tt = (time_t)unix_secs;
    struct tm tm;
    return localtime_r(&tt, &tm) ? tm.tm_gmtoff : 0;
}

int FileTimeToLocalFileTime(const filetime *ft, filetime *local) {
    if (!ft || !local) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    uint64_t t = ticks_of(ft);
    int64_t unix_secs = (int64_t)(t / 10000000u) - (int64_t)(EPOCH_DIFF / 10000000u);
    set_ticks(local, t + (uint64_t)((int64_t)local_offset(unix_secs) * 10000000));
    return 1;
}

int SystemTimeToTzSpecificLocalTime(const void *zone, const systemtime *utc, systemtime *local) {
    filetime ft, lft;
    if (zone != NULL) {
        last_error = ERROR_INVALID_PARAMETER; /* only the system's zone */
        return 0;
    }
    return SystemTimeToFileTime(utc, &ft) && FileTimeToLocalFileTime(&ft, &lft) && FileTimeToSystemTime(&lft, local);
}

void GetSystemTime(systemtime *st) {
    filetime ft;
    GetSystemTimeAsFileTime(&ft);
    FileTimeToSystemTime(&ft, st);
}

void GetLocalTime(systemtime *st) {
    filetime ft, lft;
    GetSystemTimeAsFileTime(&ft);
    FileTimeToLocalFileTime(&ft, &lft);
    FileTimeToSystemTime(&lft, st);
}

/* ---- Code pages: every one is UTF-8 here ------------------------------ */

int MultiByteToWideChar(unsigned cp, uint32_t flags, const char *src, int srclen, unit16 *dst, int dstlen) {
    (void)cp;
    (void)flags;
    if (!src || srclen == 0 || srclen < -1 || dstlen < 0 || (dstlen > 0 && !dst)) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    /* -1: through the terminator, which is counted. */
    size_t n = srclen == -1 ? strlen(src) + 1 : (size_t)srclen;
    size_t need = kit_utf16_len(src, n);
    if (dstlen == 0) return need > 0x7FFFFFFF ? 0 : (int)need;
    if (need > (size_t)dstlen) {
        last_error = ERROR_INSUFFICIENT_BUFFER;
        return 0;
    }
    kit_utf8_to_utf16(src, n, dst, (size_t)dstlen);
    return (int)need;
}

int WideCharToMultiByte(unsigned cp, uint32_t flags, const unit16 *src, int srclen, char *dst, int dstlen,
                        const char *default_char, int *used_default) {
    (void)cp;
    (void)flags;
    (void)default_char;
    if (!src || srclen == 0 || srclen < -1 || dstlen < 0 || (dstlen > 0 && !dst)) {
        last_error = ERROR_INVALID_PARAMETER;
        return 0;
    }
    size_t n = 0;
    if (srclen == -1) {
        while (src[n]) n++;
        n++; /* the terminator is converted and counted */
    } else {
        n = (size_t)srclen;
    }
    kit_text t = {0};
    kit_push_utf16(&t, src, n);
    /* kit_push_utf16 stops at nothing when n is given; a terminator unit
       within n became a NUL byte. */
    if (used_default) *used_default = 0;
    int result = 0;
    if (t.failed) {
        last_error = ERROR_INSUFFICIENT_BUFFER;
    } else if (dstlen == 0) {
        result = t.len > 0x7FFFFFFF ? 0 : (int)t.len;
    } else if (t.len > (size_t)dstlen) {
        last_error = ERROR_INSUFFICIENT_BUFFER;
    } else {
        memcpy(dst, t.bytes, t.len);
        result = (int)t.len;
    }
    kit_text_free(&t);
    return result;
}

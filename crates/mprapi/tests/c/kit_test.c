/* The porting kit on its own: every formatting rule, truncation rule,
 * string, time, code-page and address function against known answers.
 * mprapi.h comes before windows.h here (the examples use the other order),
 * and the file builds as C and as C++. */
#include <mprapi.h>
#include <windows.h>
#include <ws2tcpip.h>
#include <strsafe.h>
#include <tchar.h>
#include <errno.h>

static int g_failed;

/* Narrow output goes through the kit's printf too (MSVC meanings). */
#define CHECK(cond, what)                                        \
    do {                                                         \
        if (!(cond)) {                                           \
            printf("FAIL line %d: %s\n", __LINE__, what);        \
            g_failed++;                                          \
        }                                                        \
    } while (0)

/* The kit's UTF-16 text of a format, compared with the expected text. */
static void expect_format(int line, LPCWSTR expected, LPCWSTR format, ...) {
    WCHAR buf[256];
    va_list args;
    va_start(args, format);
    int n = vswprintf(buf, ARRAYSIZE(buf), format, args);
    va_end(args);
    if (n < 0 || wcscmp(buf, expected) != 0 || (size_t)n != wcslen(expected)) {
        printf("FAIL line %d: got \"%S\" (%d), expected \"%S\"\n", line, n < 0 ? L"" : buf, n, expected);
        g_failed++;
    }
}
#define EXPECT(expected, ...) expect_format(__LINE__, expected, __VA_ARGS__)

static void formatting(void) {
    /* %s is wide in wide functions, %S / %hs narrow; %ws / %ls wide. */
    EXPECT(L"[alice] [bob] [carol] [dave]", L"[%s] [%S] [%hs] [%ws]", L"alice", "bob", "carol", L"dave");
    EXPECT(L"[x] [y] [z]", L"[%c] [%C] [%hc]", L'x', 'y', 'z');
    /* long is 32 bits: %lu reads a DWORD; %I64u and %llu 64 bits. */
    EXPECT(L"4294967295 -1 ffffffff", L"%lu %ld %lx", (DWORD)0xFFFFFFFFu, (LONG)-1, (DWORD)0xFFFFFFFFu);
    EXPECT(L"18446744073709551615 5000000000 -5", L"%I64u %llu %I64d", (ULONGLONG)-1, 5000000000ULL, (LONGLONG)-5);
    EXPECT(L"42 42", L"%Iu %zu", (size_t)42, (size_t)42);
    EXPECT(L"7 65535 255", L"%I32u %hu %hhu", 7u, 65535, 255);
    EXPECT(L"   ab|ab   |a", L"%5s|%-5s|%.1s", L"ab", L"ab", L"ab");
    EXPECT(L"  -42|00042|+7|0x1f", L"%5d|%05d|%+d|%#x", -42, 42, 7, 31);
    EXPECT(L"   12|12   ", L"%*d|%-*d", 5, 12, 5, 12);
    EXPECT(L"3.14|2.500000e+00|1.5", L"%.2f|%e|%g", 3.14159, 2.5, 1.5);
    EXPECT(L"100%", L"100%%");
    EXPECT(L"(null)", L"%s", (LPCWSTR)NULL);
    EXPECT(L"00000000000000FF", L"%p", (void *)(uintptr_t)0xFF);
    /* Non-ASCII round-trips: a BMP character and a surrogate pair. */
    EXPECT(L"Grüße \xD83D\xDE00", L"%s %s", L"Grüße", L"\xD83D\xDE00");
    EXPECT(L"é", L"%S", "\xC3\xA9");

    WCHAR buf[8];
    /* %n is refused, as MSVC does. */
    int dummy = 0;
    CHECK(swprintf(buf, ARRAYSIZE(buf), L"a%n", &dummy) == -1, "%n refused");
    /* ISO swprintf: cut, terminated, -1. */
    CHECK(swprintf(buf, 4, L"%s", L"abcdef") == -1 && wcscmp(buf, L"abc") == 0, "swprintf cuts");
    /* _snwprintf: fills, no terminator, -1; exactly full: no terminator, the length. */
    wmemset(buf, L'#', 8);
    CHECK(_snwprintf(buf, 3, L"%s", L"abcdef") == -1 && buf[2] == L'c' && buf[3] == L'#', "_snwprintf fills");
    CHECK(_snwprintf(buf, 3, L"abc") == 3 && buf[3] == L'#', "_snwprintf exact");
    /* swprintf_s: too long empties the buffer. */
    CHECK(swprintf_s(buf, 4, L"%s", L"abcdef") == -1 && buf[0] == 0, "swprintf_s empties");
    CHECK(swprintf_s(buf, 8, L"%d", 12345) == 5 && wcscmp(buf, L"12345") == 0, "swprintf_s fits");
    /* Narrow family, MSVC meanings. */
    char nb[64];
    CHECK(sprintf_s(nb, sizeof nb, "%s/%S/%I64u/%lu", "n", L"w", 5000000000ULL, (DWORD)7) == 16 &&
              strcmp(nb, "n/w/5000000000/7") == 0,
          "sprintf_s");
    CHECK(snprintf(nb, 4, "%s", "abcdef") == 6 && strcmp(nb, "abc") == 0, "snprintf C99");
    CHECK(_snprintf(nb, 2, "abc") == -1, "_snprintf cut");
    WCHAR sb[6];
    CHECK(StringCchPrintfW(sb, ARRAYSIZE(sb), L"%s", L"abcdefgh") == STRSAFE_E_INSUFFICIENT_BUFFER &&
              wcscmp(sb, L"abcde") == 0,
          "StringCchPrintfW cuts and terminates");
    CHECK(StringCchCopyW(sb, ARRAYSIZE(sb), L"ab") == S_OK && StringCchCatW(sb, ARRAYSIZE(sb), L"cd") == S_OK &&
              wcscmp(sb, L"abcd") == 0,
          "StringCchCopyW/CatW");
    size_t len = 0;
    CHECK(StringCchLengthW(sb, ARRAYSIZE(sb), &len) == S_OK && len == 4, "StringCchLengthW");
}

static void strings(void) {
    WCHAR buf[8];
    CHECK(wcslen(L"abc") == 3 && wcscmp(L"abc", L"abd") < 0 && wcsncmp(L"abc", L"abd", 2) == 0, "wcslen/wcscmp");
    CHECK(_wcsicmp(L"VPN2-17", L"vpn2-17") == 0 && _wcsnicmp(L"ABc", L"abD", 2) == 0, "_wcsicmp");
    CHECK(wcscpy_s(buf, ARRAYSIZE(buf), L"abcdefgh") == ERANGE && buf[0] == 0, "wcscpy_s too long");
    CHECK(wcscpy_s(buf, ARRAYSIZE(buf), L"ab") == 0 && wcscat_s(buf, ARRAYSIZE(buf), L"cd") == 0 &&
              wcscmp(buf, L"abcd") == 0,
          "wcscpy_s/wcscat_s");
    CHECK(wcschr(buf, L'c') == buf + 2 && wcsrchr(L"a-b-c", L'-') != NULL && wcsstr(L"VPN2-17", L"2-1") != NULL,
          "wcschr/wcsrchr/wcsstr");
    WCHAR *end = NULL;
    CHECK(wcstoul(L"4294967295x", &end, 10) == 4294967295u && *end == L'x', "wcstoul");
    CHECK(_wtoi(L"-12") == -12 && wcstol(L"0x10", NULL, 16) == 16, "_wtoi/wcstol");
    WCHAR list[] = L"ppp5, wg0,,tun0";
    WCHAR *ctx = NULL;
    WCHAR *t1 = wcstok_s(list, L", ", &ctx);
    WCHAR *t2 = wcstok_s(NULL, L", ", &ctx);
    WCHAR *t3 = wcstok_s(NULL, L", ", &ctx);
    CHECK(t1 && t2 && t3 && wcscmp(t1, L"ppp5") == 0 && wcscmp(t2, L"wg0") == 0 && wcscmp(t3, L"tun0") == 0 &&
              wcstok_s(NULL, L", ", &ctx) == NULL,
          "wcstok_s");
    CHECK(wcsspn(L"aab", L"a") == 2 && wcscspn(L"abc", L"c") == 2 && wcspbrk(L"abc", L"xc") != NULL, "wcsspn");
    CHECK(wcstoull(L"18446744073709551615", NULL, 10) == 18446744073709551615ULL && wcstod(L"2.5", NULL) == 2.5,
          "wcstoull/wcstod");
    CHECK(wmemcmp(L"abc", L"abd", 2) == 0 && wmemchr(L"abc", L'c', 3) != NULL, "wmemcmp/wmemchr");
    WCHAR mb[8];
    char back8[8];
    CHECK(mbstowcs(mb, "h\xC3\xA9", 8) == 2 && mb[1] == 0xE9 && wcstombs(back8, mb, 8) == 3 &&
              strcmp(back8, "h\xC3\xA9") == 0,
          "mbstowcs/wcstombs");
    WCHAR *dup = _wcsdup(L"copy");
    CHECK(dup && wcscmp(dup, L"copy") == 0, "_wcsdup");
    free(dup);

    WCHAR wide[16];
    char narrow[16];
    CHECK(MultiByteToWideChar(CP_UTF8, 0, "\xC3\xA9t\xC3\xA9", -1, wide, 16) == 4 && wide[0] == 0xE9 && wide[3] == 0,
          "MultiByteToWideChar");
    CHECK(MultiByteToWideChar(CP_UTF8, 0, "abc", -1, NULL, 0) == 4, "MultiByteToWideChar size");
    CHECK(WideCharToMultiByte(CP_UTF8, 0, wide, -1, narrow, 16, NULL, NULL) == 6 &&
              strcmp(narrow, "\xC3\xA9t\xC3\xA9") == 0,
          "WideCharToMultiByte");
    CHECK(WideCharToMultiByte(CP_UTF8, 0, wide, -1, narrow, 2, NULL, NULL) == 0 &&
              GetLastError() == ERROR_INSUFFICIENT_BUFFER,
          "WideCharToMultiByte too small");
}

static void times(void) {
    /* 2024-02-29 12:34:56.789 UTC */
    ULARGE_INTEGER t;
    t.QuadPart = (1709210096ULL * 10000000ULL) + 7890000ULL + 116444736000000000ULL;
    FILETIME ft;
    ft.dwLowDateTime = t.u.LowPart;
    ft.dwHighDateTime = t.u.HighPart;
    SYSTEMTIME st;
    CHECK(FileTimeToSystemTime(&ft, &st), "FileTimeToSystemTime");
    CHECK(st.wYear == 2024 && st.wMonth == 2 && st.wDay == 29 && st.wHour == 12 && st.wMinute == 34 &&
              st.wSecond == 56 && st.wMilliseconds == 789 && st.wDayOfWeek == 4,
          "2024-02-29 12:34:56.789 Thursday");
    FILETIME back;
    CHECK(SystemTimeToFileTime(&st, &back) && back.dwLowDateTime == ft.dwLowDateTime &&
              back.dwHighDateTime == ft.dwHighDateTime,
          "SystemTimeToFileTime round trip");
    SYSTEMTIME local;
    /* The test runs with TZ=UTC-2 (two hours east). */
    CHECK(SystemTimeToTzSpecificLocalTime(NULL, &st, &local) && local.wHour == 14, "local time");
    ULONGLONG before = GetTickCount64();
    Sleep(20);
    CHECK(GetTickCount64() - before >= 19, "Sleep / GetTickCount64");
}

static void addresses(void) {
    WSADATA wsa;
    CHECK(WSAStartup(MAKEWORD(2, 2), &wsa) == 0 && wsa.wVersion == 0x0202, "WSAStartup");
    SOCKADDR_IN6 sa6;
    ZeroMemory(&sa6, sizeof(sa6));
    sa6.sin6_family = AF_INET6;
    sa6.sin6_addr.u.Byte[0] = 0x20;
    sa6.sin6_addr.u.Byte[1] = 0x01;
    sa6.sin6_addr.u.Byte[2] = 0x0d;
    sa6.sin6_addr.u.Byte[3] = 0xb8;
    sa6.sin6_addr.u.Byte[15] = 0x42;
    WCHAR host[NI_MAXHOST];
    WCHAR serv[NI_MAXSERV];
    CHECK(GetNameInfoW((SOCKADDR *)&sa6, sizeof(sa6), host, NI_MAXHOST, NULL, 0, NI_NUMERICHOST) == 0 &&
              wcscmp(host, L"2001:db8::42") == 0,
          "GetNameInfoW IPv6");
    sa6.sin6_scope_id = 3;
    sa6.sin6_port = (USHORT)((443 >> 8) | ((443 & 0xFF) << 8));
    CHECK(GetNameInfoW((SOCKADDR *)&sa6, sizeof(sa6), host, NI_MAXHOST, serv, NI_MAXSERV,
                       NI_NUMERICHOST | NI_NUMERICSERV) == 0 &&
              wcscmp(host, L"2001:db8::42%3") == 0 && wcscmp(serv, L"443") == 0,
          "GetNameInfoW scope and port");
    CHECK(GetNameInfoW((SOCKADDR *)&sa6, sizeof(sa6), host, 4, NULL, 0, NI_NUMERICHOST) == WSAEFAULT,
          "GetNameInfoW small buffer");
    SOCKADDR_IN sa4;
    ZeroMemory(&sa4, sizeof(sa4));
    sa4.sin_family = AF_INET;
    sa4.sin_addr.S_un.S_un_b.s_b1 = 10;
    sa4.sin_addr.S_un.S_un_b.s_b4 = 7;
    CHECK(GetNameInfoW((SOCKADDR *)&sa4, sizeof(sa4), host, NI_MAXHOST, NULL, 0, NI_NUMERICHOST) == 0 &&
              wcscmp(host, L"10.0.0.7") == 0,
          "GetNameInfoW IPv4");
    WCHAR text[INET6_ADDRSTRLEN];
    IN6_ADDR a6;
    ZeroMemory(&a6, sizeof(a6));
    a6.u.Byte[15] = 1;
    CHECK(InetNtopW(AF_INET6, &a6, text, ARRAYSIZE(text)) != NULL && wcscmp(text, L"::1") == 0, "InetNtopW");
    CHECK(InetNtopW(99, &a6, text, ARRAYSIZE(text)) == NULL, "InetNtopW bad family");
    WSACleanup();
}

int _tmain(int argc, _TCHAR *argv[]) {
    /* wmain gets the arguments as UTF-16. */
    CHECK(argc == 2 && wcscmp(argv[1], L"h\xE9llo") == 0, "wmain arguments in UTF-16");
    formatting();
    strings();
    times();
    addresses();
    /* Typical Windows output, wide to stdout as UTF-8. */
    wprintf(L"%s: %lu failure(s), %I64u bytes, user %s\\%s\n", L"kit_test", (DWORD)g_failed, 5000000000ULL,
            L"CORP", L"alice");
    if (g_failed) return 1;
    _putws(L"kit_test: ALL OK");
    return 0;
}

/* The seed call under churn: pages through all connections with
 * MprAdminConnectionEnumEx at several dwPreferedMaxLen values while the
 * test driver ends "doom-" sessions and starts "new-" ones. Every "keep-"
 * session must come back exactly once per enumeration, none twice. Also
 * runs four enumerations at once on one server handle from four threads. */
#include "common.h"
#include <pthread.h>

static long g_keep;

static MPRAPI_OBJECT_HEADER ex_header(void) {
    MPRAPI_OBJECT_HEADER h;
    h.revision = MPRAPI_RAS_CONNECTION_OBJECT_REVISION_1;
    h.type = MPRAPI_OBJECT_TYPE_RAS_CONNECTION_OBJECT;
    h.size = sizeof(RAS_CONNECTION_EX);
    return h;
}

/* One full enumeration; returns the number of failed checks. */
static int enumerate_all(MPR_SERVER_HANDLE server, DWORD pref, const char *label) {
    MPRAPI_OBJECT_HEADER header = ex_header();
    size_t cap = 1024, n = 0;
    uintptr_t *seen = malloc(cap * sizeof *seen);
    long keep = 0;
    int failed = 0;
    DWORD resume = 0, pages = 0, status;
    DWORD max_per_page = pref == 0xFFFFFFFF ? 0xFFFFFFFF : pref / sizeof(RAS_CONNECTION_EX) + 1;
    do {
        DWORD read = 0, total = 0;
        PRAS_CONNECTION_EX conns = NULL;
        status = MprAdminConnectionEnumEx(server, &header, pref, &read, &total, &conns, &resume);
        pages++;
        if (status != NO_ERROR && status != ERROR_MORE_DATA) {
            fprintf(stderr, "FAIL %s: status %u on page %u\n", label, status, pages);
            failed++;
            break;
        }
        if (read > max_per_page || read > total) {
            fprintf(stderr, "FAIL %s: %u entries (max %u, total %u)\n", label, read, max_per_page, total);
            failed++;
        }
        if ((status == ERROR_MORE_DATA) != (resume != 0)) {
            fprintf(stderr, "FAIL %s: status %u with resume %u\n", label, status, resume);
            failed++;
        }
        for (DWORD i = 0; i < read; i++) {
            if (conns[i].Header.size != sizeof(RAS_CONNECTION_EX) || conns[i].Header.revision != 1) failed++;
            if (n == cap) seen = realloc(seen, (cap *= 2) * sizeof *seen);
            seen[n++] = (uintptr_t)conns[i].hConnection;
            if (starts_with_w(conns[i].wszUserName, "keep-")) keep++;
        }
        if (conns) MprAdminBufferFree(conns);
    } while (status == ERROR_MORE_DATA && pages < 10000000);
    qsort(seen, n, sizeof *seen, cmp_handle);
    for (size_t i = 1; i < n; i++)
        if (seen[i] == seen[i - 1]) {
            fprintf(stderr, "FAIL %s: handle %lu returned twice\n", label, (unsigned long)seen[i]);
            failed++;
        }
    if (keep != g_keep) {
        fprintf(stderr, "FAIL %s: %ld keep- sessions seen, expected %ld\n", label, keep, g_keep);
        failed++;
    }
    printf("%s: %zu entries in %u pages\n", label, n, pages);
    free(seen);
    return failed;
}

static MPR_SERVER_HANDLE g_server;

static void *thread_main(void *arg) {
    char label[32];
    snprintf(label, sizeof label, "thread %ld", (long)(intptr_t)arg);
    return (void *)(intptr_t)enumerate_all(g_server, 64 * 1024, label);
}

int main(void) {
    const char *keep = getenv("KEEP_COUNT");
    CHECK(keep != NULL, "KEEP_COUNT not set");
    g_keep = keep ? atol(keep) : 0;
    CHECK(MprAdminIsServiceRunning(NULL) == TRUE, "service not running");

    MPR_SERVER_HANDLE server = NULL;
    CHECK_CODE(MprAdminServerConnect(W(""), &server), NO_ERROR);
    CHECK(server != NULL, "no handle");

    /* pref 1: fewer bytes than one entry gives 0 entries and a handle. */
    MPRAPI_OBJECT_HEADER header = ex_header();
    DWORD read = 99, total = 0, resume = 0;
    PRAS_CONNECTION_EX conns = NULL;
    CHECK_CODE(MprAdminConnectionEnumEx(server, &header, 1, &read, &total, &conns, &resume), ERROR_MORE_DATA);
    CHECK(read == 0 && total >= (DWORD)g_keep && resume != 0, "read %u total %u resume %u", read, total, resume);
    CHECK(conns == NULL, "buffer for 0 entries");
    /* ... and the handle resumes from the start with a real page size. */
    DWORD pref_all = 0xFFFFFFFF;
    CHECK_CODE(MprAdminConnectionEnumEx(server, &header, pref_all, &read, &total, &conns, &resume), NO_ERROR);
    CHECK(read == total && resume == 0, "read %u total %u resume %u", read, total, resume);
    MprAdminBufferFree(conns);

    g_failures += enumerate_all(server, sizeof(RAS_CONNECTION_EX), "pref 1 entry");
    g_failures += enumerate_all(server, sizeof(RAS_CONNECTION_EX) * 7, "pref 7 entries");
    g_failures += enumerate_all(server, 64 * 1024, "pref 64 KiB");
    g_failures += enumerate_all(server, 0xFFFFFFFF, "pref -1");

    g_server = server;
    pthread_t threads[4];
    for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, thread_main, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(threads[i], &r);
        g_failures += (int)(intptr_t)r;
    }
    MprAdminServerDisconnect(server);
    return finish("enum_test");
}

/* The seed call under churn: pages through all connections with
 * MprAdminConnectionEnumEx at several dwPreferedMaxLen values while the
 * test driver ends "doom-" sessions and starts "new-" ones. Every "keep-"
 * session must come back exactly once per enumeration, none twice. Then
 * the same for MprAdminPortEnum (one port per connection, sized by
 * RAS_PORT_0). Also runs four enumerations at once on one server handle
 * from four threads, connections and ports mixed. */
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

/* Handles of the keep- sessions, sorted: they never end during the run, so
 * every port enumeration must return each of their ports exactly once. */
static uintptr_t *g_keep_handles;
static size_t g_keep_handles_n;

static int is_keep_handle(uintptr_t h) {
    return bsearch(&h, g_keep_handles, g_keep_handles_n, sizeof h, cmp_handle) != NULL;
}

/* One page of connections (ports == 0, MprAdminConnectionEnumEx) or ports
 * (MprAdminPortEnum level 0, every port); the buffer goes to *buf. */
static DWORD one_page(MPR_SERVER_HANDLE server, int ports, DWORD pref, void **buf, DWORD *read, DWORD *total,
                      DWORD *resume) {
    if (ports) return MprAdminPortEnum(server, 0, INVALID_HANDLE_VALUE, (LPBYTE *)buf, pref, read, total, resume);
    MPRAPI_OBJECT_HEADER header = ex_header();
    return MprAdminConnectionEnumEx(server, &header, pref, read, total, (PRAS_CONNECTION_EX *)buf, resume);
}

/* Entry i of a page: its handle, whether it is a keep- session, and the
 * number of failed per-entry checks. */
static int entry_of(int ports, void *buf, DWORD i, uintptr_t *handle, long *keep) {
    if (ports) {
        RAS_PORT_0 *p = (RAS_PORT_0 *)buf + i;
        *handle = (uintptr_t)p->hPort;
        *keep += is_keep_handle(*handle);
        return (p->hConnection != p->hPort) + (p->dwPortCondition != RAS_PORT_AUTHENTICATED) + (p->wszPortName[0] == 0);
    }
    RAS_CONNECTION_EX *c = (RAS_CONNECTION_EX *)buf + i;
    *handle = (uintptr_t)c->hConnection;
    *keep += starts_with_w(c->wszUserName, "keep-");
    return (c->Header.size != sizeof(RAS_CONNECTION_EX)) + (c->Header.revision != 1);
}

/* One full enumeration of connections or ports; returns the number of
 * failed checks. */
static int enumerate_all(MPR_SERVER_HANDLE server, int ports, DWORD pref, const char *label) {
    size_t entry_size = ports ? sizeof(RAS_PORT_0) : sizeof(RAS_CONNECTION_EX);
    size_t cap = 1024, n = 0;
    uintptr_t *seen = malloc(cap * sizeof *seen);
    long keep = 0;
    int failed = 0;
    DWORD resume = 0, pages = 0, status;
    DWORD max_per_page = pref == 0xFFFFFFFF ? 0xFFFFFFFF : (DWORD)(pref / entry_size + 1);
    do {
        DWORD read = 0, total = 0;
        void *buf = NULL;
        status = one_page(server, ports, pref, &buf, &read, &total, &resume);
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
            if (n == cap) seen = realloc(seen, (cap *= 2) * sizeof *seen);
            failed += entry_of(ports, buf, i, &seen[n++], &keep);
        }
        if (buf) MprAdminBufferFree(buf);
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
    /* Odd threads page ports, even ones connections, on one server handle. */
    long i = (long)(intptr_t)arg;
    return (void *)(intptr_t)enumerate_all(g_server, (int)(i & 1), 64 * 1024, label);
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
    g_keep_handles = malloc((read + 1) * sizeof *g_keep_handles);
    for (DWORD i = 0; conns && i < read; i++)
        if (starts_with_w(conns[i].wszUserName, "keep-")) g_keep_handles[g_keep_handles_n++] = (uintptr_t)conns[i].hConnection;
    qsort(g_keep_handles, g_keep_handles_n, sizeof *g_keep_handles, cmp_handle);
    CHECK(g_keep_handles_n == (size_t)g_keep, "%zu keep- sessions at the start", g_keep_handles_n);
    MprAdminBufferFree(conns);

    g_failures += enumerate_all(server, 0, sizeof(RAS_CONNECTION_EX), "pref 1 entry");
    g_failures += enumerate_all(server, 0, sizeof(RAS_CONNECTION_EX) * 7, "pref 7 entries");
    g_failures += enumerate_all(server, 0, 64 * 1024, "pref 64 KiB");
    g_failures += enumerate_all(server, 0, 0xFFFFFFFF, "pref -1");
    /* Ports: the same rules, sized by RAS_PORT_0. */
    g_failures += enumerate_all(server, 1, sizeof(RAS_PORT_0) * 3, "ports pref 3 entries");
    g_failures += enumerate_all(server, 1, sizeof(RAS_PORT_0) * 7, "ports pref 7 entries");
    g_failures += enumerate_all(server, 1, 64 * 1024, "ports pref 64 KiB");
    g_failures += enumerate_all(server, 1, 0xFFFFFFFF, "ports pref -1");

    g_server = server;
    pthread_t threads[4];
    for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, thread_main, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(threads[i], &r);
        g_failures += (int)(intptr_t)r;
    }
    MprAdminServerDisconnect(server);
    free(g_keep_handles);
    return finish("enum_test");
}

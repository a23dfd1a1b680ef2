/*
 * enum_bench — time MprAdminConnectionEnumEx through libmprapi, the way a
 * Windows admin tool calls it: all at once (dwPreferedMaxLen = -1) and in
 * 64 KiB pages with a resume handle. Prints one JSON object.
 *
 *   enum_bench SERVER ROUNDS
 */
#define _POSIX_C_SOURCE 200809L
#include <mprapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One full enumeration; returns seconds, or a negative value on error. */
static double enumerate(MPR_SERVER_HANDLE server, DWORD pref, unsigned long *entries) {
    MPRAPI_OBJECT_HEADER header;
    header.revision = MPRAPI_RAS_CONNECTION_OBJECT_REVISION_1;
    header.type = MPRAPI_OBJECT_TYPE_RAS_CONNECTION_OBJECT;
    header.size = sizeof(RAS_CONNECTION_EX);
    DWORD resume = 0, rc;
    unsigned long seen = 0, checksum = 0;
    double t0 = now_s();
    do {
        DWORD read = 0, total = 0;
        PRAS_CONNECTION_EX conns = NULL;
        rc = MprAdminConnectionEnumEx(server, &header, pref, &read, &total, &conns, &resume);
        if (rc != NO_ERROR && rc != ERROR_MORE_DATA) {
            fprintf(stderr, "enum_bench: MprAdminConnectionEnumEx failed: %lu\n", (unsigned long)rc);
            return -1;
        }
        /* Touch every entry, as a real tool would. */
        for (DWORD i = 0; i < read; i++) checksum += (unsigned long)conns[i].hConnection + conns[i].wszUserName[0];
        seen += read;
        MprAdminBufferFree(conns);
    } while (rc == ERROR_MORE_DATA);
    double t = now_s() - t0;
    *entries = seen + (checksum == 1 ? 1 : 0); /* keep the checksum alive */
    return t;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: enum_bench SERVER ROUNDS\n");
        return 2;
    }
    WCHAR name[512] = {0};
    for (size_t i = 0; argv[1][i] && i + 1 < sizeof name / sizeof name[0]; i++) name[i] = (WCHAR)(unsigned char)argv[1][i];
    int rounds = atoi(argv[2]);
    MPR_SERVER_HANDLE server;
    DWORD rc = MprAdminServerConnect(name, &server);
    if (rc != NO_ERROR) {
        fprintf(stderr, "enum_bench: MprAdminServerConnect failed: %lu\n", (unsigned long)rc);
        return 1;
    }
    double best_all = 1e9, best_paged = 1e9;
    unsigned long n_all = 0, n_paged = 0;
    for (int r = 0; r < rounds; r++) {
        double a = enumerate(server, (DWORD)-1, &n_all);
        double p = enumerate(server, 64 * 1024, &n_paged);
        if (a < 0 || p < 0) return 1;
        if (a < best_all) best_all = a;
        if (p < best_paged) best_paged = p;
    }
    printf("{\"all_secs\": %.4f, \"all_entries\": %lu, \"paged_64k_secs\": %.4f, \"paged_entries\": %lu}\n", best_all,
           n_all, best_paged, n_paged);
    MprAdminServerDisconnect(server);
    return 0;
}

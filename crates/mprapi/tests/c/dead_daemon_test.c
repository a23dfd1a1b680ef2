/* A daemon that dies between two calls on one server handle: every later
 * call returns an error code, and the program lives on. C programs keep
 * SIGPIPE's default action (terminate), so a library that writes to a
 * socket whose peer is gone with write(2) would kill its caller. */
#include "common.h"
#include <signal.h>

int main(void) {
    signal(SIGPIPE, SIG_DFL); /* C's default, stated */
    MPR_SERVER_HANDLE server = NULL;
    CHECK_CODE(MprAdminServerConnect(NULL, &server), NO_ERROR);
    MPRAPI_OBJECT_HEADER h = {1, 1, sizeof(RAS_CONNECTION_EX)};
    DWORD read = 0, total = 0, resume = 0;
    PRAS_CONNECTION_EX conns = NULL;
    CHECK_CODE(MprAdminConnectionEnumEx(server, &h, 0xFFFFFFFF, &read, &total, &conns, &resume), NO_ERROR);
    CHECK(read > 0, "the first call read no connection");
    if (conns) MprAdminBufferFree(conns);
    printf("first call done\n");
    fflush(stdout);
    /* The test kills the daemon, then writes a line. */
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 2;
    for (int i = 0; i < 3; i++) {
        conns = NULL;
        resume = 0;
        DWORD rc = MprAdminConnectionEnumEx(server, &h, 0xFFFFFFFF, &read, &total, &conns, &resume);
        CHECK(rc != NO_ERROR, "call %d on a dead daemon returned NO_ERROR", i);
        printf("call %d on a dead daemon: %u\n", i, (unsigned)rc);
        if (conns) MprAdminBufferFree(conns);
    }
    MprAdminServerDisconnect(server);
    return finish("dead_daemon_test");
}

/* Every error path of the API returns its Win32 code: NULL pointers, bad
 * headers, bad levels, stale and forged handles, unknown codes, a dead
 * endpoint, and a daemon whose connection manager is still starting. */
#include "common.h"

int main(void) {
    MPR_SERVER_HANDLE server = NULL;
    CHECK_CODE(MprAdminServerConnect(NULL, &server), NO_ERROR);
    CHECK_CODE(MprAdminServerConnect(NULL, NULL), ERROR_INVALID_PARAMETER);

    MPRAPI_OBJECT_HEADER h = {1, 1, sizeof(RAS_CONNECTION_EX)};
    DWORD read = 0, total = 0, resume = 0;
    PRAS_CONNECTION_EX conns = NULL;
    /* NULL out-pointers. */
    CHECK_CODE(MprAdminConnectionEnumEx(server, NULL, 0xFFFFFFFF, &read, &total, &conns, &resume), ERROR_INVALID_PARAMETER);
    CHECK_CODE(MprAdminConnectionEnumEx(server, &h, 0xFFFFFFFF, NULL, &total, &conns, &resume), ERROR_INVALID_PARAMETER);
    CHECK_CODE(MprAdminConnectionEnumEx(server, &h, 0xFFFFFFFF, &read, NULL, &conns, &resume), ERROR_INVALID_PARAMETER);
    CHECK_CODE(MprAdminConnectionEnumEx(server, &h, 0xFFFFFFFF, &read, &total, NULL, &resume), ERROR_INVALID_PARAMETER);
    /* Bad header revision, type, size. */
    MPRAPI_OBJECT_HEADER bad = h;
    bad.revision = 2;
    CHECK_CODE(MprAdminConnectionEnumEx(server, &bad, 0xFFFFFFFF, &read, &total, &conns, &resume), ERROR_INVALID_PARAMETER);
    bad = h;
    bad.type = MPRAPI_OBJECT_TYPE_MPR_SERVER_OBJECT;
    CHECK_CODE(MprAdminConnectionEnumEx(server, &bad, 0xFFFFFFFF, &read, &total, &conns, &resume), ERROR_INVALID_PARAMETER);
    bad = h;
    bad.size = 1000;
    CHECK_CODE(MprAdminConnectionEnumEx(server, &bad, 0xFFFFFFFF, &read, &total, &conns, &resume), ERROR_INVALID_PARAMETER);
    /* A resume handle never issued. */
    resume = 0x7777;
    CHECK_CODE(MprAdminConnectionEnumEx(server, &h, 0xFFFFFFFF, &read, &total, &conns, &resume), ERROR_INVALID_PARAMETER);
    CHECK(resume == 0x7777, "out-params written on failure");
    /* A server handle never issued. */
    resume = 0;
    CHECK_CODE(MprAdminConnectionEnumEx((HANDLE)0x1234, &h, 0xFFFFFFFF, &read, &total, &conns, &resume), ERROR_INVALID_HANDLE);
    /* Levels. */
    LPBYTE buf = NULL;
    CHECK_CODE(MprAdminConnectionEnum(server, 5, &buf, 0xFFFFFFFF, &read, &total, &resume), ERROR_INVALID_LEVEL);
    CHECK_CODE(MprAdminConnectionEnum(server, 0, NULL, 0xFFFFFFFF, &read, &total, &resume), ERROR_INVALID_PARAMETER);
    CHECK_CODE(MprAdminConnectionGetInfo(server, 9, (HANDLE)1, &buf), ERROR_INVALID_LEVEL);
    CHECK_CODE(MprAdminServerGetInfo(server, 1, &buf), ERROR_INVALID_LEVEL);
    /* Connection handles that do not exist. */
    RAS_CONNECTION_EX one;
    memset(&one, 0, sizeof one);
    one.Header = h;
    CHECK_CODE(MprAdminConnectionGetInfoEx(server, (HANDLE)0x7ffffff0, &one), ERROR_INVALID_HANDLE);
    CHECK_CODE(MprAdminConnectionGetInfoEx(server, (HANDLE)1, NULL), ERROR_INVALID_PARAMETER);
    one.Header.revision = 9;
    CHECK_CODE(MprAdminConnectionGetInfoEx(server, (HANDLE)1, &one), ERROR_INVALID_PARAMETER);
    CHECK_CODE(MprAdminConnectionClearStats(server, (HANDLE)0), ERROR_INVALID_HANDLE);
    CHECK_CODE(MprAdminPortDisconnect(server, (HANDLE)0), ERROR_INVALID_PORT_HANDLE);
    /* Error strings: a router code, an unknown code, and LocalFree. */
    LPWSTR text = NULL;
    char narrowed[256];
    CHECK_CODE(MprAdminGetErrorString(ERROR_DDM_NOT_RUNNING, &text), NO_ERROR);
    CHECK(text && strstr(narrow(text, narrowed, sizeof narrowed), "not running"), "text %s", narrowed);
    CHECK(LocalFree(text) == NULL, "LocalFree");
    CHECK_CODE(MprAdminGetErrorString(4242, &text), ERROR_MR_MID_NOT_FOUND);
    CHECK_CODE(MprAdminGetErrorString(0, NULL), ERROR_INVALID_PARAMETER);
    CHECK_CODE(MprAdminGetErrorString(ERROR_MORE_DATA, &text), NO_ERROR);
    CHECK_CODE(MprAdminBufferFree(text), NO_ERROR);
    CHECK_CODE(MprAdminBufferFree(NULL), ERROR_INVALID_PARAMETER);
    /* A closed server handle is stale. */
    MprAdminServerDisconnect(server);
    CHECK_CODE(MprAdminConnectionEnumEx(server, &h, 0xFFFFFFFF, &read, &total, &conns, &resume), ERROR_INVALID_HANDLE);
    MprAdminServerDisconnect(server); /* twice: harmless */
    /* A dead endpoint. */
    MPR_SERVER_HANDLE dead = NULL;
    CHECK_CODE(MprAdminServerConnect(W("unix:/nonexistent/rrasd.sock"), &dead), RPC_S_SERVER_UNAVAILABLE);
    CHECK(dead == NULL, "handle written on failure");
    CHECK(MprAdminIsServiceRunning(W("unix:/nonexistent/rrasd.sock")) == FALSE, "dead endpoint running");
    /* A daemon that answers but whose manager is not running yet. */
    const char *starting = getenv("RRAS_STARTING_SOCKET");
    CHECK(starting != NULL, "RRAS_STARTING_SOCKET not set");
    if (starting) {
        char addr[512];
        snprintf(addr, sizeof addr, "unix:%s", starting);
        MPR_SERVER_HANDLE s2 = NULL;
        CHECK_CODE(MprAdminServerConnect(widen(addr), &s2), NO_ERROR);
        CHECK(MprAdminIsServiceRunning(widen(addr)) == FALSE, "starting daemon reported running");
        CHECK_CODE(MprAdminConnectionEnumEx(s2, &h, 0xFFFFFFFF, &read, &total, &conns, &resume), ERROR_DDM_NOT_RUNNING);
        MprAdminServerDisconnect(s2);
    }
    return finish("errors_test");
}

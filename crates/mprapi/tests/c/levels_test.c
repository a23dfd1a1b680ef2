/* The levelled calls agree with the Ex call: MprAdminConnectionEnum at
 * levels 0-4, MprAdminConnectionGetInfo(Ex) against the enumerated entry,
 * ClearStats, ServerGetInfo. Run on a quiet table (no churn). */
#include "common.h"

static const size_t LEVEL_SIZE[5] = {sizeof(RAS_CONNECTION_0), sizeof(RAS_CONNECTION_1), sizeof(RAS_CONNECTION_2),
                                     sizeof(RAS_CONNECTION_3), sizeof(RAS_CONNECTION_4)};

static HANDLE handle_at(DWORD level, LPBYTE buf, DWORD i) {
    LPBYTE p = buf + LEVEL_SIZE[level] * i;
    switch (level) {
    case 0: return ((RAS_CONNECTION_0 *)p)->hConnection;
    case 1: return ((RAS_CONNECTION_1 *)p)->hConnection;
    case 2: return ((RAS_CONNECTION_2 *)p)->hConnection;
    case 3: return ((RAS_CONNECTION_3 *)p)->hConnection;
    default: return ((RAS_CONNECTION_4 *)p)->hConnection;
    }
}

int main(void) {
    MPR_SERVER_HANDLE server = NULL;
    CHECK_CODE(MprAdminServerConnect(NULL, &server), NO_ERROR);
    MPRAPI_OBJECT_HEADER h = {1, 1, sizeof(RAS_CONNECTION_EX)};
    DWORD n = 0, total = 0, resume = 0;
    PRAS_CONNECTION_EX ex = NULL;
    CHECK_CODE(MprAdminConnectionEnumEx(server, &h, 0xFFFFFFFF, &n, &total, &ex, &resume), NO_ERROR);
    CHECK(n > 0 && n == total, "n %u total %u", n, total);

    for (DWORD level = 0; level <= 4; level++) {
        LPBYTE buf = NULL;
        DWORD read = 0, t = 0, r = 0;
        /* Page at 3 entries of this level's size to exercise its paging. */
        DWORD seen = 0, status;
        do {
            status = MprAdminConnectionEnum(server, level, &buf, (DWORD)LEVEL_SIZE[level] * 2, &read, &t, &r);
            CHECK(status == NO_ERROR || status == ERROR_MORE_DATA, "level %u status %u", level, status);
            CHECK(read <= 3, "level %u read %u", level, read);
            for (DWORD i = 0; i < read && seen + i < n; i++)
                CHECK(handle_at(level, buf, i) == ex[seen + i].hConnection, "level %u entry %u", level, seen + i);
            seen += read;
            if (buf) MprAdminBufferFree(buf);
            buf = NULL;
        } while (status == ERROR_MORE_DATA);
        CHECK(seen == n, "level %u saw %u of %u", level, seen, n);
    }

    /* Level 4 carries the full 64-bit counters; EX their low halves. */
    LPBYTE buf4 = NULL;
    DWORD read4 = 0, t4 = 0, r4 = 0;
    CHECK_CODE(MprAdminConnectionEnum(server, 4, &buf4, 0xFFFFFFFF, &read4, &t4, &r4), NO_ERROR);
    RAS_CONNECTION_4 *c4 = (RAS_CONNECTION_4 *)buf4;
    int big = 0;
    for (DWORD i = 0; i < read4 && i < n; i++) {
        CHECK((DWORD)c4[i].ullBytesXmited == ex[i].dwBytesXmited, "entry %u low bits", i);
        CHECK(memcmp(c4[i].wszUserName, ex[i].wszUserName, sizeof ex[i].wszUserName) == 0, "entry %u user", i);
        CHECK(c4[i].ProjectionInfo.projectionInfoType == ex[i].ProjectionInfo.projectionInfoType, "entry %u type", i);
        CHECK(c4[i].connectionStartTime.dwHighDateTime != 0, "entry %u start time", i);
        if (c4[i].ullBytesXmited > 0xFFFFFFFFull) big++;
    }
    CHECK(big > 0, "no connection with more than 4 GiB sent: data too small to test the counters");
    MprAdminBufferFree(buf4);

    /* GetInfoEx equals the enumerated entry (all but the ticking duration). */
    for (DWORD i = 0; i < n && i < 50; i++) {
        RAS_CONNECTION_EX one;
        memset(&one, 0xAB, sizeof one);
        one.Header = h;
        CHECK_CODE(MprAdminConnectionGetInfoEx(server, ex[i].hConnection, &one), NO_ERROR);
        one.dwConnectDuration = ex[i].dwConnectDuration;
        CHECK(memcmp(&one, &ex[i], sizeof one) == 0, "GetInfoEx differs for entry %u", i);
        LPBYTE b = NULL;
        CHECK_CODE(MprAdminConnectionGetInfo(server, 0, ex[i].hConnection, &b), NO_ERROR);
        CHECK(b && memcmp(((RAS_CONNECTION_0 *)b)->wszUserName, ex[i].wszUserName, sizeof ex[i].wszUserName) == 0,
              "GetInfo level 0 user");
        MprAdminBufferFree(b);
    }
    /* IKEv2 and PPP entries carry their projection and flags. */
    int ike = 0, ppp = 0;
    for (DWORD i = 0; i < n; i++) {
        if (ex[i].ProjectionInfo.projectionInfoType == MPRAPI_IKEV2_PROJECTION_INFO_TYPE) {
            ike++;
            CHECK(ex[i].dwConnectionFlags & RAS_FLAGS_IKEV2_CONNECTION, "ikev2 flag");
            CHECK(ex[i].ProjectionInfo.Ikev2ProjectionInfo.wszRemoteAddress[0] != 0, "ikev2 address");
        } else if (ex[i].dwConnectionFlags & RAS_FLAGS_PPP_CONNECTION) {
            ppp++;
            CHECK(ex[i].ProjectionInfo.PppProjectionInfo.dwAuthenticationProtocol == PPP_LCP_CHAP, "lcp");
        }
    }
    CHECK(ike > 0 && ppp > 0, "ike %d ppp %d", ike, ppp);

    /* ClearStats zeroes the counters. */
    CHECK_CODE(MprAdminConnectionClearStats(server, ex[0].hConnection), NO_ERROR);
    RAS_CONNECTION_EX cleared;
    memset(&cleared, 0, sizeof cleared);
    cleared.Header = h;
    CHECK_CODE(MprAdminConnectionGetInfoEx(server, ex[0].hConnection, &cleared), NO_ERROR);
    CHECK(cleared.dwBytesXmited == 0 && cleared.dwFramesRcved == 0, "counters not cleared");

    /* Ports: one per connection, in the same order, paged at 2 entries'
     * worth of RAS_PORT_0 (3 per call); GetInfo at levels 0 and 1. */
    {
        DWORD seen = 0, read = 0, t = 0, r = 0, status;
        LPBYTE pbuf = NULL;
        do {
            status = MprAdminPortEnum(server, 0, INVALID_HANDLE_VALUE, &pbuf, (DWORD)sizeof(RAS_PORT_0) * 2, &read,
                                      &t, &r);
            CHECK(status == NO_ERROR || status == ERROR_MORE_DATA, "port enum status %u", status);
            CHECK(read <= 3, "port page of %u", read);
            RAS_PORT_0 *p0 = (RAS_PORT_0 *)pbuf;
            for (DWORD i = 0; i < read && seen + i < n; i++) {
                CHECK(p0[i].hPort == ex[seen + i].hConnection && p0[i].hConnection == ex[seen + i].hConnection,
                      "port %u handles", seen + i);
                CHECK(p0[i].dwPortCondition == RAS_PORT_AUTHENTICATED, "port %u condition", seen + i);
                CHECK(p0[i].wszPortName[0] != 0 && p0[i].wszPortName[MAX_PORT_NAME] == 0, "port %u name", seen + i);
                CHECK(p0[i].wszDeviceType[0] == 'v' || p0[i].wszDeviceType[0] == 'p', "port %u device type", seen + i);
            }
            seen += read;
            if (pbuf) MprAdminBufferFree(pbuf);
            pbuf = NULL;
        } while (status == ERROR_MORE_DATA);
        CHECK(seen == n, "ports: saw %u of %u", seen, n);

        /* One connection's port only. */
        CHECK_CODE(MprAdminPortEnum(server, 0, ex[1].hConnection, &pbuf, 0xFFFFFFFF, &read, &t, NULL), NO_ERROR);
        CHECK(read == 1 && t == 1 && ((RAS_PORT_0 *)pbuf)->hConnection == ex[1].hConnection, "filtered port");
        MprAdminBufferFree(pbuf);

        CHECK_CODE(MprAdminPortGetInfo(server, 1, ex[1].hConnection, &pbuf), NO_ERROR);
        RAS_PORT_1 *p1 = (RAS_PORT_1 *)pbuf;
        CHECK(p1->hPort == ex[1].hConnection && p1->dwBytesXmited == ex[1].dwBytesXmited &&
                  p1->dwFramesRcved == ex[1].dwFramesRcved,
              "RAS_PORT_1 counters");
        MprAdminBufferFree(pbuf);
        CHECK_CODE(MprAdminPortGetInfo(server, 0, ex[1].hConnection, &pbuf), NO_ERROR);
        CHECK(((RAS_PORT_0 *)pbuf)->hConnection == ex[1].hConnection, "RAS_PORT_0 by handle");
        MprAdminBufferFree(pbuf);

        CHECK_CODE(MprAdminPortGetInfo(server, 2, ex[1].hConnection, &pbuf), ERROR_INVALID_LEVEL);
        CHECK_CODE(MprAdminPortEnum(server, 1, NULL, &pbuf, 0xFFFFFFFF, &read, &t, &r), ERROR_INVALID_LEVEL);
        CHECK_CODE(MprAdminPortGetInfo(server, 0, (HANDLE)(uintptr_t)0x7ffffff0u, &pbuf), ERROR_INVALID_PORT_HANDLE);
        CHECK_CODE(MprAdminPortEnum(server, 0, NULL, NULL, 0xFFFFFFFF, &read, &t, &r), ERROR_INVALID_PARAMETER);
        CHECK_CODE(MprAdminPortGetInfo(server, 0, ex[1].hConnection, NULL), ERROR_INVALID_PARAMETER);
        CHECK_CODE(MprAdminPortEnum((HANDLE)(uintptr_t)0x12345, 0, NULL, &pbuf, 0xFFFFFFFF, &read, &t, &r),
                   ERROR_INVALID_HANDLE);
        CHECK_CODE(MprAdminPortReset(server, ex[1].hConnection), NO_ERROR);
        CHECK_CODE(MprAdminPortReset(server, (HANDLE)(uintptr_t)0x7ffffff0u), ERROR_INVALID_PORT_HANDLE);
        CHECK_CODE(MprAdminPortClearStats(server, ex[1].hConnection), NO_ERROR);
        CHECK_CODE(MprAdminPortGetInfo(server, 1, ex[1].hConnection, &pbuf), NO_ERROR);
        CHECK(((RAS_PORT_1 *)pbuf)->dwBytesRcved == 0, "port counters not cleared");
        MprAdminBufferFree(pbuf);
    }

    LPBYTE sbuf = NULL;
    CHECK_CODE(MprAdminServerGetInfo(server, 0, &sbuf), NO_ERROR);
    MPR_SERVER_0 *s0 = (MPR_SERVER_0 *)sbuf;
    CHECK(s0 && s0->dwPortsInUse == n && s0->fLanOnlyMode == FALSE, "ports in use %u", s0 ? s0->dwPortsInUse : 0);
    MprAdminBufferFree(sbuf);
    MprAdminBufferFree(ex);
    MprAdminServerDisconnect(server);
    return finish("levels_test");
}

/*
 * Prints one line per connection as a Windows tool sees it through
 * libmprapi: user, projectionInfoType, dwConnectionFlags, the client's
 * address from the projection the type selects, and the IKEv2
 * authentication method. Used by the engine tests to check the C view.
 */
#include <mprapi.h>
#include <stdio.h>

static const char *narrow(const WCHAR *w, char *buf, size_t n) {
    size_t i = 0;
    for (; w[i] && i + 1 < n; i++) buf[i] = w[i] < 128 ? (char)w[i] : '?';
    buf[i] = 0;
    return buf;
}

int main(void) {
    WCHAR local[1] = {0};
    MPR_SERVER_HANDLE server;
    DWORD rc = MprAdminServerConnect(local, &server);
    if (rc != NO_ERROR) {
        fprintf(stderr, "MprAdminServerConnect: %lu\n", (unsigned long)rc);
        return 1;
    }
    MPRAPI_OBJECT_HEADER header = {MPRAPI_RAS_CONNECTION_OBJECT_REVISION_1, MPRAPI_OBJECT_TYPE_RAS_CONNECTION_OBJECT,
                                   sizeof(RAS_CONNECTION_EX)};
    DWORD resume = 0;
    do {
        DWORD read = 0, total = 0;
        PRAS_CONNECTION_EX conns = NULL;
        rc = MprAdminConnectionEnumEx(server, &header, (DWORD)-1, &read, &total, &conns, &resume);
        if (rc != NO_ERROR && rc != ERROR_MORE_DATA) {
            fprintf(stderr, "MprAdminConnectionEnumEx: %lu\n", (unsigned long)rc);
            return 1;
        }
        for (DWORD i = 0; i < read; i++) {
            RAS_CONNECTION_EX *c = &conns[i];
            char user[300], ip[32];
            int ikev2 = c->ProjectionInfo.projectionInfoType == MPRAPI_IKEV2_PROJECTION_INFO_TYPE;
            narrow(ikev2 ? c->ProjectionInfo.Ikev2ProjectionInfo.wszRemoteAddress
                         : c->ProjectionInfo.PppProjectionInfo.wszRemoteAddress,
                   ip, sizeof ip);
            printf("user=%s type=%u flags=0x%lx ip=%s auth=%lu\n", narrow(c->wszUserName, user, sizeof user),
                   (unsigned)c->ProjectionInfo.projectionInfoType, (unsigned long)c->dwConnectionFlags, ip,
                   ikev2 ? (unsigned long)c->ProjectionInfo.Ikev2ProjectionInfo.dwAuthenticationProtocol : 0ul);
        }
        if (conns) MprAdminBufferFree(conns);
    } while (rc == ERROR_MORE_DATA);
    MprAdminServerDisconnect(server);
    return 0;
}

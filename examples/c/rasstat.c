/*
 * rasstat — list the active remote-access connections of a server, written
 * the way a Windows admin tool is: MprAdminServerConnect, then
 * MprAdminConnectionEnumEx with a resume handle until NO_ERROR.
 *
 *   gcc -fshort-wchar rasstat.c $(pkg-config --cflags --libs mprapi) -o rasstat
 *   ./rasstat                       # local rrasd
 *   ./rasstat unix:/run/rrasd/admin.sock
 */
#include <mprapi.h>
#include <stdio.h>
#include <stdlib.h>

static const char *narrow(const WCHAR *w, char *buf, size_t n) {
    size_t i = 0;
    for (; w[i] && i + 1 < n; i++) buf[i] = w[i] < 128 ? (char)w[i] : '?';
    buf[i] = 0;
    return buf;
}

static void print_error(const char *what, DWORD code) {
    LPWSTR text = NULL;
    char buf[256] = "";
    if (MprAdminGetErrorString(code, &text) == NO_ERROR) {
        narrow(text, buf, sizeof buf);
        LocalFree(text);
    }
    fprintf(stderr, "rasstat: %s failed: %lu %s\n", what, (unsigned long)code, buf);
}

int main(int argc, char **argv) {
    WCHAR server_name[512] = {0};
    if (argc > 1) {
        for (size_t i = 0; argv[1][i] && i + 1 < sizeof server_name / sizeof server_name[0]; i++)
            server_name[i] = (WCHAR)(unsigned char)argv[1][i];
    }
    MPR_SERVER_HANDLE server;
    DWORD rc = MprAdminServerConnect(server_name, &server);
    if (rc != NO_ERROR) {
        print_error("MprAdminServerConnect", rc);
        return 1;
    }

    MPRAPI_OBJECT_HEADER header;
    header.revision = MPRAPI_RAS_CONNECTION_OBJECT_REVISION_1;
    header.type = MPRAPI_OBJECT_TYPE_RAS_CONNECTION_OBJECT;
    header.size = sizeof(RAS_CONNECTION_EX);

    printf("%-8s %-24s %-8s %-16s %-18s %10s %12s %12s\n", "Handle", "User", "Iface", "Client IP", "Endpoint",
           "Duration", "Bytes in", "Bytes out");
    DWORD resume = 0, shown = 0;
    do {
        DWORD read = 0, total = 0;
        PRAS_CONNECTION_EX conns = NULL;
        rc = MprAdminConnectionEnumEx(server, &header, 64 * 1024, &read, &total, &conns, &resume);
        if (rc != NO_ERROR && rc != ERROR_MORE_DATA) {
            print_error("MprAdminConnectionEnumEx", rc);
            MprAdminServerDisconnect(server);
            return 1;
        }
        for (DWORD i = 0; i < read; i++) {
            RAS_CONNECTION_EX *c = &conns[i];
            char user[300], iface[300], ip[32] = "", endpoint[80];
            const WCHAR *client_ip = c->ProjectionInfo.projectionInfoType == MPRAPI_IKEV2_PROJECTION_INFO_TYPE
                                         ? c->ProjectionInfo.Ikev2ProjectionInfo.wszRemoteAddress
                                         : c->ProjectionInfo.PppProjectionInfo.wszRemoteAddress;
            narrow(client_ip, ip, sizeof ip);
            printf("%-8lu %-24s %-8s %-16s %-18s %9lus %12lu %12lu\n", (unsigned long)(uintptr_t)c->hConnection,
                   narrow(c->wszUserName, user, sizeof user), narrow(c->wszInterfaceName, iface, sizeof iface), ip,
                   narrow(c->wszRemoteEndpointAddress, endpoint, sizeof endpoint),
                   (unsigned long)c->dwConnectDuration, (unsigned long)c->dwBytesRcved,
                   (unsigned long)c->dwBytesXmited);
            shown++;
        }
        if (conns) MprAdminBufferFree(conns);
    } while (rc == ERROR_MORE_DATA);

    printf("%lu connection(s)\n", (unsigned long)shown);
    MprAdminServerDisconnect(server);
    return 0;
}

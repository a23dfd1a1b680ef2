/* The conformance scenario's libmprapi reader: every connection through
 * MprAdminConnectionEnumEx, 4 KiB pages and a resume handle, as Windows
 * code writes it. One line per connection: handle, user, bytes received
 * and sent. Exit status 0 only if every call succeeded. */
#include <mprapi.h>
#include <stdio.h>

int main(void) {
    MPR_SERVER_HANDLE server = NULL;
    DWORD err = MprAdminServerConnect(NULL, &server);
    if (err != NO_ERROR) {
        fprintf(stderr, "MprAdminServerConnect: %u\n", (unsigned)err);
        return 1;
    }
    MPRAPI_OBJECT_HEADER header;
    header.revision = MPRAPI_RAS_CONNECTION_OBJECT_REVISION_1;
    header.type = MPRAPI_OBJECT_TYPE_RAS_CONNECTION_OBJECT;
    header.size = sizeof(RAS_CONNECTION_EX);
    DWORD resume = 0, read = 0, total = 0, listed = 0;
    do {
        PRAS_CONNECTION_EX page = NULL;
        err = MprAdminConnectionEnumEx(server, &header, 4096, &read, &total, &page, &resume);
        if (err != NO_ERROR && err != ERROR_MORE_DATA) {
            fprintf(stderr, "MprAdminConnectionEnumEx: %u\n", (unsigned)err);
            MprAdminServerDisconnect(server);
            return 1;
        }
        for (DWORD i = 0; i < read; i++) {
            char user[UNLEN + 1];
            size_t n = 0;
            for (; page[i].wszUserName[n] && n < UNLEN; n++)
                user[n] = page[i].wszUserName[n] < 128 ? (char)page[i].wszUserName[n] : '?';
            user[n] = 0;
            printf("%lu %s %llu %llu\n", (unsigned long)(uintptr_t)page[i].hConnection, user,
                   (unsigned long long)page[i].dwBytesRcved,
                   (unsigned long long)page[i].dwBytesXmited);
            listed++;
        }
        MprAdminBufferFree(page);
    } while (err == ERROR_MORE_DATA);
    printf("%u connection(s)\n", (unsigned)listed);
    MprAdminServerDisconnect(server);
    return 0;
}

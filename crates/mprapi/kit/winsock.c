/* The Winsock calls a RRAS tool uses to print addresses: WSAStartup /
 * WSACleanup (nothing to set up here), InetNtopW and GetNameInfoW for
 * numeric hosts. Structures arrive in the Windows layout (ws2tcpip.h), read
 * here by offset: family (Windows numbering) at 0, port at 2, the IPv4
 * address at 4, the IPv6 address at 8 and its scope id at 24. */
#define _GNU_SOURCE
#include "kit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define WIN_AF_INET 2
#define WIN_AF_INET6 23
#define WSAEFAULT 10014
#define WSAEINVAL 10022
#define WSAEAFNOSUPPORT 10047
#define EAI_FAMILY_WIN WSAEAFNOSUPPORT
#define NI_NUMERICSERV_WIN 0x08

int WSAStartup(uint16_t version, void *data) {
    (void)version;
    /* WSADATA: wVersion, wHighVersion first; the rest is left zero. */
    if (!data) return WSAEFAULT;
    memset(data, 0, 408);
    uint16_t v = 0x0202;
    memcpy(data, &v, 2);
    memcpy((char *)data + 2, &v, 2);
    return 0;
}

int WSACleanup(void) { return 0; }

int WSAGetLastError(void) { return (int)GetLastError(); }

/* Text of an address (Windows family numbering) into out, terminated, as
   UTF-16; 0 on success or a WSA error. */
static int address_text(int family, const void *addr, unit16 *out, size_t cap) {
    char text[INET6_ADDRSTRLEN];
    int linux_family = family == WIN_AF_INET ? AF_INET : family == WIN_AF_INET6 ? AF_INET6 : -1;
    if (linux_family < 0) return WSAEAFNOSUPPORT;
    if (!inet_ntop(linux_family, addr, text, sizeof text)) return WSAEINVAL;
    size_t n = strlen(text);
    if (n + 1 > cap) return WSAEFAULT;
    for (size_t i = 0; i <= n; i++) out[i] = (unit16)(unsigned char)text[i];
    return 0;
}

const unit16 *InetNtopW(int family, const void *addr, unit16 *buf, size_t size) {
    if (!addr || !buf) {
        kit_set_last_error(WSAEINVAL);
        return NULL;
    }
    int rc = address_text(family, addr, buf, size);
    if (rc != 0) {
        kit_set_last_error((uint32_t)rc);
        return NULL;
    }
    return buf;
}

/* Names are never looked up (no traffic leaves the host for a listing):
   the host is always given numerically, as with NI_NUMERICHOST, and the
   service as its number. */
int GetNameInfoW(const void *sa, int salen, unit16 *host, uint32_t hostlen, unit16 *serv, uint32_t servlen,
                 int flags) {
    (void)flags;
    if (!sa || salen < 16) return WSAEFAULT;
    uint16_t family, port_be;
    memcpy(&family, sa, 2);
    memcpy(&port_be, (const char *)sa + 2, 2);
    int rc;
    if (family == WIN_AF_INET) {
        rc = host ? address_text(family, (const char *)sa + 4, host, hostlen) : 0;
    } else if (family == WIN_AF_INET6) {
        if (salen < 28) return WSAEFAULT;
        rc = host ? address_text(family, (const char *)sa + 8, host, hostlen) : 0;
        uint32_t scope;
        memcpy(&scope, (const char *)sa + 24, 4);
        if (rc == 0 && host && scope != 0) {
            /* fe80::1%3, as Windows writes a scoped address. */
            char suffix[16];
            int n = snprintf(suffix, sizeof suffix, "%%%u", scope);
            size_t used = 0;
            while (host[used]) used++;
            if (used + (size_t)n + 1 > hostlen) return WSAEFAULT;
            for (int i = 0; i <= n; i++) host[used + (size_t)i] = (unit16)suffix[i];
        }
    } else {
        return EAI_FAMILY_WIN;
    }
    if (rc != 0) return rc;
    if (serv && servlen) {
        char port[8];
        int n = snprintf(port, sizeof port, "%u", (unsigned)ntohs(port_be));
        if ((uint32_t)n + 1 > servlen) return WSAEFAULT;
        for (int i = 0; i <= n; i++) serv[i] = (unit16)port[i];
    }
    return 0;
}

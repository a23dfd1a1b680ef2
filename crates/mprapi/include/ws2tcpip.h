/*
 * ws2tcpip.h — the openrras porting kit: IPv6 socket addresses in the
 * Windows layout, and the calls that turn addresses into text
 * (GetNameInfoW, InetNtopW), so a tool can print the IPv6 address it built
 * from a PPP prefix and interface identifier. Hosts are always numeric: no
 * name is looked up.
 */
#ifndef OPENRRAS_WS2TCPIP_H
#define OPENRRAS_WS2TCPIP_H

#include "winsock2.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INET_ADDRSTRLEN 22
#define INET6_ADDRSTRLEN 65
#define NI_MAXHOST 1025
#define NI_MAXSERV 32
#define NI_NOFQDN 0x01
#define NI_NUMERICHOST 0x02
#define NI_NAMEREQD 0x04
#define NI_NUMERICSERV 0x08
#define NI_DGRAM 0x10

/* The Windows spelling `struct in6_addr` names the kit's IN6_ADDR. */
#define in6_addr in6_addr_win

#define sockaddr_in6 sockaddr_in6_win
typedef struct sockaddr_in6_win {
    ADDRESS_FAMILY sin6_family;
    USHORT sin6_port;
    ULONG sin6_flowinfo;
    IN6_ADDR sin6_addr;
    ULONG sin6_scope_id;
} SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;

/* Windows' socklen_t is int. glibc guards its own with the same macro. */
#ifndef __socklen_t_defined
typedef int socklen_t;
#define __socklen_t_defined 1
#endif

/* The address as text: NI_NUMERICHOST always (names are never resolved);
   a scoped IPv6 address gets its %scope. 0 or a WSA error code. */
INT WSAAPI GetNameInfoW(const SOCKADDR *pSockaddr, socklen_t SockaddrLength, PWCHAR pNodeBuffer,
                        DWORD NodeBufferSize, PWCHAR pServiceBuffer, DWORD ServiceBufferSize, INT Flags);
/* AF_INET (IN_ADDR) or AF_INET6 (IN6_ADDR) to text; NULL on error. */
PCWSTR WSAAPI InetNtopW(INT Family, const VOID *pAddr, PWSTR pStringBuf, size_t StringBufSize);

#ifdef __cplusplus
}
#endif

#endif /* OPENRRAS_WS2TCPIP_H */

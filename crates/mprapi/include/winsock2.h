/*
 * winsock2.h — the openrras porting kit: the Winsock types an RRAS tool
 * prints addresses with, in the Windows layout and numbering (AF_INET6 is
 * 23 here, as on Windows). Do not mix with Linux's <netinet/in.h> in one
 * file. Sockets themselves are not provided.
 */
#ifndef OPENRRAS_WINSOCK2_H
#define OPENRRAS_WINSOCK2_H

#include "windows.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WSAAPI
#define AF_UNSPEC 0
#define AF_INET 2
#define AF_INET6 23
#define WSADESCRIPTION_LEN 256
#define WSASYS_STATUS_LEN 128
#define WSAEFAULT 10014
#define WSAEINVAL 10022
#define WSAEAFNOSUPPORT 10047

typedef USHORT ADDRESS_FAMILY;

typedef struct WSAData {
    WORD wVersion;
    WORD wHighVersion;
    unsigned short iMaxSockets;
    unsigned short iMaxUdpDg;
    char *lpVendorInfo;
    char szDescription[WSADESCRIPTION_LEN + 1];
    char szSystemStatus[WSASYS_STATUS_LEN + 1];
} WSADATA, *LPWSADATA;

/* Windows' in_addr; the tag is mapped so `struct in_addr` means it. */
#define in_addr in_addr_win
typedef struct in_addr_win {
    union {
        struct {
            UCHAR s_b1, s_b2, s_b3, s_b4;
        } S_un_b;
        struct {
            USHORT s_w1, s_w2;
        } S_un_w;
        ULONG S_addr;
    } S_un;
} IN_ADDR, *PIN_ADDR, *LPIN_ADDR;
#define s_addr S_un.S_addr

#define sockaddr sockaddr_win
typedef struct sockaddr_win {
    ADDRESS_FAMILY sa_family;
    CHAR sa_data[14];
} SOCKADDR, *PSOCKADDR, *LPSOCKADDR;

#define sockaddr_in sockaddr_in_win
typedef struct sockaddr_in_win {
    ADDRESS_FAMILY sin_family;
    USHORT sin_port;
    IN_ADDR sin_addr;
    CHAR sin_zero[8];
} SOCKADDR_IN, *PSOCKADDR_IN;

/* Nothing to start or stop: the kit's address functions need no stack. */
int WSAAPI WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData);
int WSAAPI WSACleanup(void);
int WSAAPI WSAGetLastError(void);

#ifdef __cplusplus
}
#endif

#endif /* OPENRRAS_WINSOCK2_H */

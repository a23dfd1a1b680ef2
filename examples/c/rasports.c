/*
 * rasports — the ports of a remote-access server and who is on them: for
 * every authenticated port, the connection behind it at level 3 with the
 * user, the port name, the IPv4 address and the IPv6 address built from
 * the PPP prefix and interface identifier.
 *
 * Written the Windows way, against Microsoft's headers; on Linux it builds
 * unchanged with the openrras porting kit:
 *
 *   gcc -fshort-wchar rasports.c $(pkg-config --cflags --libs mprapi) -o rasports
 *   ./rasports [server]
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdio.h>
#include <MprApi.h>

static void PrintError(LPCWSTR pszWhat, DWORD dwError)
{
    LPWSTR pszText = NULL;
    if (MprAdminGetErrorString(dwError, &pszText) == NO_ERROR) {
        fwprintf(stderr, L"rasports: %s failed: %lu %s\n", pszWhat, dwError, pszText);
        LocalFree(pszText);
    } else {
        fwprintf(stderr, L"rasports: %s failed: %lu\n", pszWhat, dwError);
    }
}

/* The client's IPv6 address: the /64 prefix IPV6CP (or RADIUS) gave it,
   then its interface identifier. "-" when it has none. */
static void FormatIpv6(const PPP_IPV6_CP_INFO *pIpv6, LPWSTR pszOut, DWORD cchOut)
{
    SOCKADDR_IN6 sa;
    BYTE bZero[8] = {0};

    if (pIpv6->dwPrefixLength == 0 && memcmp(pIpv6->bRemoteInterfaceIdentifier, bZero, 8) == 0) {
        wcscpy_s(pszOut, cchOut, L"-");
        return;
    }
    ZeroMemory(&sa, sizeof(sa));
    sa.sin6_family = AF_INET6;
    CopyMemory(&sa.sin6_addr.u.Byte[0], pIpv6->bPrefix, 8);
    CopyMemory(&sa.sin6_addr.u.Byte[8], pIpv6->bRemoteInterfaceIdentifier, 8);
    if (GetNameInfoW((SOCKADDR *)&sa, sizeof(sa), pszOut, cchOut, NULL, 0, NI_NUMERICHOST) != 0) {
        wcscpy_s(pszOut, cchOut, L"?");
    }
}

int __cdecl wmain(int argc, wchar_t *argv[])
{
    WSADATA wsa;
    MPR_SERVER_HANDLE hServer = NULL;
    DWORD dwErr, dwResume = 0, dwShown = 0;

    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        return 1;
    }
    dwErr = MprAdminServerConnect(argc > 1 ? argv[1] : NULL, &hServer);
    if (dwErr != NO_ERROR) {
        PrintError(L"MprAdminServerConnect", dwErr);
        return 1;
    }

    wprintf(L"%-16s %-8s %-24s %-15s %s\n", L"Port", L"Handle", L"User", L"IPv4", L"IPv6");
    do {
        LPBYTE pBuffer = NULL;
        DWORD dwRead = 0, dwTotal = 0, i;
        RAS_PORT_0 *pPorts;

        dwErr = MprAdminPortEnum(hServer, 0, INVALID_HANDLE_VALUE, &pBuffer, 16 * 1024, &dwRead, &dwTotal,
                                 &dwResume);
        if (dwErr != NO_ERROR && dwErr != ERROR_MORE_DATA) {
            PrintError(L"MprAdminPortEnum", dwErr);
            break;
        }
        pPorts = (RAS_PORT_0 *)pBuffer;
        for (i = 0; i < dwRead; i++) {
            LPBYTE pConn = NULL;
            RAS_CONNECTION_3 *pConn3;
            WCHAR szIpv6[INET6_ADDRSTRLEN];

            if (pPorts[i].dwPortCondition != RAS_PORT_AUTHENTICATED) {
                continue;
            }
            DWORD dwInfo = MprAdminConnectionGetInfo(hServer, 3, pPorts[i].hConnection, &pConn);
            if (dwInfo == ERROR_INVALID_HANDLE) {
                continue; /* hung up since the port list was read */
            }
            if (dwInfo != NO_ERROR) {
                PrintError(L"MprAdminConnectionGetInfo", dwInfo);
                continue;
            }
            pConn3 = (RAS_CONNECTION_3 *)pConn;
            FormatIpv6(&pConn3->PppInfo3.ipv6, szIpv6, ARRAYSIZE(szIpv6));
            wprintf(L"%-16s %-8Iu %-24s %-15s %s\n", pPorts[i].wszPortName, (size_t)pPorts[i].hPort,
                    pConn3->wszUserName,
                    pConn3->PppInfo3.ip.wszRemoteAddress[0] ? pConn3->PppInfo3.ip.wszRemoteAddress : L"-", szIpv6);
            dwShown++;
            MprAdminBufferFree(pConn);
        }
        if (pBuffer != NULL) {
            MprAdminBufferFree(pBuffer);
        }
    } while (dwErr == ERROR_MORE_DATA);

    wprintf(L"%lu authenticated port(s)\n", dwShown);
    MprAdminServerDisconnect(hServer);
    WSACleanup();
    return dwErr == NO_ERROR ? 0 : 1;
}

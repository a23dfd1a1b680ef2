/*
 * rassessions — the remote-access sessions of a server at level 4: start
 * time (local), DOMAIN\user, VPN type from dwDeviceType, authentication
 * method, and the 64-bit byte counters.
 *
 * Written the Windows way, against Microsoft's headers; on Linux it builds
 * unchanged with the openrras porting kit:
 *
 *   gcc -fshort-wchar rassessions.c $(pkg-config --cflags --libs mprapi) -o rassessions
 *   ./rassessions [server]
 */
#include <windows.h>
#include <stdio.h>
#include <tchar.h>
#include <strsafe.h>
#include <mprapi.h>

static LPCWSTR VpnType(DWORD dwDeviceType)
{
    switch (dwDeviceType) {
    case RDT_Tunnel_Pptp: return L"PPTP";
    case RDT_Tunnel_L2tp: return L"L2TP";
    case RDT_Tunnel_Sstp: return L"SSTP";
    case RDT_Tunnel_Ikev2: return L"IKEv2";
    case RDT_PPPoE: return L"PPPoE";
    case RDT_Other: return L"other";
    default: return L"unknown";
    }
}

/* The authentication method, from the PPP LCP result or the IKEv2 one. */
static void AuthMethod(const RAS_CONNECTION_4 *pConn, LPWSTR pszOut, size_t cchOut)
{
    if (pConn->ProjectionInfo.projectionInfoType == MPRAPI_IKEV2_PROJECTION_INFO_TYPE) {
        const IKEV2_PROJECTION_INFO2 *pIke = &pConn->ProjectionInfo.Ikev2ProjectionInfo;
        if (pIke->dwAuthenticationProtocol == MPRAPI_IKEV2_AUTH_USING_EAP) {
            StringCchPrintfW(pszOut, cchOut, L"EAP (type %lu)", pIke->dwEapTypeId);
        } else if (pIke->dwAuthenticationProtocol == MPRAPI_IKEV2_AUTH_USING_CERT) {
            StringCchCopyW(pszOut, cchOut, L"certificate");
        } else {
            StringCchCopyW(pszOut, cchOut, L"-");
        }
        return;
    }
    const PPP_PROJECTION_INFO2 *pPpp = &pConn->ProjectionInfo.PppProjectionInfo;
    switch (pPpp->dwAuthenticationProtocol) {
    case PPP_LCP_PAP:
        StringCchCopyW(pszOut, cchOut, L"PAP");
        break;
    case PPP_LCP_CHAP:
        StringCchCopyW(pszOut, cchOut,
                       pPpp->dwAuthenticationData == PPP_LCP_CHAP_MSV2 ? L"MS-CHAPv2"
                       : pPpp->dwAuthenticationData == PPP_LCP_CHAP_MS ? L"MS-CHAP"
                                                                       : L"CHAP");
        break;
    case PPP_LCP_EAP:
        StringCchPrintfW(pszOut, cchOut, L"EAP (type %lu)", pPpp->dwEapTypeId);
        break;
    default:
        StringCchCopyW(pszOut, cchOut, L"-");
        break;
    }
}

int _tmain(int argc, _TCHAR *argv[])
{
    MPR_SERVER_HANDLE hServer = NULL;
    LPBYTE pBuffer = NULL;
    DWORD dwRead = 0, dwTotal = 0, dwResume = 0, i;
    DWORD dwErr = MprAdminServerConnect(argc > 1 ? argv[1] : NULL, &hServer);

    if (dwErr != NO_ERROR) {
        fwprintf(stderr, L"rassessions: MprAdminServerConnect failed: %lu\n", dwErr);
        return 1;
    }
    /* Level 4 is only enumerated whole: -1 takes every session at once. */
    dwErr = MprAdminConnectionEnum(hServer, 4, &pBuffer, (DWORD)-1, &dwRead, &dwTotal, &dwResume);
    if (dwErr != NO_ERROR) {
        fwprintf(stderr, L"rassessions: MprAdminConnectionEnum failed: %lu\n", dwErr);
        MprAdminServerDisconnect(hServer);
        return 1;
    }

    RAS_CONNECTION_4 *pConns = (RAS_CONNECTION_4 *)pBuffer;
    for (i = 0; i < dwRead; i++) {
        SYSTEMTIME stUtc, stLocal;
        WCHAR szUser[DNLEN + 1 + UNLEN + 1];
        WCHAR szAuth[64];

        FileTimeToSystemTime(&pConns[i].connectionStartTime, &stUtc);
        SystemTimeToTzSpecificLocalTime(NULL, &stUtc, &stLocal);
        if (pConns[i].wszLogonDomain[0] != L'\0') {
            swprintf_s(szUser, ARRAYSIZE(szUser), L"%s\\%s", pConns[i].wszLogonDomain, pConns[i].wszUserName);
        } else {
            wcscpy_s(szUser, ARRAYSIZE(szUser), pConns[i].wszUserName);
        }
        AuthMethod(&pConns[i], szAuth, ARRAYSIZE(szAuth));
        _tprintf(_T("%04u-%02u-%02u %02u:%02u:%02u  %-28s %-6s %-16s in %I64u out %I64u\n"), stLocal.wYear,
                 stLocal.wMonth, stLocal.wDay, stLocal.wHour, stLocal.wMinute, stLocal.wSecond, szUser,
                 VpnType(pConns[i].dwDeviceType), szAuth, pConns[i].ullBytesRcved, pConns[i].ullBytesXmited);
    }
    wprintf(L"%lu session(s)\n", dwRead);
    MprAdminBufferFree(pBuffer);
    MprAdminServerDisconnect(hServer);
    return 0;
}

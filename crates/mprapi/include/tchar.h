/*
 * tchar.h — the openrras porting kit: the generic-text names in their
 * UNICODE meaning (the kit's only mode).
 */
#ifndef OPENRRAS_TCHAR_H
#define OPENRRAS_TCHAR_H

#include "windows.h"

#define _T(s) L##s
#define _TEXT(s) L##s
typedef WCHAR _TCHAR;
#define _tmain wmain
#define _tprintf wprintf
#define _ftprintf fwprintf
#define _stprintf_s swprintf_s
#define _sntprintf _snwprintf
#define _tcslen wcslen
#define _tcscmp wcscmp
#define _tcsicmp _wcsicmp
#define _tcsncmp wcsncmp
#define _tcscpy wcscpy
#define _tcscpy_s wcscpy_s
#define _tcscat wcscat
#define _tcscat_s wcscat_s
#define _tcschr wcschr
#define _tcsrchr wcsrchr
#define _tcsstr wcsstr
#define _tcstoul wcstoul
#define _tstoi _wtoi

#endif /* OPENRRAS_TCHAR_H */

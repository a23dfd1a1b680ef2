/* TChar.h: the same header as <tchar.h> (Windows file names are case-insensitive). */
#include "tchar.h"

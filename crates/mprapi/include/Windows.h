/* Windows.h: the same header as <windows.h> (Windows file names are case-insensitive). */
#include "windows.h"

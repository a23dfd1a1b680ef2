/* Strsafe.h: the same header as <strsafe.h> (Windows file names are case-insensitive). */
#include "strsafe.h"

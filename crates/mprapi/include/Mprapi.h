/* Mprapi.h: the same header as <mprapi.h> (Windows file names are case-insensitive). */
#include "mprapi.h"

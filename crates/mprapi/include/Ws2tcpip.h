/* Ws2tcpip.h: the same header as <ws2tcpip.h> (Windows file names are case-insensitive). */
#include "ws2tcpip.h"

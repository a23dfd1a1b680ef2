/* main() for programs that define wmain(): the arguments as UTF-16, as
 * Windows passes them. Linked only into a program that has no main() of its
 * own (an archive member is pulled in only to resolve a missing symbol). */
#include "kit.h"

#include <stdlib.h>
#include <string.h>

extern int wmain(int argc, unit16 **argv);

int main(int argc, char **argv) {
    unit16 **wide = calloc((size_t)argc + 1, sizeof *wide);
    if (!wide) return 1;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        size_t units = kit_utf16_len(argv[i], n);
        wide[i] = malloc((units + 1) * sizeof **wide);
        if (!wide[i]) return 1;
        kit_utf8_to_utf16(argv[i], n, wide[i], units);
        wide[i][units] = 0;
    }
    int rc = wmain(argc, wide);
    for (int i = 0; i < argc; i++) free(wide[i]);
    free(wide);
    return rc;
}

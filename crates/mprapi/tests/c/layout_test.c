/* Every size, alignment and offset of the Windows x64 layout, checked at
 * compile time against include/mprapi.h (layout_asserts.h is generated
 * from the spec table). Running it reports the count. */
#include "common.h"
#include "layout_asserts.h"

int main(void) {
    printf("layout: %d static assertions hold\n", LAYOUT_ASSERT_COUNT);
    CHECK(sizeof(RAS_CONNECTION_EX) == 1672, "%zu", sizeof(RAS_CONNECTION_EX));
    CHECK(sizeof(WCHAR) == 2, "%zu", sizeof(WCHAR));
    return finish("layout_test");
}

/* libFuzzer target: duration_parse, the Prometheus-style durations of the inventory. The
 * input is the text (a NUL is added; one inside the input ends it, as in a C string). */
#include <math.h>

#include "config/inventory.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = fuzz_strndup(data, size);
    double s = -1;
    int rc = duration_parse(text, &s);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        /* At least 1 ms and at most 2^63-1 ms. */
        FUZZ_CHECK(isfinite(s) && s >= 0.001 && s <= 9223372036854775.807 + 1);
        /* Only digits and unit letters. */
        FUZZ_CHECK(strspn(text, "0123456789ywdhms") == strlen(text));
    }
    free(text);
    return 0;
}

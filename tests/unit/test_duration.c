#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "config/inventory.h"

static void test_valid(void **state)
{
    static const struct {
        const char *text;
        double seconds;
    } cases[] = {
        {"1s", 1},
        {"15s", 15},
        {"500ms", 0.5},
        {"1ms", 0.001},
        {"2m", 120},
        {"1m30s", 90},
        {"1h30m", 5400},
        {"1h", 3600},
        {"1d", 86400},
        {"1w", 604800},
        {"1y", 31536000},
        {"1s500ms", 1.5},
        {"1h0m", 3600},
        {"01s", 1},
        {"90s", 90},
        {"1y1w1d1h1m1s1ms", 31536000 + 604800 + 86400 + 3600 + 60 + 1 + 0.001},
        {"9223372036854775807ms", 9223372036854775.807},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double s = -1;
        int rc = duration_parse(cases[i].text, &s);
        if (rc != 0)
            fail_msg("\"%s\" was refused", cases[i].text);
        if (s != cases[i].seconds)
            fail_msg("\"%s\" gave %.6f, want %.6f", cases[i].text, s, cases[i].seconds);
    }
}

static void test_invalid(void **state)
{
    static const char *const cases[] = {
        "",
        "5",
        "5x",
        "-1s",
        "+1s",
        "1.5s",
        "s",
        "ms",
        "1S",
        "1sec",
        " 1s",
        "1s ",
        "1 s",
        "0s",
        "0ms",
        "0",
        "0h0m",
        "1s1m",  /* units out of order */
        "1ms1s", /* ms is the smallest unit */
        "1s1s",  /* a unit twice */
        "1m1m",
        "1h30", /* trailing number without unit */
        "1e3s",
        "0x10s",
        "9223372036854775808ms", /* one past 2^63-1 ms */
        "9223372036854776s",     /* product overflows */
        "292471209y",
        "99999999999999999999999s", /* the number itself overflows */
        "18446744073709551617ms",   /* wraps a 64-bit accumulator to 1 */
        "9223372036854775807ms1ms", /* the sum overflows */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double s = -7;
        if (duration_parse(cases[i], &s) != -1)
            fail_msg("\"%s\" was accepted as %f", cases[i], s);
        assert_true(s == -7); /* untouched on failure */
    }
    double s;
    assert_int_equal(duration_parse(NULL, &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

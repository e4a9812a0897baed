/* ctl_split_target: the HOST[:PORT] rule every tplinkctl subcommand uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ctl/ctl.h"

static void test_accepted(void **state)
{
    static const struct {
        const char *target;
        const char *host;
        uint16_t port;
    } cases[] = {
        {"plug.lan", "plug.lan", 9999},
        {"127.0.0.1", "127.0.0.1", 9999},
        {"127.0.0.1:80", "127.0.0.1", 80},
        {"plug.lan:1", "plug.lan", 1},
        {"h:65535", "h", 65535},
        {"h:00080", "h", 80},
        {"[::1]", "::1", 9999},
        {"[::1]:8080", "::1", 8080},
        {"[fe80::1%eth0]:9999", "fe80::1%eth0", 9999},
        /* more than one colon and no brackets: the whole text is the host */
        {"::1", "::1", 9999},
        {"fe80::1", "fe80::1", 9999},
        {"2001:db8::1:80", "2001:db8::1:80", 9999},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char host[64] = "unchanged";
        uint16_t port = 1234;
        if (ctl_split_target(cases[i].target, host, sizeof host, &port, 9999) != 0)
            fail_msg("\"%s\" was refused", cases[i].target);
        if (strcmp(host, cases[i].host) != 0 || port != cases[i].port)
            fail_msg("\"%s\" gave host \"%s\" port %u, want \"%s\" %u", cases[i].target, host,
                     (unsigned)port, cases[i].host, (unsigned)cases[i].port);
    }
}

static void test_refused(void **state)
{
    static const char *const cases[] = {
        "",    ":80",     "[]",       "[]:80", "[::1", "[::1]80", "[::1]:", "[::1]:x", "h:",
        "h:0", "h:65536", "h:123456", "h:+80", "h:-1", "h: 80",   "h:80 ",  "h:8x",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char host[64];
        uint16_t port = 0;
        if (ctl_split_target(cases[i], host, sizeof host, &port, 9999) != -1)
            fail_msg("\"%s\" was accepted (host \"%s\" port %u)", cases[i], host, (unsigned)port);
    }
}

static void test_host_length(void **state)
{
    char host[8];
    uint16_t port = 0;
    /* seven bytes and the NUL fit, eight do not */
    assert_int_equal(ctl_split_target("abcdefg:80", host, sizeof host, &port, 1), 0);
    assert_string_equal(host, "abcdefg");
    assert_int_equal(port, 80);
    assert_int_equal(ctl_split_target("abcdefgh", host, sizeof host, &port, 1), -1);
    assert_int_equal(ctl_split_target("[abcdefgh]:80", host, sizeof host, &port, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_host_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "daemon/scrape_body.h"

static void test_accepts_gzip(void **state)
{
    static const struct {
        const char *header;
        bool gzip;
    } cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZIP", true},
        {"identity", false},
        {"gzip, deflate, br", true},
        {"deflate,gzip;q=0.5", true},
        {"gzip;q=0", false},
        {"gzip; q=0.0", false},
        {"*", true},
        {"*;q=0", false},
        {"gzip;q=0, *", false},
        {"x-gzip", false},
        {"gzipper", false},
        {"identity;q=1, *;q=0.5", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (accepts_gzip(cases[i].header) != cases[i].gzip)
            fail_msg("accepts_gzip(\"%s\") should be %d",
                     cases[i].header ? cases[i].header : "NULL", cases[i].gzip);
    }
}

/* The gzip form inflates back to the text, and is made once per body. */
static void test_gzip_round_trip(void **state)
{
    size_t len = 200000;
    char *text = malloc(len);
    for (size_t i = 0; i < len; i++)
        text[i] = "tplink_up{device=\"x\"} 1\n"[i % 25];
    struct scrape_body *b = scrape_body_new(text, len);
    const unsigned char *gz, *again;
    size_t gz_len, again_len;
    assert_true(scrape_body_gzip(b, &gz, &gz_len));
    assert_true(gz_len > 18 && gz_len < len / 10);
    assert_int_equal(gz[0], 0x1f);
    assert_int_equal(gz[1], 0x8b);
    assert_true(scrape_body_gzip(b, &again, &again_len));
    assert_ptr_equal(gz, again);

    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, MAX_WBITS + 16), Z_OK);
    char *out = malloc(len + 1);
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)gz_len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)len + 1;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, len);
    assert_memory_equal(out, b->text, len);
    inflateEnd(&z);
    free(out);
    scrape_body_unref(b);
}

static void test_references(void **state)
{
    char *text = strdup("x 1\n");
    struct scrape_body *b = scrape_body_new(text, 4);
    assert_int_equal(b->refs, 1);
    assert_ptr_equal(scrape_body_ref(b), b);
    assert_int_equal(b->refs, 2);
    scrape_body_unref(b); /* a response finishing */
    assert_int_equal(b->refs, 1);
    assert_string_equal(b->text, "x 1\n");
    scrape_body_unref(b); /* the cache letting go: freed, as ASan checks */
    scrape_body_unref(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_references),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

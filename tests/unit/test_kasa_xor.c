#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/kasa/xor.h"

static const char plain[] = "{\"system\":{\"get_sysinfo\":{}}}";
/* The seed's vector (softScheck's client), as a TCP frame. */
static const uint8_t frame[] = {0x00, 0x00, 0x00, 0x1D, 0xD0, 0xF2, 0x81, 0xF8, 0x8B, 0xFF, 0x9A,
                                0xF7, 0xD5, 0xEF, 0x94, 0xB6, 0xD1, 0xB4, 0xC0, 0x9F, 0xEC, 0x95,
                                0xE6, 0x8F, 0xE1, 0x87, 0xE8, 0xCA, 0xF0, 0x8B, 0xF6, 0x8B, 0xF6};

static void test_encrypt_matches_vector(void **state)
{
    uint8_t out[64];
    size_t n = kasa_frame_encode(plain, strlen(plain), out, sizeof out);
    assert_int_equal(n, sizeof frame);
    assert_memory_equal(out, frame, sizeof frame);
}

static void test_decrypt_inverts(void **state)
{
    uint8_t out[64];
    kasa_xor_decrypt(frame + 4, sizeof frame - 4, out);
    assert_memory_equal(out, plain, strlen(plain));
    /* in place, as the frame reader does it */
    uint8_t buf[64];
    memcpy(buf, frame + 4, sizeof frame - 4);
    kasa_xor_decrypt(buf, sizeof frame - 4, buf);
    assert_memory_equal(buf, plain, strlen(plain));
}

static void test_roundtrip_all_bytes(void **state)
{
    uint8_t in[256], enc[256], dec[256];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)(255 - i);
    kasa_xor_encrypt(in, sizeof in, enc);
    kasa_xor_decrypt(enc, sizeof enc, dec);
    assert_memory_equal(in, dec, sizeof in);
}

/* A reply split at every possible byte boundary (and into single bytes) reassembles. */
static void test_reader_every_split(void **state)
{
    for (size_t cut = 0; cut <= sizeof frame; cut++) {
        struct kasa_frame_reader r;
        kasa_frame_reader_init(&r);
        size_t used;
        enum kasa_frame_status st = kasa_frame_feed(&r, frame, cut, &used);
        assert_int_equal(used, cut);
        if (cut < sizeof frame) {
            assert_int_equal(st, KASA_FRAME_MORE);
            st = kasa_frame_feed(&r, frame + cut, sizeof frame - cut, &used);
            assert_int_equal(used, sizeof frame - cut);
        }
        assert_int_equal(st, KASA_FRAME_DONE);
        assert_int_equal(r.body_len, strlen(plain));
        assert_string_equal((char *)r.body, plain);
        kasa_frame_reader_free(&r);
    }
    struct kasa_frame_reader r;
    kasa_frame_reader_init(&r);
    enum kasa_frame_status st = KASA_FRAME_MORE;
    for (size_t i = 0; i < sizeof frame; i++) {
        size_t used;
        assert_int_equal(st, KASA_FRAME_MORE);
        st = kasa_frame_feed(&r, frame + i, 1, &used);
        assert_int_equal(used, 1);
    }
    assert_int_equal(st, KASA_FRAME_DONE);
    assert_string_equal((char *)r.body, plain);
    kasa_frame_reader_free(&r);
}

static void test_reader_leaves_trailing_bytes(void **state)
{
    uint8_t two[2 * sizeof frame];
    memcpy(two, frame, sizeof frame);
    memcpy(two + sizeof frame, frame, sizeof frame);
    struct kasa_frame_reader r;
    kasa_frame_reader_init(&r);
    size_t used;
    assert_int_equal(kasa_frame_feed(&r, two, sizeof two, &used), KASA_FRAME_DONE);
    assert_int_equal(used, sizeof frame);
    kasa_frame_reader_free(&r);
}

static void test_reader_rejects_huge_prefix(void **state)
{
    const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0x00};
    struct kasa_frame_reader r;
    kasa_frame_reader_init(&r);
    size_t used;
    assert_int_equal(kasa_frame_feed(&r, huge, sizeof huge, &used), KASA_FRAME_TOO_LONG);
    assert_null(r.body);
    kasa_frame_reader_free(&r);

    uint8_t just_over[4] = {0, 1, 0, 1}; /* 65537 */
    kasa_frame_reader_init(&r);
    assert_int_equal(kasa_frame_feed(&r, just_over, 4, &used), KASA_FRAME_TOO_LONG);
    kasa_frame_reader_free(&r);
}

static void test_encode_bounds(void **state)
{
    uint8_t small[8];
    assert_int_equal(kasa_frame_encode(plain, strlen(plain), small, sizeof small), 0);
    uint8_t empty[4];
    assert_int_equal(kasa_frame_encode("", 0, empty, sizeof empty), 4);
    assert_memory_equal(empty, "\0\0\0\0", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encrypt_matches_vector),
        cmocka_unit_test(test_decrypt_inverts),
        cmocka_unit_test(test_roundtrip_all_bytes),
        cmocka_unit_test(test_reader_every_split),
        cmocka_unit_test(test_reader_leaves_trailing_bytes),
        cmocka_unit_test(test_reader_rejects_huge_prefix),
        cmocka_unit_test(test_encode_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/expo.h"

static const struct metric_family fam_a[] = {
    {"t_up", METRIC_GAUGE, "Up.\nSecond line with a \\ backslash and \"quotes\"."},
    {"t_unused", METRIC_GAUGE, "Never sampled."},
};
static const struct metric_family fam_b[] = {
    {"t_bytes_total", METRIC_COUNTER, "Bytes."},
};

static char *render(struct expo *e)
{
    static struct strbuf out;
    strbuf_free(&out);
    strbuf_init(&out, 0);
    assert_true(expo_render(e, &out));
    return out.data;
}

static void test_label_escaping(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"a\"b", "a\\\"b"},
        {"a\\b", "a\\\\b"},
        {"a\nb", "a\\nb"},
        {"\\\"\n", "\\\\\\\"\\n"},
        {"vidéoprojecteur", "vidéoprojecteur"},
        {"", ""},
        /* not UTF-8: each byte that starts no well-formed sequence becomes U+FFFD */
        {"caf\xe9", "caf\xef\xbf\xbd"},
        {"\xc3", "\xef\xbf\xbd"},                                 /* truncated */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
        {"\xf4\x90\x80\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx"},
        {"\xf0\x9f\x94\x8c plug\xff\"", "\xf0\x9f\x94\x8c plug\xef\xbf\xbd\\\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct strbuf b;
        strbuf_init(&b, 0);
        expo_escape_label_value(&b, cases[i].in);
        assert_string_equal(b.data ? b.data : "", cases[i].out);
        strbuf_free(&b);
    }
}

/* The fast line builder (short values) and the general one (long values) both repair
 * invalid UTF-8 from devices; the text format is UTF-8 and Prometheus rejects a scrape
 * with an invalid label value. */
static void test_sample_invalid_utf8(void **state)
{
    (void)state;
    char longv[3000];
    memset(longv, 'a', sizeof longv - 2);
    longv[sizeof longv - 2] = (char)0xe9;
    longv[sizeof longv - 1] = '\0';
    struct metric_table t = {fam_a, 2};
    struct expo *e = expo_new(&t, 1);
    assert_non_null(e);
    struct label l = {"alias", "Caf\xe9 \xe2\x82\xac"};
    expo_sample(e, &fam_a[0], &l, 1, 1);
    struct label ll = {"alias", longv};
    expo_sample(e, &fam_a[0], &ll, 1, 2);
    const char *text = render(e);
    assert_non_null(strstr(text, "t_up{alias=\"Caf\xef\xbf\xbd \xe2\x82\xac\"} 1\n"));
    assert_non_null(strstr(text, "aaa\xef\xbf\xbd\"} 2\n"));
    assert_null(memchr(text, 0xe9, strlen(text)));
    expo_free(e);
}

static void test_help_escaping(void **state)
{
    struct strbuf b;
    strbuf_init(&b, 0);
    expo_escape_help(&b, "a\\b\n\"c\"");
    assert_string_equal(b.data, "a\\\\b\\n\"c\"");
    strbuf_free(&b);
}

static void test_value_format(void **state)
{
    static const struct {
        double v;
        const char *out;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {-61, "-61"},
        {4294967296.0, "4294967296"},
        {0.5, "0.5"},
        {0.1, "0.1"},
        {231.067823, "231.067823"},
        {198500400.0, "198500400"},
        {1e20, "1e+20"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct strbuf b;
        strbuf_init(&b, 0);
        expo_format_value(&b, cases[i].v);
        assert_string_equal(b.data, cases[i].out);
        strbuf_free(&b);
    }
    struct strbuf b;
    strbuf_init(&b, 0);
    expo_format_value(&b, NAN);
    expo_format_value(&b, INFINITY);
    expo_format_value(&b, -INFINITY);
    assert_string_equal(b.data, "NaN+Inf-Inf");
    strbuf_free(&b);
}

/* Samples added interleaved across families come out grouped, HELP and TYPE first,
 * families in table order, empty families left out, last line ending in a newline. */
static void test_grouping_golden(void **state)
{
    const struct metric_table tables[] = {{fam_a, 2}, {fam_b, 1}};
    struct expo *e = expo_new(tables, 2);
    assert_non_null(e);
    expo_sample_dev(e, &fam_b[0], "x", 10);
    expo_sample_dev(e, &fam_a[0], "x", 1);
    struct label l[2] = {{"device", "y"}, {"alias", "Desk \"lamp\"\n\\"}};
    expo_sample(e, &fam_b[0], l, 2, 2.5);
    expo_sample(e, &fam_a[0], NULL, 0, 0);
    const char *want = "# HELP t_up Up.\\nSecond line with a \\\\ backslash and \"quotes\".\n"
                       "# TYPE t_up gauge\n"
                       "t_up{device=\"x\"} 1\n"
                       "t_up 0\n"
                       "# HELP t_bytes_total Bytes.\n"
                       "# TYPE t_bytes_total counter\n"
                       "t_bytes_total{device=\"x\"} 10\n"
                       "t_bytes_total{device=\"y\",alias=\"Desk \\\"lamp\\\"\\n\\\\\"} 2.5\n";
    assert_string_equal(render(e), want);
    expo_free(e);
}

static void test_unregistered_family_dropped(void **state)
{
    const struct metric_table tables[] = {{fam_a, 2}};
    struct expo *e = expo_new(tables, 1);
    expo_sample_dev(e, &fam_b[0], "x", 1);
    struct strbuf out;
    strbuf_init(&out, 0);
    assert_true(expo_render(e, &out));
    assert_int_equal(out.len, 0);
    strbuf_free(&out);
    expo_free(e);
}

static void test_bounded_output(void **state)
{
    const struct metric_table tables[] = {{fam_a, 2}};
    struct expo *e = expo_new(tables, 1);
    for (int i = 0; i < 100; i++)
        expo_sample_dev(e, &fam_a[0], "some-device", i);
    struct strbuf out;
    strbuf_init(&out, 512);
    assert_false(expo_render(e, &out));
    assert_true(out.len <= 512);
    strbuf_free(&out);
    expo_free(e);
}

/* The builder's tables may come from a caller's stack: it keeps its own copy. */
static struct expo *new_from_stack_tables(void)
{
    const struct metric_table tables[] = {{fam_a, 2}, {fam_b, 1}};
    return expo_new(tables, 2);
}

/* A reset builder renders the next exposition exactly as a fresh one would: nothing of the
 * previous samples, families that are empty now left out. */
static void test_reset_reuses_builder(void **state)
{
    struct expo *e = new_from_stack_tables();
    assert_non_null(e);
    for (int i = 0; i < 200; i++)
        expo_sample_dev(e, &fam_a[0], "before", i);
    expo_sample_dev(e, &fam_b[0], "before", 1);
    assert_non_null(strstr(render(e), "t_up{device=\"before\"} 199\n"));

    expo_reset(e);
    expo_sample_dev(e, &fam_b[0], "after", 7);
    assert_string_equal(render(e), "# HELP t_bytes_total Bytes.\n"
                                   "# TYPE t_bytes_total counter\n"
                                   "t_bytes_total{device=\"after\"} 7\n");
    expo_reset(e);
    struct strbuf out;
    strbuf_init(&out, 0);
    assert_true(expo_render(e, &out));
    assert_int_equal(out.len, 0);
    strbuf_free(&out);
    expo_free(e);
}

/* The output is allocated once, at its exact size, and appended after what out held. */
static void test_render_sized_once(void **state)
{
    const struct metric_table tables[] = {{fam_a, 2}, {fam_b, 1}};
    struct expo *e = expo_new(tables, 2);
    for (int i = 0; i < 1000; i++)
        expo_sample_dev(e, i % 2 ? &fam_a[0] : &fam_b[0], "a-device-name", i * 0.25);
    struct strbuf out;
    strbuf_init(&out, 0);
    assert_true(strbuf_puts(&out, "prefix\n"));
    assert_true(expo_render(e, &out));
    assert_int_equal(out.cap, out.len + 1);
    assert_int_equal(strncmp(out.data, "prefix\n# HELP t_up ", 19), 0);
    assert_int_equal(out.data[out.len - 1], '\n');
    assert_int_equal(strlen(out.data), out.len);
    strbuf_free(&out);
    expo_free(e);
}

static void test_strbuf_reserve(void **state)
{
    struct strbuf b;
    strbuf_init(&b, 100);
    assert_true(strbuf_reserve(&b, 40));
    assert_int_equal(b.cap, 41);
    assert_string_equal(b.data, "");
    char *p = b.data;
    for (int i = 0; i < 40; i++)
        assert_true(strbuf_putc(&b, 'x'));
    assert_ptr_equal(b.data, p);         /* no growth within the reservation */
    assert_true(strbuf_reserve(&b, 10)); /* grows exactly */
    assert_int_equal(b.cap, 51);
    assert_false(strbuf_reserve(&b, 61)); /* past the limit of 100 */
    assert_true(b.overflow);
    assert_false(strbuf_putc(&b, 'y'));
    assert_int_equal(b.len, 40);
    strbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_help_escaping),
        cmocka_unit_test(test_sample_invalid_utf8),
        cmocka_unit_test(test_value_format),
        cmocka_unit_test(test_grouping_golden),
        cmocka_unit_test(test_unregistered_family_dropped),
        cmocka_unit_test(test_bounded_output),
        cmocka_unit_test(test_reset_reuses_builder),
        cmocka_unit_test(test_render_sized_once),
        cmocka_unit_test(test_strbuf_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

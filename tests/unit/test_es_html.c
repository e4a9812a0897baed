/* The bounded page scanner (es_html_scan) against libxml2's parser (es_html_parse_libxml2,
 * the reference): every fixture page and every page the simulator generates must give the
 * same scripts, the same logon-form flag and the same codec results through both; markup
 * edge cases give the scanner's documented reading; js_may_assign never skips a script
 * that assigns a wanted variable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/easysmart/html.h"
#include "collectors/easysmart/js.h"
#include "collectors/easysmart/page.h"
#include "daemon/strbuf.h"
#include "sim/switch_pages.h"

#define FIX TEST_FIXTURES "/easy-smart/"

#include "fixture_file.h"

#define SAME_CODEC(fn, type, text, len)                                                            \
    do {                                                                                           \
        type x, y;                                                                                 \
        char ex[256] = "", ey[256] = "";                                                           \
        int rx = fn(ES_HTML_SCANNER, text, len, &x, ex, sizeof ex);                                \
        int ry = fn(ES_HTML_LIBXML2, text, len, &y, ey, sizeof ey);                                \
        assert_int_equal(rx, ry);                                                                  \
        assert_string_equal(ex, ey);                                                               \
        if (rx == 0)                                                                               \
            assert_memory_equal(&x, &y, sizeof x);                                                 \
    } while (0)

/* Both extractions agree on the page, and so do all codecs. Returns the script count. */
static size_t check_same(const char *what, const char *text, size_t len)
{
    struct es_html a, b;
    char err[128];
    assert_int_equal(es_html_scan(text, len, &a, err, sizeof err), 0);
    assert_int_equal(es_html_parse_libxml2(text, len, &b, err, sizeof err), 0);
    if (a.quirks != 0 || a.n_scripts != b.n_scripts || a.logon_form != b.logon_form)
        fail_msg("%s: quirks %u, scripts %zu vs %zu, form %d vs %d", what, a.quirks, a.n_scripts,
                 b.n_scripts, a.logon_form, b.logon_form);
    for (size_t i = 0; i < a.n_scripts; i++) {
        if (a.scripts[i].len != b.scripts[i].len ||
            memcmp(a.scripts[i].text, b.scripts[i].text, a.scripts[i].len) != 0)
            fail_msg("%s: script %zu differs", what, i);
    }
    size_t n = a.n_scripts;
    es_html_free(&a);
    es_html_free(&b);

    static const char *const anchors[] = {NULL, "all_info", "tmp_info", "info_ds", "portConfig"};
    for (size_t i = 0; i < sizeof anchors / sizeof anchors[0]; i++) {
        int ex = 99, ey = 98;
        assert_int_equal(es_classify_page_via(ES_HTML_SCANNER, text, len, anchors[i], &ex),
                         es_classify_page_via(ES_HTML_LIBXML2, text, len, anchors[i], &ey));
        assert_int_equal(ex, ey);
    }
    SAME_CODEC(es_parse_port_statistics_via, struct es_port_statistics, text, len);
    SAME_CODEC(es_parse_system_info_via, struct es_system_info, text, len);
    SAME_CODEC(es_parse_port_settings_via, struct es_port_settings, text, len);
    SAME_CODEC(es_parse_poe_via, struct es_poe, text, len);
    return n;
}

static void test_fixture_pages(void **state)
{
    (void)state;
    static const char *const pages[] = {
        "sg108e-v3/PortSettingRpm.htm",
        "sg108e-v3/PortStatisticsRpm.htm",
        "sg108e-v3/SystemInfoRpm.htm",
        "sg108e-v3/logon-bad-password.htm",
        "sg108e-v3/logout.htm",
        "sg108pe-v2/PortSettingRpm.html",
        "sg108pe-v2/SystemInfoRpm.html",
        "sg108pe-v2/login_failure.html",
        "sg108pe-v2/login_success.html",
        "synthetic/TL-SE2106_MainRpm.htm",
        "synthetic/TL-SG1024DE_PortStatisticsRpm_tmp_info.htm",
        "synthetic/TL-SG108PE_PoeConfigRpm.htm",
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, FIX "%s", pages[i]);
        size_t len;
        char *page = slurp(path, &len);
        assert_true(check_same(pages[i], page, len) > 0);
        free(page);
    }
    /* the real statistics page: 7 scripts, the data first */
    size_t len;
    char *page = slurp(FIX "sg108e-v3/PortStatisticsRpm.htm", &len);
    struct es_html h;
    assert_int_equal(es_html_scan(page, len, &h, NULL, 0), 0);
    assert_int_equal(h.n_scripts, 7);
    assert_null(h.arena); /* no copy */
    assert_true(h.scripts[0].text > page && h.scripts[0].text < page + len);
    assert_memory_equal(h.scripts[0].text, "\nvar max_port_num = 8;", 22);
    es_html_free(&h);
    free(page);
}

/* The simulator's models (sim/switch_sim.c): ports, PoE ports and budget, tmp_info. */
static const struct {
    const char *name;
    unsigned ports, poe_ports, budget_dw;
    bool tmp_info;
} models[] = {
    {"TL-SG105E", 5, 0, 0, false},    {"TL-SG108E", 8, 0, 0, false},
    {"TL-SG1016DE", 16, 0, 0, false}, {"TL-SG1024DE", 24, 0, 0, true},
    {"TL-SG108PE", 8, 4, 640, false}, {"TL-SG1016PE", 16, 8, 1500, false},
};

static void check_buf(const char *what, struct strbuf *b)
{
    assert_false(b->overflow);
    check_same(what, b->data, b->len);
    strbuf_reset(b);
}

static void test_simulator_pages(void **state)
{
    (void)state;
    struct strbuf b;
    strbuf_init(&b, 1 << 20);
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        struct swp_port ports[ES_MAX_PORTS];
        for (unsigned i = 0; i < models[m].ports; i++) {
            ports[i].enabled = i % 5 != 4;
            ports[i].link = (uint8_t)(i % 7);
            for (int k = 0; k < 4; k++)
                ports[i].pkts[k] = 4294967295u - (uint32_t)(i * 977 + (unsigned)k * 13);
        }
        if (models[m].tmp_info)
            swp_port_statistics_tmp_info(&b, ports, models[m].ports, 16);
        else
            swp_port_statistics(&b, ports, models[m].ports, 16);
        struct es_port_statistics st;
        assert_int_equal(es_parse_port_statistics(b.data, b.len, &st, NULL, 0), 0);
        assert_int_equal(st.n_ports, models[m].ports);
        assert_int_equal(st.ports[models[m].ports - 1].rx_bad, ports[models[m].ports - 1].pkts[3]);
        check_buf(models[m].name, &b);

        swp_port_setting(&b, ports, models[m].ports, 16);
        check_buf(models[m].name, &b);

        struct swp_system si = {"desc \"q\" \\ <x> \xc3\xa9",
                                "AA:BB:CC:DD:EE:FF",
                                "127.0.0.1",
                                "255.255.255.0",
                                "0.0.0.0",
                                "1.0.0 Build 20230214 Rel.63440",
                                models[m].name};
        swp_system_info(&b, &si);
        check_buf(models[m].name, &b);

        if (models[m].poe_ports) {
            struct swp_poe_port pp[ES_MAX_PORTS];
            memset(pp, 0, sizeof pp);
            for (unsigned i = 0; i < models[m].poe_ports; i++)
                pp[i] = (struct swp_poe_port){true, 2, 330, (uint16_t)(i * 10), 100, 529, 40, 2};
            swp_poe(&b, pp, models[m].poe_ports, models[m].budget_dw);
            check_buf(models[m].name, &b);
        }
        swp_frameset(&b, models[m].name);
        check_buf(models[m].name, &b);
    }
    for (int et = 0; et <= 6; et++) {
        swp_login(&b, et);
        int got = 99;
        assert_int_equal(es_classify_page(b.data, b.len, "all_info", &got), ES_PAGE_LOGIN);
        assert_int_equal(got, et);
        check_buf("login", &b);
    }
    swp_http500(&b);
    assert_int_equal(check_same("http500", b.data, b.len), 0);
    strbuf_free(&b);
}

/* The scanner's reading of markup edge cases; libxml2 must read them the same way unless
 * the scanner reports a quirk. */
static void expect_scripts(const char *page, unsigned quirks, bool form, size_t n, ...)
{
    struct es_html h;
    assert_int_equal(es_html_scan(page, strlen(page), &h, NULL, 0), 0);
    if (h.n_scripts != n || h.quirks != quirks || h.logon_form != form)
        fail_msg("%s: %zu scripts, quirks %u, form %d", page, h.n_scripts, h.quirks, h.logon_form);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *want = va_arg(ap, const char *);
        if (h.scripts[i].len != strlen(want) || memcmp(h.scripts[i].text, want, strlen(want)))
            fail_msg("%s: script %zu is \"%.*s\", want \"%s\"", page, i, (int)h.scripts[i].len,
                     h.scripts[i].text, want);
    }
    va_end(ap);
    es_html_free(&h);
    if (quirks == 0)
        check_same(page, page, strlen(page));
}

static void test_markup_edges(void **state)
{
    (void)state;
    /* comments: "-->" or "--!>" end them, "<!-->" does not; unterminated takes the rest */
    expect_scripts("<!-- <script>a</script> --><script>b</script>", 0, false, 1, "b");
    expect_scripts("<!--><script>a</script>--><script>b</script>", 0, false, 1, "b");
    expect_scripts("<!-- x --!><script>c</script><!-- <script>d</script>", 0, false, 1, "c");
    /* quoted attribute values may hold '>' and markup; bare ones end at a blank or '>' */
    expect_scripts("<a title=\"<script>x</script>\" b='>'><script src=a>b</script>", 0, false, 1,
                   "b");
    expect_scripts("<script type=\"a>b\">c</script>", 0, false, 1, "c");
    /* '<' + a non-letter is text: "<_a" is not a tag, so its quotes hide nothing */
    expect_scripts("<_a title=\"<script>y</script>\">", 0, false, 1, "y");
    /* case, <script/>, raw text up to "</script" whatever follows */
    expect_scripts("<SCRIPT>A</ScRiPt ><script/>var c=3;</script>", 0, false, 2, "A", "");
    expect_scripts("<script>var a=\"</td>\";</script>", 0, false, 1, "var a=\"</td>\";");
    expect_scripts("<style><script>s</script></style><script>t</script>", 0, false, 1, "t");
    /* <body> or <frameset> at its start closes a style, <noscript> a script (fuzz findings) */
    expect_scripts("<script><noscript>a</script><script>b</script>", 0, false, 2, "", "b");
    expect_scripts("<style><body><script>a</script>", 0, false, 1, "a");
    expect_scripts("<script><body>b</script>", 0, false, 1, "<body>b");
    /* "</scripts>" is dropped and the content goes on: joined in a copy, with a quirk */
    expect_scripts("<script>var d=4;</scripts>var e=5;</script>", ES_HTML_QUIRK_END_TAG_IN_SCRIPT,
                   false, 1, "var d=4;var e=5;");
    expect_scripts("<script></div>b</script>", ES_HTML_QUIRK_END_TAG_IN_SCRIPT, false, 1, "b");
    expect_scripts("<script></ >c</script>", 0, false, 1, " >c");
    /* unterminated: a script runs to the end; a start tag cut short makes an empty one */
    expect_scripts("<script>var x = 1;", 0, false, 1, "var x = 1;");
    expect_scripts("<script>a</script><script type=\"x", 0, false, 2, "a", "");
    /* DOCTYPE, processing instructions, "<!" text */
    expect_scripts("<!DOCTYPE html><?xml x?><? x ><script>a</script><![CDATA[<script>b</script>]]>",
                   0, false, 2, "a", "b");
    expect_scripts("<!DOCTYPE html PUBLIC \"a>b\"><script>a</script>", ES_HTML_QUIRK_DOCTYPE_QUOTE,
                   false, 1, "a");
    /* forms: the first action counts, names ignore case, 100-byte names are cut */
    expect_scripts("<form ACTION = \"/logon.cgi\" action=x>", 0, true, 0);
    expect_scripts("<form action=x action=\"/logon.cgi\">", 0, false, 0);
    expect_scripts("<form action='http://h/LOGON.CGI?a=b#c'/>", 0, true, 0);
    expect_scripts("<form action=\"/notlogon.cgi\">", 0, false, 0);
    char cut[160] = "<form ";
    memset(cut + 6, 'a', 100); /* a 100-byte attribute name, then "action" */
    strcpy(cut + 106, "action=/logon.cgi>");
    expect_scripts(cut, 0, true, 0);
    expect_scripts("<form action=\"&#108;ogon.cgi\">", ES_HTML_QUIRK_ACTION_ENTITY, false, 0);
    /* a prefixed name is an unknown element, not a script (libxml2 keeps "script": fuzz finding) */
    expect_scripts("<a:script>var a=1;</a:script><script>b</script>", ES_HTML_QUIRK_PREFIXED_NAME,
                   false, 1, "b");
    /* NUL reads as a space in markup */
    static const char nul[] = "<script\0type=x>a\0b</script>";
    struct es_html h;
    assert_int_equal(es_html_scan(nul, sizeof nul - 1, &h, NULL, 0), 0);
    assert_int_equal(h.n_scripts, 1);
    assert_int_equal(h.scripts[0].len, 3);
    assert_memory_equal(h.scripts[0].text, "a\0b", 3);
    es_html_free(&h);

    char err[64] = "";
    assert_int_equal(es_html_scan("", 0, &h, err, sizeof err), -1);
    assert_string_equal(err, "empty page");
    assert_int_equal(es_html_scan("x", ES_HTML_MAX_BYTES + 1, &h, err, sizeof err), -1);
    assert_string_equal(err, "page larger than 1 MiB");
}

static void test_may_assign(void **state)
{
    (void)state;
    static const char *const names[] = {"all_info", "max_port_num", NULL};
    static const struct {
        const char *src;
        bool want;
    } cases[] = {
        {"var all_info = {};", true},
        {"var x=1,max_port_num\t=8", true},
        {"var all_info /* c */ = {}", true},
        {"var all_info // c\n = {}", true},
        {"var all_info <!-- c\n = {}", true},
        {"for(i=0;i<max_port_num;i++)x=all_info.state[i];", false},
        {"if (x == all_info.state[0] || y != max_port_num) z = 3;", false},
        {"if (all_info == 1) z = 3;", true}, /* "NAME =" may be an assignment */
        {"var all_info2 = 1, xall_info = 2, $all_info = 3;", false},
        {"var tmp = \"all_info\";", false},
        {"all_info", false},
        {"=", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (js_may_assign(cases[i].src, strlen(cases[i].src), names) != cases[i].want)
            fail_msg("js_may_assign(\"%s\") is not %d", cases[i].src, cases[i].want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_pages),
        cmocka_unit_test(test_simulator_pages),
        cmocka_unit_test(test_markup_edges),
        cmocka_unit_test(test_may_assign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

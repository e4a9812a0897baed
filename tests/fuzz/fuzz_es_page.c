/* libFuzzer target: the Easy Smart page parsers on a whole page body: one of
 * es_classify_page (with one of the anchors the session uses, or none),
 * es_parse_port_statistics, es_parse_system_info, es_parse_port_settings and es_parse_poe;
 * the replay test runs every anchor and every parser on each input.
 * Underneath these run libxml2's HTML parser (collectors/easysmart/html.c) and the
 * JavaScript literal reader (collectors/easysmart/js.c; fuzz_es_js reaches it faster). */
#include "collectors/easysmart/page.h"
#include "tests/fuzz/fuzz.h"

#include <math.h>

static const char *const anchors[] = {NULL, "all_info", "tmp_info", "info_ds", "portConfig"};

/* The result of a parser: 0 or -1, and a one-line message exactly when it failed. */
static void classify(const char *text, size_t len, const char *anchor)
{
    int et = 12345;
    enum es_page_class c = es_classify_page(text, len, anchor, &et);
    FUZZ_CHECK(c == ES_PAGE_LOGIN || c == ES_PAGE_DATA || c == ES_PAGE_UNKNOWN);
    FUZZ_CHECK(c == ES_PAGE_LOGIN || et == -1);
    FUZZ_CHECK(anchor || c != ES_PAGE_DATA);
    FUZZ_CHECK(es_err_type_text(et) != NULL);
}

static void check_result(int rc, const char *err, size_t cap)
{
    FUZZ_CHECK(rc == 0 || rc == -1);
    fuzz_check_err(err, cap);
    FUZZ_CHECK(rc == 0 || err[0] != '\0');
}

static void check_link(uint8_t code)
{
    bool up = false, full = false;
    uint64_t speed = 0;
    es_link_decode(code, &up, &speed, &full);
    FUZZ_CHECK(es_link_text(code) != NULL);
    FUZZ_CHECK(up || speed == 0);
}

static void statistics(const char *text, size_t len)
{
    struct es_port_statistics st;
    char err[256] = "";
    int rc = es_parse_port_statistics(text, len, &st, err, sizeof err);
    check_result(rc, err, sizeof err);
    if (rc != 0)
        return;
    FUZZ_CHECK(st.n_ports >= 1 && st.n_ports <= ES_MAX_PORTS);
    for (unsigned i = 0; i < st.n_ports; i++)
        check_link(st.ports[i].link_status);
}

static void system_info(const char *text, size_t len)
{
    struct es_system_info si;
    char err[256] = "";
    int rc = es_parse_system_info(text, len, &si, err, sizeof err);
    check_result(rc, err, sizeof err);
    if (rc != 0)
        return;
    FUZZ_CHECK_STR(si.description);
    FUZZ_CHECK_STR(si.model);
    FUZZ_CHECK_STR(si.hw_version);
    FUZZ_CHECK_STR(si.firmware);
    FUZZ_CHECK_STR(si.mac);
    FUZZ_CHECK_STR(si.ip);
    FUZZ_CHECK_STR(si.netmask);
    FUZZ_CHECK_STR(si.gateway);
}

static void port_settings(const char *text, size_t len)
{
    struct es_port_settings ps;
    char err[256] = "";
    int rc = es_parse_port_settings(text, len, &ps, err, sizeof err);
    check_result(rc, err, sizeof err);
    if (rc != 0)
        return;
    FUZZ_CHECK(ps.n_ports >= 1 && ps.n_ports <= ES_MAX_PORTS);
    for (unsigned i = 0; i < ps.n_ports; i++) {
        check_link(ps.ports[i].speed_cfg);
        check_link(ps.ports[i].speed_act);
    }
}

static void poe(const char *text, size_t len)
{
    struct es_poe pe;
    char err[256] = "";
    int rc = es_parse_poe(text, len, &pe, err, sizeof err);
    check_result(rc, err, sizeof err);
    if (rc != 0)
        return;
    FUZZ_CHECK(pe.n_ports <= ES_MAX_PORTS);
    FUZZ_CHECK(isfinite(pe.budget_watts) && isfinite(pe.consumption_watts) &&
               isfinite(pe.remaining_watts));
    for (unsigned i = 0; i < pe.n_ports; i++) {
        const struct es_poe_port *p = &pe.ports[i];
        FUZZ_CHECK(isfinite(p->power_watts) && isfinite(p->voltage_volts) &&
                   isfinite(p->current_amperes) && isfinite(p->limit_watts));
        FUZZ_CHECK(p->pd_class >= -1 && p->pd_class <= 4);
    }
}

static void parse(const char *text, size_t len, unsigned which)
{
    switch (which) {
    case 0:
        statistics(text, len);
        break;
    case 1:
        system_info(text, len);
        break;
    case 2:
        port_settings(text, len);
        break;
    default:
        poe(text, len);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t n_anchors = sizeof anchors / sizeof anchors[0];
#ifdef FUZZ_REPLAY
    /* Replaying: every anchor and every parser on each input. */
    for (size_t i = 0; i < n_anchors; i++)
        classify(text, size, anchors[i]);
    for (unsigned which = 0; which < 4; which++)
        parse(text, size, which);
#else
    /* Fuzzing: every call parses the page anew (HTML, then JavaScript), which is nearly all
     * of the cost, and every es_parse_* first checks for a login page as es_classify_page
     * does; so one operation per input, picked by its length: a parser, or the
     * classification with one of the anchors. */
    size_t op = size % 5;
    if (op < 4)
        parse(text, size, (unsigned)op);
    else
        classify(text, size, anchors[(size / 5) % n_anchors]);
#endif
    return 0;
}

/* The switch collector against the switch simulator, both on one libev loop over
 * 127.0.0.1: what the collector reports must be what the simulated switch shows, with
 * the request budget and the login manners the real switch needs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "collectors/collector.h"
#include "collectors/easysmart/curl_loop.h"
#include "collectors/easysmart/page.h"
#include "daemon/daemon.h"
#include "daemon/expo.h"
#include "daemon/log.h"
#include "daemon/strbuf.h"
#include "sim/switch_sim.h"

#define PASSWORD "Sup3r-S3cret!"

struct fix {
    struct ev_loop *loop;
    struct switch_sim *sim;
    struct switch_sim_opts opts;
    struct device_config cfg;
    void *st;
    unsigned dones;
    enum poll_status last;
    char detail[256];
};

static void on_done(void *owner, enum poll_status st, const char *detail)
{
    struct fix *f = owner;
    f->dones++;
    f->last = st;
    snprintf(f->detail, sizeof f->detail, "%s", detail ? detail : "");
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    *(bool *)w->data = true;
}

/* Runs the loop until *cond becomes true or seconds pass; returns whether it did. */
static bool run_until(struct fix *f, const unsigned *counter, unsigned target, double seconds)
{
    bool expired = false;
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, seconds, 0.);
    guard.data = &expired;
    ev_timer_start(f->loop, &guard);
    while (*counter < target && !expired)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &guard);
    return *counter >= target;
}

static void run_for(struct fix *f, double seconds)
{
    bool expired = false;
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, seconds, 0.);
    guard.data = &expired;
    ev_timer_start(f->loop, &guard);
    while (!expired)
        ev_run(f->loop, EVRUN_ONCE);
}

static void sim_start(struct fix *f)
{
    char err[256];
    f->sim = switch_sim_start(f->loop, &f->opts, err, sizeof err);
    if (!f->sim)
        fail_msg("switch_sim_start: %s", err);
}

static void setup_model(struct fix *f, const char *model, const char *password)
{
    memset(f, 0, sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->opts.model = model;
    f->opts.addr = "127.0.0.1";
    f->opts.username = "admin";
    f->opts.password = PASSWORD;
    f->opts.seed = 7;
    f->cfg.name = (char *)"sw1";
    f->cfg.kind = DEVICE_SWITCH;
    f->cfg.host = (char *)"127.0.0.1";
    f->cfg.interval_s = 15;
    f->cfg.timeout_s = 3;
    f->cfg.username = (char *)"admin";
    assert_int_equal(secret_set(&f->cfg.password, password, strlen(password)), 0);
}

/* Starts the simulator with f->opts and creates the collector for it. */
static void create(struct fix *f)
{
    char err[256] = "";
    sim_start(f);
    f->cfg.port = switch_sim_port(f->sim);
    struct collector_env env = {.loop = f->loop, .done = on_done, .owner = f};
    f->st = switch_collector.create(&f->cfg, &env, err, sizeof err);
    if (!f->st)
        fail_msg("create: %s", err);
}

static void teardown(struct fix *f)
{
    if (f->st)
        switch_collector.destroy(f->st);
    switch_sim_stop(f->sim);
    /* Lets the loop settle so nothing the collector left is still armed. */
    ev_run(f->loop, EVRUN_NOWAIT);
    ev_loop_destroy(f->loop);
    secret_clear(&f->cfg.password);
}

static enum poll_status poll_once(struct fix *f)
{
    unsigned before = f->dones;
    switch_collector.poll_start(f->st);
    if (!run_until(f, &f->dones, before + 1, 10.0))
        fail_msg("poll did not end");
    /* done exactly once: nothing more arrives later */
    ev_run(f->loop, EVRUN_NOWAIT);
    assert_int_equal(f->dones, before + 1);
    return f->last;
}

static const char *status_name(enum poll_status st)
{
    return st == POLL_OK ? "ok" : poll_status_reason(st);
}

static void expect_poll(struct fix *f, enum poll_status want)
{
    enum poll_status got = poll_once(f);
    if (got != want)
        fail_msg("poll ended with %s (%s), expected %s", status_name(got), f->detail,
                 status_name(want));
}

static unsigned long reqs(struct fix *f, enum switch_sim_page p)
{
    return switch_sim_requests(f->sim, p);
}

static void render(struct fix *f, struct strbuf *out)
{
    struct expo *e = expo_new(&switch_collector.metrics, 1);
    assert_non_null(e);
    switch_collector.emit(f->st, "sw1", e);
    strbuf_init(out, 0);
    strbuf_putc(out, '\n'); /* so that metric() finds the first line too, and data is set */
    assert_true(expo_render(e, out));
    expo_free(e);
}

/* The value of name{device="sw1",port="p"} (p 0: device only); -1 when absent. */
static double metric(const struct strbuf *text, const char *name, unsigned port)
{
    char key[160];
    if (port)
        snprintf(key, sizeof key, "\n%s{device=\"sw1\",port=\"%u\"} ", name, port);
    else
        snprintf(key, sizeof key, "\n%s{device=\"sw1\"} ", name);
    const char *p = strstr(text->data, key);
    if (!p)
        return -1;
    return strtod(p + strlen(key), NULL);
}

static const char *const counter_names[4] = {
    [SWITCH_SIM_TX_GOOD] = "tplink_switch_port_transmit_packets_total",
    [SWITCH_SIM_TX_BAD] = "tplink_switch_port_transmit_errors_total",
    [SWITCH_SIM_RX_GOOD] = "tplink_switch_port_receive_packets_total",
    [SWITCH_SIM_RX_BAD] = "tplink_switch_port_receive_errors_total",
};

/* The page is served between the two snapshots, so the values it carried lie between them
 * (the simulator's counters only grow between reboots). */
static void check_values(struct fix *f, const struct switch_sim_snapshot *a,
                         const struct switch_sim_snapshot *b, const char *model)
{
    struct strbuf text;
    render(f, &text);
    assert_int_equal(a->n_ports, b->n_ports);
    for (unsigned p = 1; p <= b->n_ports; p++) {
        const struct switch_sim_port_state *pa = &a->ports[p - 1], *pb = &b->ports[p - 1];
        bool up;
        uint64_t speed;
        bool fd;
        es_link_decode(pb->link, &up, &speed, &fd);
        assert_true(metric(&text, "tplink_switch_port_enabled", p) == pb->enabled);
        assert_true(metric(&text, "tplink_switch_port_link_up", p) == (pb->link != 0));
        assert_true(metric(&text, "tplink_switch_port_speed_bytes", p) == (double)speed);
        assert_true(metric(&text, "tplink_switch_port_full_duplex", p) == (up && fd));
        for (unsigned k = 0; k < 4; k++) {
            double v = metric(&text, counter_names[k], p);
            if (v < (double)pa->pkts[k] || v > (double)pb->pkts[k])
                fail_msg("%s port %u %s = %.0f, simulator showed %u..%u", model, p,
                         counter_names[k], v, pa->pkts[k], pb->pkts[k]);
        }
    }
    /* No phantom ports past the last one. */
    assert_true(metric(&text, "tplink_switch_port_enabled", b->n_ports + 1) == -1);
    assert_true(metric(&text, "tplink_switch_statistics_resets_total", 0) == 0);
    if (b->n_poe_ports) {
        /* PoE is a live reading, read on every poll. */
        for (unsigned p = 1; p <= b->n_poe_ports; p++) {
            double w = metric(&text, "tplink_switch_port_poe_power_watts", p);
            double wa = a->ports[p - 1].poe_power_dw / 10.0,
                   wb = b->ports[p - 1].poe_power_dw / 10.0;
            if (w < fmin(wa, wb) - 1e-9 || w > fmax(wa, wb) + 1e-9)
                fail_msg("%s port %u PoE %.1f W, simulator %.1f..%.1f", model, p, w, wa, wb);
        }
        assert_true(metric(&text, "tplink_switch_poe_budget_watts", 0) > 0);
    } else {
        assert_null(strstr(text.data, "poe"));
    }
    assert_true(metric(&text, "tplink_switch_port_lag", 1) >= 0);
    assert_true(metric(&text, "tplink_switch_port_flow_control_enabled", 1) >= 0);
    /* Never the password, anywhere. */
    assert_null(strstr(text.data, PASSWORD));
    strbuf_free(&text);
}

static void values_for_model(const char *model)
{
    struct fix f;
    struct switch_sim_snapshot a, b;
    setup_model(&f, model, PASSWORD);
    f.opts.description = "rack-3";
    create(&f);
    /* One port down and one disabled: their counters stand still, so they must match
     * exactly, not just within the window. */
    assert_int_equal(switch_sim_link(f.sim, 2, 0), 0);
    assert_int_equal(switch_sim_port_enable(f.sim, 3, false), 0);
    struct device_info info;
    assert_false(switch_collector.info(f.st, &info));
    for (int i = 0; i < 3; i++) {
        switch_sim_snapshot(f.sim, &a);
        expect_poll(&f, POLL_OK);
        switch_sim_snapshot(f.sim, &b);
        check_values(&f, &a, &b, model);
        assert_int_equal(a.ports[1].pkts[SWITCH_SIM_RX_GOOD], b.ports[1].pkts[SWITCH_SIM_RX_GOOD]);
    }
    assert_true(switch_collector.info(f.st, &info));
    if (strcasecmp(model, info.model) != 0)
        fail_msg("model %s, expected %s", info.model, model);
    assert_string_equal(info.alias, "rack-3");
    assert_true(info.hw_version[0] != '\0');
    assert_true(info.fw_version[0] != '\0');
    assert_true(strlen(info.mac) == 17);
    assert_int_equal(b.n_ports, switch_sim_port_count(f.sim));
    teardown(&f);
}

static void test_values_tl_sg108e(void **state)
{
    values_for_model("TL-SG108E");
}

static void test_values_tl_sg105e(void **state)
{
    values_for_model("TL-SG105E");
}

static void test_values_tl_sg1024de(void **state)
{
    values_for_model("TL-SG1024DE"); /* the tmp_info page format */
}

static void test_values_tl_sg108pe(void **state)
{
    values_for_model("TL-SG108PE");
}

static void test_values_tl_sg1016pe(void **state)
{
    values_for_model("TL-SG1016PE");
}

/* The simulator serving the saved real TL-SG108E v3 pages: the metrics carry exactly the
 * values those pages hold. */
static void test_saved_real_pages(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    f.opts.pages_dir = TEST_FIXTURES "/easy-smart/sg108e-v3";
    create(&f);
    for (int i = 0; i < 2; i++) {
        expect_poll(&f, POLL_OK);
        struct strbuf text;
        render(&f, &text);
        for (unsigned p = 1; p <= 8; p++) {
            assert_true(metric(&text, "tplink_switch_port_enabled", p) == 1);
            assert_true(metric(&text, "tplink_switch_port_link_up", p) == (p == 1));
            assert_true(metric(&text, "tplink_switch_port_speed_bytes", p) ==
                        (p == 1 ? 125000000.0 : 0.0));
            assert_true(metric(&text, "tplink_switch_port_full_duplex", p) == (p == 1));
            assert_true(metric(&text, "tplink_switch_port_transmit_packets_total", p) ==
                        (p == 1 ? 106 : 0));
            assert_true(metric(&text, "tplink_switch_port_receive_packets_total", p) ==
                        (p == 1 ? 987 : 0));
            assert_true(metric(&text, "tplink_switch_port_transmit_errors_total", p) == 0);
            assert_true(metric(&text, "tplink_switch_port_receive_errors_total", p) == 0);
            assert_true(metric(&text, "tplink_switch_port_lag", p) == 0);
            assert_true(metric(&text, "tplink_switch_port_flow_control_enabled", p) == 0);
        }
        assert_true(metric(&text, "tplink_switch_port_enabled", 9) == -1);
        assert_true(metric(&text, "tplink_switch_statistics_resets_total", 0) == 0);
        strbuf_free(&text);
    }
    struct device_info info;
    assert_true(switch_collector.info(f.st, &info));
    assert_string_equal(info.model, "TL-SG108E");
    assert_string_equal(info.hw_version, "3.0");
    assert_string_equal(info.fw_version, "1.0.0 Build 20160722 Rel.50167");
    assert_string_equal(info.mac, "B0:4E:26:37:E9:59");
    assert_string_equal(info.alias, "TL-SG108E");
    teardown(&f);
}

/* pages=DIR: parsed from the spec; a missing folder, an empty or an oversized page file is
 * refused at start with the file named. */
static void test_sim_pages_option(void **state)
{
    struct switch_sim_spec spec;
    char err[256] = "";
    assert_int_equal(switch_sim_spec_parse("switch:TL-SG108E@127.0.0.1:0,pages=/x/y,seed=2", &spec,
                                           err, sizeof err),
                     0);
    assert_string_equal(spec.opts.pages_dir, "/x/y");
    assert_int_equal(switch_sim_spec_parse("TL-SG108E@127.0.0.1:0,pages=", &spec, err, sizeof err),
                     -1);
    assert_string_equal(err, "switch spec: bad value for pages");

    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct switch_sim_opts o = {.model = "TL-SG108E", .pages_dir = "/nonexistent/pages"};
    assert_null(switch_sim_start(loop, &o, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/pages: not a readable folder"));

    char dir[] = "/tmp/test_switch_pages_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/SystemInfoRpm.htm", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    o.pages_dir = dir;
    assert_null(switch_sim_start(loop, &o, err, sizeof err));
    assert_non_null(strstr(err, "SystemInfoRpm.htm: empty"));
    fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 300 * 1024; i++)
        fputc('x', fp);
    fclose(fp);
    assert_null(switch_sim_start(loop, &o, err, sizeof err));
    assert_non_null(strstr(err, "SystemInfoRpm.htm: larger than 256 KiB"));
    unlink(path);
    /* an empty folder: every page is generated */
    struct switch_sim *sim = switch_sim_start(loop, &o, err, sizeof err);
    assert_non_null(sim);
    switch_sim_stop(sim);
    rmdir(dir);
    ev_loop_destroy(loop);
}

/* tplinksim's "switch INDEX snapshot" line says what switch_sim_snapshot and
 * switch_sim_requests say. */
static void test_snapshot_json(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108PE", PASSWORD);
    create(&f);
    expect_poll(&f, POLL_OK);
    struct switch_sim_snapshot snap;
    struct strbuf b;
    strbuf_init(&b, 64 * 1024);
    switch_sim_snapshot(f.sim, &snap); /* same loop time as the line below */
    assert_true(switch_sim_snapshot_json(f.sim, &b));
    assert_null(memchr(b.data, '\n', b.len));
    json_error_t jerr;
    json_t *root = json_loads(b.data, 0, &jerr);
    if (!root)
        fail_msg("not JSON: %s", jerr.text);
    assert_string_equal(json_string_value(json_object_get(root, "model")), "TL-SG108PE");
    assert_true(json_is_true(json_object_get(root, "session")));
    json_t *ports = json_object_get(root, "ports");
    assert_int_equal(json_array_size(ports), 8);
    static const char *const keys[4] = {"TxGoodPkt", "TxBadPkt", "RxGoodPkt", "RxBadPkt"};
    for (unsigned i = 0; i < 8; i++) {
        json_t *p = json_array_get(ports, i);
        const struct switch_sim_port_state *ps = &snap.ports[i];
        assert_int_equal(json_integer_value(json_object_get(p, "port")), i + 1);
        assert_int_equal(json_is_true(json_object_get(p, "enabled")), ps->enabled);
        assert_int_equal(json_integer_value(json_object_get(p, "link")), ps->link);
        for (int k = 0; k < 4; k++) {
            json_t *pk = json_object_get(json_object_get(p, "pkts"), keys[k]);
            json_t *tot = json_object_get(json_object_get(p, "total"), keys[k]);
            assert_int_equal(json_integer_value(pk), ps->pkts[k]);
            assert_int_equal(json_integer_value(tot), ps->total[k]);
        }
        json_t *poe = json_object_get(p, "poe_power_watts");
        if (i < snap.n_poe_ports)
            assert_true(fabs(json_real_value(poe) - ps->poe_power_dw / 10.0) < 1e-9);
        else
            assert_null(poe);
    }
    json_t *served = json_object_get(root, "stats_served");
    assert_int_equal(json_integer_value(json_object_get(served, "n")), 1);
    assert_int_equal(snap.stats_served, 1);
    for (unsigned i = 0; i < 8; i++) {
        for (int k = 0; k < 4; k++) {
            json_t *pk = json_array_get(json_array_get(json_object_get(served, "pkts"), i), k);
            json_t *tot = json_array_get(json_array_get(json_object_get(served, "total"), i), k);
            assert_int_equal(json_integer_value(pk), snap.stats_pkts[i][k]);
            assert_int_equal(json_integer_value(tot), snap.stats_total[i][k]);
        }
    }
    /* what the collector exported is what that page showed */
    struct strbuf text;
    render(&f, &text);
    for (unsigned i = 0; i < 8; i++)
        for (int k = 0; k < 4; k++)
            assert_true(metric(&text, counter_names[k], i + 1) == snap.stats_pkts[i][k]);
    strbuf_free(&text);
    json_t *rq = json_object_get(root, "requests");
    for (int pg = 0; pg < SWITCH_SIM_PAGE_COUNT; pg++)
        assert_int_equal(json_integer_value(json_object_get(rq, switch_sim_page_name(pg))),
                         reqs(&f, pg));
    assert_int_equal(json_integer_value(json_object_get(rq, "logon")), 1);
    assert_int_equal(json_integer_value(json_object_get(rq, "PoeConfigRpm")), 1);
    json_decref(root);
    strbuf_free(&b);
    teardown(&f);
}

/* Login costs GET /, POST, the statistics and the pages read once; after that a poll is
 * exactly one request, two on PoE models (PoE power is read on every poll). */
static void test_steady_state_one_request(void **state)
{
    const char *models[] = {"TL-SG108E", "TL-SG108PE"};
    for (size_t m = 0; m < 2; m++) {
        struct fix f;
        setup_model(&f, models[m], PASSWORD);
        create(&f);
        expect_poll(&f, POLL_OK);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_ROOT), 1);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_SYSTEM_INFO), 1);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_PORT_SETTING), 1);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_POE), m == 1 ? 1 : 0);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_OTHER), 0);
        bool poe = m == 1;
        for (int i = 0; i < 4; i++) {
            unsigned long all = reqs(&f, SWITCH_SIM_PAGE_ALL);
            unsigned long stats = reqs(&f, SWITCH_SIM_PAGE_PORT_STATISTICS);
            unsigned long poe_reqs = reqs(&f, SWITCH_SIM_PAGE_POE);
            expect_poll(&f, POLL_OK);
            assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_ALL), all + (poe ? 2 : 1));
            assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_PORT_STATISTICS), stats + 1);
            assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_POE), poe_reqs + (poe ? 1 : 0));
        }
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_ROOT), 1);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_SYSTEM_INFO), 1);
        assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_PORT_SETTING), 1);
        teardown(&f);
    }
}

/* A wrong password: auth error, one POST, then nothing sent during the back-off, and the
 * password in no log line, detail or metric. */
/* stderr goes to a file for the test, and comes back even when the test fails. */
struct captured {
    char path[64];
    int fd;
    int saved;
};

static int capture_stderr(void **state)
{
    struct captured *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    snprintf(c->path, sizeof c->path, "/tmp/test_switch_collector_log_XXXXXX");
    c->fd = mkstemp(c->path);
    if (c->fd < 0) {
        free(c);
        return -1;
    }
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    dup2(c->fd, STDERR_FILENO);
    *state = c;
    return 0;
}

static int restore_stderr(void **state)
{
    struct captured *c = *state;
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    close(c->fd);
    unlink(c->path);
    free(c);
    return 0;
}

static void read_captured(void **state, char *buf, size_t cap)
{
    struct captured *c = *state;
    fflush(stderr);
    ssize_t n = pread(c->fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
}

/* A wrong password: auth error, one POST, then nothing sent during the back-off, and the
 * password in no log line, detail or metric. */
static void test_wrong_password_backs_off(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", "not-the-password");
    create(&f);
    expect_poll(&f, POLL_ERR_AUTH);
    /* The detail is the one line the daemon's core logs for the failed poll. */
    assert_string_equal(f.detail, "login refused: wrong user name or password (errType 1); next "
                                  "attempt in 300 s");
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
    unsigned long all = reqs(&f, SWITCH_SIM_PAGE_ALL);
    for (int i = 0; i < 5; i++) {
        expect_poll(&f, POLL_ERR_AUTH);
        assert_non_null(strstr(f.detail, "backed off"));
        assert_null(strstr(f.detail, "not-the-password"));
    }
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_ALL), all);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
    struct strbuf text;
    render(&f, &text);
    assert_null(strstr(text.data, "not-the-password"));
    strbuf_free(&text);
    teardown(&f);

    char logbuf[8192];
    read_captured(state, logbuf, sizeof logbuf);
    /* The core logs the failed poll's detail; the collector adds no second line about it. */
    assert_null(strstr(logbuf, "login refused"));
    assert_null(strstr(logbuf, "errType"));
    assert_null(strstr(logbuf, "not-the-password"));
    assert_null(strstr(logbuf, PASSWORD));
}

/* A switch in factory-reset mode (errType 6): never a POST. */
static void test_factory_reset_never_posts(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    create(&f);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_ERRTYPE6);
    expect_poll(&f, POLL_ERR_AUTH);
    assert_non_null(strstr(f.detail, "factory-reset"));
    expect_poll(&f, POLL_ERR_AUTH);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 0);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_ROOT), 1);
    teardown(&f);
}

static void test_users_full_backs_off(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    create(&f);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_USERS_FULL);
    expect_poll(&f, POLL_ERR_AUTH);
    assert_non_null(strstr(f.detail, "errType 3"));
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_NONE);
    expect_poll(&f, POLL_ERR_AUTH); /* still backed off */
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
    teardown(&f);
}

/* Logins that the switch ignores (errType 0, still the login page after). */
static void test_ignored_login(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    create(&f);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_ENDLESS_LOGIN);
    expect_poll(&f, POLL_ERR_AUTH);
    assert_non_null(strstr(f.detail, "not accepted"));
    expect_poll(&f, POLL_ERR_AUTH);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
    teardown(&f);
}

/* The POST takes effect but the connection is reset: verified with a GET, no second POST. */
static void test_post_reset_verified(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    create(&f);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_POST_RESET);
    expect_poll(&f, POLL_OK);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
    teardown(&f);
}

static void test_cookie_session(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    f.opts.session = SWITCH_SIM_SESSION_COOKIE;
    create(&f);
    for (int i = 0; i < 3; i++)
        expect_poll(&f, POLL_OK);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
    teardown(&f);
}

/* A second client logs in from 127.0.0.2 and takes the only admin session. */
struct thief {
    struct curl_xfer x;
    struct curl_slist *h;
    unsigned done;
    CURLcode rc;
};

static void thief_done(struct curl_xfer *x, CURLcode rc)
{
    struct thief *t = x->arg;
    t->rc = rc;
    t->done++;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    return s * n;
}

static void steal_session(struct fix *f)
{
    struct curl_loop *cl = curl_loop_new(f->loop);
    struct thief t = {0};
    char url[128];
    assert_non_null(cl);
    t.x.easy = curl_easy_init();
    t.x.done = thief_done;
    t.x.arg = &t;
    curl_easy_setopt(t.x.easy, CURLOPT_INTERFACE, "127.0.0.2");
    curl_easy_setopt(t.x.easy, CURLOPT_COOKIEFILE, "");
    curl_easy_setopt(t.x.easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(t.x.easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(t.x.easy, CURLOPT_TIMEOUT_MS, 5000L);
    t.h = curl_slist_append(NULL, "Connection: close");
    curl_easy_setopt(t.x.easy, CURLOPT_HTTPHEADER, t.h);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", (unsigned)f->cfg.port);
    curl_easy_setopt(t.x.easy, CURLOPT_URL, url);
    assert_int_equal(curl_loop_add(cl, &t.x), 0);
    assert_true(run_until(f, &t.done, 1, 10));
    assert_int_equal(t.rc, CURLE_OK);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/logon.cgi", (unsigned)f->cfg.port);
    curl_easy_setopt(t.x.easy, CURLOPT_URL, url);
    curl_easy_setopt(t.x.easy, CURLOPT_POSTFIELDS,
                     "username=admin&password=" PASSWORD "&cpassword=&logon=Login");
    assert_int_equal(curl_loop_add(cl, &t.x), 0);
    assert_true(run_until(f, &t.done, 2, 10));
    assert_int_equal(t.rc, CURLE_OK);
    assert_int_equal(curl_loop_socket_count(cl), 0); /* Connection: close, nothing kept */
    curl_loop_free(cl);
    curl_easy_cleanup(t.x.easy);
    curl_slist_free_all(t.h);
}

static void test_stolen_session_recovered(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    create(&f);
    expect_poll(&f, POLL_OK);
    steal_session(&f);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 2);
    unsigned long extras = reqs(&f, SWITCH_SIM_PAGE_SYSTEM_INFO);
    /* The data GET gets the login page; one re-login within the poll recovers. */
    expect_poll(&f, POLL_OK);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 3);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_SYSTEM_INFO), extras + 1);
    unsigned long all = reqs(&f, SWITCH_SIM_PAGE_ALL);
    expect_poll(&f, POLL_OK);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_ALL), all + 1);
    teardown(&f);
}

static void test_expired_session_recovered(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG105E", PASSWORD);
    f.opts.session_timeout_s = 0.3;
    create(&f);
    expect_poll(&f, POLL_OK);
    run_for(&f, 0.6);
    assert_false(switch_sim_session_active(f.sim));
    expect_poll(&f, POLL_OK);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 2);
    teardown(&f);
}

/* Fast-wrapping counters and a reboot: the exported totals never go down, and from the
 * first poll to the last they grow by what the simulated switch really carried. */
static void test_counters_wrap_and_reboot(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    f.opts.wrap_seconds = 1.0;
    create(&f);

    enum { POLLS = 14, REBOOT_AFTER = 9 };
    unsigned n = switch_sim_port_count(f.sim);
    double prev[SWITCH_SIM_MAX_PORTS][4], first[SWITCH_SIM_MAX_PORTS][4];
    struct switch_sim_snapshot a0, b0, a, b, ak, bk, bprev;
    bool wrapped = false;
    for (int i = 0; i < POLLS; i++) {
        if (i > 0)
            run_for(&f, 0.25);
        switch_sim_snapshot(f.sim, &a);
        expect_poll(&f, POLL_OK);
        switch_sim_snapshot(f.sim, &b);
        struct strbuf text;
        render(&f, &text);
        for (unsigned p = 0; p < n; p++) {
            for (unsigned k = 0; k < 4; k++) {
                double v = metric(&text, counter_names[k], p + 1);
                assert_true(v >= 0);
                if (i > 0 && v < prev[p][k])
                    fail_msg("poll %d port %u %s went down: %.0f -> %.0f", i, p + 1,
                             counter_names[k], prev[p][k], v);
                prev[p][k] = v;
                if (i == 0)
                    first[p][k] = v;
                if (i > 0 && i <= REBOOT_AFTER && b.ports[p].pkts[k] < bprev.ports[p].pkts[k])
                    wrapped = true;
            }
        }
        double resets = metric(&text, "tplink_switch_statistics_resets_total", 0);
        if (resets != (i > REBOOT_AFTER ? 1 : 0))
            fail_msg("poll %d: resets_total %.0f", i, resets);
        strbuf_free(&text);
        bprev = b;
        if (i == 0) {
            a0 = a;
            b0 = b;
        }
        if (i == REBOOT_AFTER) {
            ak = a;
            bk = b;
            switch_sim_reboot(f.sim); /* at the loop time of snapshot bk */
        }
    }
    assert_true(wrapped); /* the run really crossed 2^32 on some counter */
    /* Poll i's page showed the true total at some moment between a_i and b_i. Growth is
     * T(last) - T(first) minus what fell between poll REBOOT_AFTER's page and the reboot,
     * which nobody can see: between 0 and bk - ak. */
    for (unsigned p = 0; p < n; p++) {
        for (unsigned k = 0; k < 4; k++) {
            double grown = prev[p][k] - first[p][k];
            double unseen = (double)(bk.ports[p].total[k] - ak.ports[p].total[k]);
            double lo = (double)a.ports[p].total[k] - (double)b0.ports[p].total[k] - unseen;
            double hi = (double)b.ports[p].total[k] - (double)a0.ports[p].total[k];
            if (grown < lo || grown > hi)
                fail_msg("port %u %s grew by %.0f, the switch carried %.0f..%.0f", p + 1,
                         counter_names[k], grown, lo, hi);
        }
    }
    teardown(&f);
}

/* A slow switch: the per-request deadline ends the poll with timeout. */
static void test_slow_switch_times_out(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    f.opts.slow_seconds = 3;
    f.cfg.timeout_s = 0.4;
    create(&f);
    expect_poll(&f, POLL_OK);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_SLOW);
    expect_poll(&f, POLL_ERR_TIMEOUT);
    teardown(&f);
}

/* The core cancels a poll (its own deadline): no done for it, and the next poll works. */
static void test_cancel_then_poll(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    f.opts.slow_seconds = 0.5;
    create(&f);
    expect_poll(&f, POLL_OK);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_SLOW);
    switch_collector.poll_start(f.st);
    run_for(&f, 0.1);
    switch_collector.poll_cancel(f.st);
    unsigned dones = f.dones;
    run_for(&f, 1.0);
    assert_int_equal(f.dones, dones);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_NONE);
    expect_poll(&f, POLL_OK);

    /* Cancelled right after poll_start (before any I/O), then destroyed mid-flight. */
    dones = f.dones;
    switch_collector.poll_start(f.st);
    switch_collector.poll_cancel(f.st);
    run_for(&f, 0.1);
    assert_int_equal(f.dones, dones);
    switch_collector.poll_start(f.st);
    ev_run(f.loop, EVRUN_NOWAIT);
    teardown(&f);
}

static void test_connect_refused_and_http500(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    create(&f);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_HTTP500);
    expect_poll(&f, POLL_ERR_PROTOCOL);
    switch_sim_set_fault(f.sim, SWITCH_SIM_FAULT_NONE);
    expect_poll(&f, POLL_OK);
    switch_sim_stop(f.sim);
    f.sim = NULL;
    expect_poll(&f, POLL_ERR_CONNECT);
    teardown(&f);
}

/* Shutdown starts a logout and returns; the loop finishes it. */
static void test_shutdown_logs_out(void **state)
{
    struct fix f;
    setup_model(&f, "TL-SG108E", PASSWORD);
    create(&f);
    expect_poll(&f, POLL_OK);
    assert_true(switch_sim_session_active(f.sim));
    switch_collector.shutdown(f.st);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGOUT), 0); /* not waited for */
    run_for(&f, 0.3);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGOUT), 1);
    assert_false(switch_sim_session_active(f.sim));
    teardown(&f);

    /* Never logged in: nothing to say. */
    setup_model(&f, "TL-SG108E", PASSWORD);
    create(&f);
    switch_collector.shutdown(f.st);
    run_for(&f, 0.2);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_ALL), 0);
    teardown(&f);
}

/* A bare HTTP server on the loop that answers every request with one canned response,
 * for what the simulator never sends: oversized pages, redirects. */
struct raw_srv {
    struct ev_loop *loop;
    int lfd, cfd;
    uint16_t port;
    ev_io acc, rd, wr;
    char *resp;
    size_t resp_len, sent;
    char req[8192];
    size_t req_len;
    unsigned requests;
};

static void raw_close(struct raw_srv *r)
{
    if (r->cfd < 0)
        return;
    ev_io_stop(r->loop, &r->rd);
    ev_io_stop(r->loop, &r->wr);
    close(r->cfd);
    r->cfd = -1;
}

static void raw_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct raw_srv *r = w->data;
    ssize_t n = send(r->cfd, r->resp + r->sent, r->resp_len - r->sent, MSG_NOSIGNAL);
    if (n > 0)
        r->sent += (size_t)n;
    /* on an error, or when all is sent (Connection: close, like the switch) */
    if ((n < 0 && errno != EAGAIN) || r->sent == r->resp_len)
        raw_close(r);
}

static void raw_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct raw_srv *r = w->data;
    ssize_t n = recv(r->cfd, r->req + r->req_len, sizeof r->req - 1 - r->req_len, 0);
    if (n <= 0) {
        if (n == 0 || errno != EAGAIN)
            raw_close(r);
        return;
    }
    r->req_len += (size_t)n;
    r->req[r->req_len] = '\0';
    if (strstr(r->req, "\r\n\r\n")) {
        r->requests++;
        r->sent = 0;
        ev_io_stop(loop, &r->rd);
        ev_io_init(&r->wr, raw_write_cb, r->cfd, EV_WRITE);
        r->wr.data = r;
        ev_io_start(loop, &r->wr);
    }
}

static void raw_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct raw_srv *r = w->data;
    int fd = accept(r->lfd, NULL, NULL);
    if (fd < 0)
        return;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    raw_close(r);
    r->cfd = fd;
    r->req_len = 0;
    ev_io_init(&r->rd, raw_read_cb, fd, EV_READ);
    r->rd.data = r;
    ev_io_start(loop, &r->rd);
}

static void raw_start(struct raw_srv *r, struct ev_loop *loop, const char *head, size_t body_len)
{
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->cfd = -1;
    size_t hl = strlen(head);
    r->resp_len = hl + body_len;
    r->resp = malloc(r->resp_len);
    memcpy(r->resp, head, hl);
    memset(r->resp + hl, 'x', body_len);
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->lfd, 4), 0);
    assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&a, &al), 0);
    r->port = ntohs(a.sin_port);
    ev_io_init(&r->acc, raw_accept_cb, r->lfd, EV_READ);
    r->acc.data = r;
    ev_io_start(loop, &r->acc);
}

static void raw_stop(struct raw_srv *r)
{
    raw_close(r);
    ev_io_stop(r->loop, &r->acc);
    close(r->lfd);
    free(r->resp);
}

/* Creates the collector against a raw server instead of the simulator. */
static void create_raw(struct fix *f, struct raw_srv *r, const char *head, size_t body_len)
{
    char err[256] = "";
    memset(f, 0, sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    raw_start(r, f->loop, head, body_len);
    f->cfg.name = (char *)"sw1";
    f->cfg.kind = DEVICE_SWITCH;
    f->cfg.host = (char *)"127.0.0.1";
    f->cfg.port = r->port;
    f->cfg.interval_s = 15;
    f->cfg.timeout_s = 3;
    f->cfg.username = (char *)"admin";
    assert_int_equal(secret_set(&f->cfg.password, PASSWORD, strlen(PASSWORD)), 0);
    struct collector_env env = {.loop = f->loop, .done = on_done, .owner = f};
    f->st = switch_collector.create(&f->cfg, &env, err, sizeof err);
    if (!f->st)
        fail_msg("create: %s", err);
}

static void destroy_raw(struct fix *f, struct raw_srv *r)
{
    switch_collector.destroy(f->st);
    raw_stop(r);
    ev_loop_destroy(f->loop);
    secret_clear(&f->cfg.password);
}

/* A reply past 256 KiB is cut off: a protocol error, with or without Content-Length. */
static void test_reply_size_cap(void **state)
{
    struct fix f;
    struct raw_srv r;
    const size_t big = 300 * 1024;
    char head[160];
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             big);
    create_raw(&f, &r, head, big);
    expect_poll(&f, POLL_ERR_PROTOCOL);
    assert_int_equal(r.requests, 1);
    destroy_raw(&f, &r);

    create_raw(&f, &r, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n",
               big);
    expect_poll(&f, POLL_ERR_PROTOCOL);
    assert_non_null(strstr(f.detail, "larger than 256 KiB"));
    destroy_raw(&f, &r);
}

/* Redirects are not followed, and the requests carry a browser's headers. */
static void test_no_redirects_browser_headers(void **state)
{
    struct fix f;
    struct raw_srv r;
    create_raw(&f, &r,
               "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n",
               0);
    expect_poll(&f, POLL_ERR_PROTOCOL);
    /* GET / (not the login page: maybe logged in already), then the data GET; no third. */
    assert_int_equal(r.requests, 2);
    assert_int_equal(strncmp(r.req, "GET /PortStatisticsRpm.htm HTTP/1.1\r\n", 37), 0);
    char referer[80];
    snprintf(referer, sizeof referer, "\r\nReferer: http://127.0.0.1:%u/\r\n", (unsigned)r.port);
    assert_non_null(strstr(r.req, referer));
    assert_non_null(strstr(r.req, "\r\nUser-Agent: Mozilla/5.0 "));
    assert_non_null(strstr(r.req, "\r\nAccept: text/html,application/xhtml+xml,"));
    assert_non_null(strstr(r.req, "\r\nUpgrade-Insecure-Requests: 1\r\n"));
    assert_non_null(strstr(r.req, "\r\nConnection: close\r\n"));
    destroy_raw(&f, &r);
}

/* Under the real poller, with the daemon's own schedule, deadline, render and shutdown. */
static void test_under_daemon_core(void **state)
{
    struct fix f;
    struct daemon d;
    struct inventory inv;
    char yaml[512], err[256];
    const struct collector *const registry[] = {&switch_collector, NULL};
    setup_model(&f, "TL-SG108PE", PASSWORD);
    f.opts.description = "core-sw";
    sim_start(&f);
    snprintf(yaml, sizeof yaml,
             "defaults: { interval: 1s, timeout: 900ms }\n"
             "switches:\n"
             "  - { name: core, host: 127.0.0.1, port: %u, password: \"%s\" }\n",
             (unsigned)switch_sim_port(f.sim), PASSWORD);
    if (inventory_load_string(yaml, strlen(yaml), "test.yml", NULL, &inv, err, sizeof err) != 0)
        fail_msg("inventory: %s", err);
    if (daemon_init_with(&d, f.loop, &inv, registry, err, sizeof err) != 0)
        fail_msg("daemon_init_with: %s", err);
    daemon_start_polling(&d);
    run_for(&f, 2.6);
    const struct scrape_body *x = daemon_exposition(&d);
    assert_non_null(x);
    assert_non_null(strstr(x->text, "\ntplink_up{device=\"core\",kind=\"switch\"} 1\n"));
    assert_non_null(strstr(x->text, "model=\"TL-SG108PE\""));
    assert_non_null(strstr(x->text, "alias=\"core-sw\""));
    assert_non_null(strstr(x->text, "\ntplink_switch_port_link_up{device=\"core\",port=\"1\"} "));
    assert_non_null(strstr(x->text, "\ntplink_switch_poe_budget_watts{device=\"core\"} "));
    assert_non_null(strstr(x->text, "# TYPE tplink_switch_port_receive_packets_total counter\n"));
    assert_null(strstr(x->text, PASSWORD));
    /* Polls after the first cost one request each. */
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGON), 1);
    assert_true(reqs(&f, SWITCH_SIM_PAGE_PORT_STATISTICS) >= 2);
    daemon_shutdown_sessions(&d);
    run_for(&f, 0.3);
    assert_int_equal(reqs(&f, SWITCH_SIM_PAGE_LOGOUT), 1);
    assert_false(switch_sim_session_active(f.sim));
    daemon_free(&d);
    teardown(&f);
}

static void test_metric_table(void **state)
{
    const struct metric_table *t = &switch_collector.metrics;
    assert_string_equal(switch_collector.kind, "switch");
    assert_int_equal(switch_collector.device_kind, DEVICE_SWITCH);
    for (size_t i = 0; i < t->count; i++) {
        const struct metric_family *fam = &t->families[i];
        assert_non_null(fam->help);
        assert_int_equal(strncmp(fam->name, "tplink_switch_", 14), 0);
        size_t l = strlen(fam->name);
        bool total = l > 6 && strcmp(fam->name + l - 6, "_total") == 0;
        assert_int_equal(total, fam->type == METRIC_COUNTER);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(fam->name, t->families[j].name);
    }
}

int main(void)
{
    log_set_level(LOG_INFO);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metric_table),
        cmocka_unit_test(test_values_tl_sg108e),
        cmocka_unit_test(test_values_tl_sg105e),
        cmocka_unit_test(test_values_tl_sg1024de),
        cmocka_unit_test(test_values_tl_sg108pe),
        cmocka_unit_test(test_values_tl_sg1016pe),
        cmocka_unit_test(test_saved_real_pages),
        cmocka_unit_test(test_snapshot_json),
        cmocka_unit_test(test_sim_pages_option),
        cmocka_unit_test(test_steady_state_one_request),
        cmocka_unit_test_setup_teardown(test_wrong_password_backs_off, capture_stderr,
                                        restore_stderr),
        cmocka_unit_test(test_factory_reset_never_posts),
        cmocka_unit_test(test_users_full_backs_off),
        cmocka_unit_test(test_ignored_login),
        cmocka_unit_test(test_post_reset_verified),
        cmocka_unit_test(test_cookie_session),
        cmocka_unit_test(test_stolen_session_recovered),
        cmocka_unit_test(test_expired_session_recovered),
        cmocka_unit_test(test_counters_wrap_and_reboot),
        cmocka_unit_test(test_slow_switch_times_out),
        cmocka_unit_test(test_cancel_then_poll),
        cmocka_unit_test(test_connect_refused_and_http500),
        cmocka_unit_test(test_shutdown_logs_out),
        cmocka_unit_test(test_reply_size_cap),
        cmocka_unit_test(test_under_daemon_core),
        cmocka_unit_test(test_no_redirects_browser_headers),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

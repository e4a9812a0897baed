/* The simulated Easy Smart switch, driven over loopback HTTP: libcurl's easy interface runs
 * each request in a thread while the test thread runs the libev loop the simulator lives on
 * (every simulator call stays on the loop thread). Pages are checked with plain string
 * searches, independently of the project's page parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sim/switch_sim.h"

#define GOOD_LOGIN "username=admin&password=admin&logon=Login"
#define BODY_LIMIT (1 << 20)

struct fx {
    struct ev_loop *loop;
    ev_async wake;
    ev_timer tick;
};

struct http {
    /* request */
    struct ev_loop *loop;
    ev_async *wake;
    char url[256];
    const char *post;
    char cookie[96];
    /* reply */
    CURLcode rc;
    long status;
    char *body;
    size_t len;
    char set_cookie[96];
    bool max_age_600;
    bool conn_close;
    double t_start, t_end;
    atomic_bool done;
    pthread_t th;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nop_cb(struct ev_loop *loop, ev_async *w, int revents) {}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents) {}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    ev_async_init(&f->wake, nop_cb);
    ev_async_start(f->loop, &f->wake);
    /* keeps EVRUN_ONCE from sleeping long, so waits can check their deadlines */
    ev_timer_init(&f->tick, tick_cb, 0.02, 0.02);
    ev_timer_start(f->loop, &f->tick);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    ev_timer_stop(f->loop, &f->tick);
    ev_async_stop(f->loop, &f->wake);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

static size_t body_cb(char *data, size_t size, size_t n, void *arg)
{
    struct http *h = arg;
    size_t len = size * n;
    if (h->len + len > BODY_LIMIT)
        return 0;
    char *p = realloc(h->body, h->len + len + 1);
    if (!p)
        return 0;
    h->body = p;
    memcpy(h->body + h->len, data, len);
    h->len += len;
    h->body[h->len] = '\0';
    return len;
}

static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
    struct http *h = arg;
    size_t len = size * n;
    char line[256];
    size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, data, l);
    line[l] = '\0';
    if (strncasecmp(line, "Set-Cookie: H_P_SSID=", 21) == 0) {
        const char *v = line + 21;
        size_t vl = strcspn(v, ";\r\n");
        if (vl < sizeof h->set_cookie) {
            memcpy(h->set_cookie, v, vl);
            h->set_cookie[vl] = '\0';
        }
        h->max_age_600 = strstr(v, "; Max-Age=600") != NULL;
    }
    if (strncasecmp(line, "Connection: close", 17) == 0)
        h->conn_close = true;
    return len;
}

static void *http_thread(void *arg)
{
    struct http *h = arg;
    CURL *c = curl_easy_init();
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, h->url);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
        curl_easy_setopt(c, CURLOPT_REFERER, "http://127.0.0.1/");
        if (h->post)
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->post);
        char cookie[128];
        if (h->cookie[0]) {
            snprintf(cookie, sizeof cookie, "H_P_SSID=%s", h->cookie);
            curl_easy_setopt(c, CURLOPT_COOKIE, cookie);
        }
        h->rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
        curl_easy_cleanup(c);
    } else {
        h->rc = CURLE_FAILED_INIT;
    }
    h->t_end = mono();
    atomic_store(&h->done, true);
    ev_async_send(h->loop, h->wake);
    return NULL;
}

static void http_start(struct fx *f, struct http *h, struct switch_sim *sim, const char *path,
                       const char *post, const char *cookie)
{
    memset(h, 0, sizeof *h);
    h->loop = f->loop;
    h->wake = &f->wake;
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%u%s", (unsigned)switch_sim_port(sim), path);
    h->post = post;
    if (cookie)
        snprintf(h->cookie, sizeof h->cookie, "%s", cookie);
    atomic_init(&h->done, false);
    h->t_start = mono();
    assert_int_equal(pthread_create(&h->th, NULL, http_thread, h), 0);
}

static void http_wait(struct fx *f, struct http *h)
{
    double deadline = mono() + 40;
    while (!atomic_load(&h->done)) {
        ev_run(f->loop, EVRUN_ONCE);
        assert_true(mono() < deadline);
    }
    pthread_join(h->th, NULL);
}

static void http_free(struct http *h)
{
    free(h->body);
    h->body = NULL;
}

/* One request, start to end; the reply stays in h until http_free. */
static void http_do(struct fx *f, struct http *h, struct switch_sim *sim, const char *path,
                    const char *post, const char *cookie)
{
    http_start(f, h, sim, path, post, cookie);
    http_wait(f, h);
}

static void loop_sleep(struct fx *f, double seconds)
{
    double until = mono() + seconds;
    while (mono() < until)
        ev_run(f->loop, EVRUN_ONCE);
}

static struct switch_sim *start(struct fx *f, struct switch_sim_opts *o)
{
    char err[256] = "";
    if (!o->addr)
        o->addr = "127.0.0.1";
    struct switch_sim *sim = switch_sim_start(f->loop, o, err, sizeof err);
    if (!sim)
        fail_msg("switch_sim_start: %s", err);
    assert_int_not_equal(switch_sim_port(sim), 0);
    return sim;
}

static struct switch_sim *start_model(struct fx *f, const char *model)
{
    struct switch_sim_opts o = {.model = model, .seed = 1};
    return start(f, &o);
}

/* logonInfo[0] when the body is the login page, else -1. */
static int login_errtype(const struct http *h)
{
    static const char pre[] = "<script>\nvar logonInfo = new Array(\n";
    if (!h->body || strncmp(h->body, pre, sizeof pre - 1) != 0)
        return -1;
    return (int)strtol(h->body + sizeof pre - 1, NULL, 10);
}

static int login(struct fx *f, struct switch_sim *sim, const char *body, const char *cookie)
{
    struct http h;
    http_do(f, &h, sim, "/logon.cgi", body, cookie);
    assert_int_equal(h.rc, CURLE_OK);
    assert_int_equal(h.status, 200);
    assert_true(h.conn_close);
    int e = login_errtype(&h);
    http_free(&h);
    return e;
}

/* Values of "\nNAME:[a,b,…]" (a member of a page's data object); -1 when absent. */
static long js_array(const char *body, const char *name, uint64_t *out, size_t max)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s:[", name);
    const char *p = body ? strstr(body, key) : NULL;
    if (!p)
        return -1;
    p += strlen(key);
    size_t n = 0;
    while (*p && *p != ']') {
        char *end;
        uint64_t v = strtoull(p, &end, 10);
        if (end == p || n >= max)
            return -1;
        out[n++] = v;
        p = end;
        if (*p == ',')
            p++;
    }
    return (long)n;
}

static long js_int(const char *body, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "var %s = ", name);
    const char *p = body ? strstr(body, key) : NULL;
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* value in [lo, hi] on the uint32 circle (the counters wrap) */
static bool between32(uint32_t lo, uint32_t v, uint32_t hi)
{
    return (uint32_t)(v - lo) <= (uint32_t)(hi - lo);
}

static void test_login_and_data(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    struct http h;

    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
    assert_int_equal(h.rc, CURLE_OK);
    assert_int_equal(h.status, 200);
    assert_true(h.conn_close);
    assert_int_equal(login_errtype(&h), 0);
    assert_null(strstr(h.body, "all_info"));
    assert_non_null(strstr(h.body, "action=\"/logon.cgi\""));
    http_free(&h);

    http_do(f, &h, sim, "/", NULL, NULL);
    assert_int_equal(login_errtype(&h), 0);
    http_free(&h);

    assert_false(switch_sim_session_active(sim));
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    assert_true(switch_sim_session_active(sim));

    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
    assert_int_equal(h.status, 200);
    assert_true(h.conn_close);
    assert_int_equal(login_errtype(&h), -1);
    static const char first[] = "<!DOCTYPE html>\n<script>\nvar max_port_num = 8;\n";
    assert_true(strncmp(h.body, first, sizeof first - 1) == 0);
    http_free(&h);

    http_do(f, &h, sim, "/", NULL, NULL);
    assert_int_equal(login_errtype(&h), -1);
    assert_non_null(strstr(h.body, "var g_Lan=1,g_level=1,g_year=2016,g_title='TL-SG108E';"));
    assert_non_null(strstr(h.body, "src=\"Menu.htm\""));
    http_free(&h);
    switch_sim_stop(sim);
}

static void test_bad_password(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    assert_int_equal(login(f, sim, "username=admin&password=wrong1&logon=Login", NULL), 1);
    assert_int_equal(login(f, sim, "username=root&password=admin&logon=Login", NULL), 1);
    assert_int_equal(login(f, sim, "username=admin&logon=Login", NULL), 1);
    assert_int_equal(login(f, sim, "username=admin&password=admin%00&logon=Login", NULL), 1);
    assert_false(switch_sim_session_active(sim));
    struct http h;
    http_do(f, &h, sim, "/SystemInfoRpm.htm", NULL, NULL);
    assert_int_equal(login_errtype(&h), 0);
    http_free(&h);

    /* credentials of the options, URL-encoded on the wire */
    switch_sim_stop(sim);
    struct switch_sim_opts o = {.model = "TL-SG105E", .username = "ops", .password = "p@ss w+rd"};
    sim = start(f, &o);
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 1);
    assert_int_equal(login(f, sim, "username=ops&password=p%40ss+w%2Brd&logon=Login", NULL), 0);
    switch_sim_stop(sim);
}

/* GET / and return the H_P_SSID the simulator issued. */
static void get_cookie(struct fx *f, struct switch_sim *sim, char *out, size_t outlen)
{
    struct http h;
    http_do(f, &h, sim, "/", NULL, NULL);
    assert_int_equal(h.rc, CURLE_OK);
    assert_true(h.max_age_600);
    assert_true(strncmp(h.set_cookie, "tplink_", 7) == 0);
    snprintf(out, outlen, "%s", h.set_cookie);
    http_free(&h);
}

static bool data_ok(struct fx *f, struct switch_sim *sim, const char *cookie)
{
    struct http h;
    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, cookie);
    assert_int_equal(h.rc, CURLE_OK);
    bool ok = login_errtype(&h) == -1 && strstr(h.body, "var all_info = {") != NULL;
    http_free(&h);
    return ok;
}

static void test_sessions_full(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "TL-SG108E",
                                .session = SWITCH_SIM_SESSION_COOKIE,
                                .conflict = SWITCH_SIM_CONFLICT_FULL};
    struct switch_sim *sim = start(f, &o);
    char a[96], b[96];
    get_cookie(f, sim, a, sizeof a);
    get_cookie(f, sim, b, sizeof b);
    assert_string_not_equal(a, b);
    assert_int_equal(login(f, sim, GOOD_LOGIN, a), 0);
    assert_int_equal(login(f, sim, GOOD_LOGIN, b), 4);
    assert_true(data_ok(f, sim, a));
    assert_false(data_ok(f, sim, b));
    /* the holder may log in again; a wrong password is still errType 1 */
    assert_int_equal(login(f, sim, GOOD_LOGIN, a), 0);
    assert_int_equal(login(f, sim, "username=admin&password=nope12&logon=Login", b), 1);
    switch_sim_stop(sim);
}

static void test_login_evicts_holder(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "TL-SG108E", .session = SWITCH_SIM_SESSION_COOKIE};
    struct switch_sim *sim = start(f, &o);
    char a[96], b[96];
    get_cookie(f, sim, a, sizeof a);
    get_cookie(f, sim, b, sizeof b);
    assert_int_equal(login(f, sim, GOOD_LOGIN, a), 0);
    assert_true(data_ok(f, sim, a));
    assert_int_equal(login(f, sim, GOOD_LOGIN, b), 0);
    assert_false(data_ok(f, sim, a));
    assert_true(data_ok(f, sim, b));
    switch_sim_stop(sim);
}

static void test_session_idle_timeout(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "TL-SG108E", .session_timeout_s = 1.0};
    struct switch_sim *sim = start(f, &o);
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    /* each request restarts the idle timer */
    for (int i = 0; i < 3; i++) {
        loop_sleep(f, 0.5);
        assert_true(data_ok(f, sim, NULL));
    }
    loop_sleep(f, 1.4);
    assert_false(switch_sim_session_active(sim));
    assert_false(data_ok(f, sim, NULL));
    switch_sim_stop(sim);
}

static void test_port_statistics_match_snapshot(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    struct switch_sim_snapshot s0, s1;
    switch_sim_snapshot(sim, &s0);
    struct http h;
    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
    switch_sim_snapshot(sim, &s1);
    assert_int_equal(s1.n_ports, 8);
    assert_int_equal(js_int(h.body, "max_port_num"), 8);
    assert_int_equal(js_int(h.body, "port_middle_num "), 16);
    uint64_t st[64], ls[64], pk[256];
    assert_int_equal(js_array(h.body, "state", st, 64), 10);
    assert_int_equal(js_array(h.body, "link_status", ls, 64), 10);
    assert_int_equal(js_array(h.body, "pkts", pk, 256), 34);
    assert_true(st[8] == 0 && st[9] == 0 && ls[8] == 0 && ls[9] == 0);
    assert_true(pk[32] == 0 && pk[33] == 0);
    unsigned up = 0;
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(st[i], s1.ports[i].enabled);
        assert_int_equal(ls[i], s1.ports[i].link);
        up += s1.ports[i].link != 0;
        for (int k = 0; k < 4; k++) {
            assert_true(pk[4 * i + k] <= UINT32_MAX);
            assert_true(
                between32(s0.ports[i].pkts[k], (uint32_t)pk[4 * i + k], s1.ports[i].pkts[k]));
        }
    }
    assert_true(up >= 1);
    assert_non_null(strstr(h.body, "var tip = \"\";\n</script>\n<html>"));
    http_free(&h);
    switch_sim_stop(sim);
}

/* tmp_info / tmp_info2 strings: 6 numbers per port, split at port_middle_num. */
static long tmp_info(const char *body, const char *name, uint64_t *out, size_t max)
{
    char key[64];
    snprintf(key, sizeof key, "var %s = \"", name);
    const char *p = strstr(body, key);
    if (!p)
        return -1;
    p += strlen(key);
    size_t n = 0;
    while (*p && *p != '"') {
        char *end;
        uint64_t v = strtoull(p, &end, 10);
        if (end == p || n >= max)
            return -1;
        out[n++] = v;
        p = end;
        while (*p == ' ')
            p++;
    }
    return (long)n;
}

static void test_tmp_info_format(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG1024DE");
    assert_int_equal(switch_sim_port_count(sim), 24);
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    struct switch_sim_snapshot s0, s1;
    switch_sim_snapshot(sim, &s0);
    struct http h;
    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
    switch_sim_snapshot(sim, &s1);
    assert_null(strstr(h.body, "all_info"));
    assert_int_equal(js_int(h.body, "max_port_num"), 24);
    uint64_t v[200];
    assert_int_equal(tmp_info(h.body, "tmp_info", v, 200), 16 * 6);
    assert_int_equal(tmp_info(h.body, "tmp_info2", v + 96, 104), 8 * 6);
    for (unsigned i = 0; i < 24; i++) {
        assert_int_equal(v[6 * i], s1.ports[i].enabled);
        assert_int_equal(v[6 * i + 1], s1.ports[i].link);
        for (int k = 0; k < 4; k++)
            assert_true(
                between32(s0.ports[i].pkts[k], (uint32_t)v[6 * i + 2 + k], s1.ports[i].pkts[k]));
    }
    http_free(&h);
    switch_sim_stop(sim);
}

static void test_every_model(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *model;
        unsigned ports, poe;
        const char *hardware;
    } want[] = {
        {"TL-SG105E", 5, 0, "\"TL-SG105E 5.0\""},   {"TL-SG108E", 8, 0, "\"TL-SG108E 3.0\""},
        {"TL-SG1016DE", 16, 0, "\"TL-SG1016DE "},   {"TL-SG1024DE", 24, 0, "\"TL-SG1024DE "},
        {"TL-SG108PE", 8, 4, "\"TL-SG108PE 2.0\""}, {"TL-SG1016PE", 16, 8, "\"TL-SG1016PE 3.0\""},
    };
    size_t n_models = 0;
    while (switch_sim_models[n_models])
        n_models++;
    assert_int_equal(n_models, sizeof want / sizeof want[0]);
    for (size_t m = 0; m < n_models; m++) {
        assert_string_equal(switch_sim_models[m], want[m].model);
        struct switch_sim *sim = start_model(f, switch_sim_models[m]);
        assert_int_equal(switch_sim_port_count(sim), want[m].ports);
        assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
        struct http h;
        http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
        assert_int_equal(js_int(h.body, "max_port_num"), (long)want[m].ports);
        uint64_t pk[256];
        if (want[m].ports != 24)
            assert_int_equal(js_array(h.body, "pkts", pk, 256), 4 * want[m].ports + 2);
        http_free(&h);
        http_do(f, &h, sim, "/SystemInfoRpm.htm", NULL, NULL);
        assert_non_null(strstr(h.body, "hardwareStr:[\n"));
        assert_non_null(strstr(h.body, want[m].hardware));
        http_free(&h);
        http_do(f, &h, sim, "/PoeConfigRpm.htm", NULL, NULL);
        if (want[m].poe) {
            assert_int_equal(h.rc, CURLE_OK);
            assert_int_equal(js_int(h.body, "poe_port_num"), (long)want[m].poe);
        } else {
            assert_int_equal(h.rc, CURLE_GOT_NOTHING);
        }
        http_free(&h);
        switch_sim_stop(sim);
    }
}

static void test_system_info(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "tl-sg108e", .description = "rack-1_sw"};
    struct switch_sim *sim = start(f, &o);
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    struct http h;
    http_do(f, &h, sim, "/SystemInfoRpm.htm", NULL, NULL);
    static const char first[] = "<!DOCTYPE html>\n<script>\nvar info_ds = {\ndescriStr:[\n"
                                "\"rack-1_sw\"\n],\nmacStr:[\n\"B0:4E:26:";
    assert_true(strncmp(h.body, first, sizeof first - 1) == 0);
    assert_non_null(strstr(h.body, "firmwareStr:[\n\"1.0.0 Build 20160722 Rel.50167\"\n],"));
    assert_non_null(strstr(h.body, "hardwareStr:[\n\"TL-SG108E 3.0\"\n]\n};\nvar tip = \"\";"));
    assert_non_null(strstr(h.body, "ipStr:[\n\"127.0.0.1\"\n],"));
    http_free(&h);
    switch_sim_stop(sim);

    /* user text is escaped inside the JS string */
    o.description = "a\"b\\c</script>";
    sim = start(f, &o);
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    http_do(f, &h, sim, "/SystemInfoRpm.htm", NULL, NULL);
    assert_non_null(strstr(h.body, "descriStr:[\n\"a\\\"b\\\\c\\x3c/script>\"\n]"));
    http_free(&h);
    switch_sim_stop(sim);
}

static void test_port_setting(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    assert_int_equal(switch_sim_port_enable(sim, 3, false), 0);
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    struct switch_sim_snapshot s;
    switch_sim_snapshot(sim, &s);
    struct http h;
    http_do(f, &h, sim, "/PortSettingRpm.htm", NULL, NULL);
    uint64_t st[16], act[16], cfg[16], trunk[16];
    assert_int_equal(js_array(h.body, "state", st, 16), 10);
    assert_int_equal(js_array(h.body, "spd_act", act, 16), 10);
    assert_int_equal(js_array(h.body, "spd_cfg", cfg, 16), 10);
    assert_int_equal(js_array(h.body, "trunk_info", trunk, 16), 10);
    assert_int_equal(st[2], 0);
    assert_int_equal(act[2], 0);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(st[i], s.ports[i].enabled);
        assert_int_equal(act[i], s.ports[i].link);
        assert_int_equal(cfg[i], 1);
        assert_int_equal(trunk[i], 0);
    }
    http_free(&h);
    switch_sim_stop(sim);
}

static void test_poe_page(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG1016PE");
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    struct switch_sim_snapshot s;
    switch_sim_snapshot(sim, &s);
    assert_int_equal(s.n_poe_ports, 8);
    struct http h;
    http_do(f, &h, sim, "/PoeConfigRpm.htm", NULL, NULL);
    assert_int_equal(js_int(h.body, "poe_port_num"), 8);
    uint64_t power[16], status[16], volt[16], cur[16], pdclass[16];
    assert_int_equal(js_array(h.body, "pdclass", pdclass, 16), 8);
    assert_int_equal(js_array(h.body, "power", power, 16), 8);
    assert_int_equal(js_array(h.body, "powerstatus", status, 16), 8);
    assert_int_equal(js_array(h.body, "voltage", volt, 16), 8);
    assert_int_equal(js_array(h.body, "current", cur, 16), 8);
    uint64_t sum = 0;
    unsigned powered = 0;
    for (unsigned i = 0; i < 8; i++) {
        uint64_t want = s.ports[i].poe_power_dw;
        assert_true(power[i] + 1 >= want && power[i] <= want + 1); /* power drifts slowly */
        assert_int_equal(status[i], power[i] ? 2 : 0);
        if (power[i]) {
            powered++;
            assert_true(power[i] < pdclass[i]); /* within the class's maximum */
            /* P = U * I within rounding: power/10 W = voltage/10 V * current mA / 1000 */
            double w = (double)volt[i] / 10.0 * (double)cur[i] / 1000.0;
            assert_true(w > (double)power[i] / 10.0 - 0.1 && w < (double)power[i] / 10.0 + 0.1);
        }
        sum += power[i];
    }
    assert_true(powered >= 1);
    char want[64];
    snprintf(want, sizeof want, "system_power_consumption:%llu,", (unsigned long long)sum);
    assert_non_null(strstr(h.body, want));
    assert_non_null(strstr(h.body, "system_power_limit:1500,"));
    http_free(&h);

    /* a link going down removes the powered device's draw */
    for (unsigned i = 0; i < 8; i++)
        if (s.ports[i].poe_power_dw)
            assert_int_equal(switch_sim_link(sim, i + 1, 0), 0);
    switch_sim_snapshot(sim, &s);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(s.ports[i].poe_power_dw, 0);
    switch_sim_stop(sim);
}

static void test_counters_wrap(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "TL-SG108E", .wrap_seconds = 2.0, .seed = 7};
    struct switch_sim *sim = start(f, &o);
    struct switch_sim_snapshot s0, s1;
    switch_sim_snapshot(sim, &s0);
    unsigned up = 0;
    for (unsigned i = 0; i < 8; i++) {
        if (!s0.ports[i].link)
            continue;
        up++;
        assert_true(s0.ports[i].pkts[SWITCH_SIM_TX_GOOD] > 4294967295u - 3000000u);
        assert_true(s0.ports[i].pkts[SWITCH_SIM_RX_GOOD] > 4294967295u - 3000000u);
    }
    assert_true(up >= 1);
    loop_sleep(f, 2.0);
    switch_sim_snapshot(sim, &s1);
    double dt = s1.time - s0.time;
    assert_true(dt >= 1.9);
    for (unsigned i = 0; i < 8; i++) {
        if (!s0.ports[i].link)
            continue;
        for (int k = 0; k < 4; k += 2) {
            uint64_t d = s1.ports[i].total[k] - s0.ports[i].total[k];
            assert_true(s1.ports[i].pkts[k] < s0.ports[i].pkts[k]); /* wrapped */
            assert_int_equal((uint32_t)(s1.ports[i].pkts[k] - s0.ports[i].pkts[k]), (uint32_t)d);
            /* never faster than 1000Full carries minimum-size frames */
            assert_true((double)d / dt <= 1e9 / (84.0 * 8.0));
        }
    }
    /* the page shows the wrapped values */
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    struct http h;
    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
    uint64_t pk[64];
    assert_int_equal(js_array(h.body, "pkts", pk, 64), 34);
    assert_true(pk[0] < s0.ports[0].pkts[0]);
    http_free(&h);
    switch_sim_stop(sim);
}

static void test_reboot_zeroes(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    loop_sleep(f, 0.2);
    struct switch_sim_snapshot s0, s1, s2;
    switch_sim_snapshot(sim, &s0);
    assert_true(s0.ports[0].total[SWITCH_SIM_TX_GOOD] > 0); /* port 1 is always up */
    switch_sim_reboot(sim);
    switch_sim_snapshot(sim, &s1);
    for (unsigned i = 0; i < 8; i++)
        for (int k = 0; k < 4; k++) {
            assert_int_equal(s1.ports[i].pkts[k], 0);
            assert_true(s1.ports[i].total[k] >= s0.ports[i].total[k]);
        }
    assert_false(switch_sim_session_active(sim));
    assert_false(data_ok(f, sim, NULL));
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    loop_sleep(f, 0.2);
    struct http h;
    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
    switch_sim_snapshot(sim, &s2);
    uint64_t pk[64];
    assert_int_equal(js_array(h.body, "pkts", pk, 64), 34);
    assert_true(pk[0] > 0);
    for (unsigned i = 0; i < 8; i++)
        for (int k = 0; k < 4; k++) {
            assert_true(pk[4 * i + k] <= s2.ports[i].pkts[k]);
            assert_int_equal(s2.ports[i].pkts[k], s2.ports[i].total[k] - s1.ports[i].total[k]);
        }
    http_free(&h);
    switch_sim_stop(sim);
}

static void test_unknown_page_closes(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    static const char *const paths[] = {"/portstatisticsrpm.htm", "/Nope.htm",
                                        "/port_statistics_set.cgi?clear=Clear", "/PoeConfigRpm.htm",
                                        "/logout.htm"};
    struct http h;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        http_do(f, &h, sim, paths[i], NULL, NULL);
        assert_int_equal(h.rc, CURLE_GOT_NOTHING);
        assert_int_equal(h.status, 0);
        http_free(&h);
    }
    /* a POST anywhere but logon.cgi */
    http_do(f, &h, sim, "/PortStatisticsRpm.htm", "clear=Clear", NULL);
    assert_int_equal(h.rc, CURLE_GOT_NOTHING);
    http_free(&h);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_OTHER), 6);
    assert_true(switch_sim_session_active(sim));
    assert_true(data_ok(f, sim, NULL));
    switch_sim_stop(sim);
}

static void test_cookie_mode(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "TL-SG108E", .session = SWITCH_SIM_SESSION_COOKIE};
    struct switch_sim *sim = start(f, &o);
    /* a login without the cookie from a prior GET is silently ignored */
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    assert_false(switch_sim_session_active(sim));
    assert_int_equal(login(f, sim, GOOD_LOGIN, "tplink_made_up"), 0);
    assert_false(switch_sim_session_active(sim));

    char c[96];
    get_cookie(f, sim, c, sizeof c);
    assert_false(data_ok(f, sim, c));
    assert_int_equal(login(f, sim, GOOD_LOGIN, c), 0);
    assert_true(switch_sim_session_active(sim));
    assert_true(data_ok(f, sim, c));
    assert_false(data_ok(f, sim, NULL));
    assert_false(data_ok(f, sim, "tplink_made_up"));

    /* a GET that carries the cookie keeps it */
    struct http h;
    http_do(f, &h, sim, "/", NULL, c);
    assert_string_equal(h.set_cookie, c);
    assert_int_equal(login_errtype(&h), -1); /* frameset */
    http_free(&h);
    switch_sim_stop(sim);
}

static void test_request_counter(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108PE");
    struct http h;
    const char *gets[] = {"/",
                          "/",
                          "/PortStatisticsRpm.htm",
                          "/SystemInfoRpm.htm",
                          "/PortSettingRpm.htm",
                          "/PoeConfigRpm.htm",
                          "/x.htm"};
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
        http_do(f, &h, sim, gets[i], NULL, NULL);
        http_free(&h);
    }
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    http_do(f, &h, sim, "/Logout.htm", NULL, NULL);
    http_free(&h);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_ALL), 9);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_ROOT), 2);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_LOGON), 1);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_LOGOUT), 1);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_PORT_STATISTICS), 1);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_SYSTEM_INFO), 1);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_PORT_SETTING), 1);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_POE), 1);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_OTHER), 1);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_COUNT), 0);
    switch_sim_stop(sim);
}

static void test_logout(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    assert_true(data_ok(f, sim, NULL));
    struct http h;
    http_do(f, &h, sim, "/Logout.htm", NULL, NULL);
    assert_int_equal(h.status, 200);
    assert_int_equal(login_errtype(&h), 0);
    http_free(&h);
    assert_false(switch_sim_session_active(sim));
    assert_false(data_ok(f, sim, NULL));
    switch_sim_stop(sim);
}

static void test_slow_fault_does_not_block_loop(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts oa = {.model = "TL-SG108E", .slow_seconds = 1.5};
    struct switch_sim *a = start(f, &oa);
    struct switch_sim *b = start_model(f, "TL-SG105E");
    switch_sim_set_fault(a, SWITCH_SIM_FAULT_SLOW);
    struct http ha, hb;
    http_start(f, &ha, a, "/", NULL, NULL);
    loop_sleep(f, 0.2);
    assert_false(atomic_load(&ha.done));
    http_do(f, &hb, b, "/", NULL, NULL);
    assert_int_equal(hb.rc, CURLE_OK);
    assert_true(hb.t_end - hb.t_start < 1.0);
    assert_false(atomic_load(&ha.done));
    http_wait(f, &ha);
    assert_int_equal(ha.rc, CURLE_OK);
    assert_int_equal(ha.status, 200);
    assert_int_equal(login_errtype(&ha), 0);
    assert_true(ha.t_end - ha.t_start >= 1.4);
    http_free(&ha);
    http_free(&hb);

    /* the real switch serves one connection at a time: the second waits for the first */
    struct http h1, h2;
    http_start(f, &h1, a, "/", NULL, NULL);
    loop_sleep(f, 0.2);
    http_start(f, &h2, a, "/SystemInfoRpm.htm", NULL, NULL);
    http_wait(f, &h1);
    http_wait(f, &h2);
    assert_int_equal(h1.rc, CURLE_OK);
    assert_int_equal(h2.rc, CURLE_OK);
    assert_true(h2.t_end - h1.t_end >= 1.3);
    http_free(&h1);
    http_free(&h2);

    switch_sim_set_fault(a, SWITCH_SIM_FAULT_NONE);
    http_do(f, &ha, a, "/", NULL, NULL);
    assert_true(ha.t_end - ha.t_start < 1.0);
    http_free(&ha);
    switch_sim_stop(a);
    switch_sim_stop(b);
}

static void test_stop_with_pending_request(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "TL-SG108E", .slow_seconds = 20};
    struct switch_sim *sim = start(f, &o);
    switch_sim_set_fault(sim, SWITCH_SIM_FAULT_SLOW);
    struct http h;
    http_start(f, &h, sim, "/", NULL, NULL);
    loop_sleep(f, 0.3);
    assert_int_equal(switch_sim_requests(sim, SWITCH_SIM_PAGE_ROOT), 1);
    switch_sim_stop(sim);
    http_wait(f, &h);
    assert_int_not_equal(h.rc, CURLE_OK);
    assert_true(h.t_end - h.t_start < 10);
    http_free(&h);
}

static void test_faults(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "TL-SG108E", .unauth_status = 401};
    struct switch_sim *sim = start(f, &o);
    struct http h;

    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
    assert_int_equal(h.status, 401);
    assert_int_equal(login_errtype(&h), 0);
    http_free(&h);
    http_do(f, &h, sim, "/", NULL, NULL);
    assert_int_equal(h.status, 200); /* only data pages get the configured status */
    http_free(&h);

    switch_sim_set_fault(sim, SWITCH_SIM_FAULT_HTTP500);
    http_do(f, &h, sim, "/", NULL, NULL);
    assert_int_equal(h.status, 500);
    assert_true(h.conn_close);
    http_free(&h);

    switch_sim_set_fault(sim, SWITCH_SIM_FAULT_ENDLESS_LOGIN);
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    assert_false(switch_sim_session_active(sim));
    assert_false(data_ok(f, sim, NULL));

    switch_sim_set_fault(sim, SWITCH_SIM_FAULT_ERRTYPE6);
    http_do(f, &h, sim, "/", NULL, NULL);
    assert_int_equal(login_errtype(&h), 6);
    http_free(&h);

    switch_sim_set_fault(sim, SWITCH_SIM_FAULT_USERS_FULL);
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 3);
    assert_int_equal(login(f, sim, "username=admin&password=bad123&logon=Login", NULL), 1);
    assert_false(switch_sim_session_active(sim));

    /* the login takes effect although no reply comes back */
    switch_sim_set_fault(sim, SWITCH_SIM_FAULT_POST_RESET);
    http_do(f, &h, sim, "/logon.cgi", GOOD_LOGIN, NULL);
    assert_int_equal(h.rc, CURLE_GOT_NOTHING);
    http_free(&h);
    assert_true(switch_sim_session_active(sim));
    assert_true(data_ok(f, sim, NULL));

    switch_sim_set_fault(sim, SWITCH_SIM_FAULT_NONE);
    assert_true(data_ok(f, sim, NULL));

    for (int i = 0; i < SWITCH_SIM_FAULT_COUNT; i++) {
        enum switch_sim_fault back;
        assert_int_equal(
            switch_sim_fault_parse(switch_sim_fault_name((enum switch_sim_fault)i), &back), 0);
        assert_int_equal(back, i);
    }
    enum switch_sim_fault x;
    assert_int_equal(switch_sim_fault_parse("SLOW", &x), -1);
    switch_sim_stop(sim);
}

static void test_body_limit(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    char *big = malloc(4096);
    snprintf(big, 4096, "%s&pad=", GOOD_LOGIN);
    size_t n = strlen(big);
    memset(big + n, 'x', 4095 - n);
    big[4095] = '\0';
    struct http h;
    http_do(f, &h, sim, "/logon.cgi", big, NULL);
    assert_int_not_equal(h.rc, CURLE_OK);
    assert_int_equal(h.status, 0);
    http_free(&h);
    free(big);
    assert_false(switch_sim_session_active(sim));
    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    switch_sim_stop(sim);
}

static void test_link_flap(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    struct switch_sim_snapshot s0, s1, s2;
    assert_int_equal(switch_sim_link(sim, 1, 0), 0);
    switch_sim_snapshot(sim, &s0);
    assert_int_equal(s0.ports[0].link, 0);
    loop_sleep(f, 0.3);
    switch_sim_snapshot(sim, &s1);
    for (int k = 0; k < 4; k++)
        assert_int_equal(s1.ports[0].total[k], s0.ports[0].total[k]);
    assert_int_equal(switch_sim_link(sim, 1, 5), 0);
    loop_sleep(f, 0.3);
    switch_sim_snapshot(sim, &s2);
    assert_int_equal(s2.ports[0].link, 5);
    uint64_t d = s2.ports[0].total[SWITCH_SIM_TX_GOOD] - s1.ports[0].total[SWITCH_SIM_TX_GOOD];
    assert_true(d > 0);
    assert_true((double)d / (s2.time - s1.time) <= 100e6 / (84.0 * 8.0));

    assert_int_equal(login(f, sim, GOOD_LOGIN, NULL), 0);
    assert_int_equal(switch_sim_port_enable(sim, 2, false), 0);
    struct http h;
    http_do(f, &h, sim, "/PortStatisticsRpm.htm", NULL, NULL);
    uint64_t st[16], ls[16];
    assert_int_equal(js_array(h.body, "state", st, 16), 10);
    assert_int_equal(js_array(h.body, "link_status", ls, 16), 10);
    assert_int_equal(ls[0], 5);
    assert_int_equal(st[1], 0);
    assert_int_equal(ls[1], 0);
    http_free(&h);
    assert_int_equal(switch_sim_link(sim, 2, 6), -1); /* disabled */
    assert_int_equal(switch_sim_port_enable(sim, 2, true), 0);
    switch_sim_snapshot(sim, &s0);
    assert_true(s0.ports[1].enabled);
    assert_int_not_equal(s0.ports[1].link, 0);

    assert_int_equal(switch_sim_link(sim, 0, 6), -1);
    assert_int_equal(switch_sim_link(sim, 9, 6), -1);
    assert_int_equal(switch_sim_link(sim, 1, 1), -1);
    assert_int_equal(switch_sim_link(sim, 1, 7), -1);
    assert_int_equal(switch_sim_port_enable(sim, 9, true), -1);
    switch_sim_stop(sim);
}

/* A connection that closes without a request must not leave the one-connection switch
 * deaf: the next client is served. */
static void test_empty_connection(void **state)
{
    struct fx *f = *state;
    struct switch_sim *sim = start_model(f, "TL-SG108E");
    for (int i = 0; i < 3; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(switch_sim_port(sim))};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        loop_sleep(f, 0.1);
        close(fd);
    }
    struct http h;
    http_do(f, &h, sim, "/", NULL, NULL);
    assert_int_equal(h.rc, CURLE_OK);
    assert_int_equal(login_errtype(&h), 0);
    assert_true(h.t_end - h.t_start < 2.0);
    http_free(&h);
    switch_sim_stop(sim);
}

static void test_seeded_layout(void **state)
{
    struct fx *f = *state;
    struct switch_sim_opts o = {.model = "TL-SG1016DE", .seed = 42};
    struct switch_sim *a = start(f, &o), *b = start(f, &o);
    struct switch_sim_snapshot sa, sb;
    switch_sim_snapshot(a, &sa);
    switch_sim_snapshot(b, &sb);
    for (unsigned i = 0; i < 16; i++) {
        assert_int_equal(sa.ports[i].enabled, sb.ports[i].enabled);
        assert_int_equal(sa.ports[i].link, sb.ports[i].link);
        for (int k = 0; k < 4; k++)
            assert_int_equal(sa.ports[i].pkts[k], sb.ports[i].pkts[k]);
    }
    switch_sim_stop(a);
    switch_sim_stop(b);
}

static void test_start_errors(void **state)
{
    struct fx *f = *state;
    char err[256];
    struct switch_sim_opts o = {.model = "TL-SG999X"};
    assert_null(switch_sim_start(f->loop, &o, err, sizeof err));
    assert_non_null(strstr(err, "unknown model"));

    o.model = "TL-SG108E";
    o.addr = "192.0.2.1";
    assert_null(switch_sim_start(f->loop, &o, err, sizeof err));
    assert_non_null(strstr(err, "loopback"));

    o.addr = "localhost";
    assert_null(switch_sim_start(f->loop, &o, err, sizeof err));
    assert_non_null(strstr(err, "address literal"));

    o.addr = "127.0.0.1";
    o.description = "this description is far too long for the switch";
    assert_null(switch_sim_start(f->loop, &o, err, sizeof err));
    o.description = NULL;
    o.password = "0123456789abcdef0123456789abcdef0";
    assert_null(switch_sim_start(f->loop, &o, err, sizeof err));
    assert_null(strstr(err, "0123456789abcdef"));
    o.password = NULL;
    o.wrap_seconds = -1;
    assert_null(switch_sim_start(f->loop, &o, err, sizeof err));
    o.wrap_seconds = 0;

    struct switch_sim *a = start(f, &o);
    o.port = switch_sim_port(a);
    err[0] = '\0';
    assert_null(switch_sim_start(f->loop, &o, err, sizeof err));
    assert_non_null(strstr(err, "cannot listen"));
    switch_sim_stop(a);
    switch_sim_stop(NULL);
}

static void test_spec_parse(void **state)
{
    struct switch_sim_spec s;
    char err[200];
    assert_int_equal(
        switch_sim_spec_parse("switch:TL-SG108E@127.0.0.1:8081,user=u1,password=s3cret1,"
                              "session=cookie,conflict=full,wrap=30,timeout=5,"
                              "seed=99,description=core,fault=slow,slow=2.5,"
                              "connections=2,unauth=401",
                              &s, err, sizeof err),
        0);
    assert_string_equal(s.opts.model, "TL-SG108E");
    assert_string_equal(s.opts.addr, "127.0.0.1");
    assert_int_equal(s.opts.port, 8081);
    assert_string_equal(s.opts.username, "u1");
    assert_string_equal(s.opts.password, "s3cret1");
    assert_int_equal(s.opts.session, SWITCH_SIM_SESSION_COOKIE);
    assert_int_equal(s.opts.conflict, SWITCH_SIM_CONFLICT_FULL);
    assert_true(s.opts.wrap_seconds == 30.0);
    assert_true(s.opts.session_timeout_s == 5.0);
    assert_true(s.opts.slow_seconds == 2.5);
    assert_int_equal(s.opts.seed, 99);
    assert_string_equal(s.opts.description, "core");
    assert_int_equal(s.fault, SWITCH_SIM_FAULT_SLOW);
    assert_int_equal(s.opts.max_connections, 2);
    assert_int_equal(s.opts.unauth_status, 401);

    assert_int_equal(switch_sim_spec_parse("TL-SG105E@[::1]:0", &s, err, sizeof err), 0);
    assert_string_equal(s.opts.addr, "::1");
    assert_int_equal(s.opts.port, 0);
    assert_null(s.opts.username);

    static const char *const bad[] = {
        "TL-XX@127.0.0.1:1",
        "TL-SG108E@127.0.0.1",
        "TL-SG108E127.0.0.1:1",
        "TL-SG108E@127.0.0.1:70000",
        "TL-SG108E@127.0.0.1:-1",
        "TL-SG108E@[::1:80",
        "TL-SG108E@127.0.0.1:1,x=1",
        "TL-SG108E@127.0.0.1:1,wrap",
        "TL-SG108E@127.0.0.1:1,wrap=-3",
        "TL-SG108E@127.0.0.1:1,session=ssh",
        "TL-SG108E@127.0.0.1:1,fault=boom",
        "TL-SG108E@127.0.0.1:1,unauth=42",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(switch_sim_spec_parse(bad[i], &s, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(switch_sim_spec_parse("TL-SG108E@127.0.0.1:1,password=hunter22,session=x", &s,
                                           err, sizeof err),
                     -1);
    assert_null(strstr(err, "hunter22"));
    char longspec[700];
    memset(longspec, 'a', sizeof longspec - 1);
    longspec[sizeof longspec - 1] = '\0';
    assert_int_equal(switch_sim_spec_parse(longspec, &s, err, sizeof err), -1);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_login_and_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_evicts_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_statistics_match_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmp_info_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_setting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poe_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reboot_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_page_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cookie_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_fault_does_not_block_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_with_pending_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_flap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seeded_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
        cmocka_unit_test(test_spec_parse),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

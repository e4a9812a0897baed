/* The KLAP transport against the KLAP device simulator, both on one libev loop over
 * 127.0.0.1: handshakes in both hash versions, the credential fallbacks, session reuse and
 * renewal (403, TIMEOUT cookie), cookies, errors without secrets; and SMART JSON carried
 * through it to the SMART plug simulator. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "collectors/kasa/http_transport.h"
#include "collectors/kasa/kasa_http.h"
#include "collectors/kasa/smart_plug.h"
#include "daemon/log.h"
#include "sim/klap_sim.h"
#include "sim/sim.h"
#include "sim/smart_sim.h"

#define USER "owner@example.com"
#define PASS "Corr3ct-Horse-Battery"
#define WRONG "Wr0ng-Pa55word-Here"
#define REQ "{\"system\":{\"get_sysinfo\":{}}}"

struct fix {
    struct ev_loop *loop;
    struct klap_sim *sim;
    struct kasa_transport *t;
    unsigned handled;
    /* the last answer */
    unsigned answers;
    enum poll_status st;
    char body[8192];
    char detail[512];
};

/* The IOT side for these tests: echo what arrived, so the round trip is checked. */
static char *echo_handler(void *ctx, const char *json, size_t len)
{
    struct fix *f = ctx;
    f->handled++;
    json_t *j = json_pack("{s:s%, s:i}", "echo", json, len, "n", (int)f->handled);
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return out;
}

static void on_answer(void *ctx, enum poll_status st, const char *body, size_t len,
                      const char *detail)
{
    struct fix *f = ctx;
    f->answers++;
    f->st = st;
    snprintf(f->body, sizeof f->body, "%.*s", body ? (int)len : 0, body ? body : "");
    snprintf(f->detail, sizeof f->detail, "%s", detail ? detail : "");
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    *(bool *)w->data = true;
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

/* One request through the transport; asserts exactly one answer within 5 s. */
static enum poll_status ask(struct fix *f, const char *json)
{
    unsigned before = f->answers;
    bool expired = false;
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, 5.0, 0.);
    guard.data = &expired;
    ev_timer_start(f->loop, &guard);
    kasa_klap_transport.request(f->t, json, on_answer, f);
    while (f->answers == before && !expired)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &guard);
    assert_int_equal(f->answers, before + 1);
    return f->st;
}

struct sim_setup {
    int version;
    const char *user, *pass;
    unsigned timeout_s;
    klap_sim_handler handler;
    void *handler_ctx;
};

static void start(struct fix *f, const struct sim_setup *s, int client_version, const char *cuser,
                  const char *cpass)
{
    memset(f, 0, sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    struct klap_sim_opts o = {
        .kind = KLAP_SIM_KLAP,
        .version = s->version,
        .username = s->user,
        .password = s->pass,
        .session_timeout_s = s->timeout_s,
        .handler = s->handler ? s->handler : echo_handler,
        .handler_ctx = s->handler ? s->handler_ctx : f,
    };
    char err[256];
    f->sim = klap_sim_start(f->loop, &o, err, sizeof err);
    if (!f->sim)
        fail_msg("%s", err);
    struct secret u = {(char *)cuser, cuser ? strlen(cuser) : 0};
    struct secret p = {(char *)cpass, cpass ? strlen(cpass) : 0};
    struct kasa_http_opts ho = {
        .device = "plug1",
        .host = "127.0.0.1",
        .port = klap_sim_port(f->sim),
        .timeout_s = 2.0,
        .version = client_version,
        .user = cuser ? &u : NULL,
        .pass = cpass ? &p : NULL,
    };
    f->t = kasa_klap_create(&ho, f->loop, err, sizeof err);
    if (!f->t)
        fail_msg("%s", err);
}

static void stop(struct fix *f)
{
    kasa_klap_transport.destroy(f->t);
    klap_sim_stop(f->sim);
    ev_loop_destroy(f->loop);
}

static struct klap_sim_stats stats(const struct fix *f)
{
    struct klap_sim_stats s;
    klap_sim_get_stats(f->sim, &s);
    return s;
}

static void assert_echo(const struct fix *f, const char *want)
{
    json_t *j = json_loads(f->body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "echo")), want);
    json_decref(j);
}

static void roundtrip(int sim_version, int client_version)
{
    struct fix f;
    start(&f, &(struct sim_setup){.version = sim_version, .user = USER, .pass = PASS},
          client_version, USER, PASS);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    assert_echo(&f, REQ);
    struct klap_sim_stats s = stats(&f);
    assert_int_equal(s.handshakes, 1);
    assert_int_equal(s.sessions, 1);
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.timeout_cookies, 0);
    assert_int_equal(s.forbidden, 0);
    stop(&f);
}

static void test_v1_configured(void **state)
{
    roundtrip(1, 1);
}

static void test_v2_configured(void **state)
{
    roundtrip(2, 2);
}

/* Version left open: the one handshake1 answer tells which hashes the device uses. */
static void test_version_detected(void **state)
{
    roundtrip(1, 0);
    roundtrip(2, 0);
}

/* A pinned version the device does not speak reads like wrong credentials (it is). */
static void test_wrong_version_is_auth(void **state)
{
    struct fix f;
    start(&f, &(struct sim_setup){.version = 2, .user = USER, .pass = PASS}, 1, USER, PASS);
    assert_int_equal(ask(&f, REQ), POLL_ERR_AUTH);
    assert_non_null(strstr(f.detail, "KLAP version"));
    assert_int_equal(stats(&f).sessions, 0);
    stop(&f);
}

static void test_session_reused(void **state)
{
    struct fix f;
    start(&f, &(struct sim_setup){.version = 2, .user = USER, .pass = PASS}, 0, USER, PASS);
    for (int i = 0; i < 5; i++) {
        char req[64];
        snprintf(req, sizeof req, "{\"n\":%d}", i);
        assert_int_equal(ask(&f, req), POLL_OK);
        assert_echo(&f, req);
    }
    struct klap_sim_stats s = stats(&f);
    assert_int_equal(s.handshakes, 1);
    assert_int_equal(s.requests, 5);
    stop(&f);
}

/* A device that was never bound answers with the blank hash; one bound and then reset
 * (or not yet synced) with the default Kasa account: both work whatever is configured. */
static void test_blank_and_default_accounts(void **state)
{
    struct fix f;
    start(&f, &(struct sim_setup){.version = 1}, 0, NULL, NULL);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    stop(&f);
    start(&f, &(struct sim_setup){.version = 2}, 0, USER, WRONG);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    stop(&f);
    start(&f, &(struct sim_setup){.version = 1, .user = "kasa@tp-link.net", .pass = "kasaSetup"}, 0,
          USER, WRONG);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    stop(&f);
    start(&f, &(struct sim_setup){.version = 2, .user = "kasa@tp-link.net", .pass = "kasaSetup"}, 2,
          NULL, NULL);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    stop(&f);
}

static void test_default_credentials_decode(void **state)
{
    struct secret u, p;
    assert_int_equal(kasa_default_credentials(0, &u, &p), 0);
    assert_int_equal(u.len, strlen("kasa@tp-link.net"));
    assert_memory_equal(u.bytes, "kasa@tp-link.net", u.len);
    assert_memory_equal(p.bytes, "kasaSetup", p.len);
    secret_clear(&u);
    secret_clear(&p);
    assert_int_equal(kasa_default_credentials(1, &u, &p), 0);
    assert_memory_equal(u.bytes, "test@tp-link.net", u.len);
    secret_clear(&u);
    secret_clear(&p);
    assert_int_equal(kasa_default_credentials(2, &u, &p), -1);
}

/* Wrong credentials: auth, no second handshake step, and neither password in the detail. */
static void test_wrong_credentials(void **state)
{
    struct fix f;
    start(&f, &(struct sim_setup){.version = 2, .user = USER, .pass = PASS}, 0, USER, WRONG);
    assert_int_equal(ask(&f, REQ), POLL_ERR_AUTH);
    assert_null(strstr(f.detail, WRONG));
    assert_null(strstr(f.detail, PASS));
    assert_null(strstr(f.detail, USER));
    assert_non_null(strstr(f.detail, "credentials"));
    struct klap_sim_stats s = stats(&f);
    assert_int_equal(s.handshakes, 1);
    assert_int_equal(s.sessions, 0);
    assert_int_equal(s.requests, 0);
    /* and again at the next poll: a new handshake, the same answer */
    assert_int_equal(ask(&f, REQ), POLL_ERR_AUTH);
    assert_int_equal(stats(&f).handshakes, 2);
    stop(&f);
}

/* The device forgets the session (reboot, its own expiry): 403, a new handshake, and the
 * request goes through on it without the caller seeing anything. */
static void test_403_renews(void **state)
{
    struct fix f;
    start(&f, &(struct sim_setup){.version = 1, .user = USER, .pass = PASS}, 0, USER, PASS);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    klap_sim_expire_sessions(f.sim);
    assert_int_equal(ask(&f, "{\"again\":1}"), POLL_OK);
    assert_echo(&f, "{\"again\":1}");
    struct klap_sim_stats s = stats(&f);
    assert_int_equal(s.forbidden, 1);
    assert_int_equal(s.handshakes, 2);
    assert_int_equal(s.requests, 2);
    stop(&f);
}

/* TIMEOUT 4 s -> used for 2 s: the transport renews before the device would refuse. */
static void test_timeout_cookie_lifetime(void **state)
{
    struct fix f;
    start(&f, &(struct sim_setup){.version = 2, .user = USER, .pass = PASS, .timeout_s = 4}, 0,
          USER, PASS);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    assert_int_equal(stats(&f).handshakes, 1);
    run_for(&f, 2.2);
    assert_int_equal(ask(&f, REQ), POLL_OK);
    struct klap_sim_stats s = stats(&f);
    assert_int_equal(s.handshakes, 2);
    assert_int_equal(s.forbidden, 0);
    assert_int_equal(s.timeout_cookies, 0);
    stop(&f);
}

static void test_session_lifetime_rule(void **state)
{
    assert_true(kasa_session_lifetime(0) == 86400.0 - 1200.0);
    assert_true(kasa_session_lifetime(86400) == 85200.0);
    assert_true(kasa_session_lifetime(2401) == 1201.0);
    assert_true(kasa_session_lifetime(2400) == 1200.0);
    assert_true(kasa_session_lifetime(4) == 2.0);
}

static void test_set_cookie_parsing(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char err[128];
    struct kasa_http *h = kasa_http_new(loop, "127.0.0.1", 80, 1.0, err, sizeof err);
    assert_non_null(h);
    static const char a[] = " TP_SESSIONID=4F2A91;TIMEOUT=1440\r\n";
    kasa_http_parse_set_cookie(h, a, strlen(a));
    assert_string_equal(kasa_http_session_cookie(h), "4F2A91");
    assert_int_equal(kasa_http_timeout_cookie(h), 1440);
    static const char b[] = "SESSIONID=\"abc\"; Path=/; HttpOnly";
    kasa_http_parse_set_cookie(h, b, strlen(b));
    assert_string_equal(kasa_http_session_cookie(h), "4F2A91"); /* TP_SESSIONID wins */
    static const char c[] = "TIMEOUT=12x; TP_SESSIONID=a b";
    kasa_http_parse_set_cookie(h, c, strlen(c));
    assert_int_equal(kasa_http_timeout_cookie(h), 0);
    assert_string_equal(kasa_http_session_cookie(h), "4F2A91"); /* "a b" is not cookie text */
    char big[300];
    memset(big, 'x', sizeof big);
    memcpy(big, "TP_SESSIONID=", 13);
    kasa_http_parse_set_cookie(h, big, sizeof big);
    assert_string_equal(kasa_http_session_cookie(h), "4F2A91");
    static const char d[] = "TIMEOUT=99999999";
    kasa_http_parse_set_cookie(h, d, strlen(d));
    assert_int_equal(kasa_http_timeout_cookie(h), 0);
    kasa_http_free(h);
    ev_loop_destroy(loop);
}

static uint16_t closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_refused(void **state)
{
    struct fix f;
    memset(&f, 0, sizeof f);
    f.loop = ev_loop_new(EVFLAG_AUTO);
    char err[256];
    struct kasa_http_opts ho = {
        .device = "gone", .host = "127.0.0.1", .port = closed_port(), .timeout_s = 2.0};
    f.t = kasa_klap_create(&ho, f.loop, err, sizeof err);
    assert_non_null(f.t);
    assert_int_equal(ask(&f, REQ), POLL_ERR_CONNECT);
    assert_non_null(strstr(f.detail, "/app/handshake1"));
    kasa_klap_transport.destroy(f.t);
    ev_loop_destroy(f.loop);
}

/* A cancelled handshake leaves nothing behind: the next request completes normally, and
 * the cancelled one is never answered. */
static void test_cancel_then_request(void **state)
{
    struct fix f;
    start(&f, &(struct sim_setup){.version = 2, .user = USER, .pass = PASS}, 0, USER, PASS);
    kasa_klap_transport.request(f.t, REQ, on_answer, &f);
    kasa_klap_transport.cancel(f.t);
    run_for(&f, 0.2);
    assert_int_equal(f.answers, 0);
    assert_int_equal(ask(&f, "{\"after\":1}"), POLL_OK);
    assert_echo(&f, "{\"after\":1}");
    kasa_klap_transport.end_poll(f.t);
    stop(&f);
}

static void test_bad_version_refused(void **state)
{
    char err[128];
    struct kasa_http_opts ho = {.host = "127.0.0.1", .port = 80, .timeout_s = 1, .version = 3};
    assert_null(kasa_klap_create(&ho, NULL, err, sizeof err));
    assert_non_null(strstr(err, "version"));
}

/* SMART JSON over KLAP v2 (Tapo P110): the dialect's request, the device's reading. */
static void test_smart_p110_over_klap(void **state)
{
    char err[256];
    struct smart_sim *dev = smart_sim_new("p110", 7, err, sizeof err);
    assert_non_null(dev);
    struct fix f;
    start(&f,
          &(struct sim_setup){.version = 2,
                              .user = USER,
                              .pass = PASS,
                              .handler = smart_sim_handle,
                              .handler_ctx = dev},
          0, USER, PASS);
    struct smart_plug sp;
    smart_plug_init(&sp);
    struct smart_reading r;
    for (int poll = 0; poll < 2; poll++) {
        const char *method;
        size_t len;
        char *req = smart_plug_request(&sp, 1700000000000LL, &len, &method);
        assert_non_null(req);
        /* the first poll asks for the emeter data, the second no longer */
        assert_int_equal(strstr(req, "get_emeter_data") != NULL, poll == 0);
        assert_int_equal(ask(&f, req), POLL_OK);
        free(req);
        char detail[200];
        assert_int_equal(
            smart_plug_parse(&sp, method, f.body, strlen(f.body), &r, detail, sizeof detail),
            POLL_OK);
    }
    assert_string_equal(r.plug.model, "P110");
    assert_string_equal(r.type, "SMART.TAPOPLUG");
    assert_string_equal(r.plug.alias, "Desk fan");
    assert_string_equal(r.plug.mac, "3C:52:A1:7E:20:02");
    assert_true(r.plug.has_relay && r.plug.relay_on);
    assert_true(r.plug.has_power);
    assert_true(r.plug.power_w > 20.0 && r.plug.power_w < 27.0);
    assert_false(r.plug.has_voltage);
    assert_false(r.plug.has_current);
    assert_false(r.plug.has_energy); /* no lifetime total on SMART plugs */
    assert_true(r.has_month_energy && r.month_energy_j >= 455 * 3600.0);
    assert_true(r.has_today_energy && r.today_energy_j >= 18 * 3600.0);
    assert_true(sp.unsupported & SMART_GET_EMETER_DATA);

    /* switch it off through the transport: the next reading says so */
    assert_int_equal(ask(&f, "{\"method\":\"set_device_info\",\"params\":{\"device_on\":false}}"),
                     POLL_OK);
    assert_non_null(strstr(f.body, "\"error_code\":0"));
    assert_false(smart_sim_is_on(dev));
    const char *method;
    size_t len;
    char *req = smart_plug_request(&sp, 1700000000000LL, &len, &method);
    assert_int_equal(ask(&f, req), POLL_OK);
    free(req);
    char detail[200];
    assert_int_equal(
        smart_plug_parse(&sp, method, f.body, strlen(f.body), &r, detail, sizeof detail), POLL_OK);
    assert_false(r.plug.relay_on);
    assert_true(r.plug.has_power && r.plug.power_w == 0.0);
    stop(&f);
    smart_sim_free(dev);
}

/* --- protocol: auto ------------------------------------------------------------------ */

struct auto_fix {
    struct fix f; /* f.t is the auto transport, f.sim the KLAP device */
    struct sim *legacy;
    struct device_config cfg;
    uint16_t legacy_port;
};

static enum poll_status ask_auto(struct fix *f, const char *json)
{
    unsigned before = f->answers;
    bool expired = false;
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, 5.0, 0.);
    guard.data = &expired;
    ev_timer_start(f->loop, &guard);
    kasa_auto_transport.request(f->t, json, on_answer, f);
    while (f->answers == before && !expired)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &guard);
    assert_int_equal(f->answers, before + 1);
    return f->st;
}

/* A KLAP device (v2, USER/PASS) on http_port, nothing on the legacy port; the transport
 * configured with the account password `pass`. */
static void auto_start(struct auto_fix *a, const char *pass)
{
    memset(a, 0, sizeof *a);
    struct fix *f = &a->f;
    f->loop = ev_loop_new(EVFLAG_AUTO);
    struct klap_sim_opts o = {.kind = KLAP_SIM_KLAP,
                              .version = 2,
                              .username = USER,
                              .password = PASS,
                              .handler = echo_handler,
                              .handler_ctx = f};
    char err[256];
    f->sim = klap_sim_start(f->loop, &o, err, sizeof err);
    if (!f->sim)
        fail_msg("%s", err);
    a->legacy_port = closed_port();
    a->cfg = (struct device_config){.name = "auto1",
                                    .kind = DEVICE_PLUG,
                                    .host = "127.0.0.1",
                                    .port = a->legacy_port,
                                    .http_port = klap_sim_port(f->sim),
                                    .timeout_s = 2.0,
                                    .protocol = PLUG_PROTOCOL_AUTO};
    secret_set(&a->cfg.account_user, USER, strlen(USER));
    secret_set(&a->cfg.account_password, pass, strlen(pass));
    f->t = kasa_auto_transport.create(&a->cfg, f->loop, err, sizeof err);
    if (!f->t)
        fail_msg("%s", err);
}

static void auto_stop(struct auto_fix *a)
{
    kasa_auto_transport.destroy(a->f.t);
    if (a->f.sim)
        klap_sim_stop(a->f.sim);
    sim_free(a->legacy);
    secret_clear(&a->cfg.account_user);
    secret_clear(&a->cfg.account_password);
    ev_loop_destroy(a->f.loop);
}

/* Legacy refused: KLAP. Then KLAP first even when the legacy port opens; back to legacy
 * only when KLAP is refused. */
static void test_auto_falls_back_and_sticks(void **state)
{
    struct auto_fix a;
    auto_start(&a, PASS);
    assert_int_equal(ask_auto(&a.f, REQ), POLL_OK);
    assert_echo(&a.f, REQ);
    assert_int_equal(stats(&a.f).requests, 1);

    a.legacy = sim_new(a.f.loop);
    char err[256];
    int idx = sim_add_plug(a.legacy, "hs100", "127.0.0.1", a.legacy_port, NULL, err, sizeof err);
    if (idx < 0)
        fail_msg("%s", err);
    assert_int_equal(ask_auto(&a.f, REQ), POLL_OK);
    assert_echo(&a.f, REQ); /* still the KLAP device */
    assert_int_equal(stats(&a.f).requests, 2);

    klap_sim_stop(a.f.sim);
    a.f.sim = NULL;
    assert_int_equal(ask_auto(&a.f, REQ), POLL_OK);
    assert_non_null(strstr(a.f.body, "\"get_sysinfo\"")); /* the legacy plug's answer */
    assert_non_null(strstr(a.f.body, "HS100"));
    auto_stop(&a);
}

static void test_auto_legacy_first(void **state)
{
    struct auto_fix a;
    auto_start(&a, PASS);
    a.legacy = sim_new(a.f.loop);
    char err[256];
    if (sim_add_plug(a.legacy, "hs100", "127.0.0.1", a.legacy_port, NULL, err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(ask_auto(&a.f, REQ), POLL_OK);
    assert_non_null(strstr(a.f.body, "HS100"));
    assert_int_equal(stats(&a.f).handshakes, 0);
    auto_stop(&a);
}

/* Both refused: connect, naming both; wrong credentials behind a refused legacy port: auth
 * (the KLAP device answered), without the password. */
static void test_auto_failures(void **state)
{
    struct auto_fix a;
    auto_start(&a, PASS);
    klap_sim_stop(a.f.sim);
    a.f.sim = NULL;
    assert_int_equal(ask_auto(&a.f, REQ), POLL_ERR_CONNECT);
    assert_non_null(strstr(a.f.detail, "connect: "));
    assert_non_null(strstr(a.f.detail, "; KLAP on port "));
    auto_stop(&a);

    auto_start(&a, WRONG);
    assert_int_equal(ask_auto(&a.f, REQ), POLL_ERR_AUTH);
    assert_null(strstr(a.f.detail, WRONG));
    assert_null(strstr(a.f.detail, PASS));
    auto_stop(&a);
}

int main(void)
{
    log_set_level(LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_configured),
        cmocka_unit_test(test_v2_configured),
        cmocka_unit_test(test_version_detected),
        cmocka_unit_test(test_wrong_version_is_auth),
        cmocka_unit_test(test_session_reused),
        cmocka_unit_test(test_blank_and_default_accounts),
        cmocka_unit_test(test_default_credentials_decode),
        cmocka_unit_test(test_wrong_credentials),
        cmocka_unit_test(test_403_renews),
        cmocka_unit_test(test_timeout_cookie_lifetime),
        cmocka_unit_test(test_session_lifetime_rule),
        cmocka_unit_test(test_set_cookie_parsing),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_cancel_then_request),
        cmocka_unit_test(test_bad_version_refused),
        cmocka_unit_test(test_smart_p110_over_klap),
        cmocka_unit_test(test_auto_falls_back_and_sticks),
        cmocka_unit_test(test_auto_legacy_first),
        cmocka_unit_test(test_auto_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

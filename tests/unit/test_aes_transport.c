/* The AES securePassthrough transport against the AES device simulator carrying the SMART
 * plug simulator, on one libev loop over 127.0.0.1: RSA handshake, login v1/v2 and the
 * credential fallbacks, token and session reuse, 9999 renewal, errors without secrets, and
 * the SMART readings of a KP125M-like and an EP25 hw2.6-like plug. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "collectors/kasa/http_transport.h"
#include "collectors/kasa/smart_plug.h"
#include "daemon/log.h"
#include "sim/klap_sim.h"
#include "sim/smart_sim.h"

#define USER "owner@example.com"
#define PASS "Corr3ct-Horse-Battery"
#define WRONG "Wr0ng-Pa55word-Here"
#define INFO "{\"method\":\"get_device_info\"}"

struct fix {
    struct ev_loop *loop;
    struct smart_sim *dev;
    struct klap_sim *sim;
    struct kasa_transport *t;
    unsigned answers;
    enum poll_status st;
    char body[8192];
    char detail[512];
};

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

static enum poll_status ask(struct fix *f, const char *json)
{
    unsigned before = f->answers;
    bool expired = false;
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, 5.0, 0.);
    guard.data = &expired;
    ev_timer_start(f->loop, &guard);
    kasa_aes_transport.request(f->t, json, on_answer, f);
    while (f->answers == before && !expired)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &guard);
    assert_int_equal(f->answers, before + 1);
    return f->st;
}

static void start(struct fix *f, const char *profile, int version, const char *duser,
                  const char *dpass, int client_version, const char *cuser, const char *cpass)
{
    memset(f, 0, sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    char err[256];
    f->dev = smart_sim_new(profile, 11, err, sizeof err);
    if (!f->dev)
        fail_msg("%s", err);
    struct klap_sim_opts o = {
        .kind = KLAP_SIM_AES,
        .version = version,
        .username = duser,
        .password = dpass,
        .handler = smart_sim_handle,
        .handler_ctx = f->dev,
    };
    f->sim = klap_sim_start(f->loop, &o, err, sizeof err);
    if (!f->sim)
        fail_msg("%s", err);
    struct secret u = {(char *)cuser, cuser ? strlen(cuser) : 0};
    struct secret p = {(char *)cpass, cpass ? strlen(cpass) : 0};
    struct kasa_http_opts ho = {
        .device = "plug2",
        .host = "127.0.0.1",
        .port = klap_sim_port(f->sim),
        .timeout_s = 2.0,
        .version = client_version,
        .user = cuser ? &u : NULL,
        .pass = cpass ? &p : NULL,
    };
    f->t = kasa_aes_create(&ho, f->loop, err, sizeof err);
    if (!f->t)
        fail_msg("%s", err);
}

static void stop(struct fix *f)
{
    kasa_aes_transport.destroy(f->t);
    klap_sim_stop(f->sim);
    smart_sim_free(f->dev);
    ev_loop_destroy(f->loop);
}

static struct klap_sim_stats stats(const struct fix *f)
{
    struct klap_sim_stats s;
    klap_sim_get_stats(f->sim, &s);
    return s;
}

/* One poll of the SMART dialect through the transport. */
static enum poll_status poll_once(struct fix *f, struct smart_plug *sp, struct smart_reading *r)
{
    const char *method;
    size_t len;
    char *req = smart_plug_request(sp, 1700000000000LL, &len, &method);
    assert_non_null(req);
    enum poll_status st = ask(f, req);
    free(req);
    if (st != POLL_OK)
        return st;
    char detail[200];
    return smart_plug_parse(sp, method, f->body, strlen(f->body), r, detail, sizeof detail);
}

/* KP125M-like on login v2: power, voltage and current from get_emeter_data. */
static void test_kp125m_login_v2(void **state)
{
    struct fix f;
    start(&f, "kp125m", 2, USER, PASS, 2, USER, PASS);
    struct smart_plug sp;
    smart_plug_init(&sp);
    struct smart_reading r;
    assert_int_equal(poll_once(&f, &sp, &r), POLL_OK);
    assert_string_equal(r.plug.model, "KP125M");
    assert_string_equal(r.plug.hw_ver, "1.0");
    assert_string_equal(r.plug.alias, "Washing machine");
    assert_true(r.plug.has_relay && r.plug.relay_on);
    assert_true(r.plug.has_on_time && r.plug.on_time_s >= 7200);
    assert_true(r.plug.has_rssi && r.plug.rssi_dbm == -52);
    assert_true(r.plug.has_power && r.plug.power_w > 360 && r.plug.power_w < 460);
    assert_true(r.plug.has_voltage && r.plug.voltage_v > 115 && r.plug.voltage_v < 126);
    assert_true(r.plug.has_current);
    assert_true(r.plug.current_a > r.plug.power_w / r.plug.voltage_v - 0.01 &&
                r.plug.current_a < r.plug.power_w / r.plug.voltage_v + 0.01);
    assert_false(r.plug.has_energy);
    assert_true(r.has_month_energy && r.month_energy_j >= 12840 * 3600.0);
    assert_int_equal(sp.unsupported, 0);
    /* the session and token are kept: one handshake, one login */
    assert_int_equal(poll_once(&f, &sp, &r), POLL_OK);
    assert_int_equal(poll_once(&f, &sp, &r), POLL_OK);
    struct klap_sim_stats s = stats(&f);
    assert_int_equal(s.handshakes, 1);
    assert_int_equal(s.sessions, 1);
    assert_int_equal(s.requests, 3);
    assert_int_equal(s.missing_length, 0);
    stop(&f);
}

/* EP25 hw2.6-like: no voltage or current, no get_emeter_data (learned after one poll). */
static void test_ep25_no_emeter_data(void **state)
{
    struct fix f;
    start(&f, "ep25v26", 2, USER, PASS, 0, USER, PASS);
    struct smart_plug sp;
    smart_plug_init(&sp);
    struct smart_reading r;
    assert_int_equal(poll_once(&f, &sp, &r), POLL_OK);
    assert_true(sp.unsupported & SMART_GET_EMETER_DATA);
    assert_true(r.plug.has_relay);
    assert_false(r.plug.relay_on);
    assert_true(r.plug.has_power && r.plug.power_w == 0.0);
    assert_false(r.plug.has_voltage);
    assert_false(r.plug.has_current);
    smart_sim_set_on(f.dev, true);
    assert_int_equal(poll_once(&f, &sp, &r), POLL_OK);
    assert_true(r.plug.relay_on);
    assert_true(r.plug.power_w > 50.0);
    assert_string_equal(r.plug.hw_ver, "2.6");
    stop(&f);
}

/* A login-v1 device, version left open: v2 is refused, a new handshake, v1 succeeds; the
 * next polls start with v1 directly. */
static void test_login_v1_fallback(void **state)
{
    struct fix f;
    start(&f, "kp125m", 1, USER, PASS, 0, USER, PASS);
    assert_int_equal(ask(&f, INFO), POLL_OK);
    assert_non_null(strstr(f.body, "\"model\":\"KP125M\""));
    struct klap_sim_stats s = stats(&f);
    assert_int_equal(s.handshakes, 2);
    assert_int_equal(s.auth_failures, 1);
    assert_int_equal(s.sessions, 1);
    klap_sim_expire_sessions(f.sim);
    assert_int_equal(ask(&f, INFO), POLL_OK);
    s = stats(&f);
    assert_int_equal(s.handshakes, 3);
    assert_int_equal(s.auth_failures, 1); /* went straight to v1 */
    assert_int_equal(s.expired, 1);
    stop(&f);
}

/* Blank configured (none), device with the Tapo default account. */
static void test_default_tapo_account(void **state)
{
    struct fix f;
    start(&f, "p110", 2, "test@tp-link.net", "test", 2, USER, WRONG);
    assert_int_equal(ask(&f, INFO), POLL_OK);
    assert_int_equal(stats(&f).auth_failures, 1);
    stop(&f);
    start(&f, "p110", 2, NULL, NULL, 0, NULL, NULL);
    assert_int_equal(ask(&f, INFO), POLL_OK);
    assert_int_equal(stats(&f).auth_failures, 0);
    stop(&f);
}

static void test_wrong_credentials(void **state)
{
    struct fix f;
    start(&f, "kp125m", 2, USER, PASS, 0, USER, WRONG);
    assert_int_equal(ask(&f, INFO), POLL_ERR_AUTH);
    assert_null(strstr(f.detail, WRONG));
    assert_null(strstr(f.detail, PASS));
    assert_null(strstr(f.detail, USER));
    assert_non_null(strstr(f.detail, "-1501"));
    struct klap_sim_stats s = stats(&f);
    /* configured v2, v1, Tapo default v2, v1: each on its own handshake */
    assert_int_equal(s.handshakes, 4);
    assert_int_equal(s.auth_failures, 4);
    assert_int_equal(s.requests, 0);
    stop(&f);
}

/* The device ends the session (9999): a new handshake and login, the request goes through. */
static void test_expired_session_renews(void **state)
{
    struct fix f;
    start(&f, "p110", 2, USER, PASS, 2, USER, PASS);
    assert_int_equal(ask(&f, INFO), POLL_OK);
    klap_sim_expire_sessions(f.sim);
    assert_int_equal(ask(&f, "{\"method\":\"get_current_power\"}"), POLL_OK);
    assert_non_null(strstr(f.body, "current_power"));
    struct klap_sim_stats s = stats(&f);
    assert_int_equal(s.expired, 1);
    assert_int_equal(s.handshakes, 2);
    assert_int_equal(s.requests, 2);
    stop(&f);
}

/* A device error inside the tunnel reaches the dialect as a reply, not a transport error. */
static void test_unknown_method_is_a_reply(void **state)
{
    struct fix f;
    start(&f, "p110", 2, USER, PASS, 2, USER, PASS);
    assert_int_equal(ask(&f, "{\"method\":\"get_emeter_data\"}"), POLL_OK);
    assert_non_null(strstr(f.body, "-1002"));
    stop(&f);
}

static void test_cancel_then_request(void **state)
{
    struct fix f;
    start(&f, "kp125m", 2, USER, PASS, 2, USER, PASS);
    kasa_aes_transport.request(f.t, INFO, on_answer, &f);
    kasa_aes_transport.cancel(f.t);
    bool expired = false;
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, 0.2, 0.);
    guard.data = &expired;
    ev_timer_start(f.loop, &guard);
    while (!expired)
        ev_run(f.loop, EVRUN_ONCE);
    assert_int_equal(f.answers, 0);
    assert_int_equal(ask(&f, INFO), POLL_OK);
    stop(&f);
}

int main(void)
{
    log_set_level(LOG_WARN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kp125m_login_v2),
        cmocka_unit_test(test_ep25_no_emeter_data),
        cmocka_unit_test(test_login_v1_fallback),
        cmocka_unit_test(test_default_tapo_account),
        cmocka_unit_test(test_wrong_credentials),
        cmocka_unit_test(test_expired_session_renews),
        cmocka_unit_test(test_unknown_method_is_a_reply),
        cmocka_unit_test(test_cancel_then_request),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}

/* The real plug collector against the simulator, both on one libev loop over loopback: the
 * test drives the loop in small non-blocking steps, so every wait is bounded, and checks
 * what the collector exports through the exposition builder (daemon/expo.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectors/collector.h"
#include "collectors/kasa/transport.h"
#include "daemon/expo.h"
#include "daemon/strbuf.h"
#include "sim/sim.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAIT 3.0 /* seconds: the longest a poll may take here */

struct rec {
    int calls;
    enum poll_status st;
    char detail[256];
};

struct dev {
    char name[32];
    char host[32];
    struct device_config cfg;
    struct rec rec;
    void *state;
};

struct fx {
    struct ev_loop *loop;
    struct sim *sim;
    struct dev devs[4];
    size_t ndevs;
    struct strbuf out;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->sim = f->loop ? sim_new(f->loop) : NULL;
    if (!f->sim) {
        if (f->loop)
            ev_loop_destroy(f->loop);
        free(f);
        return -1;
    }
    strbuf_init(&f->out, 1 << 20);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (size_t i = 0; i < f->ndevs; i++)
        plug_collector.destroy(f->devs[i].state);
    sim_free(f->sim);
    ev_loop_destroy(f->loop);
    strbuf_free(&f->out);
    free(f);
    return 0;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pump(struct fx *f, double seconds)
{
    double end = mono() + seconds;
    do {
        ev_run(f->loop, EVRUN_NOWAIT);
        usleep(500);
    } while (mono() < end);
}

static void on_done(void *owner, enum poll_status st, const char *detail)
{
    struct rec *r = owner;
    r->calls++;
    r->st = st;
    snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
}

static int add_sim(struct fx *f, const char *profile)
{
    char err[256] = "";
    int idx = sim_add_plug(f->sim, profile, "127.0.0.1", 0, NULL, err, sizeof err);
    if (idx < 0)
        fail_msg("sim_add_plug %s: %s", profile, err);
    return idx;
}

/* A collector for simulated device idx, named as the exporter would name it. */
static struct dev *add_dev(struct fx *f, int idx, const char *name)
{
    assert_true(f->ndevs < sizeof f->devs / sizeof f->devs[0]);
    struct dev *d = &f->devs[f->ndevs];
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->host, sizeof d->host, "%s", sim_device_addr(f->sim, idx));
    d->cfg = (struct device_config){.name = d->name,
                                    .kind = DEVICE_PLUG,
                                    .host = d->host,
                                    .port = sim_device_port(f->sim, idx),
                                    .interval_s = 15,
                                    .timeout_s = 3};
    struct collector_env env = {.loop = f->loop, .done = on_done, .owner = &d->rec};
    char err[256] = "";
    d->state = plug_collector.create(&d->cfg, &env, err, sizeof err);
    if (!d->state)
        fail_msg("create: %s", err);
    f->ndevs++;
    return d;
}

/* One poll to its end; done must come exactly once. */
static enum poll_status poll_once(struct fx *f, struct dev *d)
{
    d->rec.calls = 0;
    plug_collector.poll_start(d->state);
    double end = mono() + WAIT;
    while (d->rec.calls == 0 && mono() < end) {
        ev_run(f->loop, EVRUN_NOWAIT);
        if (d->rec.calls == 0)
            usleep(200);
    }
    if (d->rec.calls == 0)
        fail_msg("poll of %s did not end within %.0f s", d->name, WAIT);
    pump(f, 0.01);
    assert_int_equal(d->rec.calls, 1);
    return d->rec.st;
}

static void poll_ok(struct fx *f, struct dev *d)
{
    enum poll_status st = poll_once(f, d);
    if (st != POLL_OK)
        fail_msg("poll of %s: %s: %s", d->name, poll_status_reason(st), d->rec.detail);
}

/* The device's exposition (its own families only), as text. */
static const char *render(struct fx *f, struct dev *d)
{
    struct expo *e = expo_new(&plug_collector.metrics, 1);
    assert_non_null(e);
    plug_collector.emit(d->state, d->name, e);
    strbuf_reset(&f->out);
    assert_true(expo_render(e, &f->out));
    expo_free(e);
    return f->out.data ? f->out.data : "";
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p += n)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static void expect_line(const char *text, const char *line)
{
    if (!has_line(text, line))
        fail_msg("no line \"%s\" in:\n%s", line, text);
}

/* Whether any sample of the family is there. */
static bool has_family(const char *text, const char *family)
{
    char want[128];
    snprintf(want, sizeof want, "\n%s{", family);
    return strstr(text, want) != NULL || strncmp(text, want + 1, strlen(want) - 1) == 0;
}

/* The value of the sample "series " (name and labels exactly as rendered). */
static double value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)); p += n) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            char *end;
            double v = strtod(p + n + 1, &end);
            if (end != p + n + 1)
                return v;
        }
    }
    fail_msg("no sample %s in:\n%s", series, text);
    return NAN;
}

static double outlet_value(const char *text, const char *family, const char *device, int outlet)
{
    char series[160];
    snprintf(series, sizeof series, "%s{device=\"%s\",outlet=\"%d\"}", family, device, outlet);
    return value(text, series);
}

/* ---- a plain client, to ask the simulator what the collector should have seen ---- */

struct reply {
    bool done;
    enum poll_status st;
    json_t *json;
};

static void on_reply(void *ctx, enum poll_status st, const char *body, size_t len,
                     const char *detail)
{
    struct reply *r = ctx;
    r->done = true;
    r->st = st;
    r->json = st == POLL_OK ? json_loadb(body, len, 0, NULL) : NULL;
}

static json_t *ask_sim(struct fx *f, struct dev *d, const char *json)
{
    char err[256];
    struct kasa_transport *t = kasa_tcp_transport.create(&d->cfg, f->loop, err, sizeof err);
    if (!t)
        fail_msg("transport: %s", err);
    struct reply r = {0};
    kasa_tcp_transport.request(t, json, on_reply, &r);
    double end = mono() + WAIT;
    while (!r.done && mono() < end) {
        ev_run(f->loop, EVRUN_NOWAIT);
        usleep(200);
    }
    kasa_tcp_transport.destroy(t);
    assert_true(r.done);
    assert_int_equal(r.st, POLL_OK);
    assert_non_null(r.json);
    return r.json;
}

static json_t *ask_outlet(struct fx *f, struct dev *d, int sim_idx, int slot, const char *body)
{
    char req[256];
    snprintf(req, sizeof req, "{\"context\":{\"child_ids\":[\"%s%02X\"]},%s",
             sim_device_id(f->sim, sim_idx), (unsigned)slot, body);
    return ask_sim(f, d, req);
}

static json_int_t reply_int(json_t *j, const char *module, const char *method, const char *key)
{
    json_t *v = json_object_get(json_object_get(json_object_get(j, module), method), key);
    if (!json_is_integer(v))
        fail_msg("%s.%s.%s is not an integer", module, method, key);
    return json_integer_value(v);
}

/* ---- tests ---- */

static const char *const hs300_alias[6] = {"TV",         "Router", "Empty",
                                           "Floor lamp", "Empty",  "Desk fan"};
static const int hs300_state[6] = {1, 1, 1, 0, 0, 1};

static void test_hs300_six_outlets(void **state)
{
    struct fx *f = *state;
    int s = add_sim(f, "hs300");
    struct dev *d = add_dev(f, s, "strip");
    poll_ok(f, d);
    const char *t = render(f, d);

    struct device_info info;
    assert_true(plug_collector.info(d->state, &info));
    assert_string_equal(info.model, "HS300(US)");
    assert_string_equal(info.alias, "Media cabinet");

    for (int o = 1; o <= 6; o++) {
        char line[200];
        snprintf(line, sizeof line,
                 "tplink_outlet_info{device=\"strip\",outlet=\"%d\",alias=\"%s\"} 1", o,
                 hs300_alias[o - 1]);
        expect_line(t, line);
        assert_float_equal(outlet_value(t, "tplink_outlet_relay_on", "strip", o),
                           hs300_state[o - 1], 0);
        double on_time = outlet_value(t, "tplink_outlet_on_time_seconds", "strip", o);
        assert_true(hs300_state[o - 1] ? on_time > 0 : on_time == 0);
    }
    /* No relay, and no reading, for the strip itself: its get_realtime is one outlet's. */
    assert_false(has_family(t, "tplink_plug_relay_on"));
    assert_false(has_family(t, "tplink_plug_on_time_seconds"));
    assert_false(has_family(t, "tplink_plug_power_watts"));
    assert_false(has_family(t, "tplink_plug_energy_joules_total"));
    expect_line(t, "tplink_plug_cloud_bound{device=\"strip\"} 1");
    expect_line(t, "tplink_plug_led_on{device=\"strip\"} 1");
    expect_line(t, "tplink_plug_firmware_updating{device=\"strip\"} 0");
    expect_line(t, "tplink_plug_wifi_rssi_dbm{device=\"strip\"} -47");
    assert_null(strstr(t, "example.com")); /* the account never shows */
    assert_null(strstr(t, "tplinkcloud"));

    /* Each outlet's own reading, as the simulator reports it (within one random-walk step:
     * the simulator's clock moves on between the two questions). */
    const double base_w[6] = {85.3, 12.1, 0, 0, 0, 31.8};
    for (int o = 1; o <= 6; o++) {
        json_t *j = ask_outlet(f, d, s, o - 1, "\"emeter\":{\"get_realtime\":{}}}");
        double w = (double)reply_int(j, "emeter", "get_realtime", "power_mw") / 1000;
        double v = (double)reply_int(j, "emeter", "get_realtime", "voltage_mv") / 1000;
        double a = (double)reply_int(j, "emeter", "get_realtime", "current_ma") / 1000;
        double wh = (double)reply_int(j, "emeter", "get_realtime", "total_wh");
        json_decref(j);
        double ew = outlet_value(t, "tplink_outlet_power_watts", "strip", o);
        assert_float_equal(ew, w, 0.05 * base_w[o - 1] + 0.002);
        assert_true(ew >= base_w[o - 1] * 0.9 - 0.002 && ew <= base_w[o - 1] * 1.1 + 0.002);
        assert_float_equal(outlet_value(t, "tplink_outlet_voltage_volts", "strip", o), v,
                           0.005 * v);
        assert_float_equal(outlet_value(t, "tplink_outlet_current_amperes", "strip", o), a,
                           0.05 * a + 0.002);
        assert_float_equal(outlet_value(t, "tplink_outlet_energy_joules_total", "strip", o),
                           wh * 3600, 3600);
    }
    assert_float_equal(outlet_value(t, "tplink_outlet_energy_joules_total", "strip", 2),
                       95210.0 * 3600, 3600);
}

static void test_switching_one_outlet(void **state)
{
    struct fx *f = *state;
    int s = add_sim(f, "hs300");
    struct dev *d = add_dev(f, s, "strip");
    poll_ok(f, d);
    const char *t = render(f, d);
    double before_on[7], before_relay[7];
    for (int o = 1; o <= 6; o++) {
        before_relay[o] = outlet_value(t, "tplink_outlet_relay_on", "strip", o);
        before_on[o] = outlet_value(t, "tplink_outlet_on_time_seconds", "strip", o);
    }

    /* Outlet 2 off, as tplinkctl plug --outlet 2 -c off would do it. */
    json_t *j = ask_outlet(f, d, s, 1, "\"system\":{\"set_relay_state\":{\"state\":0}}}");
    assert_int_equal(reply_int(j, "system", "set_relay_state", "err_code"), 0);
    json_decref(j);
    sim_advance_clock(f->sim, 100);
    poll_ok(f, d);
    t = render(f, d);
    for (int o = 1; o <= 6; o++) {
        double relay = outlet_value(t, "tplink_outlet_relay_on", "strip", o);
        double on = outlet_value(t, "tplink_outlet_on_time_seconds", "strip", o);
        if (o == 2) {
            assert_float_equal(relay, 0, 0);
            assert_float_equal(on, 0, 0);
            assert_float_equal(outlet_value(t, "tplink_outlet_power_watts", "strip", o), 0, 0);
        } else {
            assert_float_equal(relay, before_relay[o], 0);
            if (relay > 0)
                assert_true(on >= before_on[o] + 100); /* still counting */
        }
    }
    assert_true(before_relay[2] == 1);

    /* And back on through the simulator's own control. */
    assert_int_equal(sim_set_outlet(f->sim, s, 2, 1), 0);
    poll_ok(f, d);
    t = render(f, d);
    assert_float_equal(outlet_value(t, "tplink_outlet_relay_on", "strip", 2), 1, 0);
    assert_float_equal(outlet_value(t, "tplink_outlet_relay_on", "strip", 4), 0, 0);
}

static void test_kp303_no_outlet_meters(void **state)
{
    struct fx *f = *state;
    struct dev *d = add_dev(f, add_sim(f, "kp303"), "kitchen");
    poll_ok(f, d);
    poll_ok(f, d); /* the second poll asks as a known device does */
    const char *t = render(f, d);
    expect_line(t, "tplink_outlet_info{device=\"kitchen\",outlet=\"1\",alias=\"Kettle\"} 1");
    expect_line(t, "tplink_outlet_info{device=\"kitchen\",outlet=\"3\",alias=\"Empty\"} 1");
    expect_line(t, "tplink_outlet_relay_on{device=\"kitchen\",outlet=\"1\"} 1");
    expect_line(t, "tplink_outlet_relay_on{device=\"kitchen\",outlet=\"2\"} 0");
    assert_false(has_line(t, "tplink_outlet_relay_on{device=\"kitchen\",outlet=\"4\"} 0"));
    expect_line(t, "tplink_outlet_on_time_seconds{device=\"kitchen\",outlet=\"2\"} 0");
    const char *absent[] = {"tplink_outlet_power_watts",     "tplink_outlet_voltage_volts",
                            "tplink_outlet_current_amperes", "tplink_outlet_energy_joules_total",
                            "tplink_plug_power_watts",       "tplink_plug_relay_on"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (has_family(t, absent[i]))
            fail_msg("%s present in:\n%s", absent[i], t);
    expect_line(t, "tplink_plug_cloud_bound{device=\"kitchen\"} 0");
    expect_line(t, "tplink_plug_led_on{device=\"kitchen\"} 0");
}

static void test_plugs_cloud_and_meter(void **state)
{
    struct fx *f = *state;
    struct dev *lamp = add_dev(f, add_sim(f, "hs100"), "lamp");
    struct dev *fridge = add_dev(f, add_sim(f, "hs110v2"), "fridge");

    /* A plug whose firmware has no cnCloud module: no cloud series, and not a failed poll. */
    char path[] = "/tmp/test_plug_collector_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *profile = "{\"system\":{\"get_sysinfo\":{\"model\":\"HS105(US)\",\"alias\":"
                          "\"Porch\",\"feature\":\"TIM\",\"relay_state\":1,\"on_time\":10,"
                          "\"err_code\":0}}}";
    assert_int_equal(write(fd, profile, strlen(profile)), (ssize_t)strlen(profile));
    close(fd);
    char err[256] = "";
    int idx = sim_add_plug(f->sim, path, "127.0.0.1", 0, NULL, err, sizeof err);
    unlink(path);
    if (idx < 0)
        fail_msg("%s", err);
    struct dev *porch = add_dev(f, idx, "porch");

    for (int round = 0; round < 2; round++) {
        poll_ok(f, lamp);
        poll_ok(f, fridge);
        poll_ok(f, porch);
    }
    const char *t = render(f, porch);
    expect_line(t, "tplink_plug_relay_on{device=\"porch\"} 1");
    assert_false(has_family(t, "tplink_plug_cloud_bound"));
    assert_false(has_family(t, "tplink_plug_firmware_updating")); /* the dump has no updating */
    assert_false(has_family(t, "tplink_plug_wifi_rssi_dbm"));     /* nor rssi */

    t = render(f, lamp);
    expect_line(t, "tplink_plug_cloud_bound{device=\"lamp\"} 0");
    expect_line(t, "tplink_plug_relay_on{device=\"lamp\"} 1");
    expect_line(t, "tplink_plug_led_on{device=\"lamp\"} 1");
    assert_false(has_family(t, "tplink_plug_power_watts"));
    assert_false(has_family(t, "tplink_outlet_info"));

    t = render(f, fridge);
    expect_line(t, "tplink_plug_led_on{device=\"fridge\"} 0"); /* led_off 1 */
    double w = value(t, "tplink_plug_power_watts{device=\"fridge\"}");
    assert_true(w > 480.25 * 0.9 - 0.01 && w < 480.25 * 1.1 + 0.01);
    assert_true(has_family(t, "tplink_plug_energy_joules_total"));
    assert_false(has_family(t, "tplink_outlet_relay_on"));
}

/* A strip whose meter refuses one outlet's id: the poll fails with reason device, naming the
 * outlet, and nothing half-read is exported. */
static void test_outlet_error_fails_poll(void **state)
{
    struct fx *f = *state;
    char path[] = "/tmp/test_plug_collector_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *profile =
        "{\"system\":{\"get_sysinfo\":{\"model\":\"HS300(US)\",\"feature\":\"TIM:ENE\","
        "\"children\":[{\"id\":\"00\",\"state\":1,\"alias\":\"a\"},"
        "{\"id\":\"01\",\"state\":1,\"alias\":\"b\"},{\"id\":\"02\",\"state\":0,\"alias\":\"c\"}],"
        "\"err_code\":0}},"
        "\"emeter\":{\"get_realtime\":{\"power_mw\":5000,\"voltage_mv\":120000,"
        "\"current_ma\":41,\"total_wh\":7,\"slot_id\":0,\"err_code\":0}},"
        "\"sim_child_realtime\":[{},{\"err_code\":-14,\"err_msg\":\"entry not exist\"},{}]}";
    assert_int_equal(write(fd, profile, strlen(profile)), (ssize_t)strlen(profile));
    close(fd);
    char err[256] = "";
    int idx = sim_add_plug(f->sim, path, "127.0.0.1", 0, NULL, err, sizeof err);
    unlink(path);
    if (idx < 0)
        fail_msg("%s", err);
    struct dev *d = add_dev(f, idx, "bad");
    assert_int_equal(poll_once(f, d), POLL_ERR_DEVICE);
    assert_non_null(strstr(d->rec.detail, "outlet 2"));
    assert_non_null(strstr(d->rec.detail, "-14"));
    struct device_info info;
    assert_false(plug_collector.info(d->state, &info));
    assert_int_equal(strlen(render(f, d)), 0);
    assert_int_equal(poll_once(f, d), POLL_ERR_DEVICE); /* and again as a known device */
}

/* The core's deadline cancels a poll in the middle of its requests: no done after that, and
 * the next poll works. */
static void test_cancel_mid_poll(void **state)
{
    struct fx *f = *state;
    int s = add_sim(f, "hs300");
    struct dev *d = add_dev(f, s, "strip");
    poll_ok(f, d);
    assert_int_equal(sim_set_fault(f->sim, s, SIM_FAULT_HANG), 0);
    d->rec.calls = 0;
    plug_collector.poll_start(d->state);
    pump(f, 0.05);
    assert_int_equal(d->rec.calls, 0);
    plug_collector.poll_cancel(d->state);
    pump(f, 0.05);
    assert_int_equal(d->rec.calls, 0);
    assert_int_equal(sim_device_connections(f->sim, s), 0); /* the connection went */
    assert_int_equal(sim_set_fault(f->sim, s, SIM_FAULT_NONE), 0);
    poll_ok(f, d);
    const char *t = render(f, d);
    assert_true(has_family(t, "tplink_outlet_power_watts"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hs300_six_outlets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_switching_one_outlet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kp303_no_outlet_meters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugs_cloud_and_meter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outlet_error_fails_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_mid_poll, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

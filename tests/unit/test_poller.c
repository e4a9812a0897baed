/* The daemon core against a fake collector: schedule, deadline, health, staleness and
 * the render cache, with no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/daemon.h"

enum behaviour { OK_NOW, HANG, FAIL_PROTOCOL };

struct fake {
    struct collector_env env;
    enum behaviour behaviour;
    int starts, cancels;
    bool have_reading;
    double value;
};

static const struct metric_family fake_families[] = {
    {"tplink_fake_value", METRIC_GAUGE, "A fake reading."},
};

static void *fake_create(const struct device_config *cfg, const struct collector_env *env,
                         char *err, size_t errlen)
{
    struct fake *f = calloc(1, sizeof *f);
    f->env = *env;
    f->behaviour = strcmp(cfg->host, "hang") == 0 ? HANG : OK_NOW;
    return f;
}

static void fake_poll_start(void *state)
{
    struct fake *f = state;
    f->starts++;
    if (f->behaviour == OK_NOW) {
        f->have_reading = true;
        f->value = f->starts;
        f->env.done(f->env.owner, POLL_OK, NULL);
    } else if (f->behaviour == FAIL_PROTOCOL) {
        f->env.done(f->env.owner, POLL_ERR_PROTOCOL, "bad bytes");
    }
}

static void fake_poll_cancel(void *state)
{
    ((struct fake *)state)->cancels++;
}

static bool fake_info(const void *state, struct device_info *info)
{
    const struct fake *f = state;
    if (!f->have_reading)
        return false;
    snprintf(info->model, sizeof info->model, "FAKE(EU)");
    snprintf(info->alias, sizeof info->alias, "say \"hi\"");
    return true;
}

static void fake_emit(const void *state, const char *device, struct expo *e)
{
    const struct fake *f = state;
    if (f->have_reading)
        expo_sample_dev(e, &fake_families[0], device, f->value);
}

static void fake_destroy(void *state)
{
    free(state);
}

static const struct collector fake_collector = {
    .kind = "plug",
    .device_kind = DEVICE_PLUG,
    .metrics = {fake_families, 1},
    .create = fake_create,
    .poll_start = fake_poll_start,
    .poll_cancel = fake_poll_cancel,
    .info = fake_info,
    .emit = fake_emit,
    .destroy = fake_destroy,
};
static const struct collector *const fake_registry[] = {&fake_collector, NULL};

static void make_inventory(struct inventory *inv, const char *const *hosts, size_t n,
                           double interval, double timeout)
{
    memset(inv, 0, sizeof *inv);
    inv->devices = calloc(n, sizeof *inv->devices);
    inv->n_devices = n;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "dev%zu", i);
        inv->devices[i].name = strdup(name);
        inv->devices[i].host = strdup(hosts[i]);
        inv->devices[i].kind = DEVICE_PLUG;
        inv->devices[i].interval_s = interval;
        inv->devices[i].timeout_s = timeout;
    }
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

static void run_for(struct ev_loop *loop, double seconds)
{
    ev_timer t;
    ev_timer_init(&t, stop_cb, seconds, 0.);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

static const char *metrics(struct daemon *d)
{
    const struct scrape_body *b = daemon_exposition(d);
    return b ? b->text : "";
}

static void test_health_and_deadline(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static const char *const hosts[] = {"ok", "hang"};
    struct inventory inv;
    make_inventory(&inv, hosts, 2, 0.2, 0.1);
    struct daemon d;
    char err[256];
    assert_int_equal(daemon_init_with(&d, loop, &inv, fake_registry, err, sizeof err), 0);
    daemon_start_polling(&d);
    run_for(loop, 0.75);

    struct fake *ok = d.devices[0].state, *hang = d.devices[1].state;
    assert_true(ok->starts >= 3);
    assert_true(hang->starts >= 2);
    /* every hanging poll was cancelled by the core's deadline before the next began */
    assert_true(hang->cancels >= hang->starts - 1);
    assert_true(d.devices[0].up);
    assert_false(d.devices[1].up);
    assert_int_equal(d.devices[1].errors_total[POLL_ERR_TIMEOUT], (uint64_t)hang->cancels);

    const char *m = metrics(&d);
    assert_non_null(strstr(m, "tplink_up{device=\"dev0\",kind=\"plug\"} 1\n"));
    assert_non_null(strstr(m, "tplink_up{device=\"dev1\",kind=\"plug\"} 0\n"));
    assert_non_null(strstr(m, "alias=\"say \\\"hi\\\"\"} 1\n"));
    assert_non_null(strstr(m, "tplink_poll_errors_total{device=\"dev1\",reason=\"timeout\"} "));
    assert_non_null(strstr(m, "tplink_poll_errors_total{device=\"dev0\",reason=\"timeout\"} 0\n"));
    assert_non_null(strstr(m, "tplink_fake_value{device=\"dev0\"}"));
    assert_null(strstr(m, "tplink_fake_value{device=\"dev1\"}"));
    assert_non_null(strstr(m, "tplink_exporter_build_info{version=\""));
    assert_int_equal(m[strlen(m) - 1], '\n');

    daemon_free(&d);
    ev_loop_destroy(loop);
}

static void test_stale_readings_disappear(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static const char *const hosts[] = {"ok"};
    struct inventory inv;
    make_inventory(&inv, hosts, 1, 0.1, 0.05);
    struct daemon d;
    char err[256];
    assert_int_equal(daemon_init_with(&d, loop, &inv, fake_registry, err, sizeof err), 0);
    d.min_render_interval_s = 0; /* every scrape sees the latest poll */
    daemon_start_polling(&d);
    run_for(loop, 0.25);
    assert_non_null(strstr(metrics(&d), "tplink_fake_value{device=\"dev0\"}"));

    ((struct fake *)d.devices[0].state)->behaviour = FAIL_PROTOCOL;
    run_for(loop, 0.12); /* within two intervals of the last success: still shown */
    const char *m = metrics(&d);
    assert_non_null(strstr(m, "tplink_up{device=\"dev0\",kind=\"plug\"} 0\n"));
    run_for(loop, 0.2); /* past two intervals: readings go, health and info stay */
    m = metrics(&d);
    assert_null(strstr(m, "tplink_fake_value"));
    assert_non_null(strstr(m, "tplink_up{device=\"dev0\",kind=\"plug\"} 0\n"));
    assert_non_null(strstr(m, "tplink_device_info{device=\"dev0\""));
    assert_non_null(strstr(m, "tplink_poll_errors_total{device=\"dev0\",reason=\"protocol\"} "));
    daemon_free(&d);
    ev_loop_destroy(loop);
}

static void test_render_cached_until_change(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static const char *const hosts[] = {"ok"};
    struct inventory inv;
    make_inventory(&inv, hosts, 1, 60, 1);
    struct daemon d;
    char err[256];
    assert_int_equal(daemon_init_with(&d, loop, &inv, fake_registry, err, sizeof err), 0);
    assert_true(d.min_render_interval_s == DAEMON_MIN_RENDER_INTERVAL_S);
    d.min_render_interval_s = 0; /* 0: render on every change, never more */
    metrics(&d);
    uint64_t renders = d.renders;
    metrics(&d);
    metrics(&d);
    assert_int_equal(d.renders, renders);
    d.dirty = true;
    metrics(&d);
    assert_int_equal(d.renders, renders + 1);
    d.dirty = true;
    metrics(&d);
    assert_int_equal(d.renders, renders + 2);
    daemon_free(&d);
    ev_loop_destroy(loop);
}

/* The minimum render interval, in loop time: ev_now stands still between loop runs, so
 * "within the interval" is exact here, and run_for makes at least its time pass. */
static void test_min_render_interval(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static const char *const hosts[] = {"ok"};
    struct inventory inv;
    make_inventory(&inv, hosts, 1, 60, 1);
    struct daemon d;
    char err[256];
    assert_int_equal(daemon_init_with(&d, loop, &inv, fake_registry, err, sizeof err), 0);
    d.min_render_interval_s = 0.2;

    struct scrape_body *first = daemon_exposition(&d); /* no body yet: renders */
    assert_non_null(first);
    assert_int_equal(d.renders, 1);
    const unsigned char *gz1, *gz2;
    size_t gz1_len, gz2_len;
    assert_true(scrape_body_gzip(first, &gz1, &gz1_len));

    /* A poll ends within the interval: the same body, and the same gzip bytes, are served. */
    d.dirty = true;
    assert_ptr_equal(daemon_exposition(&d), first);
    assert_ptr_equal(daemon_exposition(&d), first);
    assert_true(scrape_body_gzip(first, &gz2, &gz2_len));
    assert_ptr_equal(gz1, gz2);
    assert_int_equal(d.renders, 1);
    assert_true(d.dirty);

    /* The first scrape after the interval renders the change, once. */
    run_for(loop, 0.25);
    struct scrape_body *second = daemon_exposition(&d);
    assert_ptr_not_equal(second, first);
    assert_int_equal(d.renders, 2);
    assert_false(d.dirty);
    run_for(loop, 0.25);
    assert_ptr_equal(daemon_exposition(&d), second); /* past the interval, nothing changed */
    assert_int_equal(d.renders, 2);

    /* Loop time that ran backwards (a clock step) does not freeze the cache. */
    d.last_render = ev_now(loop) + 3600;
    d.dirty = true;
    daemon_exposition(&d);
    assert_int_equal(d.renders, 3);
    daemon_free(&d);
    ev_loop_destroy(loop);
}

/* Readings that go stale leave the exposition without any poll ending, after the interval
 * like any other change. */
static void test_stale_edge_with_min_interval(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    static const char *const hosts[] = {"ok"};
    struct inventory inv;
    make_inventory(&inv, hosts, 1, 0.1, 0.05);
    struct daemon d;
    char err[256];
    assert_int_equal(daemon_init_with(&d, loop, &inv, fake_registry, err, sizeof err), 0);
    daemon_start_polling(&d);
    run_for(loop, 0.25);
    ev_timer_stop(loop, &d.devices[0].tick); /* no more polls: nothing marks the data dirty */
    d.min_render_interval_s = 0.15;
    assert_non_null(strstr(metrics(&d), "tplink_fake_value{device=\"dev0\"}"));
    assert_false(d.dirty);
    uint64_t renders = d.renders;

    run_for(loop, 0.3);             /* past two intervals of 0.1 s: the readings are stale now */
    d.min_render_interval_s = 1000; /* still within the interval: the cached text stays */
    assert_non_null(strstr(metrics(&d), "tplink_fake_value{device=\"dev0\"}"));
    assert_int_equal(d.renders, renders);

    d.min_render_interval_s = 0.15; /* 0.3 s have passed: the stale edge renders */
    assert_null(strstr(metrics(&d), "tplink_fake_value"));
    assert_non_null(strstr(metrics(&d), "tplink_up{device=\"dev0\",kind=\"plug\"} 1\n"));
    assert_int_equal(d.renders, renders + 1);
    run_for(loop, 0.2);
    metrics(&d); /* the edge is behind: no render again */
    assert_int_equal(d.renders, renders + 1);
    daemon_free(&d);
    ev_loop_destroy(loop);
}

/* A thousand devices with one interval spread over it instead of firing together. */
static void test_first_poll_spread(void **state)
{
    int buckets[10] = {0};
    for (int i = 0; i < 1000; i++) {
        char name[32];
        snprintf(name, sizeof name, "plug-%d", i);
        double t = device_first_poll_delay(name, 15);
        assert_true(t >= 0 && t < 15);
        buckets[(int)(t / 1.5)]++;
    }
    for (int b = 0; b < 10; b++)
        assert_in_range(buckets[b], 50, 150);
    assert_true(device_first_poll_delay("same", 10) == device_first_poll_delay("same", 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_deadline),
        cmocka_unit_test(test_stale_readings_disappear),
        cmocka_unit_test(test_render_cached_until_change),
        cmocka_unit_test(test_min_render_interval),
        cmocka_unit_test(test_stale_edge_with_min_interval),
        cmocka_unit_test(test_first_poll_spread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

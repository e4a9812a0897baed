/* The plug simulator, driven over real loopback sockets: the test runs the libev loop in
 * small non-blocking steps while it plays the client, so every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectors/kasa/xor.h"
#include "sim/sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT 2.0 /* seconds: the longest any step may take */

struct fx {
    struct ev_loop *loop;
    struct sim *sim;
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
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sim_free(f->sim);
    ev_loop_destroy(f->loop);
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
        usleep(1000);
    } while (mono() < end);
}

static int add(struct fx *f, const char *profile)
{
    char err[256] = "";
    int idx = sim_add_plug(f->sim, profile, "127.0.0.1", 0, NULL, err, sizeof err);
    if (idx < 0)
        fail_msg("sim_add_plug %s: %s", profile, err);
    return idx;
}

/* Blocking connect (a loopback listener completes the handshake before accept), then
 * non-blocking I/O. Returns -errno on failure. */
static int dial(const char *addr, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        len = sizeof *s4;
    } else {
        assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        len = sizeof *s6;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

static int dial_dev(struct fx *f, int idx)
{
    int fd = dial(sim_device_addr(f->sim, idx), sim_device_port(f->sim, idx));
    assert_true(fd >= 0);
    return fd;
}

static void send_raw(int fd, const void *data, size_t len)
{
    assert_int_equal(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_frame(int fd, const char *json)
{
    uint8_t frame[8192];
    size_t n = kasa_frame_encode(json, strlen(json), frame, sizeof frame);
    assert_true(n > 0);
    send_raw(fd, frame, n);
}

struct rx {
    uint8_t data[KASA_FRAME_MAX + 8];
    size_t len;
};

enum rx_status { RX_FRAME, RX_EOF, RX_TIMEOUT };

static bool rx_has_frame(const struct rx *r)
{
    if (r->len < 4)
        return false;
    uint32_t want = (uint32_t)r->data[0] << 24 | (uint32_t)r->data[1] << 16 |
                    (uint32_t)r->data[2] << 8 | r->data[3];
    return want <= KASA_FRAME_MAX && r->len >= 4 + (size_t)want;
}

/* Runs the loop and reads until a whole frame, EOF (or reset) or the timeout. */
static enum rx_status rx_wait(struct fx *f, int fd, struct rx *r, double timeout)
{
    double end = mono() + timeout;
    do {
        ev_run(f->loop, EVRUN_NOWAIT);
        if (r->len < sizeof r->data) {
            ssize_t n = recv(fd, r->data + r->len, sizeof r->data - r->len, 0);
            if (n == 0 || (n < 0 && errno == ECONNRESET))
                return RX_EOF;
            if (n > 0) {
                r->len += (size_t)n;
                if (rx_has_frame(r))
                    return RX_FRAME;
                continue;
            }
        }
        usleep(500);
    } while (mono() < end);
    return RX_TIMEOUT;
}

/* Reads everything until EOF (or reset) or the timeout, frames or not. */
static enum rx_status rx_until_eof(struct fx *f, int fd, struct rx *r, double timeout)
{
    double end = mono() + timeout;
    do {
        ev_run(f->loop, EVRUN_NOWAIT);
        ssize_t n = recv(fd, r->data + r->len, sizeof r->data - r->len, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return RX_EOF;
        if (n > 0)
            r->len += (size_t)n;
        else
            usleep(500);
    } while (mono() < end && r->len < sizeof r->data);
    return RX_TIMEOUT;
}

/* The first frame in r as JSON (decrypting it), and drops it from r. */
static json_t *rx_take(struct rx *r)
{
    assert_true(rx_has_frame(r));
    size_t n =
        (size_t)r->data[0] << 24 | (size_t)r->data[1] << 16 | (size_t)r->data[2] << 8 | r->data[3];
    kasa_xor_decrypt(r->data + 4, n, r->data + 4);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)r->data + 4, n, 0, &jerr);
    if (!j)
        fail_msg("reply is not JSON: %s", jerr.text);
    memmove(r->data, r->data + 4 + n, r->len - 4 - n);
    r->len -= 4 + n;
    return j;
}

static json_t *query_fd(struct fx *f, int fd, const char *json)
{
    struct rx *r = calloc(1, sizeof *r);
    assert_non_null(r);
    send_frame(fd, json);
    assert_int_equal(rx_wait(f, fd, r, WAIT), RX_FRAME);
    json_t *j = rx_take(r);
    free(r);
    return j;
}

static json_t *query(struct fx *f, int idx, const char *json)
{
    int fd = dial_dev(f, idx);
    json_t *j = query_fd(f, fd, json);
    close(fd);
    return j;
}

/* reply[module][method], which must exist. */
static json_t *at(json_t *reply, const char *module, const char *method)
{
    json_t *m = json_object_get(reply, module);
    assert_true(json_is_object(m));
    if (!method)
        return m;
    json_t *r = json_object_get(m, method);
    if (!json_is_object(r))
        fail_msg("no %s.%s in reply", module, method);
    return r;
}

static json_int_t int_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    return json_integer_value(v);
}

static double real_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_real(v))
        fail_msg("%s is not a float", key);
    return json_real_value(v);
}

static const char *str_field(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("%s is not a string", key);
    return json_string_value(v);
}

static bool is_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("0123456789ABCDEF", s[i]))
            return false;
    return true;
}

static json_t *sysinfo(struct fx *f, int idx, json_t **holder)
{
    *holder = query(f, idx, "{\"system\":{\"get_sysinfo\":{}}}");
    return at(*holder, "system", "get_sysinfo");
}

static json_t *realtime(struct fx *f, int idx, json_t **holder)
{
    *holder = query(f, idx, "{\"emeter\":{\"get_realtime\":{}}}");
    return at(*holder, "emeter", "get_realtime");
}

/* ---- replies ---- */

static void test_sysinfo_fields(void **state)
{
    struct fx *f = *state;
    int v1 = add(f, "hs110v1"), v2 = add(f, "hs110v2"), h = add(f, "hs100");
    json_t *j, *s;

    s = sysinfo(f, v1, &j);
    assert_int_equal(int_field(s, "err_code"), 0);
    assert_string_equal(str_field(s, "model"), "HS110(EU)");
    assert_string_equal(str_field(s, "hw_ver"), "1.0");
    assert_string_equal(str_field(s, "type"), "IOT.SMARTPLUGSWITCH");
    assert_null(json_object_get(s, "mic_type"));
    assert_string_equal(str_field(s, "feature"), "TIM:ENE");
    assert_string_equal(str_field(s, "deviceId"), sim_device_id(f->sim, v1));
    assert_true(is_hex(str_field(s, "deviceId"), 40));
    assert_true(is_hex(str_field(s, "hwId"), 32));
    assert_true(is_hex(str_field(s, "oemId"), 32));
    assert_int_equal(strlen(str_field(s, "mac")), 17);
    assert_string_equal(str_field(s, "alias"), "Fridge");
    assert_non_null(strstr(str_field(s, "sw_ver"), " Build "));
    assert_int_equal(int_field(s, "relay_state"), 1);
    assert_true(int_field(s, "on_time") >= 86400); /* the profile's on_time keeps counting */
    assert_int_equal(int_field(s, "updating"), 0);
    assert_true(int_field(s, "rssi") < 0);
    real_field(s, "latitude");
    json_decref(j);

    s = sysinfo(f, v2, &j);
    assert_string_equal(str_field(s, "mic_type"), "IOT.SMARTPLUGSWITCH");
    assert_null(json_object_get(s, "type"));
    assert_string_equal(str_field(s, "hw_ver"), "2.0");
    int_field(s, "latitude_i");
    int_field(s, "longitude_i");
    assert_string_not_equal(str_field(s, "deviceId"), sim_device_id(f->sim, v1));
    json_decref(j);

    s = sysinfo(f, h, &j);
    assert_string_equal(str_field(s, "model"), "HS100(US)");
    assert_string_equal(str_field(s, "feature"), "TIM");
    json_decref(j);
}

static void test_combined_request(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "kp115");
    json_t *j = query(f, idx,
                      "{\"system\":{\"get_sysinfo\":null},\"emeter\":{\"get_realtime\":{}},"
                      "\"cnCloud\":{\"get_info\":{}},\"context\":{\"child_ids\":[\"x\"]}}");
    assert_int_equal(json_object_size(j), 3); /* context is not echoed by a plug */
    assert_int_equal(int_field(at(j, "system", "get_sysinfo"), "err_code"), 0);
    assert_int_equal(int_field(at(j, "emeter", "get_realtime"), "err_code"), 0);
    json_t *cloud = at(j, "cnCloud", "get_info");
    assert_int_equal(int_field(cloud, "err_code"), 0);
    int_field(cloud, "binded");
    /* The reply mirrors the request's order. */
    const char *first = json_object_iter_key(json_object_iter(j));
    assert_string_equal(first, "system");
    json_decref(j);
}

static void test_emeter_units(void **state)
{
    struct fx *f = *state;
    int v1 = add(f, "hs110v1"), v2 = add(f, "hs110v2"), kp = add(f, "kp115");
    json_t *j, *r;

    r = realtime(f, v1, &j);
    double v = real_field(r, "voltage"), w = real_field(r, "power");
    double a = real_field(r, "current"), kwh = real_field(r, "total");
    assert_null(json_object_get(r, "power_mw"));
    assert_true(v > 230.12 * 0.97 && v < 230.12 * 1.03);
    assert_true(w >= 78.5 * 0.9 - 1e-6 && w <= 78.5 * 1.1 + 1e-6);
    assert_true(fabs(a - w / v) < 1e-5);
    assert_true(kwh >= 412.733 && kwh < 413);
    assert_int_equal(int_field(r, "err_code"), 0);
    json_decref(j);

    r = realtime(f, v2, &j);
    json_int_t mv = int_field(r, "voltage_mv"), mw = int_field(r, "power_mw");
    json_int_t ma = int_field(r, "current_ma"), wh = int_field(r, "total_wh");
    assert_null(json_object_get(r, "power"));
    assert_true(mv > 229870 * 0.97 && mv < 229870 * 1.03);
    assert_true(mw >= 480250 * 0.9 - 1 && mw <= 480250 * 1.1 + 1);
    assert_true(llabs(ma - llround((double)mw * 1000.0 / (double)mv)) <= 1);
    assert_true(wh >= 88214 && wh < 88300);
    json_decref(j);

    r = realtime(f, kp, &j);
    assert_true(int_field(r, "voltage_mv") > 220000);
    assert_true(int_field(r, "power_mw") > 100000);
    json_decref(j);
}

static void test_relay_off_and_on(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs110v2");
    json_t *j, *s, *r;

    j = query(f, idx, "{\"system\":{\"set_relay_state\":{\"state\":0}}}");
    assert_int_equal(int_field(at(j, "system", "set_relay_state"), "err_code"), 0);
    json_decref(j);
    sim_advance_clock(f->sim, 120);
    s = sysinfo(f, idx, &j);
    assert_int_equal(int_field(s, "relay_state"), 0);
    assert_int_equal(int_field(s, "on_time"), 0);
    json_decref(j);
    r = realtime(f, idx, &j);
    assert_int_equal(int_field(r, "power_mw"), 0);
    assert_int_equal(int_field(r, "current_ma"), 0);
    assert_true(int_field(r, "voltage_mv") > 200000); /* the mains is still there */
    json_decref(j);

    assert_int_equal(sim_set_relay(f->sim, idx, 1), 0);
    s = sysinfo(f, idx, &j);
    assert_int_equal(int_field(s, "relay_state"), 1);
    assert_true(int_field(s, "on_time") <= 1);
    json_decref(j);
    sim_advance_clock(f->sim, 100);
    s = sysinfo(f, idx, &j);
    assert_true(int_field(s, "on_time") >= 100 && int_field(s, "on_time") <= 102);
    json_decref(j);
    r = realtime(f, idx, &j);
    assert_true(int_field(r, "power_mw") > 400000);
    json_decref(j);

    /* on_time follows the wall clock too, not only the test clock. */
    pump(f, 1.1);
    s = sysinfo(f, idx, &j);
    assert_true(int_field(s, "on_time") >= 101);
    json_decref(j);

    j = query(f, idx, "{\"system\":{\"set_relay_state\":{\"state\":\"on\"}}}");
    assert_int_equal(int_field(at(j, "system", "set_relay_state"), "err_code"), -3);
    json_decref(j);
    assert_int_equal(sim_set_relay(f->sim, 7, 1), -1);
}

static void test_energy_grows_monotonically(void **state)
{
    struct fx *f = *state;
    int v2 = add(f, "hs110v2"), v1 = add(f, "hs110v1");
    json_t *j;
    json_int_t prev_wh = int_field(realtime(f, v2, &j), "total_wh");
    json_decref(j);
    double prev_kwh = real_field(realtime(f, v1, &j), "total");
    json_decref(j);
    json_int_t start_wh = prev_wh;
    for (int i = 0; i < 40; i++) {
        sim_advance_clock(f->sim, 90); /* one hour in all */
        json_int_t wh = int_field(realtime(f, v2, &j), "total_wh");
        json_decref(j);
        double kwh = real_field(realtime(f, v1, &j), "total");
        json_decref(j);
        assert_true(wh >= prev_wh);
        assert_true(kwh >= prev_kwh);
        prev_wh = wh;
        prev_kwh = kwh;
    }
    /* About one hour at 480 W ±10 %. */
    assert_true(prev_wh - start_wh >= 420 && prev_wh - start_wh <= 540);

    /* Off: no energy. */
    sim_set_relay(f->sim, v2, 0);
    sim_advance_clock(f->sim, 3600);
    assert_int_equal(int_field(realtime(f, v2, &j), "total_wh"), prev_wh);
    json_decref(j);

    /* erase_emeter_stat resets the counter, as on a real plug. */
    sim_set_relay(f->sim, v2, 1);
    j = query(f, v2, "{\"emeter\":{\"erase_emeter_stat\":{}}}");
    assert_int_equal(int_field(at(j, "emeter", "erase_emeter_stat"), "err_code"), 0);
    json_decref(j);
    assert_int_equal(int_field(realtime(f, v2, &j), "total_wh"), 0);
    json_decref(j);
    sim_advance_clock(f->sim, 600);
    assert_true(int_field(realtime(f, v2, &j), "total_wh") >= 60);
    json_decref(j);
}

static void collect_power(struct fx *f, int idx, json_int_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        json_t *j;
        out[i] = int_field(realtime(f, idx, &j), "power_mw");
        json_decref(j);
        sim_advance_clock(f->sim, 7);
    }
}

static void test_power_walk_bounded_and_seeded(void **state)
{
    struct fx *f = *state;
    enum { N = 60 };
    json_int_t a[N], b[N], c[N];
    struct sim *saved = f->sim;

    sim_set_seed(f->sim, 42);
    int idx = add(f, "hs110v2");
    collect_power(f, idx, a, N);
    json_int_t lo = a[0], hi = a[0];
    for (int i = 0; i < N; i++) {
        assert_true(a[i] >= 432225 - 1 && a[i] <= 528275 + 1); /* 480250 ±10 % */
        lo = a[i] < lo ? a[i] : lo;
        hi = a[i] > hi ? a[i] : hi;
    }
    assert_true(hi - lo > 1000); /* it does wander */

    /* The same seed in another sim gives the same walk; another seed does not. */
    f->sim = sim_new(f->loop);
    sim_set_seed(f->sim, 42);
    idx = add(f, "hs110v2");
    collect_power(f, idx, b, N);
    sim_free(f->sim);
    f->sim = sim_new(f->loop);
    sim_set_seed(f->sim, 43);
    idx = add(f, "hs110v2");
    collect_power(f, idx, c, N);
    sim_free(f->sim);
    f->sim = saved;
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
}

static void test_errors(void **state)
{
    struct fx *f = *state;
    int h = add(f, "hs100");
    json_t *j = query(f, h,
                      "{\"nosuch\":{\"x\":{}},\"system\":{\"nosuch\":{}},"
                      "\"emeter\":{\"get_realtime\":{},\"get_daystat\":{\"year\":2024,"
                      "\"month\":1}}}");
    json_t *m = at(j, "nosuch", NULL);
    assert_int_equal(int_field(m, "err_code"), -1);
    assert_string_equal(str_field(m, "err_msg"), "module not support");
    m = at(j, "system", "nosuch");
    assert_int_equal(int_field(m, "err_code"), -2);
    assert_string_equal(str_field(m, "err_msg"), "member not support");
    /* A plug without a meter: method-level -1, for every emeter method. */
    m = at(j, "emeter", "get_realtime");
    assert_int_equal(int_field(m, "err_code"), -1);
    assert_string_equal(str_field(m, "err_msg"), "module not support");
    assert_int_equal(int_field(at(j, "emeter", "get_daystat"), "err_code"), -1);
    json_decref(j);
}

static void test_setters(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs110v1");
    json_t *j = query(f, idx,
                      "{\"system\":{\"set_dev_alias\":{\"alias\":\"Kettle \\u00e9\"},"
                      "\"set_led_off\":{\"off\":1}}}");
    assert_int_equal(int_field(at(j, "system", "set_dev_alias"), "err_code"), 0);
    assert_int_equal(int_field(at(j, "system", "set_led_off"), "err_code"), 0);
    json_decref(j);
    json_t *s = sysinfo(f, idx, &j);
    assert_string_equal(str_field(s, "alias"), "Kettle \xc3\xa9");
    assert_int_equal(int_field(s, "led_off"), 1);
    json_decref(j);

    char req[256];
    snprintf(req, sizeof req, "{\"system\":{\"set_dev_alias\":{\"alias\":\"%0100d\"}}}", 0);
    j = query(f, idx, req);
    assert_int_equal(int_field(at(j, "system", "set_dev_alias"), "err_code"), -3);
    json_decref(j);
}

static void test_stats_and_time(void **state)
{
    struct fx *f = *state;
    int v1 = add(f, "hs110v1"), v2 = add(f, "hs110v2");
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char req[256];
    snprintf(req, sizeof req,
             "{\"emeter\":{\"get_daystat\":{\"year\":%d,\"month\":%d},"
             "\"get_monthstat\":{\"year\":%d}},\"time\":{\"get_time\":{}}}",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_year + 1900);
    sim_advance_clock(f->sim, 1); /* stays within today unless run at midnight */
    json_t *j = query(f, v2, req);
    json_t *days = json_object_get(at(j, "emeter", "get_daystat"), "day_list");
    assert_true(json_array_size(days) <= 1);
    if (json_array_size(days) == 1)
        int_field(json_array_get(days, 0), "energy_wh");
    assert_true(json_is_array(json_object_get(at(j, "emeter", "get_monthstat"), "month_list")));
    assert_true(int_field(at(j, "time", "get_time"), "year") >= 2024);
    json_decref(j);

    j = query(f, v1, req);
    days = json_object_get(at(j, "emeter", "get_daystat"), "day_list");
    if (json_array_size(days) == 1)
        real_field(json_array_get(days, 0), "energy");
    json_decref(j);

    j = query(f, v1, "{\"emeter\":{\"get_daystat\":{}}}");
    assert_int_equal(int_field(at(j, "emeter", "get_daystat"), "err_code"), -3);
    json_decref(j);
}

/* ---- transport ---- */

static void test_split_into_single_bytes(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs100");
    const char *req = "{\"system\":{\"get_sysinfo\":{}}}";
    uint8_t frame[64];
    size_t n = kasa_frame_encode(req, strlen(req), frame, sizeof frame);
    int fd = dial_dev(f, idx);
    for (size_t i = 0; i < n; i++) {
        send_raw(fd, frame + i, 1);
        pump(f, 0.002);
    }
    struct rx *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(rx_wait(f, fd, r, WAIT), RX_FRAME);
    json_t *j = rx_take(r);
    assert_string_equal(str_field(at(j, "system", "get_sysinfo"), "model"), "HS100(US)");
    json_decref(j);
    free(r);
    close(fd);
}

static void test_sequential_and_pipelined(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs110v2");
    int fd = dial_dev(f, idx);
    for (int i = 0; i < 3; i++) {
        json_t *j = query_fd(f, fd, "{\"system\":{\"get_sysinfo\":{}}}");
        assert_int_equal(int_field(at(j, "system", "get_sysinfo"), "err_code"), 0);
        json_decref(j);
    }
    /* Two frames in one segment: two replies, in order. */
    const char *a = "{\"system\":{\"get_sysinfo\":{}}}", *b = "{\"emeter\":{\"get_realtime\":{}}}";
    uint8_t buf[256];
    size_t n = kasa_frame_encode(a, strlen(a), buf, sizeof buf);
    n += kasa_frame_encode(b, strlen(b), buf + n, sizeof buf - n);
    send_raw(fd, buf, n);
    struct rx *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(rx_wait(f, fd, r, WAIT), RX_FRAME);
    json_t *j = rx_take(r);
    at(j, "system", "get_sysinfo");
    json_decref(j);
    if (!rx_has_frame(r))
        assert_int_equal(rx_wait(f, fd, r, WAIT), RX_FRAME);
    j = rx_take(r);
    at(j, "emeter", "get_realtime");
    json_decref(j);
    free(r);
    close(fd);
}

static void expect_closed_silently(struct fx *f, int fd)
{
    struct rx *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(rx_wait(f, fd, r, WAIT), RX_EOF);
    assert_int_equal(r->len, 0);
    free(r);
}

static void test_oversized_prefix_closes(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs100");
    int fd = dial_dev(f, idx);
    uint32_t big = KASA_FRAME_MAX + 1;
    uint8_t hdr[4] = {(uint8_t)(big >> 24), (uint8_t)(big >> 16), (uint8_t)(big >> 8),
                      (uint8_t)big};
    send_raw(fd, hdr, sizeof hdr);
    expect_closed_silently(f, fd);
    close(fd);
    assert_int_equal(sim_device_connections(f->sim, idx), 0);
}

static void test_invalid_json_closes(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs100");
    const char *bad[] = {"{\"system\":", "[1,2]", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = dial_dev(f, idx);
        uint8_t frame[64];
        size_t n = kasa_frame_encode(bad[i], strlen(bad[i]), frame, sizeof frame);
        send_raw(fd, frame, n);
        expect_closed_silently(f, fd);
        close(fd);
    }
    json_t *j = query(f, idx, "{}"); /* an empty object is a valid, empty request */
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);
}

static void test_connection_cap(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs100");
    int fds[SIM_CONNS_PER_DEVICE];
    for (int i = 0; i < SIM_CONNS_PER_DEVICE; i++)
        fds[i] = dial_dev(f, idx);
    pump(f, 0.05);
    assert_int_equal(sim_device_connections(f->sim, idx), SIM_CONNS_PER_DEVICE);
    int extra = dial_dev(f, idx);
    expect_closed_silently(f, extra);
    close(extra);
    assert_int_equal(sim_device_connections(f->sim, idx), SIM_CONNS_PER_DEVICE);
    json_t *j = query_fd(f, fds[0], "{\"system\":{\"get_sysinfo\":{}}}");
    json_decref(j);
    for (int i = 0; i < SIM_CONNS_PER_DEVICE; i++)
        close(fds[i]);
    pump(f, 0.05);
    assert_int_equal(sim_device_connections(f->sim, idx), 0);
}

static int udp_query(const char *addr, uint16_t port, const char *json, char *out, size_t cap,
                     struct fx *f, uint16_t *from_port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    uint8_t buf[4096];
    size_t len = strlen(json);
    kasa_xor_encrypt((const uint8_t *)json, len, buf);
    assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof sa), (ssize_t)len);
    double end = mono() + 0.5;
    ssize_t n = -1;
    struct sockaddr_in from;
    socklen_t fromlen = sizeof from;
    while (n < 0 && mono() < end) {
        ev_run(f->loop, EVRUN_NOWAIT);
        n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0)
            usleep(500);
    }
    close(fd);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    kasa_xor_decrypt(buf, (size_t)n, (uint8_t *)out);
    out[n] = '\0';
    *from_port = ntohs(from.sin_port);
    return (int)n;
}

static void test_udp(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs110v1");
    char out[4096];
    uint16_t from = 0;
    assert_true(udp_query("127.0.0.1", sim_device_port(f->sim, idx),
                          "{\"system\":{\"get_sysinfo\":{}},\"emeter\":{\"get_realtime\":{}}}", out,
                          sizeof out, f, &from) > 0);
    assert_int_equal(from, sim_device_port(f->sim, idx)); /* answered from the same socket */
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(str_field(at(j, "system", "get_sysinfo"), "alias"), "Fridge");
    real_field(at(j, "emeter", "get_realtime"), "power");
    json_decref(j);
}

static void test_shared_port_and_ipv6(void **state)
{
    struct fx *f = *state;
    char err[256];
    int a = add(f, "hs100");
    uint16_t port = sim_device_port(f->sim, a);
    int b = sim_add_plug(f->sim, "hs110v2", "127.0.0.2", port, "second", err, sizeof err);
    if (b < 0)
        fail_msg("%s", err);
    assert_int_equal(sim_device_port(f->sim, b), port);
    assert_string_equal(sim_device_addr(f->sim, b), "127.0.0.2");
    json_t *j, *s;
    s = sysinfo(f, b, &j);
    assert_string_equal(str_field(s, "alias"), "second");
    assert_string_equal(str_field(s, "model"), "HS110(EU)");
    json_decref(j);
    s = sysinfo(f, a, &j);
    assert_string_equal(str_field(s, "model"), "HS100(US)");
    json_decref(j);

    /* The same address and port twice is a bind error. */
    assert_int_equal(sim_add_plug(f->sim, "hs100", "127.0.0.1", port, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "127.0.0.1"));

    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&s6, sizeof s6) == 0;
    if (probe >= 0)
        close(probe);
    if (!have_v6)
        return; /* no IPv6 loopback here */
    int c = sim_add_plug(f->sim, "kp115", "::1", 0, NULL, err, sizeof err);
    if (c < 0)
        fail_msg("%s", err);
    assert_string_equal(sim_device_addr(f->sim, c), "::1");
    s = sysinfo(f, c, &j);
    assert_string_equal(str_field(s, "model"), "KP115(EU)");
    json_decref(j);
}

/* ---- faults ---- */

static void test_fault_refuse(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs110v1");
    uint16_t port = sim_device_port(f->sim, idx);
    int held = dial_dev(f, idx);
    pump(f, 0.02);
    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_REFUSE), 0);
    assert_int_equal(sim_device_fault(f->sim, idx), SIM_FAULT_REFUSE);
    expect_closed_silently(f, held); /* open connections go too */
    close(held);
    assert_int_equal(dial("127.0.0.1", port), -ECONNREFUSED);
    char out[4096];
    uint16_t from;
    assert_int_equal(udp_query("127.0.0.1", port, "{\"system\":{\"get_sysinfo\":{}}}", out,
                               sizeof out, f, &from),
                     -1);

    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_NONE), 0);
    assert_int_equal(sim_device_port(f->sim, idx), port);
    json_t *j;
    sysinfo(f, idx, &j);
    json_decref(j);
}

static void test_fault_hang(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs110v2");
    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_HANG), 0);
    int fd = dial_dev(f, idx);
    send_frame(fd, "{\"system\":{\"get_sysinfo\":{}}}");
    struct rx *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(rx_wait(f, fd, r, 0.3), RX_TIMEOUT);
    assert_int_equal(r->len, 0);
    assert_int_equal(sim_device_connections(f->sim, idx), 1); /* held open */
    free(r);
    close(fd);
    pump(f, 0.05);
    assert_int_equal(sim_device_connections(f->sim, idx), 0); /* released when the client goes */

    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_NONE), 0);
    json_t *j;
    sysinfo(f, idx, &j);
    json_decref(j);
}

static void test_fault_garbage(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs100");
    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_GARBAGE), 0);
    for (int i = 0; i < 5; i++) {
        int fd = dial_dev(f, idx);
        send_frame(fd, "{\"system\":{\"get_sysinfo\":{}}}");
        struct rx *r = calloc(1, sizeof *r);
        assert_non_null(r);
        assert_int_equal(rx_until_eof(f, fd, r, WAIT), RX_EOF);
        assert_true(r->len >= 8 && r->len <= 256);
        if (rx_has_frame(r)) { /* a random length prefix that happens to fit: still not JSON */
            size_t n = r->len - 4;
            kasa_xor_decrypt(r->data + 4, n, r->data + 4);
            assert_null(json_loadb((const char *)r->data + 4, n, 0, NULL));
        }
        free(r);
        close(fd);
    }
    char out[4096];
    uint16_t from;
    int n = udp_query("127.0.0.1", sim_device_port(f->sim, idx),
                      "{\"system\":{\"get_sysinfo\":{}}}", out, sizeof out, f, &from);
    assert_true(n >= 8);
    assert_null(json_loadb(out, (size_t)n, 0, NULL));
}

static void test_fault_close(void **state)
{
    struct fx *f = *state;
    int idx = add(f, "hs110v1");
    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_CLOSE), 0);
    int fd = dial_dev(f, idx);
    send_frame(fd, "{\"system\":{\"get_sysinfo\":{}}}");
    expect_closed_silently(f, fd);
    close(fd);
    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_NONE), 0);
    json_t *j;
    sysinfo(f, idx, &j);
    json_decref(j);
    assert_int_equal(sim_set_fault(f->sim, 9, SIM_FAULT_CLOSE), -1);
}

static void test_fault_names(void **state)
{
    enum sim_fault out;
    for (int i = 0; i < SIM_FAULT_COUNT; i++) {
        assert_int_equal(sim_fault_parse(sim_fault_name((enum sim_fault)i), &out), 0);
        assert_int_equal(out, i);
    }
    assert_string_equal(sim_fault_name(SIM_FAULT_HANG), "hang");
    assert_int_equal(sim_fault_parse("slow", &out), -1);
    assert_int_equal(sim_fault_parse(NULL, &out), -1);
}

/* ---- profiles ---- */

static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_builtin_profiles(void **state)
{
    struct fx *f = *state;
    const char *want[] = {"hs100", "hs110v1", "hs110v2", "kp115", "hs300", "kp303"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool found = false;
        for (size_t k = 0; sim_builtin_profiles[k]; k++)
            found |= strcmp(sim_builtin_profiles[k], want[i]) == 0;
        assert_true(found);
    }
    for (size_t k = 0; sim_builtin_profiles[k]; k++) {
        int idx = add(f, sim_builtin_profiles[k]);
        json_t *j;
        json_t *s = sysinfo(f, idx, &j);
        assert_int_equal(int_field(s, "err_code"), 0);
        bool ene = strstr(str_field(s, "feature"), "ENE") != NULL;
        json_decref(j);
        j = query(f, idx, "{\"emeter\":{\"get_realtime\":{}}}");
        /* ENE in feature <=> a working meter; without one, the error comes at method level
         * or (a KP303, whose dump has no emeter at all) at module level. */
        json_t *em = at(j, "emeter", NULL);
        json_t *r = json_object_get(em, "get_realtime");
        assert_int_equal(int_field(r ? r : em, "err_code") == 0, ene);
        json_decref(j);
    }
}

static void test_profile_from_file(void **state)
{
    struct fx *f = *state;
    char path[] = "/tmp/test_sim_plug_XXXXXX";
    write_file(path, "{\"discovery_result\":{\"ignored\":true},"
                     "\"system\":{\"get_sysinfo\":{\"model\":\"EP10(US)\",\"alias\":\"From file\","
                     "\"feature\":\"TIM\",\"relay_state\":0,\"on_time\":0,\"err_code\":0}},"
                     "\"emeter\":{\"err_code\":-1,\"err_msg\":\"module not support\"},"
                     "\"schedule\":{\"get_rules\":{\"rule_list\":[],\"err_code\":0}}}");
    char err[256] = "";
    int idx = sim_add_plug(f->sim, path, "127.0.0.1", 0, NULL, err, sizeof err);
    unlink(path);
    if (idx < 0)
        fail_msg("%s", err);
    json_t *j = query(f, idx,
                      "{\"system\":{\"get_sysinfo\":{}},\"emeter\":{\"get_realtime\":{}},"
                      "\"schedule\":{\"get_rules\":{}}}");
    json_t *s = at(j, "system", "get_sysinfo");
    assert_string_equal(str_field(s, "model"), "EP10(US)");
    assert_string_equal(str_field(s, "alias"), "From file");
    assert_int_equal(int_field(s, "relay_state"), 0);
    assert_true(is_hex(str_field(s, "deviceId"), 40));
    /* Module-level error, exactly as the dump has it. */
    assert_int_equal(int_field(at(j, "emeter", NULL), "err_code"), -1);
    assert_null(json_object_get(at(j, "emeter", NULL), "get_realtime"));
    assert_true(json_is_array(json_object_get(at(j, "schedule", "get_rules"), "rule_list")));
    json_decref(j);
    j = query(f, idx, "{\"discovery_result\":{\"ignored\":{}}}");
    /* Top-level keys that are not modules of the device stay unknown. */
    assert_int_equal(int_field(at(j, "discovery_result", NULL), "err_code"), -1);
    json_decref(j);
}

static void expect_add_error(struct fx *f, const char *profile, const char *addr,
                             const char *needle)
{
    char err[256] = "";
    size_t before = sim_device_count(f->sim);
    assert_int_equal(sim_add_plug(f->sim, profile, addr, 0, NULL, err, sizeof err), -1);
    assert_int_equal(sim_device_count(f->sim), before);
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_bad_profiles_and_addresses(void **state)
{
    struct fx *f = *state;
    expect_add_error(f, "/nonexistent/plug.json", "127.0.0.1", "/nonexistent/plug.json");
    expect_add_error(f, "hs999", "127.0.0.1", "hs999");

    char path[] = "/tmp/test_sim_plug_XXXXXX";
    write_file(path, "{\"system\": {\n  \"get_sysinfo\": {,}}}");
    char needle[64];
    snprintf(needle, sizeof needle, "%s:2:", path);
    expect_add_error(f, path, "127.0.0.1", needle);
    unlink(path);

    char path2[] = "/tmp/test_sim_plug_XXXXXX";
    write_file(path2, "{\"emeter\":{}}");
    expect_add_error(f, path2, "127.0.0.1", "get_sysinfo");
    unlink(path2);

    expect_add_error(f, "hs100", "192.0.2.1", "loopback");
    expect_add_error(f, "hs100", "localhost", "localhost");
    expect_add_error(f, "hs100", "::", "loopback");
}

/* ---- strips ---- */

static json_t *children_of(json_t *sysinfo)
{
    json_t *c = json_object_get(sysinfo, "children");
    assert_true(json_is_array(c));
    return c;
}

/* A request scoped to one child id. */
static json_t *query_child(struct fx *f, int idx, const char *id, const char *body)
{
    char req[512];
    snprintf(req, sizeof req, "{\"context\":{\"child_ids\":[\"%s\"]},%s", id, body);
    return query(f, idx, req);
}

static json_t *outlet_realtime(struct fx *f, int idx, const char *id, json_t **holder)
{
    *holder = query_child(f, idx, id, "\"emeter\":{\"get_realtime\":{}}}");
    return at(*holder, "emeter", "get_realtime");
}

static void child_id(struct fx *f, int idx, int n, char *out, size_t cap)
{
    snprintf(out, cap, "%s%02X", sim_device_id(f->sim, idx), (unsigned)n);
}

static json_int_t outlet_state(json_t *sysinfo, size_t i)
{
    return int_field(json_array_get(children_of(sysinfo), i), "state");
}

static void test_strip_sysinfo(void **state)
{
    struct fx *f = *state;
    int h = add(f, "hs300");
    json_t *j, *s = sysinfo(f, h, &j);
    assert_string_equal(str_field(s, "model"), "HS300(US)");
    assert_string_equal(str_field(s, "feature"), "TIM:ENE");
    assert_null(json_object_get(s, "relay_state")); /* a strip has no relay of its own */
    assert_null(json_object_get(s, "on_time"));
    assert_int_equal(int_field(s, "child_num"), 6);
    json_t *ch = children_of(s);
    assert_int_equal(json_array_size(ch), 6);
    const json_int_t states[6] = {1, 1, 1, 0, 0, 1};
    const char *aliases[6] = {"TV", "Router", "Empty", "Floor lamp", "Empty", "Desk fan"};
    for (size_t i = 0; i < 6; i++) {
        json_t *c = json_array_get(ch, i);
        char id[64];
        child_id(f, h, (int)i, id, sizeof id);
        assert_string_equal(str_field(c, "id"), id);
        assert_int_equal(strlen(id), 42);
        assert_int_equal(int_field(c, "state"), states[i]);
        assert_string_equal(str_field(c, "alias"), aliases[i]);
        if (!states[i])
            assert_int_equal(int_field(c, "on_time"), 0);
    }
    json_int_t router_on = int_field(json_array_get(ch, 1), "on_time");
    assert_true(router_on >= 2592000);
    json_decref(j);

    /* Outlet on_time counts while on (the npm simulator's stays 0). */
    sim_advance_clock(f->sim, 100);
    s = sysinfo(f, h, &j);
    ch = children_of(s);
    assert_true(int_field(json_array_get(ch, 1), "on_time") >= router_on + 100);
    assert_int_equal(int_field(json_array_get(ch, 3), "on_time"), 0);
    json_decref(j);

    int k = add(f, "kp303");
    s = sysinfo(f, k, &j);
    assert_string_equal(str_field(s, "feature"), "TIM");
    assert_int_equal(json_array_size(children_of(s)), 3);
    assert_null(json_object_get(s, "relay_state"));
    json_decref(j);
}

static void test_strip_outlet_meters(void **state)
{
    struct fx *f = *state;
    int h = add(f, "hs300");
    char ids[6][64];
    for (int i = 0; i < 6; i++)
        child_id(f, h, i, ids[i], sizeof ids[i]);
    const json_int_t base_mw[6] = {85300, 12100, 0, 0, 0, 31800};
    json_int_t wh0[6];
    json_t *j, *r;
    for (int i = 0; i < 6; i++) {
        r = outlet_realtime(f, h, ids[i], &j);
        assert_int_equal(int_field(r, "err_code"), 0);
        assert_int_equal(int_field(r, "slot_id"), i);
        json_int_t mw = int_field(r, "power_mw");
        assert_true(mw >= base_mw[i] * 0.9 - 1 && mw <= base_mw[i] * 1.1 + 1);
        json_int_t mv = int_field(r, "voltage_mv");
        assert_true(mv > 120000 * 0.97 && mv < 120500 * 1.03);
        wh0[i] = int_field(r, "total_wh");
        json_decref(j);
    }
    assert_int_equal(wh0[1], 95210);

    /* Independent walks: over a minute the TV's and the fan's powers do not move together. */
    double ratio_first = 0, ratio_moved = 0;
    for (int step = 0; step < 2; step++) {
        json_t *j2;
        double tv = (double)int_field(outlet_realtime(f, h, ids[0], &j), "power_mw");
        double fan = (double)int_field(outlet_realtime(f, h, ids[5], &j2), "power_mw");
        json_decref(j);
        json_decref(j2);
        if (step == 0)
            ratio_first = tv / fan;
        else
            ratio_moved = tv / fan;
        sim_advance_clock(f->sim, 60);
    }
    assert_true(fabs(ratio_first - ratio_moved) > 1e-4);

    /* Energy integrates per outlet: about an hour at each outlet's own load. */
    sim_advance_clock(f->sim, 3600);
    for (int i = 0; i < 6; i++) {
        json_int_t d = int_field(outlet_realtime(f, h, ids[i], &j), "total_wh") - wh0[i];
        json_decref(j);
        double want = (double)base_mw[i] / 1000.0 * (3600.0 + 120) / 3600.0;
        assert_true(d >= want * 0.88 - 1 && d <= want * 1.12 + 1);
    }

    /* Without context the parent answers outlet 0 ("slot_id":0), not a total: with outlet 0
     * off it reads 0 W although others draw power. */
    assert_int_equal(sim_set_outlet(f->sim, h, 1, 0), 0);
    r = realtime(f, h, &j);
    assert_int_equal(int_field(r, "slot_id"), 0);
    assert_int_equal(int_field(r, "power_mw"), 0);
    json_int_t parent_wh = int_field(r, "total_wh");
    json_decref(j);
    r = outlet_realtime(f, h, ids[0], &j);
    assert_int_equal(int_field(r, "total_wh"), parent_wh);
    json_decref(j);
    r = outlet_realtime(f, h, ids[1], &j);
    assert_true(int_field(r, "power_mw") > 10000);
    json_decref(j);
}

static void test_strip_context_scopes(void **state)
{
    struct fx *f = *state;
    int h = add(f, "hs300");
    char a[64], b[64], req[512];
    child_id(f, h, 0, a, sizeof a);
    child_id(f, h, 5, b, sizeof b);

    /* set_relay_state acts on every listed id, set_dev_alias on the first only. */
    snprintf(req, sizeof req,
             "{\"context\":{\"child_ids\":[\"%s\",\"%s\"]},\"system\":{\"set_relay_state\":"
             "{\"state\":0},\"set_dev_alias\":{\"alias\":\"Projector\"}}}",
             a, b);
    json_t *j = query(f, h, req);
    assert_int_equal(int_field(at(j, "system", "set_relay_state"), "err_code"), 0);
    assert_int_equal(int_field(at(j, "system", "set_dev_alias"), "err_code"), 0);
    json_decref(j);
    json_t *s = sysinfo(f, h, &j);
    const json_int_t want[6] = {0, 1, 1, 0, 0, 0};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(outlet_state(s, i), want[i]);
    json_t *ch = children_of(s);
    assert_string_equal(str_field(json_array_get(ch, 0), "alias"), "Projector");
    assert_string_equal(str_field(json_array_get(ch, 5), "alias"), "Desk fan");
    assert_string_equal(str_field(s, "alias"), "Media cabinet");
    json_decref(j);

    /* Without context the whole strip switches. */
    j = query(f, h, "{\"system\":{\"set_relay_state\":{\"state\":1}}}");
    json_decref(j);
    s = sysinfo(f, h, &j);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(outlet_state(s, i), 1);
    json_decref(j);

    /* An unknown id: -14 for child-aware methods, and the valid id beside it is not applied;
     * get_sysinfo is not child-aware. */
    snprintf(req, sizeof req,
             "{\"context\":{\"child_ids\":[\"%s\",\"A\"]},\"system\":{\"set_relay_state\":"
             "{\"state\":0},\"get_sysinfo\":{}},\"emeter\":{\"get_realtime\":{}}}",
             a);
    j = query(f, h, req);
    json_t *e = at(j, "system", "set_relay_state");
    assert_int_equal(int_field(e, "err_code"), -14);
    assert_string_equal(str_field(e, "err_msg"), "entry not exist");
    assert_int_equal(int_field(at(j, "emeter", "get_realtime"), "err_code"), -14);
    s = at(j, "system", "get_sysinfo");
    assert_int_equal(int_field(s, "err_code"), 0);
    assert_int_equal(outlet_state(s, 0), 1);
    json_decref(j);

    /* child_ids that is not an array of strings: -3. */
    const char *bad[] = {"{\"context\":{\"child_ids\":\"00\"},",
                         "{\"context\":{\"child_ids\":[0]},", "{\"context\":\"\","};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(req, sizeof req,
                 "%s\"emeter\":{\"get_realtime\":{}},"
                 "\"system\":{\"set_relay_state\":{\"state\":0}}}",
                 bad[i]);
        j = query(f, h, req);
        e = at(j, "emeter", "get_realtime");
        assert_int_equal(int_field(e, "err_code"), -3);
        assert_string_equal(str_field(e, "err_msg"), "invalid argument");
        assert_int_equal(int_field(at(j, "system", "set_relay_state"), "err_code"), -3);
        json_decref(j);
    }
    /* An empty list: switching applies to nothing; there is nothing to read. */
    j = query(f, h,
              "{\"context\":{\"child_ids\":[]},\"system\":{\"set_relay_state\":"
              "{\"state\":0}},\"emeter\":{\"get_realtime\":{}}}");
    assert_int_equal(int_field(at(j, "system", "set_relay_state"), "err_code"), 0);
    assert_int_equal(int_field(at(j, "emeter", "get_realtime"), "err_code"), -3);
    json_decref(j);
    s = sysinfo(f, h, &j);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(outlet_state(s, i), 1);
    json_decref(j);

    /* The relationship table. */
    j = query(f, h, "{\"smartlife.iot.smartpowerstrip.manage\":{\"get_relationship\":{}}}");
    json_t *data =
        json_object_get(at(j, "smartlife.iot.smartpowerstrip.manage", "get_relationship"), "data");
    assert_int_equal(json_array_size(data), 6);
    assert_string_equal(str_field(json_array_get(data, 5), "child_id"), b);
    assert_int_equal(int_field(json_array_get(data, 5), "hw_slot"), 5);
    json_decref(j);

    /* A plug ignores context altogether. */
    int p = add(f, "hs110v2");
    j = query(f, p, "{\"context\":{\"child_ids\":[\"A\"]},\"emeter\":{\"get_realtime\":{}}}");
    assert_int_equal(int_field(at(j, "emeter", "get_realtime"), "err_code"), 0);
    json_decref(j);
}

static void test_strip_sim_controls(void **state)
{
    struct fx *f = *state;
    int k = add(f, "kp303"), p = add(f, "hs100");
    assert_int_equal(sim_set_outlet(f->sim, k, 2, 1), 0);
    json_t *j, *s = sysinfo(f, k, &j);
    assert_int_equal(outlet_state(s, 0), 1);
    assert_int_equal(outlet_state(s, 1), 1);
    assert_int_equal(outlet_state(s, 2), 0);
    json_decref(j);
    assert_int_equal(sim_set_relay(f->sim, k, 0), 0); /* a strip: every outlet */
    s = sysinfo(f, k, &j);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(outlet_state(s, i), 0);
    json_decref(j);
    assert_int_equal(sim_set_outlet(f->sim, k, 0, 1), -1);
    assert_int_equal(sim_set_outlet(f->sim, k, 4, 1), -1);
    assert_int_equal(sim_set_outlet(f->sim, p, 1, 1), -1); /* not a strip */
    assert_int_equal(sim_set_outlet(f->sim, 9, 1, 1), -1);

    /* A strip without a meter answers emeter at module level. */
    j = query(f, k, "{\"emeter\":{\"get_realtime\":{}}}");
    assert_int_equal(int_field(at(j, "emeter", NULL), "err_code"), -1);
    json_decref(j);
}

static void test_strip_udp_short_ids(void **state)
{
    struct fx *f = *state;
    int h = add(f, "hs300");
    uint16_t port = sim_device_port(f->sim, h), from;
    char out[8192];
    assert_true(udp_query("127.0.0.1", port, "{\"system\":{\"get_sysinfo\":{}}}", out, sizeof out,
                          f, &from) > 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *ch = children_of(at(j, "system", "get_sysinfo"));
    assert_string_equal(str_field(json_array_get(ch, 0), "id"), "00");
    assert_string_equal(str_field(json_array_get(ch, 5), "id"), "05");
    json_decref(j);

    /* Over UDP both the full and the short id name an outlet; over TCP only the full one. */
    char full[64], req[256];
    child_id(f, h, 3, full, sizeof full);
    const char *forms[2] = {full, "03"};
    for (int i = 0; i < 2; i++) {
        snprintf(req, sizeof req,
                 "{\"context\":{\"child_ids\":[\"%s\"]},\"emeter\":{\"get_realtime\":{}}}",
                 forms[i]);
        assert_true(udp_query("127.0.0.1", port, req, out, sizeof out, f, &from) > 0);
        j = json_loads(out, 0, NULL);
        assert_int_equal(int_field(at(j, "emeter", "get_realtime"), "slot_id"), 3);
        json_decref(j);
    }
    j = query(f, h, req);
    assert_int_equal(int_field(at(j, "emeter", "get_realtime"), "err_code"), -14);
    json_decref(j);
}

static void test_strip_profile_outlet_error(void **state)
{
    struct fx *f = *state;
    char path[] = "/tmp/test_sim_plug_XXXXXX";
    write_file(path,
               "{\"system\":{\"get_sysinfo\":{\"model\":\"HS300(US)\",\"feature\":\"TIM:ENE\","
               "\"children\":[{\"id\":\"00\",\"state\":1,\"alias\":\"a\"},"
               "{\"id\":\"01\",\"state\":1,\"alias\":\"b\"}],\"err_code\":0}},"
               "\"emeter\":{\"get_realtime\":{\"power_mw\":5000,\"voltage_mv\":120000,"
               "\"current_ma\":41,\"total_wh\":7,\"err_code\":0}},"
               "\"sim_child_realtime\":[{\"power_mw\":9000,\"err_code\":0},"
               "{\"err_code\":-14,\"err_msg\":\"entry not exist\"}]}");
    char err[256] = "";
    int h = sim_add_plug(f->sim, path, "127.0.0.1", 0, NULL, err, sizeof err);
    unlink(path);
    if (h < 0)
        fail_msg("%s", err);
    char a[64], b[64];
    child_id(f, h, 0, a, sizeof a);
    child_id(f, h, 1, b, sizeof b);
    json_t *j, *r = outlet_realtime(f, h, a, &j);
    assert_true(int_field(r, "power_mw") >= 8100 && int_field(r, "power_mw") <= 9900);
    json_decref(j);
    r = outlet_realtime(f, h, b, &j);
    assert_int_equal(int_field(r, "err_code"), -14);
    json_decref(j);

    /* Bad strip profiles are refused with a reason. */
    char path2[] = "/tmp/test_sim_plug_XXXXXX";
    char text[2048];
    int n =
        snprintf(text, sizeof text, "{\"system\":{\"get_sysinfo\":{\"model\":\"X\",\"children\":[");
    for (int i = 0; i < 17; i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s{\"alias\":\"o\"}", i ? "," : "");
    snprintf(text + n, sizeof text - (size_t)n, "]}}}");
    write_file(path2, text);
    expect_add_error(f, path2, "127.0.0.1", "at most 16");
    unlink(path2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sysinfo_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_combined_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emeter_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relay_off_and_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_energy_grows_monotonically, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_walk_bounded_and_seeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strip_sysinfo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strip_outlet_meters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strip_context_scopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strip_sim_controls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strip_udp_short_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strip_profile_outlet_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_into_single_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequential_and_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_prefix_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_json_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_port_and_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_refuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_hang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_close, setup, teardown),
        cmocka_unit_test(test_fault_names),
        cmocka_unit_test_setup_teardown(test_builtin_profiles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_from_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_profiles_and_addresses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

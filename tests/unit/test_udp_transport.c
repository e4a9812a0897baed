/* The UDP transport over loopback: against the plug simulator (replies, a silent device that
 * comes back, garbage) and against a hand-held socket playing the device (how often and when
 * it sends, which datagrams it accepts). The loop runs in small steps, so every wait is
 * bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectors/kasa/transport.h"
#include "collectors/kasa/xor.h"
#include "sim/sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SYSINFO "{\"system\":{\"get_sysinfo\":{}}}"

struct result {
    int calls;
    enum poll_status st;
    char body[8192];
    size_t len;
    char detail[200];
    double at; /* when the callback ran */
};

struct fx {
    struct ev_loop *loop;
    struct sim *sim;
    struct device_config cfg;
    char host[64];
    struct kasa_transport *t;
    struct result r;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
    snprintf(f->host, sizeof f->host, "127.0.0.1");
    f->cfg.name = "udp-test";
    f->cfg.kind = DEVICE_PLUG;
    f->cfg.host = f->host;
    f->cfg.transport = PLUG_TRANSPORT_UDP;
    f->cfg.timeout_s = 0.6;
    f->cfg.interval_s = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->t)
        kasa_udp_transport.destroy(f->t);
    sim_free(f->sim);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

static void on_reply(void *ctx, enum poll_status st, const char *body, size_t len,
                     const char *detail)
{
    struct result *r = ctx;
    r->calls++;
    r->st = st;
    r->at = mono();
    r->len = 0;
    r->body[0] = r->detail[0] = '\0';
    if (body) {
        assert_int_equal(st, POLL_OK);
        assert_int_equal(strlen(body), len); /* NUL-terminated at len */
        assert_true(len < sizeof r->body);
        memcpy(r->body, body, len + 1);
        r->len = len;
    } else {
        assert_int_not_equal(st, POLL_OK);
    }
    if (detail)
        snprintf(r->detail, sizeof r->detail, "%s", detail);
}

/* Runs the loop until the callback has run or `seconds` passed; true if it ran. */
static bool pump_until_answer(struct fx *f, double seconds)
{
    double end = mono() + seconds;
    while (f->r.calls == 0 && mono() < end) {
        ev_run(f->loop, EVRUN_NOWAIT);
        usleep(1000);
    }
    return f->r.calls > 0;
}

static void pump(struct fx *f, double seconds)
{
    double end = mono() + seconds;
    do {
        ev_run(f->loop, EVRUN_NOWAIT);
        usleep(1000);
    } while (mono() < end);
}

static void open_transport(struct fx *f, uint16_t port)
{
    char err[200] = "";
    f->cfg.port = port;
    f->t = kasa_udp_transport.create(&f->cfg, f->loop, err, sizeof err);
    if (!f->t)
        fail_msg("create: %s", err);
}

static void request(struct fx *f, const char *json)
{
    memset(&f->r, 0, sizeof f->r);
    kasa_udp_transport.request(f->t, json, on_reply, &f->r);
}

static int add_plug(struct fx *f, const char *profile)
{
    char err[256] = "";
    int idx = sim_add_plug(f->sim, profile, "127.0.0.1", 0, NULL, err, sizeof err);
    if (idx < 0)
        fail_msg("sim_add_plug %s: %s", profile, err);
    return idx;
}

/* A UDP socket on 127.0.0.1 that plays the device. */
static int fake_device(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Reads one datagram if there is one: its plaintext into buf, the sender into from. */
static ssize_t fake_recv(int fd, char *buf, size_t cap, struct sockaddr_in *from)
{
    socklen_t len = sizeof *from;
    ssize_t n = recvfrom(fd, buf, cap - 1, 0, (struct sockaddr *)from, &len);
    if (n < 0)
        return n;
    kasa_xor_decrypt((uint8_t *)buf, (size_t)n, (uint8_t *)buf);
    buf[n] = '\0';
    return n;
}

static void fake_send(int fd, const struct sockaddr_in *to, const char *plain)
{
    uint8_t out[1024];
    size_t len = strlen(plain);
    assert_true(len <= sizeof out);
    kasa_xor_encrypt((const uint8_t *)plain, len, out);
    assert_int_equal(sendto(fd, out, len, 0, (const struct sockaddr *)to, sizeof *to),
                     (ssize_t)len);
}

/* ---- against the simulator ---- */

static void test_reply(void **state)
{
    struct fx *f = *state;
    int idx = add_plug(f, "hs110v2");
    open_transport(f, sim_device_port(f->sim, idx));
    assert_string_equal(kasa_udp_transport.name, "udp");
    request(f, "{\"system\":{\"get_sysinfo\":{}},\"emeter\":{\"get_realtime\":{}}}");
    assert_true(pump_until_answer(f, 2.0));
    assert_int_equal(f->r.calls, 1);
    assert_int_equal(f->r.st, POLL_OK);
    json_error_t jerr;
    json_t *j = json_loads(f->r.body, 0, &jerr);
    assert_non_null(j);
    json_t *si = json_object_get(json_object_get(j, "system"), "get_sysinfo");
    assert_string_equal(json_string_value(json_object_get(si, "deviceId")),
                        sim_device_id(f->sim, idx));
    assert_non_null(
        json_object_get(json_object_get(json_object_get(j, "emeter"), "get_realtime"), "power_mw"));
    json_decref(j);

    /* Another request on the same transport (the collector's second request of a poll),
     * and nothing more arrives for the first one. */
    request(f, "{\"emeter\":{\"get_realtime\":{}}}");
    assert_true(pump_until_answer(f, 2.0));
    assert_int_equal(f->r.st, POLL_OK);
    assert_non_null(strstr(f->r.body, "\"get_realtime\""));
    assert_null(strstr(f->r.body, "get_sysinfo"));
    pump(f, 0.3);
    assert_int_equal(f->r.calls, 1);
    kasa_udp_transport.end_poll(f->t);
}

/* The device drops the first datagrams (fault hang is silence over UDP) and comes back: a
 * retry gets the answer within the same deadline. */
static void test_retry_after_loss(void **state)
{
    struct fx *f = *state;
    int idx = add_plug(f, "hs100");
    open_transport(f, sim_device_port(f->sim, idx));
    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_HANG), 0);
    double start = mono();
    request(f, SYSINFO);
    assert_false(pump_until_answer(f, 0.1)); /* the first send is lost */
    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_NONE), 0);
    assert_true(pump_until_answer(f, 0.6));
    assert_int_equal(f->r.st, POLL_OK);
    assert_non_null(strstr(f->r.body, "HS100"));
    /* The answer came from the retry at timeout / 3 (0.2 s), not earlier. */
    assert_true(f->r.at - start >= 0.18);
    assert_true(f->r.at - start < 1.0);
}

static void test_garbage_is_protocol_error(void **state)
{
    struct fx *f = *state;
    int idx = add_plug(f, "hs110v1");
    open_transport(f, sim_device_port(f->sim, idx));
    assert_int_equal(sim_set_fault(f->sim, idx, SIM_FAULT_GARBAGE), 0);
    for (int i = 0; i < 5; i++) { /* random bytes every time: none may pass for JSON */
        request(f, SYSINFO);
        assert_true(pump_until_answer(f, 1.0));
        assert_int_equal(f->r.calls, 1);
        assert_int_equal(f->r.st, POLL_ERR_PROTOCOL);
        assert_non_null(strstr(f->r.detail, "JSON"));
    }
}

/* Nothing listens: the ICMP port unreachable ends the request at once as a connect error. */
static void test_refused(void **state)
{
    struct fx *f = *state;
    uint16_t port;
    close(fake_device(&port));
    open_transport(f, port);
    request(f, SYSINFO);
    assert_true(pump_until_answer(f, 0.5));
    assert_int_equal(f->r.st, POLL_ERR_CONNECT);
    assert_non_null(strstr(f->r.detail, "refused"));
}

/* ---- against a socket playing the device ---- */

/* Three sends at 0, timeout/3 and 2*timeout/3 carrying the same request, then silence. */
static void test_send_schedule(void **state)
{
    struct fx *f = *state;
    uint16_t port;
    int dev = fake_device(&port);
    open_transport(f, port);
    double start = mono();
    request(f, SYSINFO);
    double at[8] = {0};
    int n = 0;
    while (mono() - start < 1.2) {
        ev_run(f->loop, EVRUN_NOWAIT);
        char buf[256];
        struct sockaddr_in from;
        while (fake_recv(dev, buf, sizeof buf, &from) > 0) {
            assert_string_equal(buf, SYSINFO); /* no length prefix: the plaintext alone */
            assert_true(n < 8);
            at[n++] = mono() - start;
        }
        usleep(1000);
    }
    assert_int_equal(n, 3);
    assert_true(at[0] < 0.1);
    assert_true(at[1] > 0.15 && at[1] < 0.45);
    assert_true(at[2] > 0.35 && at[2] < 0.7);
    assert_int_equal(f->r.calls, 0); /* the core's deadline ends it, not the transport */
    kasa_udp_transport.cancel(f->t);
    close(dev);
}

/* Replies from another port or another address are not the device's; an empty datagram
 * from the device is a protocol error. */
static void test_only_the_device_answers(void **state)
{
    struct fx *f = *state;
    uint16_t port, other_port;
    int dev = fake_device(&port);
    int other = fake_device(&other_port);
    open_transport(f, port);
    request(f, SYSINFO);
    char buf[256];
    struct sockaddr_in from;
    double end = mono() + 1.0;
    while (fake_recv(dev, buf, sizeof buf, &from) < 0 && mono() < end)
        usleep(1000);
    assert_string_equal(buf, SYSINFO);

    fake_send(other, &from, "{\"system\":{\"get_sysinfo\":{\"alias\":\"impostor\"}}}");
    /* 127.0.0.2 is another loopback address with the device's port number. */
    int other_addr = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
    bool have_other_addr = bind(other_addr, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (have_other_addr)
        fake_send(other_addr, &from, "{\"system\":{\"get_sysinfo\":{\"alias\":\"impostor\"}}}");
    pump(f, 0.1);
    assert_int_equal(f->r.calls, 0);

    fake_send(dev, &from, "{\"system\":{\"get_sysinfo\":{\"alias\":\"real\"}}}");
    assert_true(pump_until_answer(f, 1.0));
    assert_int_equal(f->r.st, POLL_OK);
    assert_string_equal(f->r.body, "{\"system\":{\"get_sysinfo\":{\"alias\":\"real\"}}}");

    request(f, SYSINFO);
    end = mono() + 1.0;
    while (fake_recv(dev, buf, sizeof buf, &from) < 0 && mono() < end)
        usleep(1000);
    assert_int_equal(sendto(dev, "", 0, 0, (struct sockaddr *)&from, sizeof from), 0);
    assert_true(pump_until_answer(f, 1.0));
    assert_int_equal(f->r.st, POLL_ERR_PROTOCOL);
    assert_string_equal(f->r.detail, "empty reply datagram");

    close(other_addr);
    close(other);
    close(dev);
}

/* A late answer to a cancelled request never reaches the next request's callback. */
static void test_cancel_then_late_reply(void **state)
{
    struct fx *f = *state;
    uint16_t port;
    int dev = fake_device(&port);
    open_transport(f, port);
    request(f, SYSINFO);
    char buf[256];
    struct sockaddr_in old;
    double end = mono() + 1.0;
    while (fake_recv(dev, buf, sizeof buf, &old) < 0 && mono() < end)
        usleep(1000);
    kasa_udp_transport.cancel(f->t);
    kasa_udp_transport.end_poll(f->t);
    pump(f, 0.05);
    assert_int_equal(f->r.calls, 0);

    request(f, "{\"time\":{\"get_time\":{}}}");
    struct sockaddr_in cur;
    end = mono() + 1.0;
    while (fake_recv(dev, buf, sizeof buf, &cur) < 0 && mono() < end)
        usleep(1000);
    assert_string_equal(buf, "{\"time\":{\"get_time\":{}}}");
    fake_send(dev, &old, "{\"system\":{\"get_sysinfo\":{\"alias\":\"stale\"}}}");
    pump(f, 0.05);
    assert_int_equal(f->r.calls, 0);
    fake_send(dev, &cur, "{\"time\":{\"get_time\":{\"hour\":1}}}");
    assert_true(pump_until_answer(f, 1.0));
    assert_int_equal(f->r.st, POLL_OK);
    assert_non_null(strstr(f->r.body, "get_time"));
    close(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_is_protocol_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_the_device_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_then_late_reply, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

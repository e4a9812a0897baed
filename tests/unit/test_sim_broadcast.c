/* The plug simulator answering broadcasts on loopback (127.255.255.255), as plugs answer
 * discovery: every device on the port answers once, from its own address and port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectors/kasa/xor.h"
#include "sim/sim.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_broadcast_address_checked(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sim *sim = sim_new(loop);
    char err[256];
    static const char *const bad[] = {"0.0.0.0", "127.0.0.1", "8.8.8.8", "::1", "x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(sim_set_broadcast(sim, bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "broadcast address"));
    }
    assert_int_equal(sim_set_broadcast(sim, "127.255.255.255", err, sizeof err), 0);
    sim_free(sim);
    ev_loop_destroy(loop);
}

/* Finds a port that 127.0.0.2..4 can all bind for TCP and UDP: add the first device on port
 * 0, the others on its port. */
static void test_each_device_answers_from_its_port(void **state)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct sim *sim = sim_new(loop);
    char err[256] = "";
    assert_int_equal(sim_set_broadcast(sim, "127.255.255.255", err, sizeof err), 0);
    int a = sim_add_plug(sim, "hs110v2", "127.0.0.2", 0, "a", err, sizeof err);
    if (a < 0)
        fail_msg("%s", err);
    uint16_t port = sim_device_port(sim, a);
    int b = sim_add_plug(sim, "hs100", "127.0.0.3", port, "b", err, sizeof err);
    if (b < 0)
        fail_msg("%s", err);
    /* On another port: must stay silent. */
    int c = sim_add_plug(sim, "hs100", "127.0.0.4", 0, "c", err, sizeof err);
    if (c < 0)
        fail_msg("%s", err);
    assert_int_not_equal(sim_device_port(sim, c), port);

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int one = 1;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one), 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.255.255.255", &to.sin_addr);
    const char *req = "{\"system\":{\"get_sysinfo\":{}}}";
    uint8_t out[64];
    kasa_xor_encrypt((const uint8_t *)req, strlen(req), out);
    assert_int_equal(sendto(fd, out, strlen(req), 0, (struct sockaddr *)&to, sizeof to),
                     (ssize_t)strlen(req));

    bool seen_a = false, seen_b = false;
    int replies = 0;
    double end = mono() + 0.5;
    while (mono() < end) {
        ev_run(loop, EVRUN_NOWAIT);
        uint8_t buf[4096];
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &len);
        if (n <= 0) {
            usleep(1000);
            continue;
        }
        replies++;
        kasa_xor_decrypt(buf, (size_t)n, buf);
        buf[n] = '\0';
        char addr[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &from.sin_addr, addr, sizeof addr);
        assert_int_equal(ntohs(from.sin_port), port);
        if (!strcmp(addr, "127.0.0.2")) {
            assert_non_null(strstr((char *)buf, "\"alias\":\"a\""));
            seen_a = true;
        } else {
            assert_string_equal(addr, "127.0.0.3");
            assert_non_null(strstr((char *)buf, "\"alias\":\"b\""));
            seen_b = true;
        }
    }
    assert_true(seen_a && seen_b);
    assert_int_equal(replies, 2);
    close(fd);
    sim_free(sim);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_address_checked),
        cmocka_unit_test(test_each_device_answers_from_its_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

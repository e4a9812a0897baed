/* The 32 -> 64-bit counter rule of collectors/easysmart/counters.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "collectors/easysmart/counters.h"

#define GBIT_BYTES 125000000ull
#define TWO32 4294967296ull

static double pps_1g(void)
{
    return counter_max_pps(GBIT_BYTES);
}

static void test_max_pps(void **state)
{
    (void)state;
    /* 1 Gb/s: 10^9 / (84 * 8) = 1,488,095.2 frames per second */
    assert_true(pps_1g() > 1488095.0 && pps_1g() < 1488096.0);
    double p100 = counter_max_pps(12500000ull);
    assert_true(p100 > 148809.0 && p100 < 148810.0);
    assert_true(counter_max_pps(0) == 0.0);
}

static void test_first_sample(void **state)
{
    (void)state;
    struct counter64 c = {0};
    assert_int_equal(counter64_update(&c, 123456789u, 100.0, pps_1g()), COUNTER_FIRST);
    assert_true(c.primed);
    assert_int_equal(c.total, 123456789u);
    assert_int_equal(c.last_raw, 123456789u);

    struct counter64 z = {0};
    assert_int_equal(counter64_update(&z, 0, 5.0, pps_1g()), COUNTER_FIRST);
    assert_int_equal(z.total, 0);
}

static void test_steady(void **state)
{
    (void)state;
    struct counter64 c = {0};
    counter64_update(&c, 1000, 0.0, pps_1g());
    assert_int_equal(counter64_update(&c, 1500, 10.0, pps_1g()), COUNTER_STEADY);
    assert_int_equal(c.total, 1500);
    assert_int_equal(counter64_update(&c, 1500, 20.0, pps_1g()), COUNTER_STEADY);
    assert_int_equal(c.total, 1500);
    assert_int_equal(counter64_update(&c, 4000000000u, 3000.0, pps_1g()), COUNTER_STEADY);
    assert_int_equal(c.total, 4000000000u);
    assert_int_equal(c.last_raw, 4000000000u);
}

static void test_wrap(void **state)
{
    (void)state;
    struct counter64 c = {0};
    counter64_update(&c, 4294967000u, 0.0, pps_1g());
    /* 296 to the top, then 704 more: 1000 packets in 10 s is a wrap */
    assert_int_equal(counter64_update(&c, 704, 10.0, pps_1g()), COUNTER_WRAP);
    assert_int_equal(c.total, 4294967000ull + 1000);
    assert_int_equal(counter64_update(&c, 2704, 20.0, pps_1g()), COUNTER_STEADY);
    assert_int_equal(c.total, 4294967000ull + 3000);

    /* a wrap that needs nearly the full line rate: 14.5 M packets in 10 s at 1 Gb/s */
    struct counter64 f = {0};
    counter64_update(&f, 4294967295u - 10000000u, 0.0, pps_1g());
    assert_int_equal(counter64_update(&f, 4500000u, 10.0, pps_1g()), COUNTER_WRAP);
    assert_int_equal(f.total, 4294967295ull + 4500000u + 1);
}

static void test_reset_quick(void **state)
{
    (void)state;
    /* a reboot: from 3e9 down to 50 after 10 s. A wrap would need 1.29e9 packets, far
     * more than 10 s at 1 Gb/s can carry. */
    struct counter64 c = {0};
    counter64_update(&c, 3000000000u, 0.0, pps_1g());
    assert_int_equal(counter64_update(&c, 50, 10.0, pps_1g()), COUNTER_RESET);
    assert_int_equal(c.total, 3000000050ull);
    assert_int_equal(c.last_raw, 50);
    assert_int_equal(counter64_update(&c, 80, 20.0, pps_1g()), COUNTER_STEADY);
    assert_int_equal(c.total, 3000000080ull);
}

static void test_reset_tiny_raw_short_elapsed(void **state)
{
    (void)state;
    /* A low counter reset to a tiny value one second later. Going forward from 1000 to
     * 10 would be 2^32 - 990 packets: impossible in 1 s, so it is a reset. */
    struct counter64 c = {0};
    counter64_update(&c, 1000, 7200.0, pps_1g());
    assert_int_equal(counter64_update(&c, 10, 7201.0, pps_1g()), COUNTER_RESET);
    assert_int_equal(c.total, 1010);
    /* the slack does not turn a huge distance into a wrap when no time passed */
    struct counter64 z = {0};
    counter64_update(&z, 5000, 1.0, pps_1g());
    assert_int_equal(counter64_update(&z, 0, 1.0, pps_1g()), COUNTER_RESET);
    assert_int_equal(z.total, 5000);
}

static void test_wrap_in_long_gap(void **state)
{
    (void)state;
    /* Two hours without a sample at 1 Gb/s: 10.7e9 packets could have passed, so a wrap
     * and much more fits. It counts as exactly one wrap (more are unknowable). */
    struct counter64 c = {0};
    counter64_update(&c, 4000000000u, 0.0, pps_1g());
    assert_int_equal(counter64_update(&c, 300000000u, 7200.0, pps_1g()), COUNTER_WRAP);
    assert_int_equal(c.total, 4000000000ull + (TWO32 - 4000000000ull) + 300000000u);
}

static void test_reset_in_long_gap_counts_as_wrap(void **state)
{
    (void)state;
    /* The documented ambiguity: after an hour a reboot to 10 cannot be told from a wrap,
     * because 2^32 - 990 packets fit in an hour at 1 Gb/s. It is counted as a wrap. */
    struct counter64 c = {0};
    counter64_update(&c, 1000, 0.0, pps_1g());
    assert_int_equal(counter64_update(&c, 10, 3600.0, pps_1g()), COUNTER_WRAP);
    assert_int_equal(c.total, 1000 + (TWO32 - 1000) + 10);

    /* The same gap on a 100 Mb/s port: at most 535.7e6 packets fit, so it is a reset. */
    struct counter64 s = {0};
    counter64_update(&s, 1000, 0.0, counter_max_pps(12500000ull));
    assert_int_equal(counter64_update(&s, 10, 3600.0, counter_max_pps(12500000ull)), COUNTER_RESET);
    assert_int_equal(s.total, 1010);
}

static void test_unknown_speed_uses_10g(void **state)
{
    (void)state;
    /* In 60 s a 1 Gb/s port carries at most 89.3e6 minimum frames, a 10 Gb/s port 892.9e6.
     * A wrap distance of 800e6 is a wrap only when the speed is unknown (10G assumed). */
    double budget_10g = counter_max_pps(1250000000ull) * 60.0; /* 892.9e6 */
    uint32_t last = 4294967295u - 500000000u;
    uint32_t raw = 300000000u; /* distance 800e6 + 1 */
    assert_true((double)(TWO32 - last + raw) < budget_10g);
    assert_true((double)(TWO32 - last + raw) > pps_1g() * 60.0 * 1.05 + 1000);

    struct counter64 u = {0};
    counter64_update(&u, last, 0.0, 0.0);
    assert_int_equal(counter64_update(&u, raw, 60.0, 0.0), COUNTER_WRAP);
    struct counter64 g = {0};
    counter64_update(&g, last, 0.0, pps_1g());
    assert_int_equal(counter64_update(&g, raw, 60.0, pps_1g()), COUNTER_RESET);
}

static void test_time_going_backwards(void **state)
{
    (void)state;
    struct counter64 c = {0};
    counter64_update(&c, 4294967000u, 100.0, pps_1g());
    /* elapsed counts as 0: only the slack is allowed, 1000 packets */
    assert_int_equal(counter64_update(&c, 500, 50.0, pps_1g()), COUNTER_WRAP);
    assert_int_equal(c.total, 4294967000ull + 796);
    assert_int_equal(counter64_update(&c, 100, 40.0, pps_1g()), COUNTER_RESET);
    assert_int_equal(c.total, 4294967000ull + 896);
}

/* xorshift64*: deterministic, seeded, no global state */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* A simulated port: a device counter that wraps at 2^32 and, optionally, resets on reboot
 * to the few packets seen since. Samples every 1..120 s with up to the line rate of
 * traffic. Without a reset every update must add exactly the packets that passed, so the
 * total equals the device's starting value plus the true count. A reset adds at most the
 * packets since the reset, unless the documented ambiguity makes it a wrap. The total
 * never decreases. */
static void run_property(uint64_t seed, bool with_resets)
{
    uint64_t s = seed;
    const double pps = pps_1g();
    struct counter64 c = {0};
    uint64_t truth = 0;
    uint32_t dev = (uint32_t)rnd(&s);
    const uint64_t start = dev;
    double now = 1000.0;
    unsigned resets = 0, wraps = 0;

    counter64_update(&c, dev, now, pps);
    for (int i = 0; i < 20000; i++) {
        double dt = 1.0 + (double)(rnd(&s) % 120);
        now += dt;
        uint64_t max_pkts = (uint64_t)(pps * dt);
        uint64_t pkts;
        switch (rnd(&s) % 4) {
        case 0:
            pkts = 0;
            break;
        case 1:
            pkts = max_pkts; /* flat out */
            break;
        default:
            pkts = rnd(&s) % (max_pkts + 1);
        }
        uint32_t last = dev;
        bool reset = with_resets && rnd(&s) % 50 == 0;
        if (reset)
            dev = (uint32_t)(pkts % 100000);
        else
            dev = (uint32_t)((uint64_t)dev + pkts);
        truth += pkts;

        uint64_t before = c.total;
        enum counter_event ev = counter64_update(&c, dev, now, pps);
        assert_true(c.total >= before);
        assert_int_equal(c.last_raw, dev);
        if (!reset) {
            assert_int_not_equal(ev, COUNTER_RESET);
            assert_true(c.total - before == pkts);
        } else {
            resets++;
            double distance = (double)(TWO32 - last + dev);
            if (dev < last && distance > pps * dt * 1.05 + 1000.0)
                assert_int_equal(ev, COUNTER_RESET);
            if (ev != COUNTER_WRAP)
                assert_true(c.total - before <= dev);
        }
        if (ev == COUNTER_WRAP)
            wraps++;
    }
    if (!with_resets)
        assert_true(c.total == start + truth);
    /* the sequence really exercised what it claims to */
    assert_true(wraps > 10);
    assert_true(!with_resets || resets > 100);
}

static void test_property_monotonic(void **state)
{
    (void)state;
    run_property(0x9e3779b97f4a7c15ull, false);
    run_property(42, false);
    run_property(0x9e3779b97f4a7c15ull, true);
    run_property(7, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_pps),
        cmocka_unit_test(test_first_sample),
        cmocka_unit_test(test_steady),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_reset_quick),
        cmocka_unit_test(test_reset_tiny_raw_short_elapsed),
        cmocka_unit_test(test_wrap_in_long_gap),
        cmocka_unit_test(test_reset_in_long_gap_counts_as_wrap),
        cmocka_unit_test(test_unknown_speed_uses_10g),
        cmocka_unit_test(test_time_going_backwards),
        cmocka_unit_test(test_property_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

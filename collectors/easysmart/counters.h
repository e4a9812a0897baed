/* 32-bit switch counters -> 64-bit counters that never decrease.
 *
 * See counters.c for the rule; in short: a raw value below the last one is a wrap when
 * the packets it implies fit in the elapsed time at the port's line rate, otherwise a
 * reset (reboot or Clear), after which the total continues from where it was. */
#ifndef TPLINK_EASYSMART_COUNTERS_H
#define TPLINK_EASYSMART_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

struct counter64 {
    uint64_t total; /* exported value */
    uint32_t last_raw;
    double last_time; /* seconds, monotonic */
    bool primed;
};

enum counter_event { COUNTER_FIRST, COUNTER_STEADY, COUNTER_WRAP, COUNTER_RESET };

/* max_pps: the most packets per second the port can carry (0 = unknown: take the fastest
 * port the family makes). Returns what the update was. */
enum counter_event counter64_update(struct counter64 *c, uint32_t raw, double now, double max_pps);
/* Packets per second of minimum-size Ethernet frames at a line rate in bytes/s
 * (64-byte frame + 8 preamble + 12 inter-frame gap). */
double counter_max_pps(uint64_t speed_bytes);

#endif

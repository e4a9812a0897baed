/* 32-bit switch counters -> 64-bit counters that never decrease.
 *
 * Per port and direction we keep the last raw value and a 64-bit total (struct counter64).
 *
 *   first sample       total = raw. A fresh exporter starts from the device's own count,
 *                      so a restart of the exporter does not look like a drop to zero.
 *   raw >= last        total += raw - last.
 *   raw <  last        d = 2^32 - last + raw is the forward distance if the counter wrapped.
 *                      It is a wrap iff d <= max_pps * elapsed * 1.05 + 1000, i.e. the port
 *                      could have carried that many minimum-size frames in the time since the
 *                      last sample (5 % for clock and sampling jitter, 1000 packets of slack
 *                      for very short intervals): total += d.
 *                      Otherwise it is a reset (reboot or the page's "Clear"): the total
 *                      continues from where it was, adding the packets counted since the
 *                      reset: total += raw.
 *
 * max_pps is counter_max_pps(line rate); 0 (speed unknown: link down, unknown code) means
 * 10 Gb/s, the fastest port the family makes, which favours "wrap" over "reset".
 *
 * What cannot be known from two samples, and how it is resolved:
 *   - Several wraps in one gap look like one: a long gap is counted as at most one wrap, so
 *     a port that wrapped k > 1 times between samples is undercounted by (k-1) * 2^32.
 *     Poll well inside the shortest wrap time (about 48 min at 1 Gb/s with 64-byte frames).
 *   - After a long gap a reset is indistinguishable from a wrap (d fits the elapsed time);
 *     it is counted as a wrap, overcounting by up to 2^32 - last.
 *   - A reset followed by growth past the last value looks like steady growth; the packets
 *     before the reset that were not yet sampled are lost either way.
 *   - Packets between the last sample and a reset are never seen.
 * A non-finite or negative elapsed time (clock misuse) counts as zero, so only a steady
 * increase or a reset can follow. The total is uint64 and is never decreased. */
#include "collectors/easysmart/counters.h"

#include <math.h>

#define WRAP_MARGIN 1.05
#define WRAP_SLACK_PACKETS 1000.0
/* 10 Gb/s in bytes per second: the fallback line rate when the speed is unknown. */
#define FASTEST_PORT_BYTES 1250000000ull
/* Minimum Ethernet frame on the wire: 64 bytes + 8 preamble/SFD + 12 inter-frame gap. */
#define MIN_FRAME_WIRE_BYTES (64.0 + 8.0 + 12.0)

double counter_max_pps(uint64_t speed_bytes)
{
    return (double)speed_bytes * 8.0 / (MIN_FRAME_WIRE_BYTES * 8.0);
}

enum counter_event counter64_update(struct counter64 *c, uint32_t raw, double now, double max_pps)
{
    if (!c->primed) {
        c->total = raw;
        c->last_raw = raw;
        c->last_time = now;
        c->primed = true;
        return COUNTER_FIRST;
    }

    double elapsed = now - c->last_time;
    if (!isfinite(elapsed) || elapsed < 0)
        elapsed = 0;
    if (!isfinite(max_pps) || max_pps <= 0)
        max_pps = counter_max_pps(FASTEST_PORT_BYTES);

    enum counter_event ev;
    if (raw >= c->last_raw) {
        c->total += (uint64_t)(raw - c->last_raw);
        ev = COUNTER_STEADY;
    } else {
        uint64_t d = (uint64_t)1 << 32;
        d = d - c->last_raw + raw;
        double allowed = max_pps * elapsed * WRAP_MARGIN + WRAP_SLACK_PACKETS;
        if ((double)d <= allowed) {
            c->total += d;
            ev = COUNTER_WRAP;
        } else {
            c->total += raw;
            ev = COUNTER_RESET;
        }
    }
    c->last_raw = raw;
    c->last_time = now;
    return ev;
}

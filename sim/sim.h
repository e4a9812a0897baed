/* The device simulator: simulated TP-Link devices on loopback sockets, driven by a libev
 * loop. Used by tplinksim, by the daemon's --demo (in-process, same loop) and by tests.
 *
 * Device behaviour is written here independently of the collectors; only the byte-level
 * cipher is shared, because the protocol defines it. */
#ifndef TPLINK_SIM_H
#define TPLINK_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

enum sim_fault {
    SIM_FAULT_NONE,
    SIM_FAULT_REFUSE,  /* listening socket closed: connections are refused */
    SIM_FAULT_HANG,    /* accepts, reads, never answers */
    SIM_FAULT_GARBAGE, /* answers with random unframed bytes */
    SIM_FAULT_CLOSE,   /* accepts, reads the request, closes without a reply */
    SIM_FAULT_COUNT
};

const char *sim_fault_name(enum sim_fault f);
int sim_fault_parse(const char *name, enum sim_fault *out); /* 0 or -1 */

struct sim;

struct sim *sim_new(struct ev_loop *loop);
/* Stops every device and frees everything. */
void sim_free(struct sim *sim);

/* Adds a plug from a profile: a built-in name ("hs100", "hs110v1", "hs110v2", …) or a
 * path to a JSON file shaped like the device's replies (module -> method -> reply).
 * addr is an IPv4/IPv6 literal on loopback; port 0 picks a free port.
 * Returns the device index (>= 0) or -1 with a one-line message in err. */
int sim_add_plug(struct sim *sim, const char *profile, const char *addr, uint16_t port,
                 const char *alias, char *err, size_t errlen);
uint16_t sim_device_port(const struct sim *sim, int idx);
const char *sim_device_addr(const struct sim *sim, int idx);
size_t sim_device_count(const struct sim *sim);
int sim_set_fault(struct sim *sim, int idx, enum sim_fault fault);

/* Names of the built-in profiles, NULL-terminated. */
extern const char *const sim_builtin_profiles[];

#endif

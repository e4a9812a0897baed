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
    SIM_FAULT_REFUSE,       /* listening socket closed: connections are refused */
    SIM_FAULT_HANG,         /* accepts, reads, never answers */
    SIM_FAULT_GARBAGE,      /* answers with random unframed bytes */
    SIM_FAULT_CLOSE,        /* accepts, reads the request, closes without a reply */
    SIM_FAULT_DRIP,         /* sends the valid reply one byte per second */
    SIM_FAULT_TRUNCATED,    /* valid length prefix, half the body, then closes */
    SIM_FAULT_HUGE_LENGTH,  /* a length prefix of 0x7fffffff, a few bytes, then closes */
    SIM_FAULT_BAD_JSON,     /* a valid frame whose text is cut-off, invalid JSON */
    SIM_FAULT_DEVICE_ERROR, /* valid JSON, but get_sysinfo answers err_code -1 */
    SIM_FAULT_RESET,        /* the prefix and part of the body, then a TCP reset */
    SIM_FAULT_COUNT
};

const char *sim_fault_name(enum sim_fault f);
int sim_fault_parse(const char *name, enum sim_fault *out); /* 0 or -1 */

struct sim;

/* The simulator's random source (power/voltage walks, generated ids, garbage bytes) is
 * per-sim state; sim_new seeds it with a fixed default so runs are reproducible. */
struct sim *sim_new(struct ev_loop *loop);
/* Re-seeds the random source; call it before adding devices (each device derives its own
 * stream from the seed and its index, so one device's traffic never changes another's). */
void sim_set_seed(struct sim *sim, uint64_t seed);
/* Makes the IPv4 devices added afterwards also answer datagrams sent to this broadcast
 * address on their port (discovery), each replying from its own address and port as real
 * plugs do. addr is 127.255.255.255, 255.255.255.255 or a local interface's broadcast
 * address; only senders with an address of this host get answers, so no reply leaves it.
 * 0, or -1 with a one-line message in err. */
int sim_set_broadcast(struct sim *sim, const char *addr, char *err, size_t errlen);
/* Stops every device and frees everything. */
void sim_free(struct sim *sim);

/* Adds a plug from a profile: a built-in name ("hs100", "hs110v1", "hs110v2", …) or a
 * path to a JSON file shaped like the device's replies (module -> method -> reply).
 * addr is an IPv4/IPv6 literal on loopback (127.0.0.0/8 or ::1; anything else is refused);
 * port 0 picks a free port. TCP and UDP listen on the same port. alias may be NULL (keep the
 * profile's). Several devices may share a port on different 127.x.y.z addresses.
 * Returns the device index (>= 0) or -1 with a one-line message in err. */
int sim_add_plug(struct sim *sim, const char *profile, const char *addr, uint16_t port,
                 const char *alias, char *err, size_t errlen);
uint16_t sim_device_port(const struct sim *sim, int idx);
const char *sim_device_addr(const struct sim *sim, int idx);
size_t sim_device_count(const struct sim *sim);
/* 0, or -1 (bad index, or the listening socket could not be reopened after "refuse"). */
int sim_set_fault(struct sim *sim, int idx, enum sim_fault fault);
enum sim_fault sim_device_fault(const struct sim *sim, int idx);
/* Switches a plug's relay as system.set_relay_state would (a strip: every outlet); 0 or -1
 * (bad index). */
int sim_set_relay(struct sim *sim, int idx, int on);
/* Switches one outlet of a strip, outlet 1-based as the exporter's outlet label; 0 or -1
 * (bad index, not a strip, no such outlet). */
int sim_set_outlet(struct sim *sim, int idx, int outlet, int on);
/* The generated 40-hex-digit deviceId the plug reports (unique per device and seed). */
const char *sim_device_id(const struct sim *sim, int idx);
/* Open TCP connections of a device (at most SIM_CONNS_PER_DEVICE). */
size_t sim_device_connections(const struct sim *sim, int idx);
/* Moves every device's clock forward (on_time, energy, the random walks): lets tests and
 * demos show hours of history without waiting. */
void sim_advance_clock(struct sim *sim, double seconds);

/* Answers one IOT request as plug idx does over TCP, whatever its sockets do: the device
 * behind a KLAP simulator (klap_sim.h). The reply is malloc'd; NULL for a bad index or a
 * request that is not a JSON object. */
char *sim_plug_handle_json(struct sim *sim, int idx, const char *json, size_t len);

/* Connections beyond these caps are accepted and closed at once. */
#define SIM_CONNS_PER_DEVICE 4
#define SIM_CONNS_TOTAL 512

/* Names of the built-in profiles, NULL-terminated. */
extern const char *const sim_builtin_profiles[];

#endif

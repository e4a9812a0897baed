/* A simulated SMART-protocol plug (KP125M, EP25 hw2.6, Tapo P110): the device behaviour
 * behind the KLAP or AES transport of sim/klap_sim.h. Written apart from the collector's
 * codec (smart_json.c), so that a misreading there is not mirrored here.
 *
 * A profile is {method: result} (sim/profiles/smart/NAME.json, or a file): results are
 * answered as they are, except the state that moves on a real plug: device_on and on_time
 * (get_device_info), and the meter (get_energy_usage, get_current_power, get_emeter_data),
 * which follows a bounded random walk around the profile's power while on and integrates
 * it into today's and this month's energy. A method the profile lacks is answered -1002
 * (unknown method), as the devices do; get_emeter_data only exists where the profile has
 * it. set_device_info takes device_on and nickname. */
#ifndef TPLINK_SIM_SMART_SIM_H
#define TPLINK_SIM_SMART_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/plug_sim.h"

/* Built-in SMART profiles (generated from sim/profiles/smart/NAME.json); NULL name ends it. */
extern const struct sim_profile_blob sim_smart_profile_blobs[];

struct smart_sim;

/* profile: a built-in name ("kp125m", "p110", "ep25v26") or a JSON file path. Returns NULL
 * with one line in err when it is neither, or has no get_device_info object. */
struct smart_sim *smart_sim_new(const char *profile, uint64_t seed, char *err, size_t errlen);
void smart_sim_free(struct smart_sim *s);
/* True when name is a built-in SMART profile. */
bool smart_sim_builtin(const char *name);

/* One SMART request (a method or a multipleRequest) -> its reply, malloc'd and
 * NUL-terminated; NULL only when out of memory. Matches klap_sim_handler. */
char *smart_sim_handle(void *s, const char *json, size_t len);

void smart_sim_set_on(struct smart_sim *s, bool on);
bool smart_sim_is_on(const struct smart_sim *s);
/* The power the meter shows now (W), for tests. */
double smart_sim_power_w(struct smart_sim *s);
/* Moves the device's clock forward (on_time, energy). */
void smart_sim_advance_clock(struct smart_sim *s, double seconds);

#endif

/* Internals of the simulator shared between its source files (not a public API). */
#ifndef TPLINK_SIM_PLUG_SIM_H
#define TPLINK_SIM_PLUG_SIM_H

#include <stddef.h>

/* One built-in profile: the bytes of sim/profiles/NAME.json, embedded at build time. */
struct sim_profile_blob {
    const char *name;
    const unsigned char *data;
    size_t len;
};

/* Generated from sim/profiles/NAME.json (see sim/CMakeLists.txt); ends with a NULL name. */
extern const struct sim_profile_blob sim_profile_blobs[];

#endif

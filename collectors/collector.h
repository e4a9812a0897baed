/* The interface between the daemon core and a protocol.
 *
 * The core owns the schedule, the per-poll deadline and the health metrics; a collector
 * owns its sockets, sessions and latest reading. A poll that the core started ends with
 * exactly one call of env->done, unless the core cancels it first (deadline, shutdown),
 * after which the collector must not call done for that poll. */
#ifndef TPLINK_COLLECTOR_H
#define TPLINK_COLLECTOR_H

#include <stdbool.h>
#include <ev.h>

#include "config/inventory.h"
#include "daemon/expo.h"

enum poll_status {
    POLL_OK,
    POLL_ERR_TIMEOUT,  /* no complete answer before the deadline */
    POLL_ERR_CONNECT,  /* refused, unreachable, reset before a reply */
    POLL_ERR_PROTOCOL, /* bytes that do not decode: bad frame, bad JSON, bad page */
    POLL_ERR_DEVICE,   /* the device answered with an error code */
    POLL_ERR_AUTH,     /* login or handshake refused */
    POLL_STATUS_COUNT
};

/* The label value of tplink_poll_errors_total{reason}; "" for POLL_OK. */
const char *poll_status_reason(enum poll_status st);

/* detail is one human line for the log (never a secret); it may be NULL. */
typedef void (*poll_done_fn)(void *owner, enum poll_status st, const char *detail);

struct collector_env {
    struct ev_loop *loop;
    poll_done_fn done;
    void *owner;
};

/* What every device can say about itself, exported as tplink_device_info. */
struct device_info {
    char model[64];
    char hw_version[32];
    char fw_version[96];
    char mac[32];
    char alias[128];
};

struct collector {
    const char *kind; /* the kind label: "plug", "switch" */
    enum device_kind device_kind;
    struct metric_table metrics;
    /* Returns NULL and fills err on failure (one line naming the device). */
    void *(*create)(const struct device_config *cfg, const struct collector_env *env, char *err,
                    size_t errlen);
    void (*poll_start)(void *state);
    void (*poll_cancel)(void *state);
    /* Fills info from the latest reading; false if nothing is known yet. */
    bool (*info)(const void *state, struct device_info *info);
    /* Adds the device's readings. Called only while they are fresh. */
    void (*emit)(const void *state, const char *device, struct expo *e);
    /* Ends any session politely (e.g. a switch logout) without waiting; may be NULL. */
    void (*shutdown)(void *state);
    void (*destroy)(void *state);
};

extern const struct collector plug_collector;
extern const struct collector switch_collector;

/* The static registry: NULL-terminated list of every collector. */
extern const struct collector *const collectors[];

#endif

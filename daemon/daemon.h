/* The daemon core: devices, their schedule and health, the cached exposition. It knows
 * collectors only through collectors/collector.h, and no protocol at all. */
#ifndef TPLINK_DAEMON_H
#define TPLINK_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <ev.h>

#include "collectors/collector.h"
#include "config/inventory.h"
#include "daemon/scrape_body.h"
#include "daemon/strbuf.h"

struct daemon;

struct device {
    struct daemon *daemon;
    const struct device_config *cfg;
    const struct collector *col;
    void *state;

    ev_timer tick;     /* the device's own interval, phase-shifted by its name */
    ev_timer deadline; /* the poll's timeout */
    bool polling;
    ev_tstamp poll_started;

    /* health, exported by the core for every device */
    bool up;
    bool polled; /* at least one poll ended */
    double last_duration_s;
    double last_success_unix; /* 0: never */
    ev_tstamp last_success_mono;
    uint64_t polls_total;
    uint64_t errors_total[POLL_STATUS_COUNT];

    /* logging: on change of state, then at most once a minute */
    enum poll_status last_status;
    ev_tstamp last_logged;
};

struct daemon {
    struct ev_loop *loop;
    const struct collector *const *registry; /* NULL-terminated; `collectors` unless a test's */
    struct inventory inv;
    struct device *devices;
    size_t n_devices;

    struct scrape_body *body;     /* the cached exposition (see daemon_exposition) */
    bool dirty;                   /* a poll ended since body was rendered */
    uint64_t renders;             /* how often the cache was rebuilt */
    ev_tstamp last_render;        /* loop time (ev_now) of that render */
    double min_render_interval_s; /* DAEMON_MIN_RENDER_INTERVAL_S unless set after init */
    struct expo *scratch;         /* the per-family buffers, kept from one render to the next */
};

/* Under continuous polling some poll ends every few milliseconds; rendering (and gzipping)
 * at most once a second bounds the work a scrape can cost while keeping served values
 * at most that much older than the data. */
#define DAEMON_MIN_RENDER_INTERVAL_S 1.0

/* Creates the collectors' state for every device of inv (taken over by the daemon).
 * Returns 0, or -1 with one line naming the device in err. */
int daemon_init(struct daemon *d, struct ev_loop *loop, struct inventory *inv, char *err,
                size_t errlen);
/* The same with another registry of collectors: the tests' seam for fake devices. */
int daemon_init_with(struct daemon *d, struct ev_loop *loop, struct inventory *inv,
                     const struct collector *const *registry, char *err, size_t errlen);
void daemon_start_polling(struct daemon *d);
/* Asks every collector to end its sessions politely (switch logout); non-blocking. */
void daemon_shutdown_sessions(struct daemon *d);
void daemon_free(struct daemon *d);

/* The exposition of the latest readings. Rendered again only when something changed (a
 * poll ended, or readings crossed their freshness limit) and then at most once per
 * min_render_interval_s of loop time (0: on every change); within the interval the cached
 * body, and its gzip form, is served as it is. Borrowed: take a reference to keep it beyond
 * the current callback. NULL only when out of memory. */
struct scrape_body *daemon_exposition(struct daemon *d);

/* Exposed for tests. */
double device_first_poll_delay(const char *name, double interval_s);
bool device_readings_fresh(const struct device *dev, ev_tstamp now);

#endif

/* The schedule: one repeating ev_timer per device, each phase-shifted by a hash of the
 * device's name so that a thousand plugs with one interval do not fire together (and a
 * device keeps its phase across restarts). A poll runs under a deadline owned here; the
 * collector reports back through poll_done exactly once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/expo.h"
#include "daemon/log.h"

#define LOG_REPEAT_S 60.0

double device_first_poll_delay(const char *name, double interval_s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return interval_s * (double)(h % 10007) / 10007.0;
}

bool device_readings_fresh(const struct device *dev, ev_tstamp now)
{
    return dev->last_success_unix > 0 && now - dev->last_success_mono <= 2.0 * dev->cfg->interval_s;
}

static void log_outcome(struct device *dev, enum poll_status st, const char *detail)
{
    ev_tstamp now = ev_now(dev->daemon->loop);
    bool changed = st != dev->last_status || !dev->polled;
    if (st == POLL_OK) {
        if (changed && dev->polled)
            log_msg(LOG_INFO, dev->cfg->name, "poll succeeded again");
        else if (!dev->polled)
            log_msg(LOG_DEBUG, dev->cfg->name, "first poll succeeded");
    } else if (changed || now - dev->last_logged >= LOG_REPEAT_S) {
        log_msg(LOG_WARN, dev->cfg->name, "poll failed (%s): %s", poll_status_reason(st),
                detail ? detail : "no detail");
        dev->last_logged = now;
    }
    dev->last_status = st;
}

static void poll_done(void *owner, enum poll_status st, const char *detail)
{
    struct device *dev = owner;
    if (!dev->polling)
        return; /* a collector bug; the deadline already ended this poll */
    struct ev_loop *loop = dev->daemon->loop;
    ev_timer_stop(loop, &dev->deadline);
    dev->polling = false;
    ev_now_update(loop);
    dev->last_duration_s = ev_now(loop) - dev->poll_started;
    dev->up = st == POLL_OK;
    if (dev->up) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        dev->last_success_unix = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        dev->last_success_mono = ev_now(loop);
    } else if ((unsigned)st < POLL_STATUS_COUNT) {
        dev->errors_total[st]++;
    }
    log_outcome(dev, st, detail);
    dev->polled = true;
    dev->daemon->dirty = true;
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct device *dev = w->data;
    if (!dev->polling)
        return;
    dev->col->poll_cancel(dev->state);
    char detail[64];
    snprintf(detail, sizeof detail, "no complete answer within %.3g s", dev->cfg->timeout_s);
    poll_done(dev, POLL_ERR_TIMEOUT, detail);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct device *dev = w->data;
    if (dev->polling)
        return; /* one poll at a time per device: devices serve one connection */
    dev->polling = true;
    dev->polls_total++;
    ev_now_update(loop);
    dev->poll_started = ev_now(loop);
    ev_timer_set(&dev->deadline, dev->cfg->timeout_s, 0.);
    ev_timer_start(loop, &dev->deadline);
    dev->col->poll_start(dev->state); /* may call poll_done before returning */
}

static const struct collector *lookup(const struct collector *const *registry,
                                      enum device_kind kind)
{
    for (size_t i = 0; registry[i]; i++)
        if (registry[i]->device_kind == kind)
            return registry[i];
    return NULL;
}

int daemon_init(struct daemon *d, struct ev_loop *loop, struct inventory *inv, char *err,
                size_t errlen)
{
    return daemon_init_with(d, loop, inv, collectors, err, errlen);
}

int daemon_init_with(struct daemon *d, struct ev_loop *loop, struct inventory *inv,
                     const struct collector *const *registry, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->loop = loop;
    d->registry = registry;
    d->inv = *inv;
    memset(inv, 0, sizeof *inv);
    d->dirty = true;
    d->min_render_interval_s = DAEMON_MIN_RENDER_INTERVAL_S;
    d->devices = calloc(d->inv.n_devices ? d->inv.n_devices : 1, sizeof *d->devices);
    if (!d->devices) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < d->inv.n_devices; i++) {
        struct device *dev = &d->devices[i];
        const struct device_config *cfg = &d->inv.devices[i];
        dev->daemon = d;
        dev->cfg = cfg;
        dev->col = lookup(registry, cfg->kind);
        if (!dev->col) {
            snprintf(err, errlen, "device %s: no collector for kind %s", cfg->name,
                     device_kind_name(cfg->kind));
            return -1;
        }
        struct collector_env env = {.loop = loop, .done = poll_done, .owner = dev};
        char cerr[256] = "";
        dev->state = dev->col->create(cfg, &env, cerr, sizeof cerr);
        if (!dev->state) {
            snprintf(err, errlen, "device %s: %s", cfg->name, cerr);
            return -1;
        }
        d->n_devices = i + 1;
        ev_timer_init(&dev->tick, tick_cb, device_first_poll_delay(cfg->name, cfg->interval_s),
                      cfg->interval_s);
        dev->tick.data = dev;
        ev_init(&dev->deadline, deadline_cb);
        dev->deadline.data = dev;
    }
    return 0;
}

void daemon_start_polling(struct daemon *d)
{
    for (size_t i = 0; i < d->n_devices; i++)
        ev_timer_start(d->loop, &d->devices[i].tick);
}

void daemon_shutdown_sessions(struct daemon *d)
{
    for (size_t i = 0; i < d->n_devices; i++) {
        struct device *dev = &d->devices[i];
        ev_timer_stop(d->loop, &dev->tick);
        if (dev->polling) {
            ev_timer_stop(d->loop, &dev->deadline);
            dev->col->poll_cancel(dev->state);
            dev->polling = false;
        }
        if (dev->col->shutdown)
            dev->col->shutdown(dev->state);
    }
}

void daemon_free(struct daemon *d)
{
    for (size_t i = 0; i < d->n_devices; i++) {
        struct device *dev = &d->devices[i];
        ev_timer_stop(d->loop, &dev->tick);
        ev_timer_stop(d->loop, &dev->deadline);
        if (dev->polling)
            dev->col->poll_cancel(dev->state);
        dev->col->destroy(dev->state);
    }
    free(d->devices);
    scrape_body_unref(d->body);
    expo_free(d->scratch);
    inventory_free(&d->inv);
    memset(d, 0, sizeof *d);
}

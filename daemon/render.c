/* The exposition: health and info series owned by the core, then each collector's own
 * families, built afresh from current state so a device that left the inventory leaves
 * no series behind. Rendered at most once per change of data, and at most once per
 * minimum render interval (see daemon_exposition). */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"
#include "daemon/expo.h"
#include "daemon/log.h"

enum core_metric {
    C_BUILD_INFO,
    C_UP,
    C_DEVICE_INFO,
    C_POLL_DURATION,
    C_LAST_SUCCESS,
    C_POLLS,
    C_POLL_ERRORS,
    C_COUNT
};

static const struct metric_family core_families[C_COUNT] = {
    [C_BUILD_INFO] = {"tplink_exporter_build_info", METRIC_GAUGE,
                      "A constant 1, labelled with the exporter's version and revision."},
    [C_UP] = {"tplink_up", METRIC_GAUGE,
              "1 if the last poll of the device succeeded, else 0. Devices are polled in the "
              "background; values are the latest poll's."},
    [C_DEVICE_INFO] = {"tplink_device_info", METRIC_GAUGE,
                       "A constant 1, labelled with what the device reports about itself."},
    [C_POLL_DURATION] = {"tplink_poll_duration_seconds", METRIC_GAUGE,
                         "Duration of the device's last poll."},
    [C_LAST_SUCCESS] = {"tplink_last_poll_success_timestamp_seconds", METRIC_GAUGE,
                        "Unix time of the device's last successful poll."},
    [C_POLLS] = {"tplink_polls_total", METRIC_COUNTER, "Polls of the device attempted."},
    [C_POLL_ERRORS] = {"tplink_poll_errors_total", METRIC_COUNTER,
                       "Failed polls of the device, by reason."},
};

#define MAX_TABLES 8

static size_t metric_tables(const struct daemon *d, struct metric_table *tables)
{
    size_t n = 0;
    tables[n++] = (struct metric_table){core_families, C_COUNT};
    for (size_t i = 0; d->registry[i] && n < MAX_TABLES; i++)
        tables[n++] = d->registry[i]->metrics;
    return n;
}

static void emit_device(struct expo *e, const struct device *dev, ev_tstamp now)
{
    const char *name = dev->cfg->name;
    struct label labels[7] = {{"device", name}, {"kind", dev->col->kind}};
    expo_sample(e, &core_families[C_UP], labels, 2, dev->up);

    struct device_info info = {0};
    if (dev->col->info(dev->state, &info)) {
        labels[2] = (struct label){"model", info.model};
        labels[3] = (struct label){"hw_version", info.hw_version};
        labels[4] = (struct label){"fw_version", info.fw_version};
        labels[5] = (struct label){"mac", info.mac};
        labels[6] = (struct label){"alias", info.alias};
        expo_sample(e, &core_families[C_DEVICE_INFO], labels, 7, 1);
    }
    if (dev->polled)
        expo_sample_dev(e, &core_families[C_POLL_DURATION], name, dev->last_duration_s);
    if (dev->last_success_unix > 0)
        expo_sample_dev(e, &core_families[C_LAST_SUCCESS], name, dev->last_success_unix);
    expo_sample_dev(e, &core_families[C_POLLS], name, (double)dev->polls_total);
    for (int st = POLL_OK + 1; st < POLL_STATUS_COUNT; st++) {
        struct label el[2] = {{"device", name}, {"reason", poll_status_reason(st)}};
        expo_sample(e, &core_families[C_POLL_ERRORS], el, 2, (double)dev->errors_total[st]);
    }
    /* No stale numbers presented as current: readings older than two intervals go. */
    if (device_readings_fresh(dev, now))
        dev->col->emit(dev->state, name, e);
}

static bool render(struct daemon *d, struct strbuf *out)
{
    if (!d->scratch) {
        struct metric_table tables[MAX_TABLES];
        d->scratch = expo_new(tables, metric_tables(d, tables));
        if (!d->scratch)
            return false;
    }
    struct expo *e = d->scratch;
    expo_reset(e);
    struct label build[2] = {{"version", TPLINK_VERSION}, {"revision", TPLINK_REVISION}};
    expo_sample(e, &core_families[C_BUILD_INFO], build, 2, 1);
    ev_tstamp now = ev_now(d->loop);
    for (size_t i = 0; i < d->n_devices; i++)
        emit_device(e, &d->devices[i], now);
    return expo_render(e, out);
}

/* Whether a device's readings went stale since the last render: they must leave the
 * exposition even though no poll ended. */
static bool stale_edge(const struct daemon *d, ev_tstamp now)
{
    for (size_t i = 0; i < d->n_devices; i++) {
        const struct device *dev = &d->devices[i];
        if (dev->last_success_unix > 0 && !device_readings_fresh(dev, now) &&
            dev->last_success_mono + 2.0 * dev->cfg->interval_s > d->last_render)
            return true;
    }
    return false;
}

/* The rule: no body yet, render. Otherwise render only when something changed (a poll
 * ended: dirty; or readings went stale) and at least min_render_interval_s has passed since
 * the last render; a scrape before that serves the cached bytes (and their gzip form), so
 * they are at most that much older than the data, and readings leave at most that much
 * after their freshness limit. Loop time running backwards counts as the interval passed. */
static bool must_render(const struct daemon *d, ev_tstamp now)
{
    if (!d->body)
        return true;
    ev_tstamp since = now - d->last_render;
    if (since >= 0 && since < d->min_render_interval_s)
        return false;
    return d->dirty || stale_edge(d, now);
}

struct scrape_body *daemon_exposition(struct daemon *d)
{
    ev_tstamp now = ev_now(d->loop);
    if (!must_render(d, now))
        return d->body;
    struct strbuf out;
    strbuf_init(&out, 0);
    if (!render(d, &out))
        log_msg(LOG_ERROR, NULL, "exposition exceeds its size bound; output truncated");
    size_t len = out.len;
    char *text = out.data ? out.data : calloc(1, 1);
    struct scrape_body *b = text ? scrape_body_new(text, len) : NULL;
    if (!b)
        return d->body; /* out of memory: serve the previous one */
    scrape_body_unref(d->body);
    d->body = b;
    d->dirty = false;
    d->last_render = now;
    d->renders++;
    return d->body;
}

/* Prometheus text exposition (format 0.0.4).
 *
 * Metric families are declared once, in static tables (one for the core, one per
 * collector). Samples are added in any order; the builder keeps one buffer per family
 * and renders families in table order, so every family's samples form one group with
 * HELP and TYPE first, as the format requires. A family with no samples is left out. */
#ifndef TPLINK_EXPO_H
#define TPLINK_EXPO_H

#include <stddef.h>

#include "daemon/strbuf.h"

enum metric_type { METRIC_GAUGE, METRIC_COUNTER };

struct metric_family {
    const char *name; /* full sample name, counters ending in _total */
    enum metric_type type;
    const char *help;
};

struct metric_table {
    const struct metric_family *families;
    size_t count;
};

struct label {
    const char *name;
    const char *value;
};

struct expo;

struct expo *expo_new(const struct metric_table *tables, size_t ntables);
/* Empties the builder for another exposition over the same tables, keeping its buffers:
 * the daemon renders into one builder again and again, without fresh memory each time. */
void expo_reset(struct expo *e);
void expo_free(struct expo *e);
/* Adds one sample. A family not in the builder's tables is a programming error and is
 * dropped with a log line rather than producing invalid output. */
void expo_sample(struct expo *e, const struct metric_family *f, const struct label *labels,
                 size_t nlabels, double value);
/* Shorthand for the common one-label {device="…"} sample. */
void expo_sample_dev(struct expo *e, const struct metric_family *f, const char *device,
                     double value);
/* Appends the whole exposition to out; returns false if out hit its bound. */
bool expo_render(const struct expo *e, struct strbuf *out);

/* Exposed for tests: escaping rules of label values and HELP text, and number format. */
void expo_escape_label_value(struct strbuf *out, const char *value);
void expo_escape_help(struct strbuf *out, const char *help);
void expo_format_value(struct strbuf *out, double value);

#endif

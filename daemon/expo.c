#include "daemon/expo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"

struct expo {
    const struct metric_table *tables;
    size_t ntables;
    size_t nfamilies;
    struct strbuf *bodies; /* one per family, in table order */
};

struct expo *expo_new(const struct metric_table *tables, size_t ntables)
{
    struct expo *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->tables = tables;
    e->ntables = ntables;
    for (size_t t = 0; t < ntables; t++)
        e->nfamilies += tables[t].count;
    e->bodies = calloc(e->nfamilies ? e->nfamilies : 1, sizeof *e->bodies);
    if (!e->bodies) {
        free(e);
        return NULL;
    }
    for (size_t i = 0; i < e->nfamilies; i++)
        strbuf_init(&e->bodies[i], 0);
    return e;
}

void expo_free(struct expo *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nfamilies; i++)
        strbuf_free(&e->bodies[i]);
    free(e->bodies);
    free(e);
}

/* Families live in static arrays, so a family's slot is found by address range: O(tables),
 * not a search by name. */
static struct strbuf *body_for(struct expo *e, const struct metric_family *f)
{
    size_t base = 0;
    for (size_t t = 0; t < e->ntables; t++) {
        const struct metric_family *first = e->tables[t].families;
        if (f >= first && f < first + e->tables[t].count)
            return &e->bodies[base + (size_t)(f - first)];
        base += e->tables[t].count;
    }
    return NULL;
}

void expo_escape_label_value(struct strbuf *out, const char *value)
{
    const char *run = value;
    for (const char *p = value; *p; p++) {
        const char *rep = NULL;
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '"')
            rep = "\\\"";
        else if (*p == '\n')
            rep = "\\n";
        if (rep) {
            strbuf_append(out, run, (size_t)(p - run));
            strbuf_puts(out, rep);
            run = p + 1;
        }
    }
    strbuf_puts(out, run);
}

void expo_escape_help(struct strbuf *out, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            strbuf_puts(out, "\\\\");
        else if (*p == '\n')
            strbuf_puts(out, "\\n");
        else
            strbuf_putc(out, *p);
    }
}

/* C-locale formatting (no setlocale anywhere in the process). Integers print without an
 * exponent; other values in the shortest form that reads back exactly. */
void expo_format_value(struct strbuf *out, double v)
{
    if (isnan(v)) {
        strbuf_puts(out, "NaN");
    } else if (isinf(v)) {
        strbuf_puts(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        strbuf_printf(out, "%.0f", v);
    } else {
        char buf[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        strbuf_puts(out, buf);
    }
}

void expo_sample(struct expo *e, const struct metric_family *f, const struct label *labels,
                 size_t nlabels, double value)
{
    struct strbuf *b = body_for(e, f);
    if (!b) {
        log_msg(LOG_ERROR, NULL, "metric family %s is not registered; sample dropped", f->name);
        return;
    }
    strbuf_puts(b, f->name);
    if (nlabels) {
        strbuf_putc(b, '{');
        for (size_t i = 0; i < nlabels; i++) {
            if (i)
                strbuf_putc(b, ',');
            strbuf_puts(b, labels[i].name);
            strbuf_puts(b, "=\"");
            expo_escape_label_value(b, labels[i].value ? labels[i].value : "");
            strbuf_putc(b, '"');
        }
        strbuf_putc(b, '}');
    }
    strbuf_putc(b, ' ');
    expo_format_value(b, value);
    strbuf_putc(b, '\n');
}

void expo_sample_dev(struct expo *e, const struct metric_family *f, const char *device,
                     double value)
{
    struct label l = {"device", device};
    expo_sample(e, f, &l, 1, value);
}

bool expo_render(const struct expo *e, struct strbuf *out)
{
    size_t i = 0;
    for (size_t t = 0; t < e->ntables; t++) {
        for (size_t k = 0; k < e->tables[t].count; k++, i++) {
            const struct metric_family *f = &e->tables[t].families[k];
            const struct strbuf *b = &e->bodies[i];
            if (b->len == 0)
                continue;
            if (b->overflow)
                return false;
            strbuf_printf(out, "# HELP %s ", f->name);
            expo_escape_help(out, f->help);
            strbuf_printf(out, "\n# TYPE %s %s\n", f->name,
                          f->type == METRIC_COUNTER ? "counter" : "gauge");
            strbuf_append(out, b->data, b->len);
        }
    }
    return !out->overflow;
}

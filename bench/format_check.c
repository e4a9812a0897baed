/* format_check: the exposition's number formatting (expo_format_value, integer arithmetic
 * for the common cases) against the printf reference it replaced, byte for byte, over
 * millions of values from the shapes the daemon formats and from random bit patterns.
 * Also times both, as the ratio the change bought.
 *
 *   format_check [--count N]     (N values per distribution; default 2,000,000)
 *
 * Exit status 0 when every value matched, 1 on the first mismatch (printed). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/expo.h"

/* The first implementation, kept verbatim as the reference. */
static void reference(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(out, cap, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, cap, "%.0f", v);
    } else {
        char buf[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        snprintf(out, cap, "%s", buf);
    }
}

/* The first implementation of a sample line, kept verbatim (with the reference numbers). */
static void reference_line(struct strbuf *b, const char *name, const struct label *labels,
                           size_t nlabels, double value)
{
    char num[64];
    strbuf_puts(b, name);
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
    reference(num, sizeof num, value);
    strbuf_puts(b, num);
    strbuf_putc(b, '\n');
}

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

static double p10(int k)
{
    double r = 1;
    for (int i = 0; i < k; i++)
        r *= 10;
    return r;
}

enum { D_BITS, D_LOG, D_DECIMAL, D_TIMESTAMP, D_DURATION, D_DYADIC, D_NEIGHBOUR, D_COUNT };
static const char *const dist_names[D_COUNT] = {
    "random bits", "log-uniform 1e-5..1e15", "short decimals", "unix timestamps",
    "durations",   "dyadic fractions",       "ulp neighbours",
};

static double draw(int dist, uint64_t *s)
{
    double v;
    switch (dist) {
    case D_BITS: {
        uint64_t b = next_u64(s);
        memcpy(&v, &b, sizeof v);
        return v;
    }
    case D_LOG:
        v = pow(10.0, -5.0 + 20.0 * unit(s));
        return next_u64(s) & 1 ? -v : v;
    case D_DECIMAL: { /* 12.345: k digits, j of them after the point */
        int k = 1 + (int)(next_u64(s) % 17), j = (int)(next_u64(s) % 12);
        v = (double)(next_u64(s) % (uint64_t)p10(k)) / p10(j);
        return next_u64(s) % 4 == 0 ? -v : v;
    }
    case D_TIMESTAMP:
        return 1.6e9 + (double)(next_u64(s) % 400000000) + (double)(next_u64(s) % 1000000000) / 1e9;
    case D_DURATION:
        return (double)(next_u64(s) % 20000000000ull) / 1e9 / p10((int)(next_u64(s) % 5));
    case D_DYADIC: /* exact ties for %.15g and %.16g live here */
        v = (double)(next_u64(s) % 100000000000000ull) +
            (double)(next_u64(s) % 1024) / (double)(1u << (1 + next_u64(s) % 10));
        return ldexp(v, -(int)(next_u64(s) % 40));
    default: { /* a few ulps from a short decimal or a power of ten or two */
        int k = (int)(next_u64(s) % 20) - 5;
        v = next_u64(s) & 1 ? p10(k > 0 ? k : 0) / p10(k < 0 ? -k : 0)
                            : ldexp(1.0, (int)(next_u64(s) % 100) - 30);
        if (next_u64(s) & 1)
            v = (double)(next_u64(s) % 1000000) / 1000.0;
        for (int i = (int)(next_u64(s) % 4); i > 0; i--)
            v = nextafter(v, next_u64(s) & 1 ? INFINITY : -INFINITY);
        return v;
    }
    }
}

/* Random sample lines (labels with quotes, backslashes, newlines, UTF-8, long values that
 * take the general path) through expo_sample and expo_render, against reference_line. */
static int check_lines(unsigned long count, uint64_t *seed)
{
    static const struct metric_family fam[] = {{"t_x", METRIC_GAUGE, "X."}};
    static const char alphabet[] = "ab-_.:\"\\\n \xc3\xa9\xe2\x82\xac\xf0\x9f\xffZ09";
    static const char *const names[] = {"device", "kind", "model", "alias", "port", "reason"};
    const struct metric_table table = {fam, 1};
    struct strbuf want, got;
    strbuf_init(&want, 0);
    strbuf_init(&got, 0);
    char values[8][700];
    for (unsigned long n = 0; n < count; n++) {
        struct label l[8];
        size_t nl = (size_t)(next_u64(seed) % 9);
        for (size_t i = 0; i < nl; i++) {
            size_t len = next_u64(seed) % 8 == 0 ? (size_t)(next_u64(seed) % 699)
                                                 : (size_t)(next_u64(seed) % 24);
            for (size_t k = 0; k < len; k++)
                values[i][k] = alphabet[next_u64(seed) % (sizeof alphabet - 1)];
            values[i][len] = '\0';
            l[i] =
                (struct label){names[next_u64(seed) % 6], next_u64(seed) % 50 ? values[i] : NULL};
        }
        double v = draw((int)(next_u64(seed) % D_COUNT), seed);
        struct expo *e = expo_new(&table, 1);
        if (!e)
            return -1;
        expo_sample(e, &fam[0], l, nl, v);
        strbuf_reset(&got);
        expo_render(e, &got);
        expo_free(e);
        strbuf_reset(&want);
        strbuf_puts(&want, "# HELP t_x X.\n# TYPE t_x gauge\n");
        reference_line(&want, "t_x", l, nl, v);
        if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
            printf("MISMATCH line:\nours:      %s\nreference: %s\n", got.data, want.data);
            return -1;
        }
    }
    printf("%-24s %lu lines: identical\n", "sample lines", count);
    strbuf_free(&want);
    strbuf_free(&got);
    return 0;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check(double v, struct strbuf *b)
{
    char want[64];
    reference(want, sizeof want, v);
    strbuf_reset(b);
    expo_format_value(b, v);
    if (strcmp(b->data, want) != 0) {
        printf("MISMATCH %a: ours \"%s\", reference \"%s\"\n", v, b->data, want);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long count = 2000000;
    if (argc == 3 && strcmp(argv[1], "--count") == 0) {
        count = strtoul(argv[2], NULL, 10);
    } else if (argc != 1) {
        fprintf(stderr, "usage: format_check [--count N]\n");
        return 2;
    }
    struct strbuf b;
    strbuf_init(&b, 0);
    static const double fixed[] = {0.0,
                                   -0.0,
                                   1.0,
                                   -1.0,
                                   0.5,
                                   0.1,
                                   1e-4,
                                   -1e-4,
                                   1e-5,
                                   1e14,
                                   -1e14,
                                   1e15,
                                   1e16,
                                   1e20,
                                   1e300,
                                   5e-324,
                                   DBL_MIN,
                                   DBL_MAX,
                                   0.3,
                                   2.675,
                                   1e-4 * 0.5,
                                   99999999999999.99,
                                   0.00009999999999999999,
                                   4503599627370495.5,
                                   NAN,
                                   INFINITY,
                                   -INFINITY};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        double v = fixed[i];
        for (int k = -3; k <= 3; k++) {
            double w = v;
            for (int j = 0; j < abs(k) && isfinite(w); j++)
                w = nextafter(w, k > 0 ? INFINITY : -INFINITY);
            if (check(w, &b) != 0)
                return 1;
        }
    }
    uint64_t seed = 0x5eed;
    unsigned long total = 0;
    for (int d = 0; d < D_COUNT; d++) {
        for (unsigned long i = 0; i < count; i++, total++)
            if (check(draw(d, &seed), &b) != 0)
                return 1;
        printf("%-24s %lu values: identical\n", dist_names[d], count);
    }

    if (check_lines(count / 4, &seed) != 0)
        return 1;

    /* Speed on what a plug render formats: readings, durations and timestamps. */
    enum { SAMPLES = 200000 };
    double *vals = malloc(SAMPLES * sizeof *vals);
    if (!vals)
        return 1;
    for (int i = 0; i < SAMPLES; i++)
        vals[i] = draw(i % 3 == 0 ? D_DECIMAL : i % 3 == 1 ? D_TIMESTAMP : D_DURATION, &seed);
    char ref[64];
    double t = mono();
    for (int i = 0; i < SAMPLES; i++)
        reference(ref, sizeof ref, vals[i]);
    double t_ref = mono() - t;
    t = mono();
    for (int i = 0; i < SAMPLES; i++) {
        strbuf_reset(&b);
        expo_format_value(&b, vals[i]);
    }
    double t_ours = mono() - t;
    printf("all %lu values identical; ns/value: reference (printf) %.0f, ours %.0f, "
           "ours/reference %.2f\n",
           total, t_ref * 1e9 / SAMPLES, t_ours * 1e9 / SAMPLES, t_ours / t_ref);
    free(vals);
    strbuf_free(&b);
    return 0;
}

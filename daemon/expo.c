#include "daemon/expo.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"

struct expo {
    struct metric_table *tables; /* a copy: the caller's array may be on its stack */
    size_t ntables;
    size_t nfamilies;
    struct strbuf *bodies; /* one per family, in table order */
};

struct expo *expo_new(const struct metric_table *tables, size_t ntables)
{
    struct expo *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->tables = calloc(ntables ? ntables : 1, sizeof *e->tables);
    if (!e->tables) {
        free(e);
        return NULL;
    }
    if (ntables)
        memcpy(e->tables, tables, ntables * sizeof *tables);
    e->ntables = ntables;
    for (size_t t = 0; t < ntables; t++)
        e->nfamilies += tables[t].count;
    e->bodies = calloc(e->nfamilies ? e->nfamilies : 1, sizeof *e->bodies);
    if (!e->bodies) {
        free(e->tables);
        free(e);
        return NULL;
    }
    for (size_t i = 0; i < e->nfamilies; i++)
        strbuf_init(&e->bodies[i], 0);
    return e;
}

void expo_reset(struct expo *e)
{
    for (size_t i = 0; i < e->nfamilies; i++)
        strbuf_reset(&e->bodies[i]);
}

void expo_free(struct expo *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nfamilies; i++)
        strbuf_free(&e->bodies[i]);
    free(e->bodies);
    free(e->tables);
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

static size_t help_escaped_len(const char *help)
{
    size_t n = 0;
    for (const char *p = help; *p; p++)
        n += *p == '\\' || *p == '\n' ? 2 : 1;
    return n;
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

/* ---- numbers ----
 *
 * The format is fixed by the first implementation, which was "%.0f" for integers below
 * 1e15 and otherwise the shortest of "%.15g", "%.16g", "%.17g" that strtod reads back
 * exactly (C locale; no setlocale anywhere in the process). printf and strtod cost a few
 * thousand instructions a value, and a render of 10,000 plugs formats 200,000 values, so
 * the common cases are computed here with integer arithmetic that gives the same bytes:
 * integers, and non-integers with 1e-4 <= |v| < 1e14 (where %g uses fixed notation).
 * Everything else still goes through printf. bench/format_check compares the two over
 * many millions of values. */

__extension__ typedef unsigned __int128 u128;

#define P10_MAX 38
/* 10^0 .. 10^38 (u128 holds up to about 3.4e38) */
static const u128 pow10_tab[P10_MAX + 1] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
    10000000000000000000ull,
    (u128)10000000000000000000ull * 10ull,
    (u128)10000000000000000000ull * 100ull,
    (u128)10000000000000000000ull * 1000ull,
    (u128)10000000000000000000ull * 10000ull,
    (u128)10000000000000000000ull * 100000ull,
    (u128)10000000000000000000ull * 1000000ull,
    (u128)10000000000000000000ull * 10000000ull,
    (u128)10000000000000000000ull * 100000000ull,
    (u128)10000000000000000000ull * 1000000000ull,
    (u128)10000000000000000000ull * 10000000000ull,
    (u128)10000000000000000000ull * 100000000000ull,
    (u128)10000000000000000000ull * 1000000000000ull,
    (u128)10000000000000000000ull * 10000000000000ull,
    (u128)10000000000000000000ull * 100000000000000ull,
    (u128)10000000000000000000ull * 1000000000000000ull,
    (u128)10000000000000000000ull * 10000000000000000ull,
    (u128)10000000000000000000ull * 100000000000000000ull,
    (u128)10000000000000000000ull * 1000000000000000000ull,
    (u128)10000000000000000000ull * 10000000000000000000ull,
};

static u128 pow10_u128(int k)
{
    return pow10_tab[k];
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930"
    "31323334353637383940414243444546474849505152535455565758596061"
    "62636465666768697071727374757677787980818283848586878889909192"
    "93949596979899";

/* Decimal digits of x at out (room for 20); returns their count. */
static size_t put_u64(char *out, uint64_t x)
{
    char tmp[20];
    size_t i = sizeof tmp;
    while (x >= 100) {
        unsigned k = (unsigned)(x % 100) * 2;
        x /= 100;
        tmp[--i] = digit_pairs[k + 1];
        tmp[--i] = digit_pairs[k];
    }
    if (x >= 10) {
        tmp[--i] = digit_pairs[x * 2 + 1];
        tmp[--i] = digit_pairs[x * 2];
    } else {
        tmp[--i] = (char)('0' + x);
    }
    memcpy(out, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

/* Fixed-notation %.{15,16,17}g of a non-integer 1e-4 <= |v| < 1e14, shortest first that
 * reads back as v, written to out (at least 32 bytes). Returns the length, 0 if v is
 * outside that range.
 *
 * With |v| = M / 2^s exactly (M the 53-bit significand), v * 10^21 = I + R / 2^s in
 * integers; I has nd >= 18 digits. Rounding to P significant digits drops nd - P digits of
 * I, ties to even as glibc's printf does; the candidate reads back as v when it lies within
 * half a gap of v (ties again to the even significand, as strtod does). */
static size_t format_fixed_shortest(double v, char *out)
{
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e14))
        return 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    int be = (int)(bits >> 52);
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int s = 1075 - be; /* a = m / 2^s; 1 <= s <= 66 in this range for a non-integer */
    if (s <= 0 || s > 100)
        return 0;
    u128 scaled = (u128)m * pow10_u128(21); /* < 2^123 */
    u128 ip = scaled >> s;
    u128 r = scaled & (((u128)1 << s) - 1);
    int nd = 18;
    while (nd < P10_MAX && ip >= pow10_u128(nd))
        nd++;
    /* One wide division: the 17 leading digits; shorter precisions drop more of them. */
    int drop17 = nd - 17; /* 1 ..18 */
    uint64_t p17 = (uint64_t)pow10_u128(drop17);
    uint64_t q17 = (uint64_t)(ip / p17); /* < 10^17 */
    u128 rem17 = ip - (u128)q17 * p17;
    u128 limit = pow10_u128(21); /* half a gap of v, times 2^(s+1), in units of 10^-21 */

    for (int prec = 15; prec <= 17; prec++) {
        int j = 17 - prec;
        uint64_t pj = (uint64_t)pow10_u128(j);
        uint64_t d = q17 / pj;
        u128 div = (u128)pj * p17;
        u128 rem = (u128)(q17 % pj) * p17 + rem17, half = div / 2;
        bool up = rem > half || (rem == half && (r != 0 || (d & 1)));
        /* distance from v to the candidate, times 2^(s+1), in units of 10^-21 */
        u128 diff2 = up ? ((div - rem) << (s + 1)) - 2 * r : (rem << (s + 1)) + 2 * r;
        bool below_gap_half = !up && m == (1ull << 52); /* the double below is closer */
        u128 lhs = below_gap_half ? 2 * diff2 : diff2;
        bool reads_back = lhs < limit || (lhs == limit && (m & 1) == 0);
        if (!reads_back && prec < 17)
            continue;
        int x = nd - 1 - 21; /* decimal exponent of the first digit */
        if (up && ++d == (uint64_t)pow10_u128(prec)) {
            d = (uint64_t)pow10_u128(prec - 1);
            x++;
        }
        char digits[20];
        size_t n = put_u64(digits, d);
        while (n > 1 && digits[n - 1] == '0')
            n--;
        size_t o = 0;
        if (v < 0)
            out[o++] = '-';
        if (x >= 0) {
            size_t intlen = (size_t)x + 1;
            for (size_t i = 0; i < intlen; i++)
                out[o++] = i < n ? digits[i] : '0';
            if (n > intlen) {
                out[o++] = '.';
                for (size_t i = intlen; i < n; i++)
                    out[o++] = digits[i];
            }
        } else {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = -1; i > x; i--)
                out[o++] = '0';
            for (size_t i = 0; i < n; i++)
                out[o++] = digits[i];
        }
        return o;
    }
    return 0;
}

/* Writes the text of v to out (at least 40 bytes); returns its length. */
static size_t format_value(char *out, double v)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 3);
        return 3;
    }
    if (isinf(v)) {
        memcpy(out, v > 0 ? "+Inf" : "-Inf", 4);
        return 4;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        size_t o = 0;
        if (signbit(v))
            out[o++] = '-'; /* "%.0f" of -0.0 is "-0" */
        return o + put_u64(out + o, (uint64_t)fabs(v));
    }
    size_t n = format_fixed_shortest(v, out);
    if (n)
        return n;
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    n = strlen(buf);
    memcpy(out, buf, n);
    return n;
}

void expo_format_value(struct strbuf *out, double v)
{
    char buf[48];
    strbuf_append(out, buf, format_value(buf, v));
}

/* Nonzero when some byte of w is zero (the classic SWAR test; exact for "any"). */
static uint64_t has_zero_byte(uint64_t w)
{
    return (w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull;
}

/* Length of the prefix of value[0..len) that needs no escape. Eight bytes a step: most
 * values (device names, ports, models) need none, and there are hundreds of thousands. */
static bool word_needs_escape(uint64_t w)
{
    return (has_zero_byte(w ^ 0x5c5c5c5c5c5c5c5cull) | has_zero_byte(w ^ 0x2222222222222222ull) |
            has_zero_byte(w ^ 0x0a0a0a0a0a0a0a0aull) | (w & 0x8080808080808080ull)) != 0;
}

static size_t plain_prefix(const char *value, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, value + i, 8);
        if (word_needs_escape(w))
            break;
    }
    while (i < len && value[i] != '\\' && value[i] != '"' && value[i] != '\n' &&
           (unsigned char)value[i] < 0x80)
        i++;
    return i;
}

/* Length of the well-formed UTF-8 sequence that starts s[0..len) (RFC 3629: no overlong
 * forms, surrogates or code points past U+10FFFF), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

#define UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

/* Writes the escape of the byte (or UTF-8 sequence) at value[0..len) that plain_prefix
 * stopped at; returns the input bytes consumed. The text format must be UTF-8, and device
 * strings (a switch's description, a plug's alias) are not checked anywhere else: each byte
 * that starts no well-formed sequence becomes U+FFFD. At most 3 output bytes per input byte. */
static size_t escape_one(char *out, size_t *o, const char *value, size_t len)
{
    char c = value[0];
    if (c == '\\' || c == '"') {
        out[(*o)++] = '\\';
        out[(*o)++] = c;
        return 1;
    }
    if (c == '\n') {
        out[(*o)++] = '\\';
        out[(*o)++] = 'n';
        return 1;
    }
    size_t n = utf8_seq_len((const unsigned char *)value, len);
    if (n == 0) {
        memcpy(out + *o, UTF8_REPLACEMENT, 3);
        *o += 3;
        return 1;
    }
    memcpy(out + *o, value, n);
    *o += n;
    return n;
}

void expo_escape_label_value(struct strbuf *out, const char *value)
{
    size_t len = strlen(value);
    for (size_t i = 0; i < len;) {
        size_t p = plain_prefix(value + i, len - i);
        strbuf_append(out, value + i, p);
        i += p;
        if (i < len) {
            char esc[4];
            size_t o = 0;
            i += escape_one(esc, &o, value + i, len - i);
            strbuf_append(out, esc, o);
        }
    }
}

/* Writes value with the label-value escapes at out; returns the bytes written (at most
 * three times len). */
static size_t escape_into(char *out, const char *value, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t p = plain_prefix(value + i, len - i);
        memcpy(out + o, value + i, p);
        o += p;
        i += p;
        if (i < len)
            i += escape_one(out, &o, value + i, len - i);
    }
    return o;
}

#define EXPO_MAX_FAST_LABELS 16
#define EXPO_LINE_FAST 1024

/* The same line as expo_sample's general path, built on the stack and appended once. Returns
 * false (having written nothing) when the line might not fit the stack buffer. */
static bool sample_fast(struct strbuf *b, const struct metric_family *f, const struct label *labels,
                        size_t nlabels, double value)
{
    char line[EXPO_LINE_FAST];
    size_t vlen[EXPO_MAX_FAST_LABELS], nlen[EXPO_MAX_FAST_LABELS];
    size_t namelen = strlen(f->name);
    size_t bound = namelen + 2 /* {} */ + 48 /* " value\n" */;
    if (nlabels > EXPO_MAX_FAST_LABELS)
        return false;
    for (size_t i = 0; i < nlabels; i++) {
        nlen[i] = strlen(labels[i].name);
        vlen[i] = labels[i].value ? strlen(labels[i].value) : 0;
        bound += nlen[i] + 3 * vlen[i] + 4; /* ="", */
        if (bound > sizeof line)
            return false;
    }
    size_t o = namelen;
    memcpy(line, f->name, namelen);
    if (nlabels) {
        line[o++] = '{';
        for (size_t i = 0; i < nlabels; i++) {
            if (i)
                line[o++] = ',';
            memcpy(line + o, labels[i].name, nlen[i]);
            o += nlen[i];
            line[o++] = '=';
            line[o++] = '"';
            o += escape_into(line + o, labels[i].value ? labels[i].value : "", vlen[i]);
            line[o++] = '"';
        }
        line[o++] = '}';
    }
    line[o++] = ' ';
    o += format_value(line + o, value);
    line[o++] = '\n';
    strbuf_append(b, line, o);
    return true;
}

void expo_sample(struct expo *e, const struct metric_family *f, const struct label *labels,
                 size_t nlabels, double value)
{
    struct strbuf *b = body_for(e, f);
    if (!b) {
        log_msg(LOG_ERROR, NULL, "metric family %s is not registered; sample dropped", f->name);
        return;
    }
    if (sample_fast(b, f, labels, nlabels, value))
        return;
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

static const char *type_name(enum metric_type t)
{
    return t == METRIC_COUNTER ? "counter" : "gauge";
}

static size_t head_len(const struct metric_family *f)
{
    return sizeof "# HELP  \n# TYPE  \n" - 1 + 2 * strlen(f->name) + help_escaped_len(f->help) +
           strlen(type_name(f->type));
}

bool expo_render(const struct expo *e, struct strbuf *out)
{
    /* The exact size first: one allocation for the whole text, none of the doubling's
     * copies and fresh pages (at 10,000 plugs the text is 14 MB). Families up to the first
     * that overflowed its bound go out, as without the reservation. */
    size_t total = 0, i = 0;
    bool stop = false;
    for (size_t t = 0; t < e->ntables && !stop; t++) {
        for (size_t k = 0; k < e->tables[t].count && !stop; k++, i++) {
            const struct strbuf *b = &e->bodies[i];
            stop = b->len > 0 && b->overflow;
            if (b->len == 0 || stop)
                continue;
            size_t add = head_len(&e->tables[t].families[k]) + b->len;
            total = add > SIZE_MAX - total ? SIZE_MAX : total + add;
        }
    }
    if (total <= out->limit - out->len)
        strbuf_reserve(out, total);
    i = 0;
    for (size_t t = 0; t < e->ntables; t++) {
        for (size_t k = 0; k < e->tables[t].count; k++, i++) {
            const struct metric_family *f = &e->tables[t].families[k];
            const struct strbuf *b = &e->bodies[i];
            if (b->len == 0)
                continue;
            if (b->overflow)
                return false;
            strbuf_puts(out, "# HELP ");
            strbuf_puts(out, f->name);
            strbuf_putc(out, ' ');
            expo_escape_help(out, f->help);
            strbuf_puts(out, "\n# TYPE ");
            strbuf_puts(out, f->name);
            strbuf_putc(out, ' ');
            strbuf_puts(out, type_name(f->type));
            strbuf_putc(out, '\n');
            strbuf_append(out, b->data, b->len);
        }
    }
    return !out->overflow;
}

/* libFuzzer target: legacy discovery (collectors/kasa/discovery.h). The input is up to 8
 * replies separated by NUL bytes (a NUL never occurs in JSON text). Each reply goes through
 * kasa_found_parse; the devices found get names (kasa_found_names) and an inventory
 * (kasa_found_inventory), and that inventory must load with inventory_load_string, naming
 * the same devices at the same hosts and ports: device text in the YAML comments and names
 * can never break the file. kasa_escape is checked on every reply's raw bytes too. */
#include "collectors/kasa/discovery.h"
#include "config/inventory.h"
#include "tests/fuzz/fuzz.h"

#define MAX_REPLIES 8

/* An independent UTF-8 check: length of the valid character at s, 0 if invalid. */
static size_t utf8_char(const unsigned char *s, unsigned *cp)
{
    size_t n = s[0] < 0x80             ? 1
               : (s[0] & 0xe0) == 0xc0 ? 2
               : (s[0] & 0xf0) == 0xe0 ? 3
               : (s[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (n == 0)
        return 0;
    unsigned c = n == 1 ? s[0] : s[0] & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3fu);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* What kasa_escape promises: valid UTF-8 with no control, line-breaking or
 * direction-changing character, and (quoted) no '"' or '\' that is not escaped. */
static void check_escaped(const char *s, bool quote)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp = 0;
        size_t n = utf8_char(p, &cp);
        FUZZ_CHECK(n != 0);
        FUZZ_CHECK(cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f) && cp != 0x200e && cp != 0x200f &&
                   !(cp >= 0x2028 && cp <= 0x202e) && !(cp >= 0x2066 && cp <= 0x2069) &&
                   cp != 0xfeff && cp != 0xfffe && cp != 0xffff);
        if (quote && cp == '\\') {
            FUZZ_CHECK(p[1] == '"' || p[1] == '\\' || p[1] == 'x' || p[1] == 'u');
            n = 2;
        } else if (quote) {
            FUZZ_CHECK(cp != '"');
        }
        p += n;
    }
}

static void escape_raw(const char *text, size_t len)
{
    char *s = fuzz_strndup((const uint8_t *)text, len);
    char out[256];
    for (int quote = 0; quote < 2; quote++) {
        memset(out, 'x', sizeof out);
        FUZZ_CHECK(kasa_escape(s, quote, out, sizeof out) == out);
        FUZZ_CHECK(memchr(out, '\0', sizeof out) != NULL);
        check_escaped(out, quote);
        FUZZ_CHECK(kasa_text_width(out) <= strlen(out));
    }
    char one[1] = {'x'};
    kasa_escape(s, true, one, sizeof one);
    FUZZ_CHECK(one[0] == '\0');
    free(s);
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= 64 &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") == n;
}

static void inventory_round_trip(const struct kasa_found *found, size_t n)
{
    char names[MAX_REPLIES][KASA_NAME_SIZE];
    kasa_found_names(found, n, names);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(name_ok(names[i]));
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(names[i], names[j]) != 0);
    }
    struct strbuf yaml;
    strbuf_init(&yaml, 1 << 20);
    FUZZ_CHECK(kasa_found_inventory(found, n, &yaml));
    struct inventory inv;
    char err[512];
    int rc =
        inventory_load_string(yaml.data, yaml.len, "discovered.yml", NULL, &inv, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "%s\n---\n%s---\n", err, yaml.data);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(inv.n_devices == n);
    for (size_t i = 0; i < n; i++) {
        const struct device_config *d = &inv.devices[i];
        FUZZ_CHECK(d->kind == DEVICE_PLUG);
        FUZZ_CHECK(strcmp(d->name, names[i]) == 0);
        FUZZ_CHECK(strcmp(d->host, found[i].host) == 0);
        FUZZ_CHECK(d->port == found[i].port);
    }
    inventory_free(&inv);
    strbuf_free(&yaml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kasa_found found[MAX_REPLIES];
    memset(found, 0, sizeof found);
    size_t n = 0;
    const char *p = (const char *)data, *end = p + size;
    for (unsigned r = 0; r < MAX_REPLIES && p <= end; r++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        const char *stop = nul ? nul : end;
        size_t len = (size_t)(stop - p);
        escape_raw(p, len);
        struct kasa_found *f = &found[n];
        /* The caller's part: the numeric address and port the reply came from. */
        snprintf(f->host, sizeof f->host, r % 2 ? "fd00::%u" : "192.0.2.%u", r + 1);
        f->port = (uint16_t)(r % 3 ? KASA_DEFAULT_PORT : 10000 + r);
        char err[256];
        memset(err, 'x', sizeof err);
        int rc = kasa_found_parse(p, len, f, err, sizeof err);
        FUZZ_CHECK(rc == 0 || rc == -1);
        if (rc == 0) {
            FUZZ_CHECK_STR(f->model);
            FUZZ_CHECK_STR(f->hw_ver);
            FUZZ_CHECK_STR(f->sw_ver);
            FUZZ_CHECK_STR(f->mac);
            FUZZ_CHECK_STR(f->alias);
            FUZZ_CHECK_STR(f->device_id);
            FUZZ_CHECK(f->relay >= -1 && f->relay <= 1);
            FUZZ_CHECK(f->outlets >= 0 && f->outlets <= 99);
            n++;
        } else {
            fuzz_check_err(err, sizeof err);
        }
        if (!nul)
            break;
        p = nul + 1;
    }
    inventory_round_trip(found, n);
    return 0;
}

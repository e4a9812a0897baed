/* The YAML inventory, read with libyaml's event parser.
 *
 * Events rather than the document API because aliases must be refused before anything
 * expands them, and because every event carries the mark an error needs. The parser is a
 * recursive descent over the fixed shape (top mapping → sections → device mappings); any
 * node of the wrong type is an error at once, so nothing arbitrary is ever walked.
 *
 * Keys are table rows: a row names the key, the device kinds that take it, the type of its
 * value and where the value goes. Adding a key is one row (plus a field in the struct).
 * Rules that tie keys together (defaults, password xor password_file, timeout <= interval,
 * unique names) are the only code that knows key names. interval/timeout and names are
 * checked after the whole file is read, because `defaults` may come after the devices. */
#include "config/inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "daemon/log.h"

#define INVENTORY_FILE_MAX ((size_t)64 << 20)
#define PASSWORD_MAX 4096
#define STRING_MAX 255
#define PATH_LEN_MAX 4095
#define DEFAULT_INTERVAL_S 15.0
#define DEFAULT_TIMEOUT_S 3.0
#define DEFAULT_USERNAME "admin"

struct pos {
    unsigned line, col; /* 1-based; 0 when unknown */
};

enum value_type {
    VAL_NAME,      /* char *, device name syntax */
    VAL_HOST,      /* char *, no whitespace or control characters */
    VAL_STRING,    /* char *, no control characters */
    VAL_SECRET,    /* struct secret */
    VAL_PATH,      /* char *, resolved against the inventory's folder */
    VAL_PORT,      /* uint16_t, plain integer 1..65535 */
    VAL_INTERVAL,  /* double seconds, duration >= 1 s */
    VAL_TIMEOUT,   /* double seconds, duration > 0 */
    VAL_TRANSPORT, /* enum plug_transport, one of transport_choices */
    VAL_PROTOCOL,  /* enum plug_protocol, one of protocol_choices */
    VAL_VERSION,   /* int, plain integer 1 or 2 */
    VAL_DEFAULTS,  /* top level: the defaults mapping */
    VAL_DEVICES,   /* top level: a sequence of devices of the row's kind */
};

#define FOR_PLUG (1u << DEVICE_PLUG)
#define FOR_SWITCH (1u << DEVICE_SWITCH)
#define FOR_ALL (FOR_PLUG | FOR_SWITCH)

struct key_def {
    const char *key;
    unsigned kinds; /* device kinds that accept the key; for VAL_DEVICES the list's kind */
    enum value_type type;
    size_t offset; /* of the value in the struct the mapping fills */
    bool required;
};

static const struct key_def top_keys[] = {
    {"defaults", FOR_ALL, VAL_DEFAULTS, 0, false},
    {"plugs", FOR_PLUG, VAL_DEVICES, 0, false},
    {"switches", FOR_SWITCH, VAL_DEVICES, 0, false},
};

static const struct key_def default_keys[] = {
    {"interval", FOR_ALL, VAL_INTERVAL, offsetof(struct inventory, default_interval_s), false},
    {"timeout", FOR_ALL, VAL_TIMEOUT, offsetof(struct inventory, default_timeout_s), false},
};

/* Words of an enum-valued key, indexed by the enum; the index is stored through an int. */
static const char *const transport_choices[] = {"tcp", "udp", NULL};
static const char *const protocol_choices[] = {"auto", "legacy", "klap", "aes", NULL};
_Static_assert(sizeof(enum plug_protocol) == sizeof(int), "choice fields are int-sized");
_Static_assert(sizeof(enum plug_transport) == sizeof(int), "choice fields are int-sized");

#define DEV(field) offsetof(struct device_config, field)
static const struct key_def device_keys[] = {
    {"name", FOR_ALL, VAL_NAME, DEV(name), true},
    {"host", FOR_ALL, VAL_HOST, DEV(host), true},
    {"port", FOR_ALL, VAL_PORT, DEV(port), false},
    {"interval", FOR_ALL, VAL_INTERVAL, DEV(interval_s), false},
    {"timeout", FOR_ALL, VAL_TIMEOUT, DEV(timeout_s), false},
    {"transport", FOR_PLUG, VAL_TRANSPORT, DEV(transport), false},
    {"protocol", FOR_PLUG, VAL_PROTOCOL, DEV(protocol), false},
    {"http_port", FOR_PLUG, VAL_PORT, DEV(http_port), false},
    {"klap_version", FOR_PLUG, VAL_VERSION, DEV(klap_version), false},
    {"credentials_file", FOR_PLUG, VAL_PATH, DEV(credentials_file), false},
    {"username", FOR_SWITCH, VAL_STRING, DEV(username), false},
    {"password", FOR_SWITCH, VAL_SECRET, DEV(password), false},
    {"password_file", FOR_SWITCH, VAL_PATH, DEV(password_file), false},
};
#undef DEV

#define N_KEYS(t) (sizeof(t) / sizeof((t)[0]))
#define MAX_KEYS 32 /* rows per table: the seen set is a 32-bit mask */
_Static_assert(N_KEYS(device_keys) <= MAX_KEYS, "too many device keys for the seen mask");

/* Where each key of one mapping was, for duplicate keys and rules between keys. */
struct mapping_state {
    uint32_t seen;
    struct pos key[MAX_KEYS];
    struct pos value[MAX_KEYS];
};

/* What the deferred checks need to know about each device. */
struct device_meta {
    struct pos entry, name, interval, timeout;
    bool inline_password;
};

struct loader {
    yaml_parser_t parser;
    const char *text; /* for positions of reader errors, which carry only an offset */
    size_t len;
    const char *name;
    const char *base_dir;
    char *err;
    size_t errlen;
    bool failed;
    struct inventory inv;
    struct device_meta *meta; /* parallel to inv.devices */
    size_t cap;
    struct mapping_state defaults;
};

/* ---- messages ---- */

/* A user string as a quoted, escaped, bounded token, so a message stays one short line. */
static const char *quoted(char *buf, size_t cap, const char *s, size_t len)
{
    size_t n = 0, limit = 64;
    buf[n++] = '"';
    for (size_t i = 0; i < len && n + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == limit) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", c);
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* The file name with control characters replaced, for the same reason. */
static void plain_name(char *buf, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        buf[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
    buf[n] = '\0';
}

static void fail(struct loader *l, struct pos at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps the first error only: later ones are consequences of it. */
static void fail(struct loader *l, struct pos at, const char *fmt, ...)
{
    if (l->failed)
        return;
    l->failed = true;
    if (!l->err || l->errlen == 0)
        return;
    char msg[768], name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    plain_name(name, sizeof name, l->name);
    if (at.line)
        snprintf(l->err, l->errlen, "%s:%u:%u: %s", name, at.line, at.col, msg);
    else
        snprintf(l->err, l->errlen, "%s: %s", name, msg);
}

static struct pos mark_pos(yaml_mark_t m)
{
    struct pos p = {(unsigned)m.line + 1, (unsigned)m.column + 1};
    return p;
}

static struct pos ev_pos(const yaml_event_t *ev)
{
    return mark_pos(ev->start_mark);
}

/* Reader errors (bad UTF-8, control characters) carry a byte offset, not a mark. */
static struct pos offset_pos(const struct loader *l, size_t offset)
{
    struct pos p = {1, 1};
    for (size_t i = 0; i < offset && i < l->len; i++) {
        if (l->text[i] == '\n') {
            p.line++;
            p.col = 1;
        } else {
            p.col++;
        }
    }
    return p;
}

static void fail_parser(struct loader *l)
{
    const yaml_parser_t *p = &l->parser;
    const char *problem = p->problem ? p->problem : "malformed input";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        fail(l, (struct pos){0, 0}, "out of memory");
        break;
    case YAML_READER_ERROR:
        fail(l, offset_pos(l, p->problem_offset), "invalid YAML: %s", problem);
        break;
    default:
        if (p->context)
            fail(l, mark_pos(p->problem_mark), "invalid YAML: %s (%s at line %u)", problem,
                 p->context, (unsigned)p->context_mark.line + 1);
        else
            fail(l, mark_pos(p->problem_mark), "invalid YAML: %s", problem);
        break;
    }
}

/* ---- events ---- */

static int next_event(struct loader *l, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&l->parser, ev)) {
        fail_parser(l);
        return -1;
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        /* An alias could repeat a device or expand exponentially; the inventory is small
         * enough to write out. */
        fail(l, ev_pos(ev), "YAML aliases are not supported");
        yaml_event_delete(ev);
        return -1;
    }
    return 0;
}

static const char *scalar_text(const yaml_event_t *ev)
{
    return (const char *)ev->data.scalar.value;
}

static bool is_null(const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = scalar_text(ev);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *node_type(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    case YAML_SEQUENCE_START_EVENT:
        return "a sequence";
    case YAML_SCALAR_EVENT:
        return is_null(ev) ? "null" : "a string";
    default:
        return "something else";
    }
}

/* ---- values ---- */

static bool name_ok(const char *s, size_t len)
{
    if (len < 1 || len > INVENTORY_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* Bytes below 0x20 and DEL are refused; with no_space, the space too. */
static bool text_ok(const char *s, size_t len, size_t max, bool no_space)
{
    if (len < 1 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (no_space && c == ' '))
            return false;
    }
    return true;
}

static char *resolve_path(const char *base_dir, const char *path)
{
    if (path[0] == '/' || !base_dir || !*base_dir)
        return strdup(path);
    size_t nb = strlen(base_dir), np = strlen(path);
    char *out = malloc(nb + 1 + np + 1);
    if (!out)
        return NULL;
    memcpy(out, base_dir, nb);
    out[nb] = '/';
    memcpy(out + nb + 1, path, np + 1);
    return out;
}

static int parse_port(const char *s, size_t len, uint16_t *out)
{
    unsigned long v = 0;
    if (len < 1 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static void format_duration(char *buf, size_t cap, double s)
{
    long long ms = (long long)(s * 1000.0 + 0.5);
    if (ms % 1000 == 0)
        snprintf(buf, cap, "%llds", ms / 1000);
    else
        snprintf(buf, cap, "%lldms", ms);
}

/* Stores the index of the word that the scalar spells; other words are an error listing them. */
static int set_choice(struct loader *l, const struct key_def *row, void *field,
                      const yaml_event_t *ev, const char *const *choices)
{
    const char *s = scalar_text(ev);
    size_t len = ev->data.scalar.length;
    char words[128], q[300];
    size_t off = 0;
    words[0] = '\0';
    for (size_t i = 0; choices[i]; i++) {
        if (strlen(choices[i]) == len && !memcmp(choices[i], s, len)) {
            *(int *)field = (int)i;
            return 0;
        }
        off += (size_t)snprintf(words + off, off < sizeof words ? sizeof words - off : 0, "%s%s",
                                i ? (choices[i + 1] ? ", " : " or ") : "", choices[i]);
    }
    fail(l, ev_pos(ev), "invalid %s %s: expected %s", row->key, quoted(q, sizeof q, s, len), words);
    return -1;
}

/* Stores one scalar value of a table row into base + row->offset. */
static int set_value(struct loader *l, const struct key_def *row, void *base,
                     const yaml_event_t *ev)
{
    void *field = (char *)base + row->offset;
    struct pos at = ev_pos(ev);
    char q[300];

    if (ev->type != YAML_SCALAR_EVENT || is_null(ev)) {
        const char *want = row->type == VAL_PORT || row->type == VAL_VERSION ? "an integer"
                           : row->type == VAL_INTERVAL                       ? "a duration"
                           : row->type == VAL_TIMEOUT                        ? "a duration"
                                                                             : "a string";
        fail(l, at, "%s: expected %s, got %s", row->key, want, node_type(ev));
        return -1;
    }
    const char *s = scalar_text(ev);
    size_t len = ev->data.scalar.length;
    if (strlen(s) != len) {
        fail(l, at, "%s: contains a NUL character", row->key);
        return -1;
    }

    switch (row->type) {
    case VAL_NAME:
        if (!name_ok(s, len)) {
            fail(l, at, "invalid device name %s: use 1 to %d of A-Z a-z 0-9 _ . : -",
                 quoted(q, sizeof q, s, len), INVENTORY_NAME_MAX);
            return -1;
        }
        break;
    case VAL_HOST:
        if (!text_ok(s, len, INVENTORY_HOST_MAX, true)) {
            fail(l, at, "invalid %s %s: 1 to %d characters without spaces or control characters",
                 row->key, quoted(q, sizeof q, s, len), INVENTORY_HOST_MAX);
            return -1;
        }
        break;
    case VAL_STRING:
        if (!text_ok(s, len, STRING_MAX, false)) {
            fail(l, at, "invalid %s %s: 1 to %d characters without control characters", row->key,
                 quoted(q, sizeof q, s, len), STRING_MAX);
            return -1;
        }
        break;
    case VAL_PATH:
        if (len > PATH_LEN_MAX) {
            fail(l, at, "%s: path longer than %d bytes", row->key, PATH_LEN_MAX);
            return -1;
        }
        if (len == 0) {
            fail(l, at, "%s: empty path", row->key);
            return -1;
        }
        break;
    case VAL_SECRET:
        /* The value is never quoted back: it is a credential. */
        if (len == 0 || len > PASSWORD_MAX) {
            fail(l, at, "%s: must be 1 to %d bytes", row->key, PASSWORD_MAX);
            return -1;
        }
        if (secret_set(field, s, len) < 0) {
            fail(l, at, "out of memory");
            return -1;
        }
        return 0;
    case VAL_PORT:
        /* Quoted "80" is a string in YAML; a port is written as a plain integer. */
        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || parse_port(s, len, field) < 0) {
            fail(l, at, "invalid %s %s: expected an integer from 1 to 65535", row->key,
                 quoted(q, sizeof q, s, len));
            return -1;
        }
        return 0;
    case VAL_INTERVAL:
    case VAL_TIMEOUT: {
        double secs;
        if (duration_parse(s, &secs) < 0) {
            fail(l, at, "invalid %s %s: expected a duration such as 15s, 500ms or 1m30s", row->key,
                 quoted(q, sizeof q, s, len));
            return -1;
        }
        if (row->type == VAL_INTERVAL && secs < 1.0) {
            fail(l, at, "%s %s is too short: at least 1s", row->key, quoted(q, sizeof q, s, len));
            return -1;
        }
        *(double *)field = secs;
        return 0;
    }
    case VAL_TRANSPORT:
        return set_choice(l, row, field, ev, transport_choices);
    case VAL_PROTOCOL:
        return set_choice(l, row, field, ev, protocol_choices);
    case VAL_VERSION:
        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || len != 1 ||
            (s[0] != '1' && s[0] != '2')) {
            fail(l, at, "invalid %s %s: expected 1 or 2", row->key, quoted(q, sizeof q, s, len));
            return -1;
        }
        *(int *)field = s[0] - '0';
        return 0;
    case VAL_DEFAULTS:
    case VAL_DEVICES:
        break;
    }

    char *copy = row->type == VAL_PATH ? resolve_path(l->base_dir, s) : strdup(s);
    if (!copy) {
        fail(l, at, "out of memory");
        return -1;
    }
    *(char **)field = copy;
    return 0;
}

/* ---- mappings ---- */

/* Reads the next key of a mapping. Returns 1 with *row set, 0 at the end of the mapping,
 * -1 on error. Only rows whose kinds meet `kinds` are allowed. */
static int next_key(struct loader *l, const struct key_def *table, size_t n, unsigned kinds,
                    const char *what, struct mapping_state *st, size_t *row)
{
    yaml_event_t ev;
    char q[300], allowed[256];

    if (next_event(l, &ev) < 0)
        return -1;
    if (ev.type == YAML_MAPPING_END_EVENT) {
        yaml_event_delete(&ev);
        return 0;
    }
    if (ev.type != YAML_SCALAR_EVENT) {
        fail(l, ev_pos(&ev), "%s: expected a string as key, got %s", what, node_type(&ev));
        yaml_event_delete(&ev);
        return -1;
    }
    const char *key = scalar_text(&ev);
    size_t i;
    for (i = 0; i < n; i++)
        if ((table[i].kinds & kinds) && strlen(key) == ev.data.scalar.length &&
            !strcmp(key, table[i].key))
            break;
    if (i == n) {
        size_t off = 0;
        allowed[0] = '\0';
        for (size_t j = 0; j < n; j++)
            if (table[j].kinds & kinds)
                off +=
                    (size_t)snprintf(allowed + off, off < sizeof allowed ? sizeof allowed - off : 0,
                                     "%s%s", off ? ", " : "", table[j].key);
        fail(l, ev_pos(&ev), "unknown key %s in %s (allowed: %s)",
             quoted(q, sizeof q, key, ev.data.scalar.length), what, allowed);
        yaml_event_delete(&ev);
        return -1;
    }
    if (st->seen & (1u << i)) {
        fail(l, ev_pos(&ev), "duplicate key \"%s\" in %s (first at line %u)", table[i].key, what,
             st->key[i].line);
        yaml_event_delete(&ev);
        return -1;
    }
    st->seen |= 1u << i;
    st->key[i] = ev_pos(&ev);
    *row = i;
    yaml_event_delete(&ev);
    return 1;
}

static int find_row(const struct key_def *table, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].key, key))
            return (int)i;
    return -1;
}

static bool seen(const struct mapping_state *st, const struct key_def *table, size_t n,
                 const char *key, size_t *row)
{
    int i = find_row(table, n, key);
    if (i < 0 || !(st->seen & (1u << i)))
        return false;
    if (row)
        *row = (size_t)i;
    return true;
}

/* Reads a scalar-valued mapping (defaults, a device) after its start event. */
static int read_scalar_mapping(struct loader *l, const struct key_def *table, size_t n,
                               unsigned kinds, const char *what, void *base,
                               struct mapping_state *st)
{
    size_t row;
    int r;
    while ((r = next_key(l, table, n, kinds, what, st, &row)) > 0) {
        yaml_event_t ev;
        if (next_event(l, &ev) < 0)
            return -1;
        st->value[row] = ev_pos(&ev);
        r = set_value(l, &table[row], base, &ev);
        yaml_event_delete(&ev);
        if (r < 0)
            return -1;
    }
    return r;
}

/* Reads a small file that holds credentials into buf (cap bytes, the last one spare to tell
 * a full file from an oversized one). what names it in messages ("password file"). Never
 * quotes the content. */
static int slurp_secret_file(struct loader *l, const char *path, struct pos at, const char *what,
                             char *buf, size_t cap, size_t *len)
{
    char q[300];
    size_t n = 0;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        fail(l, at, "cannot read %s %s: %s", what, quoted(q, sizeof q, path, strlen(path)),
             strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        fail(l, at, "cannot read %s %s: not a regular file", what,
             quoted(q, sizeof q, path, strlen(path)));
        goto done;
    }
    while (n < cap - 1) {
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fail(l, at, "cannot read %s %s: %s", what, quoted(q, sizeof q, path, strlen(path)),
                 strerror(errno));
            goto done;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (memchr(buf, '\0', n)) {
        fail(l, at, "%s %s contains a NUL byte", what, quoted(q, sizeof q, path, strlen(path)));
        goto done;
    }
    *len = n;
    rc = 0;
done:
    close(fd);
    return rc;
}

/* Drops one trailing "\n" or "\r\n". */
static size_t chomp(const char *buf, size_t n)
{
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    return n;
}

static int read_password_file(struct loader *l, struct device_config *d, struct pos at)
{
    char q[300], buf[PASSWORD_MAX + 2];
    size_t n = 0;
    int rc = -1;
    const char *path = d->password_file;
    if (slurp_secret_file(l, path, at, "password file", buf, sizeof buf, &n) < 0)
        goto done;
    n = chomp(buf, n);
    if (n > PASSWORD_MAX) {
        fail(l, at, "password file %s is longer than %d bytes",
             quoted(q, sizeof q, path, strlen(path)), PASSWORD_MAX);
        goto done;
    }
    if (n == 0) {
        fail(l, at, "password file %s is empty", quoted(q, sizeof q, path, strlen(path)));
        goto done;
    }
    if (secret_set(&d->password, buf, n) < 0) {
        fail(l, at, "out of memory");
        goto done;
    }
    rc = 0;
done:
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* credentials_file: the TP-Link account e-mail on line 1, its password on line 2 (a final
 * newline optional, nothing after). */
static int read_credentials_file(struct loader *l, struct device_config *d, struct pos at)
{
    char q[300], buf[2 * PASSWORD_MAX + 4];
    size_t n = 0;
    int rc = -1;
    const char *path = d->credentials_file;
    const char *shown = quoted(q, sizeof q, path, strlen(path));
    if (slurp_secret_file(l, path, at, "credentials file", buf, sizeof buf, &n) < 0)
        goto done;
    if (n >= sizeof buf - 1) {
        fail(l, at, "credentials file %s is longer than %d bytes", shown, 2 * PASSWORD_MAX + 2);
        goto done;
    }
    const char *nl = memchr(buf, '\n', n);
    size_t ulen = nl ? (size_t)(nl - buf) : n;
    size_t uend = ulen > 0 && buf[ulen - 1] == '\r' ? ulen - 1 : ulen;
    const char *pw = nl ? nl + 1 : buf + n;
    size_t plen = chomp(pw, (size_t)(buf + n - pw));
    if (!nl || uend == 0 || plen == 0 || memchr(pw, '\n', plen)) {
        fail(l, at,
             "credentials file %s: expected two lines, the TP-Link account e-mail and its "
             "password",
             shown);
        goto done;
    }
    if (uend > PASSWORD_MAX || plen > PASSWORD_MAX) {
        fail(l, at, "credentials file %s: a line is longer than %d bytes", shown, PASSWORD_MAX);
        goto done;
    }
    if (secret_set(&d->account_user, buf, uend) < 0 ||
        secret_set(&d->account_password, pw, plen) < 0) {
        fail(l, at, "out of memory");
        goto done;
    }
    rc = 0;
done:
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* Plug rules: the protocol default and what goes with which protocol, the account. */
static int finish_plug(struct loader *l, struct device_config *d, const struct mapping_state *st)
{
    const struct key_def *t = device_keys;
    size_t n = N_KEYS(device_keys), prow, trow;
    char q[300];
    if (!seen(st, t, n, "http_port", NULL))
        d->http_port = 80;
    bool udp = seen(st, t, n, "transport", &trow) && d->transport == PLUG_TRANSPORT_UDP;
    bool proto = seen(st, t, n, "protocol", &prow);
    if (!proto && udp)
        d->protocol = PLUG_PROTOCOL_LEGACY; /* KLAP and AES are HTTP: there is no fallback */
    if (proto && udp && d->protocol != PLUG_PROTOCOL_LEGACY) {
        fail(l, st->value[prow],
             "plug %s: protocol %s runs on TCP; transport: udp needs protocol: legacy",
             quoted(q, sizeof q, d->name, strlen(d->name)), protocol_choices[d->protocol]);
        return -1;
    }
    if (seen(st, t, n, "credentials_file", &prow))
        return read_credentials_file(l, d, st->key[prow]);
    return 0;
}

/* The rules of one device that need only the device: required keys, kind defaults,
 * credentials. */
static int finish_device(struct loader *l, struct device_config *d, struct device_meta *m,
                         const struct mapping_state *st)
{
    const struct key_def *t = device_keys;
    size_t n = N_KEYS(device_keys), row, row2;
    const char *kind = device_kind_name(d->kind);
    char q[300];

    for (size_t i = 0; i < n; i++) {
        if (!t[i].required || !(t[i].kinds & (1u << d->kind)) || (st->seen & (1u << i)))
            continue;
        if (d->name)
            fail(l, m->entry, "missing key \"%s\" in %s %s", t[i].key, kind,
                 quoted(q, sizeof q, d->name, strlen(d->name)));
        else
            fail(l, m->entry, "missing key \"%s\" in %s entry", t[i].key, kind);
        return -1;
    }
    if (seen(st, t, n, "name", &row))
        m->name = st->value[row];
    if (seen(st, t, n, "interval", &row))
        m->interval = st->value[row];
    if (seen(st, t, n, "timeout", &row))
        m->timeout = st->value[row];
    if (!seen(st, t, n, "port", NULL))
        d->port = d->kind == DEVICE_PLUG ? 9999 : 80;
    if (d->kind == DEVICE_PLUG)
        return finish_plug(l, d, st);

    if (!seen(st, t, n, "username", NULL) && !(d->username = strdup(DEFAULT_USERNAME))) {
        fail(l, m->entry, "out of memory");
        return -1;
    }
    bool inline_pw = seen(st, t, n, "password", &row);
    bool file_pw = seen(st, t, n, "password_file", &row2);
    if (inline_pw && file_pw) {
        struct pos later =
            st->key[row].line > st->key[row2].line || (st->key[row].line == st->key[row2].line &&
                                                       st->key[row].col > st->key[row2].col)
                ? st->key[row]
                : st->key[row2];
        fail(l, later, "switch %s has both password and password_file; keep one",
             quoted(q, sizeof q, d->name, strlen(d->name)));
        return -1;
    }
    if (!inline_pw && !file_pw) {
        fail(l, m->entry, "switch %s needs password_file (or password)",
             quoted(q, sizeof q, d->name, strlen(d->name)));
        return -1;
    }
    m->inline_password = inline_pw;
    if (file_pw)
        return read_password_file(l, d, st->key[row2]);
    return 0;
}

static int grow(struct loader *l, struct pos at)
{
    if (l->inv.n_devices < l->cap)
        return 0;
    size_t cap = l->cap ? l->cap * 2 : 16;
    if (cap > INVENTORY_MAX_DEVICES)
        cap = INVENTORY_MAX_DEVICES;
    struct device_config *d = realloc(l->inv.devices, cap * sizeof *d);
    if (d)
        l->inv.devices = d;
    struct device_meta *m = d ? realloc(l->meta, cap * sizeof *m) : NULL;
    if (!m) {
        fail(l, at, "out of memory");
        return -1;
    }
    l->meta = m;
    l->cap = cap;
    return 0;
}

static int read_devices(struct loader *l, enum device_kind kind, const char *section)
{
    yaml_event_t ev;
    char what[64];
    snprintf(what, sizeof what, "%s entry", section);
    for (;;) {
        if (next_event(l, &ev) < 0)
            return -1;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        struct pos at = ev_pos(&ev);
        bool mapping = ev.type == YAML_MAPPING_START_EVENT;
        if (!mapping)
            fail(l, at, "%s: expected a mapping, got %s", what, node_type(&ev));
        yaml_event_delete(&ev);
        if (!mapping)
            return -1;
        if (l->inv.n_devices >= INVENTORY_MAX_DEVICES) {
            fail(l, at, "too many devices (at most %d)", INVENTORY_MAX_DEVICES);
            return -1;
        }
        if (grow(l, at) < 0)
            return -1;
        /* Counted before it is filled, so inventory_free releases a half-read device. */
        struct device_config *d = &l->inv.devices[l->inv.n_devices];
        struct device_meta *m = &l->meta[l->inv.n_devices];
        l->inv.n_devices++;
        memset(d, 0, sizeof *d);
        memset(m, 0, sizeof *m);
        d->kind = kind;
        d->line = at.line;
        m->entry = at;

        struct mapping_state st;
        memset(&st, 0, sizeof st);
        if (read_scalar_mapping(l, device_keys, N_KEYS(device_keys), 1u << kind, what, d, &st) <
                0 ||
            finish_device(l, d, m, &st) < 0)
            return -1;
    }
}

static int read_top(struct loader *l)
{
    struct mapping_state st;
    size_t row;
    int r;
    memset(&st, 0, sizeof st);
    while ((r = next_key(l, top_keys, N_KEYS(top_keys), FOR_ALL, "the inventory", &st, &row)) > 0) {
        const struct key_def *k = &top_keys[row];
        yaml_event_t ev;
        if (next_event(l, &ev) < 0)
            return -1;
        struct pos at = ev_pos(&ev);
        yaml_event_type_t type = ev.type;
        bool null = is_null(&ev);
        const char *got = node_type(&ev);
        yaml_event_delete(&ev);
        if (null) /* `plugs:` with nothing under it */
            continue;
        if (k->type == VAL_DEFAULTS) {
            if (type != YAML_MAPPING_START_EVENT) {
                fail(l, at, "%s: expected a mapping, got %s", k->key, got);
                return -1;
            }
            if (read_scalar_mapping(l, default_keys, N_KEYS(default_keys), FOR_ALL, k->key, &l->inv,
                                    &l->defaults) < 0)
                return -1;
        } else {
            if (type != YAML_SEQUENCE_START_EVENT) {
                fail(l, at, "%s: expected a sequence, got %s", k->key, got);
                return -1;
            }
            enum device_kind kind = k->kinds == FOR_PLUG ? DEVICE_PLUG : DEVICE_SWITCH;
            if (read_devices(l, kind, k->key) < 0)
                return -1;
        }
    }
    return r;
}

static int read_stream(struct loader *l)
{
    yaml_event_t ev;
    if (next_event(l, &ev) < 0) /* stream start */
        return -1;
    yaml_event_delete(&ev);
    if (next_event(l, &ev) < 0)
        return -1;
    if (ev.type == YAML_STREAM_END_EVENT) { /* an empty file */
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* document start */

    if (next_event(l, &ev) < 0)
        return -1;
    struct pos at = ev_pos(&ev);
    yaml_event_type_t type = ev.type;
    bool null = is_null(&ev);
    const char *got = node_type(&ev);
    yaml_event_delete(&ev);
    if (type == YAML_MAPPING_START_EVENT) {
        if (read_top(l) < 0)
            return -1;
    } else if (!null) {
        fail(l, at, "expected a mapping at the top level, got %s", got);
        return -1;
    }

    if (next_event(l, &ev) < 0) /* document end */
        return -1;
    yaml_event_delete(&ev);
    if (next_event(l, &ev) < 0)
        return -1;
    type = ev.type;
    at = ev_pos(&ev);
    yaml_event_delete(&ev);
    if (type != YAML_STREAM_END_EVENT) {
        fail(l, at, "expected a single YAML document");
        return -1;
    }
    return 0;
}

/* Parses without looking, so a syntax error anywhere is reported before a semantic error
 * that the broken syntax caused (a wrong dedent closes a device's mapping early). Aliases
 * are refused here too, by next_event. */
static int check_syntax(struct loader *l)
{
    for (;;) {
        yaml_event_t ev;
        if (next_event(l, &ev) < 0)
            return -1;
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end)
            return 0;
    }
}

static int run_pass(struct loader *l, int (*pass)(struct loader *))
{
    if (!yaml_parser_initialize(&l->parser)) {
        fail(l, (struct pos){0, 0}, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&l->parser, (const unsigned char *)l->text, l->len);
    int rc = pass(l);
    yaml_parser_delete(&l->parser);
    return rc;
}

/* ---- checks over the whole file ---- */

static int check_timing(struct loader *l)
{
    struct inventory *inv = &l->inv;
    const struct mapping_state *ds = &l->defaults;
    size_t ri = 0, rt = 0;
    (void)seen(ds, default_keys, N_KEYS(default_keys), "interval", &ri);
    bool has_t = seen(ds, default_keys, N_KEYS(default_keys), "timeout", &rt);
    char a[32], b[32];

    if (inv->default_timeout_s > inv->default_interval_s) {
        format_duration(a, sizeof a, inv->default_timeout_s);
        format_duration(b, sizeof b, inv->default_interval_s);
        fail(l, has_t ? ds->value[rt] : ds->value[ri],
             "default timeout (%s) must not exceed the default interval (%s)", a, b);
        return -1;
    }
    for (size_t i = 0; i < inv->n_devices; i++) {
        struct device_config *d = &inv->devices[i];
        const struct device_meta *m = &l->meta[i];
        bool own_t = d->timeout_s > 0;
        if (d->interval_s <= 0)
            d->interval_s = inv->default_interval_s;
        if (d->timeout_s <= 0)
            d->timeout_s = inv->default_timeout_s;
        if (d->timeout_s > d->interval_s) {
            format_duration(a, sizeof a, d->timeout_s);
            format_duration(b, sizeof b, d->interval_s);
            fail(l, own_t ? m->timeout : m->interval,
                 "timeout (%s) must not exceed interval (%s) for %s %s", a, b,
                 device_kind_name(d->kind), d->name);
            return -1;
        }
    }
    return 0;
}

struct name_ref {
    const char *name;
    size_t index;
};

static int cmp_name_ref(const void *pa, const void *pb)
{
    const struct name_ref *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Sorting keeps this O(n log n) for the largest inventories; the reported duplicate is
 * the first one in file order, with the line of the name it repeats. */
static int check_names(struct loader *l)
{
    size_t n = l->inv.n_devices;
    if (n < 2)
        return 0;
    struct name_ref *refs = malloc(n * sizeof *refs);
    if (!refs) {
        fail(l, (struct pos){0, 0}, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct name_ref){l->inv.devices[i].name, i};
    qsort(refs, n, sizeof *refs, cmp_name_ref);
    size_t dup = SIZE_MAX, first = 0, group = 0;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(refs[i - 1].name, refs[i].name) != 0)
            group = i;
        else if (refs[i].index < dup) {
            dup = refs[i].index;
            first = refs[group].index;
        }
    }
    free(refs);
    if (dup == SIZE_MAX)
        return 0;
    char q[300];
    const char *name = l->inv.devices[dup].name;
    fail(l, l->meta[dup].name, "duplicate device name %s (first defined at line %u)",
         quoted(q, sizeof q, name, strlen(name)), l->meta[first].name.line);
    return -1;
}

/* ---- entry points ---- */

static int load(const char *text, size_t len, const char *name, const char *base_dir,
                bool warn_inline, struct inventory *out, char *err, size_t errlen)
{
    struct loader l;
    memset(&l, 0, sizeof l);
    memset(out, 0, sizeof *out);
    l.text = text;
    l.len = len;
    l.name = name ? name : "<inventory>";
    l.base_dir = base_dir;
    l.err = err;
    l.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    l.inv.default_interval_s = DEFAULT_INTERVAL_S;
    l.inv.default_timeout_s = DEFAULT_TIMEOUT_S;

    int rc = run_pass(&l, check_syntax);
    if (rc == 0)
        rc = run_pass(&l, read_stream);
    if (rc == 0)
        rc = check_timing(&l);
    if (rc == 0)
        rc = check_names(&l);
    if (rc == 0 && !(l.inv.path = strdup(l.name))) {
        fail(&l, (struct pos){0, 0}, "out of memory");
        rc = -1;
    }
    if (rc < 0 && !l.failed)
        fail(&l, (struct pos){0, 0}, "invalid inventory");
    if (rc < 0) {
        inventory_free(&l.inv);
        free(l.meta);
        return -1;
    }
    if (warn_inline)
        for (size_t i = 0; i < l.inv.n_devices; i++)
            if (l.meta[i].inline_password)
                log_msg(LOG_WARN, l.inv.devices[i].name,
                        "inline password in %s, which group or others can read; use "
                        "password_file or chmod 600",
                        l.inv.path);
    free(l.meta);
    *out = l.inv;
    return 0;
}

int inventory_load_string(const char *text, size_t len, const char *name, const char *base_dir,
                          struct inventory *out, char *err, size_t errlen)
{
    return load(text, len, name, base_dir, false, out, err, errlen);
}

static void file_error(const char *path, char *err, size_t errlen, const char *what,
                       const char *detail)
{
    char name[512];
    plain_name(name, sizeof name, path);
    if (err && errlen)
        snprintf(err, errlen, "%s: %s%s%s", name, what, detail ? ": " : "", detail ? detail : "");
}

int inventory_load_file(const char *path, struct inventory *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        file_error(path, err, errlen, "cannot open", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        file_error(path, err, errlen, "not a regular file", NULL);
        close(fd);
        return -1;
    }
    if ((unsigned long long)sb.st_size > INVENTORY_FILE_MAX) {
        file_error(path, err, errlen, "larger than 64 MiB", NULL);
        close(fd);
        return -1;
    }
    /* The size may change while reading; the bound holds regardless. */
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    char *text = malloc(cap);
    if (!text) {
        file_error(path, err, errlen, "out of memory", NULL);
        close(fd);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap > INVENTORY_FILE_MAX) {
                file_error(path, err, errlen, "larger than 64 MiB", NULL);
                goto fail;
            }
            char *t = realloc(text, cap * 2);
            if (!t) {
                file_error(path, err, errlen, "out of memory", NULL);
                goto fail;
            }
            text = t;
            cap *= 2;
        }
        ssize_t got = read(fd, text + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            file_error(path, err, errlen, "cannot read", strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);

    char *dir = NULL;
    const char *slash = strrchr(path, '/');
    if (slash && !(dir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
        file_error(path, err, errlen, "out of memory", NULL);
        free(text);
        return -1;
    }
    bool exposed = (sb.st_mode & (S_IRGRP | S_IROTH)) != 0;
    int rc = load(text, n, path, dir, exposed, out, err, errlen);
    /* The text may hold inline passwords. */
    explicit_bzero(text, n);
    free(text);
    free(dir);
    return rc;
fail:
    explicit_bzero(text, n);
    free(text);
    close(fd);
    return -1;
}

void inventory_free(struct inventory *inv)
{
    for (size_t i = 0; i < inv->n_devices; i++) {
        struct device_config *d = &inv->devices[i];
        free(d->name);
        free(d->host);
        free(d->username);
        free(d->password_file);
        secret_clear(&d->password);
        free(d->credentials_file);
        secret_clear(&d->account_user);
        secret_clear(&d->account_password);
    }
    free(inv->devices);
    free(inv->path);
    memset(inv, 0, sizeof *inv);
}

const char *device_kind_name(enum device_kind kind)
{
    switch (kind) {
    case DEVICE_PLUG:
        return "plug";
    case DEVICE_SWITCH:
        return "switch";
    }
    return "unknown";
}

static bool str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int device_config_equal(const struct device_config *a, const struct device_config *b)
{
    return a->kind == b->kind && str_equal(a->name, b->name) && str_equal(a->host, b->host) &&
           a->port == b->port && a->transport == b->transport && a->interval_s == b->interval_s &&
           a->timeout_s == b->timeout_s && str_equal(a->username, b->username) &&
           str_equal(a->password_file, b->password_file) &&
           secret_equal(&a->password, &b->password) && a->protocol == b->protocol &&
           a->http_port == b->http_port && a->klap_version == b->klap_version &&
           str_equal(a->credentials_file, b->credentials_file) &&
           secret_equal(&a->account_user, &b->account_user) &&
           secret_equal(&a->account_password, &b->account_password);
}

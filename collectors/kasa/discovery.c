/* Legacy Kasa discovery replies and the inventory YAML made from them (discovery.h). */
#include "collectors/kasa/discovery.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text ---- */

/* Decodes one UTF-8 character at s; returns its length (1..4) and *cp, or 0 when the bytes
 * are not a valid, shortest-form encoding of a scalar value. */
static size_t utf8_decode(const unsigned char *s, unsigned *cp)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        min = 0x80;
        c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        min = 0x800;
        c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* Characters that would break a line (YAML counts NEL, LS and PS as line breaks), reorder
 * what a terminal shows, or are not printable in YAML. */
static bool unsafe_cp(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff ||
           cp == 0xfffe || cp == 0xffff;
}

char *kasa_escape(const char *s, bool quote, char *out, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return out;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        char unit[16];
        unsigned cp;
        size_t n = utf8_decode(p, &cp);
        size_t ulen;
        if (n == 0) {
            ulen = (size_t)snprintf(unit, sizeof unit, "\\uFFFD");
            n = 1;
        } else if (unsafe_cp(cp)) {
            ulen = (size_t)snprintf(unit, sizeof unit, cp < 0x100 ? "\\x%02X" : "\\u%04X", cp);
        } else if (quote && (cp == '"' || cp == '\\')) {
            unit[0] = '\\';
            unit[1] = (char)cp;
            ulen = 2;
        } else {
            memcpy(unit, p, n);
            ulen = n;
        }
        if (o + ulen >= cap)
            break;
        memcpy(out + o, unit, ulen);
        o += ulen;
        p += n;
    }
    out[o] = '\0';
    return out;
}

size_t kasa_text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xc0) != 0x80;
    return w;
}

/* Copies a JSON string member into a fixed buffer, cut at a character boundary (jansson
 * strings are valid UTF-8); "" when absent or not a string. */
static void copy_str(json_t *obj, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (!json_is_string(v))
        return;
    const char *s = json_string_value(v);
    size_t len = strnlen(s, json_string_length(v)); /* an embedded \u0000 ends it */
    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* ---- replies ---- */

int kasa_found_parse(const char *json, size_t len, struct kasa_found *out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &jerr); /* copy_str cuts at a NUL */
    if (!json_is_object(root)) {
        snprintf(err, errlen, "reply is not a JSON object");
        json_decref(root);
        return -1;
    }
    json_t *si = json_object_get(json_object_get(root, "system"), "get_sysinfo");
    if (!json_is_object(si)) {
        snprintf(err, errlen, "reply has no system.get_sysinfo object");
        json_decref(root);
        return -1;
    }
    json_t *code = json_object_get(si, "err_code");
    if (json_is_integer(code) && json_integer_value(code) != 0) {
        snprintf(err, errlen, "system.get_sysinfo answered err_code %lld",
                 (long long)json_integer_value(code));
        json_decref(root);
        return -1;
    }
    copy_str(si, "model", out->model, sizeof out->model);
    copy_str(si, "hw_ver", out->hw_ver, sizeof out->hw_ver);
    copy_str(si, "sw_ver", out->sw_ver, sizeof out->sw_ver);
    copy_str(si, "mac", out->mac, sizeof out->mac);
    if (!out->mac[0])
        copy_str(si, "mic_mac", out->mac, sizeof out->mac); /* bulbs */
    copy_str(si, "alias", out->alias, sizeof out->alias);
    copy_str(si, "deviceId", out->device_id, sizeof out->device_id);

    char feature[64];
    copy_str(si, "feature", feature, sizeof feature);
    out->meter = strstr(feature, "ENE") != NULL;
    json_t *em = json_object_get(root, "emeter");
    json_t *rt = json_object_get(em, "get_realtime");
    json_t *em_code = json_object_get(em, "err_code");
    json_t *rt_code = json_object_get(rt, "err_code");
    if (json_is_object(rt) && !(json_is_integer(em_code) && json_integer_value(em_code) != 0) &&
        json_is_integer(rt_code) && json_integer_value(rt_code) == 0)
        out->meter = true;

    json_t *children = json_object_get(si, "children");
    json_t *child_num = json_object_get(si, "child_num");
    json_t *relay = json_object_get(si, "relay_state");
    out->outlets = 0;
    if (json_is_array(children) && json_array_size(children) > 0)
        out->outlets = json_array_size(children) > 99 ? 99 : (int)json_array_size(children);
    else if (json_is_integer(child_num) && json_integer_value(child_num) > 0)
        out->outlets = json_integer_value(child_num) > 99 ? 99 : (int)json_integer_value(child_num);
    out->relay = -1;
    if (!out->outlets && json_is_integer(relay))
        out->relay = json_integer_value(relay) != 0;
    json_decref(root);
    return 0;
}

/* ---- names ---- */

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

/* Latin-1 letters U+00C0..U+00FF as their base letter, so "Büro" is "Buro"; '-' is none. */
static const char latin1_base[] =
    "AAAAAAACEEEEIIIIDNOOOOO-OUUUUYTsaaaaaaaceeeeiiiidnooooo-ouuuuyty";

/* The name a device would get on its own (before making names unique). */
static void base_name(const struct kasa_found *f, char *out)
{
    size_t n = 0;
    bool gap = false;
    for (const unsigned char *p = (const unsigned char *)f->alias; *p && n < KASA_NAME_SIZE - 1;
         p++) {
        char c = (char)*p;
        if (p[0] == 0xc3 && p[1] >= 0x80 && p[1] <= 0xbf) { /* U+00C0..U+00FF */
            c = latin1_base[p[1] - 0x80];
            p++;
        }
        if (c != '-' && name_char(c)) {
            if (gap && n > 0 && n < KASA_NAME_SIZE - 2)
                out[n++] = '-';
            gap = false;
            out[n++] = c;
        } else {
            gap = true; /* runs of spaces, dashes, punctuation, other non-ASCII bytes */
        }
    }
    out[n] = '\0';
    if (n > 0)
        return;
    memcpy(out, "plug", 5);
    n = 4;
    bool dash = false;
    for (const char *p = f->mac; *p && n < 20; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
            if (!dash) {
                out[n++] = '-';
                dash = true;
            }
            out[n++] = c;
        }
    }
    out[n] = '\0';
}

static bool taken(char (*names)[KASA_NAME_SIZE], size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

void kasa_found_names(const struct kasa_found *found, size_t n, char (*names)[KASA_NAME_SIZE])
{
    for (size_t i = 0; i < n; i++) {
        char base[KASA_NAME_SIZE];
        base_name(&found[i], base);
        if (!taken(names, i, base)) {
            memcpy(names[i], base, sizeof base);
            continue;
        }
        /* Start after the devices that share the base, so long runs stay quadratic. */
        size_t same = 0;
        for (size_t j = 0; j < i; j++) {
            char other[KASA_NAME_SIZE];
            base_name(&found[j], other);
            same += strcmp(other, base) == 0;
        }
        for (size_t k = same < 2 ? 2 : same + 1;; k++) {
            char suffix[24];
            int sl = snprintf(suffix, sizeof suffix, "-%zu", k);
            size_t keep = strlen(base);
            if (keep + (size_t)sl > KASA_NAME_SIZE - 1)
                keep = KASA_NAME_SIZE - 1 - (size_t)sl;
            snprintf(names[i], KASA_NAME_SIZE, "%.*s%s", (int)keep, base, suffix);
            if (!taken(names, i, names[i]))
                break;
        }
    }
}

/* ---- inventory ---- */

bool kasa_found_inventory(const struct kasa_found *found, size_t n, struct strbuf *out)
{
    if (n == 0)
        return strbuf_puts(out, "plugs: []\n");
    char(*names)[KASA_NAME_SIZE] = calloc(n, sizeof *names);
    if (!names)
        return false;
    kasa_found_names(found, n, names);
    bool ok = strbuf_puts(out, "plugs:\n");
    for (size_t i = 0; ok && i < n; i++) {
        const struct kasa_found *f = &found[i];
        char alias[4 * sizeof f->alias], model[4 * sizeof f->model], hw[4 * sizeof f->hw_ver],
            fw[4 * sizeof f->sw_ver], mac[4 * sizeof f->mac], host[4 * sizeof f->host];
        ok = strbuf_printf(out, "  # \"%s\": %s hw %s, fw %s, MAC %s%s%s%s\n",
                           kasa_escape(f->alias, true, alias, sizeof alias),
                           kasa_escape(f->model[0] ? f->model : "?", false, model, sizeof model),
                           kasa_escape(f->hw_ver[0] ? f->hw_ver : "?", false, hw, sizeof hw),
                           kasa_escape(f->sw_ver[0] ? f->sw_ver : "?", false, fw, sizeof fw),
                           kasa_escape(f->mac[0] ? f->mac : "?", false, mac, sizeof mac),
                           f->outlets ? ", strip"
                           : f->meter ? ", energy meter"
                                      : "",
                           f->protocol[0] ? ", new firmware: " : "", f->protocol) &&
             strbuf_printf(out, "  - name: \"%s\"\n    host: \"%s\"\n", names[i],
                           kasa_escape(f->host, true, host, sizeof host));
        if (ok && f->port != KASA_DEFAULT_PORT)
            ok = strbuf_printf(out, "    port: %u\n", (unsigned)f->port);
        if (ok && f->protocol[0])
            ok = strbuf_printf(out, "    protocol: %s\n", f->protocol);
        if (ok && f->protocol[0] && f->http_port && f->http_port != 80)
            ok = strbuf_printf(out, "    http_port: %u\n", (unsigned)f->http_port);
        if (ok && f->protocol[0])
            ok = strbuf_puts(out, "    # credentials_file: FILE  # the TP-Link account: e-mail, "
                                  "then password\n");
    }
    free(names);
    return ok && !out->overflow;
}

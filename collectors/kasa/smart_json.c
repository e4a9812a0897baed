#include "collectors/kasa/smart_json.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/kasa/aes_passthrough.h"
#include "collectors/kasa/json_util.h"

/* Replies stay far below this; larger input is rejected before parsing. */
#define SMART_REPLY_MAX (1024u * 1024u)

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

enum smart_status smart_classify(long long code)
{
    switch (code) {
    case 0:
        return SMART_OK;
    case -1501: /* LOGIN_ERROR */
    case 1111:  /* LOGIN_FAILED_ERROR */
    case -1005: /* AES_DECODE_FAIL_ERROR */
    case 1100:  /* HAND_SHAKE_FAILED_ERROR */
    case 1003:  /* TRANSPORT_UNKNOWN_CREDENTIALS_ERROR */
        return SMART_AUTH;
    case 9999: /* SESSION_TIMEOUT_ERROR */
        return SMART_SESSION_EXPIRED;
    case 1002:  /* TRANSPORT_NOT_AVAILABLE_ERROR */
    case 1112:  /* HTTP_TRANSPORT_FAILED_ERROR */
    case -1001: /* UNSPECIFIC_ERROR */
        return SMART_RETRY;
    case -1002: /* UNKNOWN_METHOD_ERROR */
        return SMART_UNSUPPORTED;
    default:
        return SMART_DEVICE;
    }
}

const char *smart_status_str(enum smart_status st)
{
    switch (st) {
    case SMART_OK:
        return "ok";
    case SMART_PROTOCOL:
        return "malformed reply";
    case SMART_AUTH:
        return "authentication refused";
    case SMART_SESSION_EXPIRED:
        return "session expired";
    case SMART_RETRY:
        return "transient device error";
    case SMART_UNSUPPORTED:
        return "method not supported";
    case SMART_DEVICE:
        return "device error";
    }
    return "unknown";
}

char *smart_build_request(const char *const *methods, size_t n, long long now_ms,
                          const char *terminal_uuid, size_t *len)
{
    if (!methods || n == 0 || n > SMART_MULTI_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!methods[i] || !methods[i][0])
            return NULL;
    json_t *req = json_object();
    json_t *list = NULL;
    char *out = NULL;
    if (!req)
        return NULL;
    const char *top = n == 1 ? methods[0] : "multipleRequest";
    if (json_object_set_new(req, "method", json_string(top)) ||
        json_object_set_new(req, "request_time_milis", json_integer(now_ms)))
        goto done;
    if (terminal_uuid && json_object_set_new(req, "terminal_uuid", json_string(terminal_uuid)))
        goto done;
    if (n > 1) {
        list = json_array();
        if (!list)
            goto done;
        for (size_t i = 0; i < n; i++)
            if (json_array_append_new(list, json_pack("{s:s}", "method", methods[i])))
                goto done;
        json_t *params = json_pack("{s:O}", "requests", list);
        if (!params || json_object_set_new(req, "params", params))
            goto done;
    }
    out = json_dumps(req, JSON_COMPACT);
    if (out && len)
        *len = strlen(out);
done:
    json_decref(list);
    json_decref(req);
    return out;
}

/* --- reply parsing ------------------------------------------------------------------ */

/* A number times scale, when both it and the product are finite (1e308 Wh overflows). */
static bool get_scaled(json_t *obj, const char *key, double scale, double *out)
{
    double v;
    if (!kasa_json_number(obj, key, &v) || !isfinite(v * scale))
        return false;
    *out = v * scale;
    return true;
}

/* Length of the valid UTF-8 prefix of s[0..len) that fits in cap-1 bytes ending on a
 * character boundary, or SIZE_MAX when s is not valid UTF-8 or contains NUL. */
static size_t utf8_fit(const uint8_t *s, size_t len, size_t cap)
{
    size_t fit = 0;
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (c == 0 || n == 0 || i + n > len || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
            return SIZE_MAX;
        for (size_t k = 1; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return SIZE_MAX;
        uint32_t cp = n == 1 ? c : c & (0x7f >> n);
        for (size_t k = 1; k < n; k++)
            cp = cp << 6 | (s[i + k] & 0x3f);
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return SIZE_MAX;
        i += n;
        if (i < cap)
            fit = i;
    }
    return fit;
}

/* The nickname is base64 of UTF-8 text; anything else is kept as sent. */
static void copy_nickname(char *dst, size_t cap, json_t *info)
{
    json_t *v = json_object_get(info, "nickname");
    if (!json_is_string(v))
        return;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (aes_b64_decode(json_string_value(v), json_string_length(v), &raw, &raw_len) == AES_OK) {
        size_t fit = utf8_fit(raw, raw_len, cap);
        if (fit != SIZE_MAX) {
            memcpy(dst, raw, fit);
            dst[fit] = '\0';
            free(raw);
            return;
        }
        free(raw);
    }
    snprintf(dst, cap, "%s", json_string_value(v));
}

static enum smart_status parse_device_info(json_t *r, struct smart_reading *out, char *err,
                                           size_t errlen)
{
    struct plug_reading *p = &out->plug;
    kasa_json_copy_str(p->model, sizeof p->model, r, "model");
    if (!p->model[0]) {
        set_err(err, errlen, "get_device_info has no model");
        return SMART_PROTOCOL;
    }
    kasa_json_copy_str(p->hw_ver, sizeof p->hw_ver, r, "hw_ver");
    kasa_json_copy_str(p->sw_ver, sizeof p->sw_ver, r, "fw_ver");
    kasa_json_copy_str(out->type, sizeof out->type, r, "type");
    kasa_json_copy_str(p->mac, sizeof p->mac, r, "mac");
    for (char *c = p->mac; *c; c++)
        if (*c == '-')
            *c = ':';
    copy_nickname(p->alias, sizeof p->alias, r);
    json_t *on = json_object_get(r, "device_on");
    if (json_is_boolean(on)) {
        p->has_relay = true;
        p->relay_on = json_is_true(on);
    }
    p->has_on_time = kasa_json_number(r, "on_time", &p->on_time_s);
    p->has_rssi = kasa_json_number(r, "rssi", &p->rssi_dbm);
    json_t *sl = json_object_get(r, "signal_level");
    if (json_is_integer(sl) && json_integer_value(sl) >= 0 && json_integer_value(sl) <= 100) {
        out->has_signal_level = true;
        out->signal_level = (int)json_integer_value(sl);
    }
    return SMART_OK;
}

static void parse_energy_usage(json_t *r, struct smart_reading *out)
{
    struct plug_reading *p = &out->plug;
    double v;
    p->has_meter = true;
    if (kasa_json_number(r, "current_power", &v)) { /* mW */
        p->has_power = true;
        p->power_w = v / 1000.0;
    }
    if (get_scaled(r, "today_energy", 3600.0, &out->today_energy_j)) /* Wh */
        out->has_today_energy = true;
    if (get_scaled(r, "month_energy", 3600.0, &out->month_energy_j))
        out->has_month_energy = true;
}

static void parse_emeter_data(json_t *r, struct smart_reading *out)
{
    struct plug_reading *p = &out->plug;
    double v;
    p->has_meter = true;
    if (kasa_json_number(r, "power_mw", &v)) {
        p->has_power = true;
        p->power_w = v / 1000.0;
    }
    if (kasa_json_number(r, "voltage_mv", &v)) {
        p->has_voltage = true;
        p->voltage_v = v / 1000.0;
    }
    if (kasa_json_number(r, "current_ma", &v)) {
        p->has_current = true;
        p->current_a = v / 1000.0;
    }
    /* energy_wh is this month's energy (it equals month_energy on real devices). */
    if (!out->has_month_energy && get_scaled(r, "energy_wh", 3600.0, &out->month_energy_j))
        out->has_month_energy = true;
}

static unsigned method_bit(const char *method)
{
    if (!strcmp(method, "get_device_info"))
        return SMART_GET_DEVICE_INFO;
    if (!strcmp(method, "get_energy_usage"))
        return SMART_GET_ENERGY_USAGE;
    if (!strcmp(method, "get_emeter_data"))
        return SMART_GET_EMETER_DATA;
    return 0;
}

/* One {"error_code":..,"result":{..}} for `method`. */
static enum smart_status parse_response(const char *method, json_t *resp, struct smart_reading *out,
                                        long long *code, char *err, size_t errlen)
{
    json_t *ec = json_object_get(resp, "error_code");
    if (!json_is_integer(ec)) {
        set_err(err, errlen, "%s reply has no integer error_code", method);
        return SMART_PROTOCOL;
    }
    long long c = (long long)json_integer_value(ec);
    enum smart_status st = smart_classify(c);
    unsigned bit = method_bit(method);
    if (st == SMART_UNSUPPORTED)
        out->unsupported |= bit;
    if (st != SMART_OK) {
        *code = c;
        set_err(err, errlen, "%s answered error_code %lld (%s)", method, c, smart_status_str(st));
        return st;
    }
    if (!bit)
        return SMART_OK; /* a method this codec does not read */
    json_t *r = json_object_get(resp, "result");
    if (!json_is_object(r)) {
        set_err(err, errlen, "%s result is not an object", method);
        return SMART_PROTOCOL;
    }
    if (bit == SMART_GET_DEVICE_INFO) {
        st = parse_device_info(r, out, err, errlen);
        if (st != SMART_OK)
            return st;
    } else if (bit == SMART_GET_ENERGY_USAGE) {
        parse_energy_usage(r, out);
    } else {
        parse_emeter_data(r, out);
    }
    out->got |= bit;
    return SMART_OK;
}

/* A method name as the device sent it, made fit for a one-line message: non-printable
 * bytes become '?', and it is cut short (no method this codec reads is that long). */
static void printable_name(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[i] = '\0';
}

static enum smart_status parse_multi(json_t *root, struct smart_reading *out, long long *code,
                                     char *err, size_t errlen)
{
    json_t *list = json_object_get(json_object_get(root, "result"), "responses");
    if (!json_is_array(list)) {
        set_err(err, errlen, "multipleRequest result has no responses array");
        return SMART_PROTOCOL;
    }
    enum smart_status first = SMART_OK;
    size_t i;
    json_t *resp;
    json_array_foreach(list, i, resp)
    {
        const char *m = json_string_value(json_object_get(resp, "method"));
        if (!json_is_object(resp) || !m)
            continue; /* cannot be attributed; python-kasa skips these too */
        char name[64], one[256];
        printable_name(name, sizeof name, m);
        long long c = 0;
        enum smart_status st = parse_response(name, resp, out, &c, one, sizeof one);
        if (st != SMART_OK && st != SMART_UNSUPPORTED && first == SMART_OK) {
            first = st;
            *code = c;
            set_err(err, errlen, "%s", one);
        }
    }
    return first;
}

enum smart_status smart_parse_reply(const char *method, const char *json, size_t len,
                                    struct smart_reading *out, long long *error_code, char *err,
                                    size_t errlen)
{
    long long scratch = 0;
    long long *code = error_code ? error_code : &scratch;
    *code = 0;
    set_err(err, errlen, "ok");
    if (!method || !json || !out) {
        set_err(err, errlen, "invalid argument");
        return SMART_PROTOCOL;
    }
    if (len > SMART_REPLY_MAX) {
        set_err(err, errlen, "reply of %zu bytes is too large", len);
        return SMART_PROTOCOL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        set_err(err, errlen, "invalid JSON at %d:%d: %s", jerr.line, jerr.column,
                kasa_json_err_text(&jerr));
        return SMART_PROTOCOL;
    }
    enum smart_status st;
    if (!json_is_object(root)) {
        set_err(err, errlen, "reply is not an object");
        st = SMART_PROTOCOL;
    } else if (strcmp(method, "multipleRequest") != 0) {
        st = parse_response(method, root, out, code, err, errlen);
    } else {
        st = parse_response(method, root, out, code, err, errlen);
        if (st == SMART_OK)
            st = parse_multi(root, out, code, err, errlen);
    }
    json_decref(root);
    return st;
}

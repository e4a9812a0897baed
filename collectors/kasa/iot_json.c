#include "collectors/kasa/iot_json.h"
#include "collectors/kasa/json_util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* err_code of an object, or 0 when absent (a few firmwares omit it on success). */
static json_int_t err_code(json_t *obj)
{
    json_t *v = json_object_get(obj, "err_code");
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

static bool not_supported(json_int_t code)
{
    return code == -1 || code == -2 || code == -2001;
}

static enum kasa_parse_status bad_shape(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s is not an object", what);
    return KASA_PARSE_PROTOCOL;
}

/* "what answered err_code N (msg)": the message is device text, so only a short printable
 * prefix of it goes into the line. */
static enum kasa_parse_status device_error(char *err, size_t errlen, const char *what, json_t *obj)
{
    char msg[52] = "";
    json_t *m = json_object_get(obj, "err_msg");
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        size_t n = 0;
        for (; n < sizeof msg - 5 && s[n]; n++)
            msg[n + 2] = (s[n] >= 0x20 && s[n] < 0x7f) ? s[n] : '?';
        if (n) {
            msg[0] = ' ';
            msg[1] = '(';
            msg[n + 2] = ')';
            msg[n + 3] = '\0';
        }
    }
    snprintf(err, errlen, "%s answered err_code %lld%s", what, (long long)err_code(obj), msg);
    return KASA_PARSE_DEVICE;
}

/* Child ids and deviceIds are hex on real devices; anything that could break the JSON of a
 * request built from them is refused. */
static bool plain_id(const char *s, size_t len)
{
    if (len == 0 || len > KASA_CHILD_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* 1 + the id's last two hex digits, or 0 when it does not end in two hex digits. */
static unsigned suffix_number(const char *id)
{
    size_t len = strlen(id);
    if (len < 2)
        return 0;
    int hi = hex_digit(id[len - 2]), lo = hex_digit(id[len - 1]);
    return hi < 0 || lo < 0 ? 0 : 1u + (unsigned)(hi * 16 + lo);
}

/* Outlet labels from the id suffixes when they are all usable and distinct, else from
 * positions, so a label never names two outlets. */
static void number_outlets(struct plug_reading *out)
{
    bool seen[257] = {false};
    bool by_suffix = true;
    for (size_t i = 0; i < out->n_outlets && by_suffix; i++) {
        unsigned n = suffix_number(out->outlets[i].id);
        by_suffix = n != 0 && !seen[n];
        seen[n] = true;
        out->outlets[i].number = n;
    }
    if (!by_suffix)
        for (size_t i = 0; i < out->n_outlets; i++)
            out->outlets[i].number = (unsigned)i + 1;
}

static enum kasa_parse_status parse_child(json_t *c, size_t i, const char *device_id,
                                          struct kasa_outlet *o, char *err, size_t errlen)
{
    if (!json_is_object(c)) {
        snprintf(err, errlen, "children[%zu] is not an object", i);
        return KASA_PARSE_PROTOCOL;
    }
    json_t *id = json_object_get(c, "id");
    if (!json_is_string(id)) {
        snprintf(err, errlen, "children[%zu].id is missing or not a string", i);
        return KASA_PARSE_PROTOCOL;
    }
    const char *s = json_string_value(id);
    size_t len = json_string_length(id);
    if (!plain_id(s, len)) {
        snprintf(err, errlen, "children[%zu].id is not a plain id of at most %d characters", i,
                 KASA_CHILD_ID_MAX);
        return KASA_PARSE_PROTOCOL;
    }
    /* Over UDP strips shorten ids to their last two characters; requests need them whole. */
    size_t dlen = strlen(device_id);
    if (len <= 2 && dlen > 0) {
        if (dlen + 2 > KASA_CHILD_ID_MAX) {
            snprintf(err, errlen, "children[%zu].id cannot be completed: deviceId too long", i);
            return KASA_PARSE_PROTOCOL;
        }
        snprintf(o->id, sizeof o->id, "%s%s%s", device_id, len == 1 ? "0" : "", s);
    } else {
        memcpy(o->id, s, len + 1);
    }
    kasa_json_copy_str(o->alias, sizeof o->alias, c, "alias");
    double d;
    o->has_relay = kasa_json_number(c, "state", &d);
    o->relay_on = o->has_relay && d != 0;
    o->has_on_time = kasa_json_number(c, "on_time", &o->on_time_s) && o->on_time_s >= 0;
    return KASA_PARSE_OK;
}

static enum kasa_parse_status parse_children(json_t *si, struct plug_reading *out, char *err,
                                             size_t errlen)
{
    out->is_strip = false;
    kasa_plug_reading_free(out);
    json_t *children = json_object_get(si, "children");
    if (!children)
        return KASA_PARSE_OK;
    if (!json_is_array(children)) {
        snprintf(err, errlen, "children is not an array");
        return KASA_PARSE_PROTOCOL;
    }
    size_t n = json_array_size(children);
    if (n > KASA_MAX_CHILDREN) {
        snprintf(err, errlen, "children lists %zu outlets, more than %d", n, KASA_MAX_CHILDREN);
        return KASA_PARSE_PROTOCOL;
    }
    out->is_strip = true;
    if (n == 0)
        return KASA_PARSE_OK;
    out->outlets = calloc(n, sizeof *out->outlets);
    if (!out->outlets) {
        snprintf(err, errlen, "out of memory for %zu outlets", n);
        return KASA_PARSE_PROTOCOL;
    }
    for (size_t i = 0; i < n; i++) {
        enum kasa_parse_status st = parse_child(json_array_get(children, i), i, out->device_id,
                                                &out->outlets[i], err, errlen);
        if (st != KASA_PARSE_OK) {
            kasa_plug_reading_free(out);
            return st;
        }
        out->n_outlets = i + 1;
    }
    number_outlets(out);
    return KASA_PARSE_OK;
}

static enum kasa_parse_status parse_sysinfo(json_t *system, struct plug_reading *out, char *err,
                                            size_t errlen)
{
    if (!json_is_object(system))
        return bad_shape(err, errlen, "system");
    if (err_code(system))
        return device_error(err, errlen, "system", system);
    json_t *si = json_object_get(system, "get_sysinfo");
    if (!si)
        return KASA_PARSE_OK;
    if (!json_is_object(si))
        return bad_shape(err, errlen, "get_sysinfo");
    if (err_code(si))
        return device_error(err, errlen, "get_sysinfo", si);

    kasa_json_copy_str(out->model, sizeof out->model, si, "model");
    kasa_json_copy_str(out->hw_ver, sizeof out->hw_ver, si, "hw_ver");
    kasa_json_copy_str(out->sw_ver, sizeof out->sw_ver, si, "sw_ver");
    kasa_json_copy_str(out->alias, sizeof out->alias, si, "alias");
    kasa_json_copy_str(out->feature, sizeof out->feature, si, "feature");
    if (json_object_get(si, "mac"))
        kasa_json_copy_str(out->mac, sizeof out->mac, si, "mac");
    else
        kasa_json_copy_str(out->mac, sizeof out->mac, si, "mic_mac");
    if (!out->model[0]) {
        snprintf(err, errlen, "get_sysinfo has no model");
        return KASA_PARSE_PROTOCOL;
    }
    out->has_meter = strstr(out->feature, "ENE") != NULL;
    json_t *did = json_object_get(si, "deviceId");
    out->device_id[0] = '\0';
    if (json_is_string(did) && plain_id(json_string_value(did), json_string_length(did)))
        snprintf(out->device_id, sizeof out->device_id, "%s", json_string_value(did));

    double d;
    out->has_relay = kasa_json_number(si, "relay_state", &d);
    out->relay_on = out->has_relay && d != 0;
    out->has_on_time = kasa_json_number(si, "on_time", &out->on_time_s) && out->on_time_s >= 0;
    out->has_rssi = kasa_json_number(si, "rssi", &out->rssi_dbm);
    out->has_led = kasa_json_number(si, "led_off", &d);
    out->led_on = out->has_led && d == 0;
    out->has_updating = kasa_json_number(si, "updating", &d);
    out->updating = out->has_updating && d != 0;
    return parse_children(si, out, err, errlen);
}

/* Per field, whichever generation's key is present; v2 wins when both are. Milli-units are
 * divided (120368 mV is exactly 120.368 V then, not 120.36800000000001). */
static bool pick(json_t *rt, const char *v2, double v2_div, const char *v1, double *out)
{
    double d;
    if (kasa_json_number(rt, v2, &d))
        d /= v2_div;
    else if (!kasa_json_number(rt, v1, &d))
        return false;
    *out = d;
    return true;
}

static void parse_realtime(json_t *rt, struct kasa_meter *m)
{
    m->has_power = pick(rt, "power_mw", 1000, "power", &m->power_w);
    m->has_voltage = pick(rt, "voltage_mv", 1000, "voltage", &m->voltage_v);
    m->has_current = pick(rt, "current_ma", 1000, "current", &m->current_a);
    double d;
    m->has_energy = true;
    if (kasa_json_number(rt, "total_wh", &d))
        m->energy_j = d * 3600;
    else if (kasa_json_number(rt, "total", &d))
        m->energy_j = d * 3.6e6;
    else
        m->has_energy = false;
    /* a finite count can overflow once scaled (1e308 kWh) */
    if (m->has_energy && !(m->energy_j >= 0 && isfinite(m->energy_j)))
        m->has_energy = false;
}

static enum kasa_parse_status parse_emeter(json_t *emeter, struct plug_reading *out, char *err,
                                           size_t errlen)
{
    out->has_power = out->has_voltage = out->has_current = out->has_energy = false;
    if (!json_is_object(emeter))
        return bad_shape(err, errlen, "emeter");
    json_int_t code = err_code(emeter); /* module-level error, e.g. HS100 hw1 */
    if (code)
        return not_supported(code) ? KASA_PARSE_OK : device_error(err, errlen, "emeter", emeter);
    json_t *rt = json_object_get(emeter, "get_realtime");
    if (!rt)
        return KASA_PARSE_OK;
    if (!json_is_object(rt))
        return bad_shape(err, errlen, "get_realtime");
    code = err_code(rt); /* method-level error, e.g. HS100 hw2, HS105 */
    if (code)
        return not_supported(code) ? KASA_PARSE_OK : device_error(err, errlen, "get_realtime", rt);
    struct kasa_meter m = {0};
    parse_realtime(rt, &m);
    out->has_power = m.has_power;
    out->has_voltage = m.has_voltage;
    out->has_current = m.has_current;
    out->has_energy = m.has_energy;
    out->power_w = m.power_w;
    out->voltage_v = m.voltage_v;
    out->current_a = m.current_a;
    out->energy_j = m.energy_j;
    return KASA_PARSE_OK;
}

/* Optional: an error leaves the state unknown and never fails the poll. Only "binded" is
 * read; the account name and server stay out of everything. */
static void parse_cloud(json_t *cloud, struct plug_reading *out)
{
    out->has_cloud = false;
    if (!json_is_object(cloud))
        return;
    json_int_t code = err_code(cloud);
    json_t *info = json_object_get(cloud, "get_info");
    if (!code && json_is_object(info))
        code = err_code(info);
    if (code) {
        out->cloud_unsupported = not_supported(code);
        return;
    }
    double d;
    if (json_is_object(info) && kasa_json_number(info, "binded", &d)) {
        out->has_cloud = true;
        out->cloud_bound = d != 0;
    }
}

void kasa_plug_reading_free(struct plug_reading *r)
{
    free(r->outlets);
    r->outlets = NULL;
    r->n_outlets = 0;
}

bool kasa_plug_reading_copy(struct plug_reading *dst, const struct plug_reading *src)
{
    *dst = *src;
    dst->outlets = NULL;
    dst->n_outlets = 0;
    if (src->n_outlets == 0)
        return true;
    dst->outlets = malloc(src->n_outlets * sizeof *dst->outlets);
    if (!dst->outlets)
        return false;
    memcpy(dst->outlets, src->outlets, src->n_outlets * sizeof *dst->outlets);
    dst->n_outlets = src->n_outlets;
    return true;
}

enum kasa_parse_status kasa_iot_parse_reply(const char *json, size_t len, struct plug_reading *out,
                                            char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid JSON at byte %d: %s", jerr.position,
                 kasa_json_err_text(&jerr));
        return KASA_PARSE_PROTOCOL;
    }
    enum kasa_parse_status st = KASA_PARSE_OK;
    json_t *system = json_object_get(root, "system");
    json_t *emeter = json_object_get(root, "emeter");
    json_t *cloud = json_object_get(root, "cnCloud");
    if (!json_is_object(root) || (!system && !emeter && !cloud)) {
        snprintf(err, errlen, "reply has none of system, emeter, cnCloud");
        st = KASA_PARSE_PROTOCOL;
    }
    if (st == KASA_PARSE_OK && system)
        st = parse_sysinfo(system, out, err, errlen);
    if (st == KASA_PARSE_OK && emeter)
        st = parse_emeter(emeter, out, err, errlen);
    if (st == KASA_PARSE_OK && cloud)
        parse_cloud(cloud, out);
    json_decref(root);
    return st;
}

bool kasa_iot_outlet_meter_request(const char *child_id, char *buf, size_t cap)
{
    if (!child_id || !plain_id(child_id, strlen(child_id)))
        return false;
    int n = snprintf(buf, cap, "{\"context\":{\"child_ids\":[\"%s\"]},%s", child_id,
                     &KASA_REQ_EMETER[1]); /* the request without its opening brace */
    return n > 0 && (size_t)n < cap;
}

enum kasa_parse_status kasa_iot_parse_outlet_meter(const char *json, size_t len,
                                                   struct kasa_meter *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid JSON at byte %d: %s", jerr.position,
                 kasa_json_err_text(&jerr));
        return KASA_PARSE_PROTOCOL;
    }
    enum kasa_parse_status st = KASA_PARSE_OK;
    json_t *emeter = json_object_get(root, "emeter");
    json_t *rt = json_object_get(emeter, "get_realtime");
    if (!json_is_object(root) || !emeter) {
        snprintf(err, errlen, "reply has no emeter");
        st = KASA_PARSE_PROTOCOL;
    } else if (!json_is_object(emeter)) {
        st = bad_shape(err, errlen, "emeter");
    } else if (err_code(emeter)) {
        st = device_error(err, errlen, "emeter", emeter);
    } else if (!json_is_object(rt)) {
        st = bad_shape(err, errlen, "get_realtime");
    } else if (err_code(rt)) {
        st = device_error(err, errlen, "get_realtime", rt);
    } else {
        parse_realtime(rt, out);
    }
    json_decref(root);
    return st;
}

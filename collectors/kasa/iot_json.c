#include "collectors/kasa/iot_json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void copy_str(char *dst, size_t cap, json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (s)
        snprintf(dst, cap, "%s", s);
}

static bool get_number(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d))
        return false;
    *out = d;
    return true;
}

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

static enum kasa_parse_status device_error(char *err, size_t errlen, const char *what,
                                           json_int_t code)
{
    snprintf(err, errlen, "%s answered err_code %lld", what, (long long)code);
    return KASA_PARSE_DEVICE;
}

static enum kasa_parse_status parse_sysinfo(json_t *system, struct plug_reading *out, char *err,
                                            size_t errlen)
{
    if (!json_is_object(system))
        return bad_shape(err, errlen, "system");
    json_int_t code = err_code(system);
    if (code)
        return device_error(err, errlen, "system", code);
    json_t *si = json_object_get(system, "get_sysinfo");
    if (!si)
        return KASA_PARSE_OK;
    if (!json_is_object(si))
        return bad_shape(err, errlen, "get_sysinfo");
    code = err_code(si);
    if (code)
        return device_error(err, errlen, "get_sysinfo", code);

    copy_str(out->model, sizeof out->model, si, "model");
    copy_str(out->hw_ver, sizeof out->hw_ver, si, "hw_ver");
    copy_str(out->sw_ver, sizeof out->sw_ver, si, "sw_ver");
    copy_str(out->alias, sizeof out->alias, si, "alias");
    copy_str(out->feature, sizeof out->feature, si, "feature");
    if (json_object_get(si, "mac"))
        copy_str(out->mac, sizeof out->mac, si, "mac");
    else
        copy_str(out->mac, sizeof out->mac, si, "mic_mac");
    if (!out->model[0]) {
        snprintf(err, errlen, "get_sysinfo has no model");
        return KASA_PARSE_PROTOCOL;
    }
    out->has_meter = strstr(out->feature, "ENE") != NULL;

    double d;
    out->has_relay = get_number(si, "relay_state", &d);
    out->relay_on = out->has_relay && d != 0;
    out->has_on_time = get_number(si, "on_time", &out->on_time_s) && out->on_time_s >= 0;
    out->has_rssi = get_number(si, "rssi", &out->rssi_dbm);
    return KASA_PARSE_OK;
}

/* Per field, whichever generation's key is present: v2 milli-units win when both are. */
static bool pick(json_t *rt, const char *v2, double v2_scale, const char *v1, double v1_scale,
                 double *out)
{
    double d;
    if (get_number(rt, v2, &d))
        d *= v2_scale;
    else if (get_number(rt, v1, &d))
        d *= v1_scale;
    else
        return false;
    if (!isfinite(d)) /* a finite count can overflow once scaled (1e308 kWh) */
        return false;
    *out = d;
    return true;
}

static enum kasa_parse_status parse_emeter(json_t *emeter, struct plug_reading *out, char *err,
                                           size_t errlen)
{
    out->has_power = out->has_voltage = out->has_current = out->has_energy = false;
    if (!json_is_object(emeter))
        return bad_shape(err, errlen, "emeter");
    json_int_t code = err_code(emeter); /* module-level error, e.g. HS100 hw1 */
    if (code)
        return not_supported(code) ? KASA_PARSE_OK : device_error(err, errlen, "emeter", code);
    json_t *rt = json_object_get(emeter, "get_realtime");
    if (!rt)
        return KASA_PARSE_OK;
    if (!json_is_object(rt))
        return bad_shape(err, errlen, "get_realtime");
    code = err_code(rt); /* method-level error, e.g. HS100 hw2, HS105 */
    if (code)
        return not_supported(code) ? KASA_PARSE_OK
                                   : device_error(err, errlen, "get_realtime", code);
    out->has_power = pick(rt, "power_mw", 1e-3, "power", 1, &out->power_w);
    out->has_voltage = pick(rt, "voltage_mv", 1e-3, "voltage", 1, &out->voltage_v);
    out->has_current = pick(rt, "current_ma", 1e-3, "current", 1, &out->current_a);
    out->has_energy = pick(rt, "total_wh", 3600, "total", 3.6e6, &out->energy_j);
    if (out->has_energy && out->energy_j < 0)
        out->has_energy = false;
    return KASA_PARSE_OK;
}

enum kasa_parse_status kasa_iot_parse_reply(const char *json, size_t len, struct plug_reading *out,
                                            char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        snprintf(err, errlen, "invalid JSON at byte %d: %s", jerr.position, jerr.text);
        return KASA_PARSE_PROTOCOL;
    }
    enum kasa_parse_status st = KASA_PARSE_OK;
    json_t *system = json_object_get(root, "system");
    json_t *emeter = json_object_get(root, "emeter");
    if (!json_is_object(root) || (!system && !emeter)) {
        snprintf(err, errlen, "reply has neither system nor emeter");
        st = KASA_PARSE_PROTOCOL;
    }
    if (st == KASA_PARSE_OK && system)
        st = parse_sysinfo(system, out, err, errlen);
    if (st == KASA_PARSE_OK && emeter)
        st = parse_emeter(emeter, out, err, errlen);
    json_decref(root);
    return st;
}

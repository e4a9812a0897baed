/* What every struct plug_reading must satisfy after kasa_iot_parse_reply, whichever target
 * reached it (the frame reader, the JSON directly, KLAP), and the outlet meter reply on the
 * same bytes. */
#ifndef TPLINK_TESTS_FUZZ_IOT_CHECK_H
#define TPLINK_TESTS_FUZZ_IOT_CHECK_H

#include <jansson.h>
#include <math.h>

#include "collectors/kasa/iot_json.h"
#include "tests/fuzz/fuzz.h"

static inline void fuzz_check_meter(const struct kasa_meter *m)
{
    FUZZ_CHECK(!m->has_power || isfinite(m->power_w));
    FUZZ_CHECK(!m->has_voltage || isfinite(m->voltage_v));
    FUZZ_CHECK(!m->has_current || isfinite(m->current_a));
    FUZZ_CHECK(!m->has_energy || isfinite(m->energy_j));
}

/* An outlet id kasa_iot_parse_reply accepted must make a request that is JSON and carries
 * the id unchanged. */
static inline void fuzz_check_outlet_request(const char *id)
{
    char req[256];
    FUZZ_CHECK(kasa_iot_outlet_meter_request(id, req, sizeof req));
    json_error_t jerr;
    json_t *j = json_loads(req, 0, &jerr);
    FUZZ_CHECK(j != NULL);
    json_t *ids = json_object_get(json_object_get(j, "context"), "child_ids");
    FUZZ_CHECK(json_array_size(ids) == 1);
    FUZZ_CHECK(strcmp(json_string_value(json_array_get(ids, 0)), id) == 0);
    FUZZ_CHECK(json_is_object(json_object_get(json_object_get(j, "emeter"), "get_realtime")));
    json_decref(j);
    FUZZ_CHECK(!kasa_iot_outlet_meter_request(id, req, strlen(id))); /* too small */
}

/* Every number present is finite (a metric never shows Inf or NaN); strings terminated;
 * outlets labelled uniquely. */
static inline void fuzz_check_reading(const struct plug_reading *r)
{
    FUZZ_CHECK_STR(r->model);
    FUZZ_CHECK_STR(r->hw_ver);
    FUZZ_CHECK_STR(r->sw_ver);
    FUZZ_CHECK_STR(r->mac);
    FUZZ_CHECK_STR(r->alias);
    FUZZ_CHECK_STR(r->feature);
    FUZZ_CHECK_STR(r->device_id);
    FUZZ_CHECK(!r->relay_on || r->has_relay);
    FUZZ_CHECK(!r->led_on || r->has_led);
    FUZZ_CHECK(!r->updating || r->has_updating);
    FUZZ_CHECK(!r->cloud_bound || r->has_cloud);
    FUZZ_CHECK(!r->has_on_time || isfinite(r->on_time_s));
    FUZZ_CHECK(!r->has_rssi || isfinite(r->rssi_dbm));
    FUZZ_CHECK(!r->has_power || isfinite(r->power_w));
    FUZZ_CHECK(!r->has_voltage || isfinite(r->voltage_v));
    FUZZ_CHECK(!r->has_current || isfinite(r->current_a));
    FUZZ_CHECK(!r->has_energy || isfinite(r->energy_j));
    FUZZ_CHECK(r->n_outlets <= KASA_MAX_CHILDREN);
    FUZZ_CHECK(r->is_strip || r->n_outlets == 0);
    bool seen[257] = {false};
    for (size_t i = 0; i < r->n_outlets; i++) {
        const struct kasa_outlet *o = &r->outlets[i];
        FUZZ_CHECK(o->number >= 1 && o->number <= 256 && !seen[o->number]);
        seen[o->number] = true;
        FUZZ_CHECK_STR(o->id);
        FUZZ_CHECK_STR(o->alias);
        FUZZ_CHECK(o->id[0] != '\0');
        FUZZ_CHECK(!o->relay_on || o->has_relay);
        FUZZ_CHECK(!o->has_on_time || (isfinite(o->on_time_s) && o->on_time_s >= 0));
        fuzz_check_meter(&o->meter);
        fuzz_check_outlet_request(o->id);
    }
}

/* Parses a decrypted reply as a poll's reply and as an outlet meter reply, and checks the
 * results and the messages. */
static inline enum kasa_parse_status fuzz_parse_iot(const char *json, size_t len)
{
    struct plug_reading r;
    memset(&r, 0, sizeof r);
    char err[256];
    err[0] = '\0';
    enum kasa_parse_status st = kasa_iot_parse_reply(json, len, &r, err, sizeof err);
    FUZZ_CHECK(st == KASA_PARSE_OK || st == KASA_PARSE_PROTOCOL || st == KASA_PARSE_DEVICE);
    fuzz_check_err(err, sizeof err);
    FUZZ_CHECK(st == KASA_PARSE_OK || err[0] != '\0');
    fuzz_check_reading(&r);
    /* The IOT codec drops negative times and totals (iot_json.c). */
    FUZZ_CHECK(!r.has_on_time || r.on_time_s >= 0);
    FUZZ_CHECK(!r.has_energy || r.energy_j >= 0);
    kasa_plug_reading_free(&r);

    struct kasa_meter m;
    err[0] = '\0';
    enum kasa_parse_status ms = kasa_iot_parse_outlet_meter(json, len, &m, err, sizeof err);
    FUZZ_CHECK(ms == KASA_PARSE_OK || ms == KASA_PARSE_PROTOCOL || ms == KASA_PARSE_DEVICE);
    fuzz_check_err(err, sizeof err);
    FUZZ_CHECK(ms == KASA_PARSE_OK || err[0] != '\0');
    fuzz_check_meter(&m);
    FUZZ_CHECK(!m.has_energy || m.energy_j >= 0);
    return st;
}

#endif

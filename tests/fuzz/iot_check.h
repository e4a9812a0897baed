/* What every struct plug_reading must satisfy after kasa_iot_parse_reply, whichever target
 * reached it (the frame reader, the JSON directly, KLAP). */
#ifndef TPLINK_TESTS_FUZZ_IOT_CHECK_H
#define TPLINK_TESTS_FUZZ_IOT_CHECK_H

#include <math.h>

#include "collectors/kasa/iot_json.h"
#include "tests/fuzz/fuzz.h"

/* Every number present is finite (a metric never shows Inf or NaN). */
static inline void fuzz_check_reading(const struct plug_reading *r)
{
    FUZZ_CHECK_STR(r->model);
    FUZZ_CHECK_STR(r->hw_ver);
    FUZZ_CHECK_STR(r->sw_ver);
    FUZZ_CHECK_STR(r->mac);
    FUZZ_CHECK_STR(r->alias);
    FUZZ_CHECK_STR(r->feature);
    FUZZ_CHECK(!r->relay_on || r->has_relay);
    FUZZ_CHECK(!r->has_on_time || isfinite(r->on_time_s));
    FUZZ_CHECK(!r->has_rssi || isfinite(r->rssi_dbm));
    FUZZ_CHECK(!r->has_power || isfinite(r->power_w));
    FUZZ_CHECK(!r->has_voltage || isfinite(r->voltage_v));
    FUZZ_CHECK(!r->has_current || isfinite(r->current_a));
    FUZZ_CHECK(!r->has_energy || isfinite(r->energy_j));
}

/* Parses a decrypted reply and checks the result and the message. */
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
    return st;
}

#endif

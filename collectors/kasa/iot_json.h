/* Replies of the legacy "IOT" JSON protocol -> struct plug_reading. Pure: no I/O.
 *
 * Both emeter generations are normalised to base units per field (v1 floats in A, V, W,
 * kWh; v2 integers in mA, mV, mW, Wh), and what a device does not report is marked absent,
 * never zero. */
#ifndef TPLINK_KASA_IOT_JSON_H
#define TPLINK_KASA_IOT_JSON_H

#include <stdbool.h>
#include <stddef.h>

struct plug_reading {
    char model[64];
    char hw_ver[32];
    char sw_ver[96];
    char mac[32];
    char alias[128];
    char feature[32];
    bool has_relay, relay_on;
    bool has_on_time;
    double on_time_s;
    bool has_rssi;
    double rssi_dbm;
    bool has_meter; /* "ENE" in feature */
    bool has_power, has_voltage, has_current, has_energy;
    double power_w, voltage_v, current_a, energy_j;
};

enum kasa_parse_status {
    KASA_PARSE_OK,
    KASA_PARSE_PROTOCOL, /* not JSON, or not the shape of a reply */
    KASA_PARSE_DEVICE,   /* the device answered with an error code */
};

/* The requests a poll sends. Probe gently: sysinfo alone until the device has said it has
 * a meter, because some devices misbehave on modules they lack. */
#define KASA_REQ_SYSINFO "{\"system\":{\"get_sysinfo\":{}}}"
#define KASA_REQ_EMETER "{\"emeter\":{\"get_realtime\":{}}}"
#define KASA_REQ_SYSINFO_EMETER "{\"system\":{\"get_sysinfo\":{}},\"emeter\":{\"get_realtime\":{}}}"

/* Parses a reply holding system.get_sysinfo and/or emeter.get_realtime into *out, which the
 * caller zeroes or fills from an earlier reply (only the parts present are written).
 * A missing or unsupported emeter (err_code -1, -2, -2001) is not an error.
 * Returns the status and, unless OK, one line in err. */
enum kasa_parse_status kasa_iot_parse_reply(const char *json, size_t len, struct plug_reading *out,
                                            char *err, size_t errlen);

#endif

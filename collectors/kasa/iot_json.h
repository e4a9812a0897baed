/* Replies of the legacy "IOT" JSON protocol -> struct plug_reading. Pure: no I/O.
 *
 * Both emeter generations are normalised to base units per field (v1 floats in A, V, W,
 * kWh; v2 integers in mA, mV, mW, Wh), and what a device does not report is marked absent,
 * never zero.
 *
 * Strips (HS300, KP303, HS107, KP400) list their outlets in sysinfo children[]; each outlet
 * is read on its own with the child id in "context" (kasa_iot_outlet_meter_request). */
#ifndef TPLINK_KASA_IOT_JSON_H
#define TPLINK_KASA_IOT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define KASA_MAX_CHILDREN 16 /* more children than this is a protocol error */
#define KASA_CHILD_ID_MAX 64 /* bytes of a child id (and of a deviceId) */

/* One emeter.get_realtime reading in base units. */
struct kasa_meter {
    bool has_power, has_voltage, has_current, has_energy;
    double power_w, voltage_v, current_a, energy_j;
};

/* One outlet of a strip. */
struct kasa_outlet {
    /* The outlet's label, 1-based and stable: 1 + the child id's last two hex digits
     * (ids are deviceId + "00".."05"), or the 1-based position in children[] when the ids
     * do not all end in two hex digits or two would share a number. */
    unsigned number;
    char id[KASA_CHILD_ID_MAX + 1]; /* the full id, as "context" wants it */
    char alias[128];                /* user text, not unique ("Empty") */
    bool has_relay, relay_on;
    bool has_on_time;
    double on_time_s;
    struct kasa_meter meter; /* filled by kasa_iot_parse_outlet_meter */
};

struct plug_reading {
    char model[64];
    char hw_ver[32];
    char sw_ver[96];
    char mac[32];
    char alias[128];
    char feature[32];
    char device_id[KASA_CHILD_ID_MAX + 1]; /* "" when absent or not a plain id */
    bool has_relay, relay_on;
    bool has_on_time;
    double on_time_s;
    bool has_rssi;
    double rssi_dbm;
    bool has_led, led_on;        /* sysinfo led_off, inverted */
    bool has_updating, updating; /* sysinfo updating: a firmware update is running */
    bool has_meter;              /* "ENE" in feature */
    bool has_power, has_voltage, has_current, has_energy;
    double power_w, voltage_v, current_a, energy_j;

    bool is_strip; /* sysinfo has children[]; the parent has no relay of its own */
    size_t n_outlets;
    /* n_outlets of them, owned by the reading (kasa_plug_reading_free); NULL when none.
     * Out of line: most plugs are not strips, and a plug keeps a reading for good. */
    struct kasa_outlet *outlets;

    /* cnCloud.get_info, when the reply carried it. */
    bool has_cloud, cloud_bound;
    bool cloud_unsupported; /* answered -1, -2 or -2001: the device has no such module */
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
#define KASA_REQ_CLOUD "{\"cnCloud\":{\"get_info\":{}}}"
#define KASA_REQ_SYSINFO_EMETER "{\"system\":{\"get_sysinfo\":{}},\"emeter\":{\"get_realtime\":{}}}"

/* Frees the outlets of *r and empties its list (is_strip stays). Safe on a zeroed reading. */
void kasa_plug_reading_free(struct plug_reading *r);

/* *dst = *src with its own copy of the outlets; dst holds nothing to free beforehand.
 * false when out of memory (dst then has no outlets). */
bool kasa_plug_reading_copy(struct plug_reading *dst, const struct plug_reading *src);

/* Parses a reply holding system.get_sysinfo, emeter.get_realtime and/or cnCloud.get_info
 * into *out, which the caller zeroes or fills from an earlier reply with
 * kasa_plug_reading_copy (only the parts present are written; a sysinfo part replaces the
 * outlet list, meters included, freeing the old one). Free *out with kasa_plug_reading_free.
 * A missing or unsupported emeter or cnCloud (err_code -1, -2, -2001) is not an error; nor
 * is any other cnCloud error (the cloud state is then unknown). Over UDP strips send child
 * ids as their last two characters: they are completed with deviceId here.
 * Returns the status and, unless OK, one line in err. */
enum kasa_parse_status kasa_iot_parse_reply(const char *json, size_t len, struct plug_reading *out,
                                            char *err, size_t errlen);

/* Writes the request for one outlet's meter,
 * {"context":{"child_ids":["<id>"]},"emeter":{"get_realtime":{}}}. false if the id is not
 * one kasa_iot_parse_reply accepted or buf is too small. */
bool kasa_iot_outlet_meter_request(const char *child_id, char *buf, size_t cap);

/* Parses the reply to that request into *out. Every err_code is a device error here: the
 * strip said it has a meter, and an id it does not know answers -14 "entry not exist". */
enum kasa_parse_status kasa_iot_parse_outlet_meter(const char *json, size_t len,
                                                   struct kasa_meter *out, char *err,
                                                   size_t errlen);

#endif

/* The SMART JSON protocol (SMART.* devices over KLAP or AES): request builder and reply
 * parser into the same struct plug_reading the IOT codec fills. Pure: no I/O.
 *
 * Units are normalised to base units like the IOT codec: power W, voltage V, current A,
 * energy J. SMART plugs have no lifetime energy total, so plug.has_energy stays false;
 * today's and this month's energy (which reset) are separate fields. */
#ifndef TPLINK_KASA_SMART_JSON_H
#define TPLINK_KASA_SMART_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "collectors/kasa/iot_json.h"

/* python-kasa batches at most this many methods per multipleRequest. */
#define SMART_MULTI_MAX 5

/* What to do about a reply, from its error_code. */
enum smart_status {
    SMART_OK = 0,
    SMART_PROTOCOL,        /* not JSON, or not the shape of a reply */
    SMART_AUTH,            /* -1501, 1111, -1005, 1100, 1003: credentials refused; new session */
    SMART_SESSION_EXPIRED, /* 9999: handshake again, then retry */
    SMART_RETRY,           /* 1002, 1112, -1001: transient; retry (python-kasa resets too) */
    SMART_UNSUPPORTED,     /* -1002 unknown method: stop asking this device for it */
    SMART_DEVICE,          /* any other non-zero code */
};

/* Methods the parser understands, as bits of smart_reading.got / .unsupported. */
enum smart_method {
    SMART_GET_DEVICE_INFO = 1u << 0,
    SMART_GET_ENERGY_USAGE = 1u << 1,
    SMART_GET_EMETER_DATA = 1u << 2,
};

struct smart_reading {
    /* model, hw_ver, sw_ver (fw_ver), mac (dashes turned into colons), alias (nickname,
     * base64-decoded), relay (device_on), on_time, rssi, and power/voltage/current. */
    struct plug_reading plug;
    char type[32]; /* "SMART.KASAPLUG" */
    bool has_signal_level;
    int signal_level;
    bool has_today_energy, has_month_energy;
    double today_energy_j, month_energy_j;
    unsigned got;         /* smart_method bits parsed successfully */
    unsigned unsupported; /* smart_method bits the device answered -1002 */
};

/* Maps a SMART error_code to what the transport should do (0 -> SMART_OK). */
enum smart_status smart_classify(long long error_code);
const char *smart_status_str(enum smart_status st);

/* Builds one request: a single method becomes
 * {"method":m,"request_time_milis":t,"terminal_uuid":u}, 2..SMART_MULTI_MAX methods a
 * multipleRequest with params.requests[]. Returns malloc'd NUL-terminated JSON (length in
 * *len) or NULL (n out of range, allocation failure). */
char *smart_build_request(const char *const *methods, size_t n, long long now_ms,
                          const char *terminal_uuid, size_t *len);

/* Parses the reply to a request for `method` (one of the methods above, or
 * "multipleRequest") into *out, which the caller zeroes; parts present are written.
 * Returns the first failure: the top-level error_code's class, else the first per-method
 * error other than SMART_UNSUPPORTED (which only sets out->unsupported), else
 * SMART_PROTOCOL for a bad shape. *error_code gets the code behind a device error (0
 * otherwise) and err one line naming the method. Unknown methods are ignored. */
enum smart_status smart_parse_reply(const char *method, const char *json, size_t len,
                                    struct smart_reading *out, long long *error_code, char *err,
                                    size_t errlen);

#endif

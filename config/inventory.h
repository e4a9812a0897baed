/* The YAML inventory: which devices to poll, how often, with which credentials.
 *
 *   defaults: { interval: 15s, timeout: 3s }
 *   plugs:
 *     - { name: fridge, host: 192.168.1.50 }              # port defaults to 9999
 *     - { name: lamp, host: 192.168.1.51, transport: udp } # tcp unless set
 *     - { name: heater, host: 192.168.1.52, protocol: klap, credentials_file: kasa.cred }
 *   switches:
 *     - { name: core, host: 192.168.1.2, username: admin, password_file: core.pass }
 *
 * Every error is reported as one line "FILE:LINE:COL: what is wrong" and nothing of a
 * bad file is kept. */
#ifndef TPLINK_INVENTORY_H
#define TPLINK_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include "config/secret.h"

enum device_kind { DEVICE_PLUG, DEVICE_SWITCH };
/* How a plug's legacy XOR JSON travels: TCP (length-prefixed) or UDP (one datagram). */
enum plug_transport { PLUG_TRANSPORT_TCP, PLUG_TRANSPORT_UDP };
/* Which protocol a plug speaks (kasa-protocol.md §10-§12). */
enum plug_protocol {
    PLUG_PROTOCOL_AUTO,   /* legacy on port; KLAP on http_port when port refuses connections */
    PLUG_PROTOCOL_LEGACY, /* XOR JSON on port, over transport (tcp or udp) */
    PLUG_PROTOCOL_KLAP,   /* KLAP on http_port: IOT or SMART JSON (told apart by the reply) */
    PLUG_PROTOCOL_AES,    /* AES securePassthrough on http_port: SMART JSON */
};

#define INVENTORY_NAME_MAX 64
#define INVENTORY_HOST_MAX 255
#define INVENTORY_MAX_DEVICES 100000

struct device_config {
    char *name;                    /* unique across the inventory; [A-Za-z0-9_.:-]+, at most 64 */
    enum device_kind kind;         /* which section it came from */
    char *host;                    /* IP literal or host name */
    uint16_t port;                 /* plugs 9999, switches 80 unless set */
    enum plug_transport transport; /* plugs: "transport: tcp|udp", tcp unless set */
    /* plugs: "protocol: auto|legacy|klap|aes"; auto unless set, legacy with transport: udp */
    enum plug_protocol protocol;
    uint16_t http_port; /* plugs: KLAP/AES port, 80 unless set */
    int klap_version;   /* plugs: 1 or 2 (KLAP hashes; AES login), 0 = found out */
    /* plugs: the TP-Link account from credentials_file (line 1 e-mail, line 2 password);
     * empty when not configured */
    struct secret account_user, account_password;
    char *credentials_file;
    double interval_s; /* >= 1 s */
    double timeout_s;  /* > 0, <= interval */
    char *username;    /* switches: default "admin" */
    struct secret password;
    char *password_file; /* path read, relative ones joined to the inventory's folder */
    unsigned line;       /* line of the device's entry, for messages */
};

struct inventory {
    char *path;
    double default_interval_s; /* 15 s unless set */
    double default_timeout_s;  /* 3 s unless set */
    struct device_config *devices;
    size_t n_devices;
};

/* Returns 0 on success. On failure returns -1, writes one line without a trailing
 * newline to err ("FILE:LINE:COL: message", or "FILE: message" when the file itself cannot
 * be read) and leaves *out empty. A syntax error anywhere wins over other errors; YAML
 * aliases are refused. On success, each switch with an inline password in a file that
 * group or others can read gets one warning via log_msg (never the password). */
int inventory_load_file(const char *path, struct inventory *out, char *err, size_t errlen);
/* The same from memory; name stands for the file in messages. Relative password_file
 * paths resolve against base_dir (NULL: the current directory). */
int inventory_load_string(const char *text, size_t len, const char *name, const char *base_dir,
                          struct inventory *out, char *err, size_t errlen);
void inventory_free(struct inventory *inv);
const char *device_kind_name(enum device_kind kind); /* "plug" or "switch" */
/* 1 when two devices are configured the same (every field, the secret included), so a
 * reload can keep an unchanged device's state; 0 otherwise. The entry's line is ignored:
 * moving a device within the file does not change it. */
int device_config_equal(const struct device_config *a, const struct device_config *b);

/* Prometheus-style duration: one or more <number><unit> with units y, w, d, h, m, s, ms in
 * that order, each at most once, integer numbers without sign ("1m30s", "500ms"). Returns 0
 * and seconds, or -1 on a malformed string, a zero total or more than 2^63-1 ms. */
int duration_parse(const char *text, double *seconds);

#endif

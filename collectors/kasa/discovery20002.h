/* Discovery of newer Kasa/Tapo devices on UDP 20002: probe builder and reply parser.
 * Pure: no I/O, no global state.
 *
 * Both directions carry a 16-byte big-endian header: version 2, msg_type 0, op_code 1,
 * u16 payload size, flags, padding 0, u32 serial, u32 CRC-32 of the whole packet computed
 * with 0x5A6B7C8D in the CRC field. */
#ifndef TPLINK_KASA_DISCOVERY20002_H
#define TPLINK_KASA_DISCOVERY20002_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISC20002_PORT 20002
#define DISC20002_HEADER_LEN 16
/* A reply is a few hundred bytes; larger datagrams are refused. */
#define DISC20002_REPLY_MAX 8192

enum kasa_transport {
    KASA_TRANSPORT_UNKNOWN = 0,
    KASA_TRANSPORT_IOT_XOR,
    KASA_TRANSPORT_IOT_KLAP,   /* legacy IOT JSON over KLAP */
    KASA_TRANSPORT_SMART_KLAP, /* SMART JSON over KLAP (always v2 hashes) */
    KASA_TRANSPORT_SMART_AES,  /* SMART JSON over securePassthrough */
};

struct disc20002_info {
    char device_type[48]; /* "SMART.KASAPLUG", "IOT.SMARTPLUGSWITCH" */
    char model[64];       /* device_model, "KP125M(US)" */
    char device_id[80];
    char ip[48];           /* as the device claims it; prefer the datagram's source */
    char mac[32];          /* as sent, "78-8C-B5-.." */
    char encrypt_type[16]; /* "KLAP", "AES" or "" */
    int http_port;         /* 80 when absent */
    int lv;                /* login version, 1 when absent */
    int new_klap;          /* 0 when absent */
    bool is_support_https;
    enum kasa_transport transport; /* from the device_type prefix and encrypt_type */
    int klap_version;              /* KLAP transports: 1 or 2; otherwise 0 */
};

/* Writes the probe for serial (4 random bytes in practice) into out. With rsa_pem NULL it
 * is the bare 16-byte header (flags 0, no payload; serial 0 gives the well-known static
 * probe 020000010000000000000000463cb5d3); otherwise flags 17 and the payload
 * {"params":{"rsa_key":"<PEM>"}}. Returns the length, or 0 if cap is too small or the
 * payload exceeds 65535 bytes. */
size_t disc20002_build_probe(const char *rsa_pem, uint32_t serial, uint8_t *out, size_t cap);

/* Parses a reply datagram: at least the 16-byte header, then JSON
 * {"error_code":0,"result":{..}}. The header's CRC and size are not enforced (replies
 * are read by their JSON alone, as python-kasa does). Returns 0, or -1 with one line in
 * err. Unknown device types or encryption give KASA_TRANSPORT_UNKNOWN, not an error. */
int disc20002_parse_reply(const uint8_t *buf, size_t len, struct disc20002_info *out, char *err,
                          size_t errlen);

/* "IOT.XOR", "IOT.KLAP", "SMART.KLAP", "SMART.AES" or "unknown". */
const char *kasa_transport_name(enum kasa_transport t);

#endif

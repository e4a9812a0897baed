#include "collectors/kasa/discovery20002.h"
#include "collectors/kasa/json_util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DISC_VERSION 2
#define DISC_MSG_TYPE 0
#define DISC_OP_CODE 1
#define DISC_FLAGS_KEY 17
#define DISC_CRC_SEED 0x5A6B7C8Du

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t disc20002_build_probe(const char *rsa_pem, uint32_t serial, uint8_t *out, size_t cap)
{
    char *payload = NULL;
    size_t plen = 0;
    if (rsa_pem) {
        json_t *j = json_pack("{s:{s:s}}", "params", "rsa_key", rsa_pem);
        payload = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!payload)
            return 0;
        plen = strlen(payload);
    }
    size_t total = DISC20002_HEADER_LEN + plen;
    if (!out || plen > UINT16_MAX || cap < total) {
        free(payload);
        return 0;
    }
    out[0] = DISC_VERSION;
    out[1] = DISC_MSG_TYPE;
    put_be16(out + 2, DISC_OP_CODE);
    put_be16(out + 4, (uint16_t)plen);
    out[6] = rsa_pem ? DISC_FLAGS_KEY : 0;
    out[7] = 0;
    put_be32(out + 8, serial);
    put_be32(out + 12, DISC_CRC_SEED);
    if (plen)
        memcpy(out + DISC20002_HEADER_LEN, payload, plen);
    free(payload);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, out, (uInt)total);
    put_be32(out + 12, (uint32_t)crc);
    return total;
}

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

/* An integer field within [lo, hi], else def. */
static int get_int(json_t *obj, const char *key, int lo, int hi, int def)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return def;
    json_int_t i = json_integer_value(v);
    return i >= lo && i <= hi ? (int)i : def;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void classify(struct disc20002_info *d)
{
    bool iot = has_prefix(d->device_type, "IOT.");
    bool smart = has_prefix(d->device_type, "SMART.");
    d->transport = KASA_TRANSPORT_UNKNOWN;
    d->klap_version = 0;
    if (!strcmp(d->encrypt_type, "KLAP")) {
        if (iot) {
            d->transport = KASA_TRANSPORT_IOT_KLAP;
            /* Firmware from 2024 on (HS300 hw2, HS103 hw5) signals v2 hashes this way. */
            d->klap_version = d->lv >= 2 || d->new_klap >= 1 ? 2 : 1;
        } else if (smart) {
            d->transport = KASA_TRANSPORT_SMART_KLAP;
            d->klap_version = 2;
        }
    } else if (!strcmp(d->encrypt_type, "AES") && smart) {
        d->transport = KASA_TRANSPORT_SMART_AES;
    } else if (!strcmp(d->encrypt_type, "XOR") && iot) {
        d->transport = KASA_TRANSPORT_IOT_XOR;
    }
}

int disc20002_parse_reply(const uint8_t *buf, size_t len, struct disc20002_info *out, char *err,
                          size_t errlen)
{
    if (!buf || !out) {
        set_err(err, errlen, "invalid argument");
        return -1;
    }
    memset(out, 0, sizeof *out);
    if (len <= DISC20002_HEADER_LEN) {
        set_err(err, errlen, "discovery reply of %zu bytes is shorter than its header", len);
        return -1;
    }
    if (len > DISC20002_REPLY_MAX) {
        set_err(err, errlen, "discovery reply of %zu bytes is too large", len);
        return -1;
    }
    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)buf + DISC20002_HEADER_LEN, len - DISC20002_HEADER_LEN, 0, &jerr);
    if (!root) {
        set_err(err, errlen, "discovery reply is not JSON (%d:%d: %s)", jerr.line, jerr.column,
                kasa_json_err_text(&jerr));
        return -1;
    }
    int rc = -1;
    json_t *code = json_object_get(root, "error_code");
    json_t *res = json_object_get(root, "result");
    if (!json_is_object(root) || !json_is_integer(code)) {
        set_err(err, errlen, "discovery reply has no integer error_code");
        goto done;
    }
    if (json_integer_value(code) != 0) {
        set_err(err, errlen, "discovery reply has error_code %lld",
                (long long)json_integer_value(code));
        goto done;
    }
    if (!json_is_object(res)) {
        set_err(err, errlen, "discovery reply has no result object");
        goto done;
    }
    kasa_json_copy_str(out->device_type, sizeof out->device_type, res, "device_type");
    kasa_json_copy_str(out->model, sizeof out->model, res, "device_model");
    if (!out->device_type[0] || !out->model[0]) {
        set_err(err, errlen, "discovery reply lacks device_type or device_model");
        goto done;
    }
    kasa_json_copy_str(out->device_id, sizeof out->device_id, res, "device_id");
    kasa_json_copy_str(out->ip, sizeof out->ip, res, "ip");
    kasa_json_copy_str(out->mac, sizeof out->mac, res, "mac");
    json_t *schm = json_object_get(res, "mgt_encrypt_schm");
    kasa_json_copy_str(out->encrypt_type, sizeof out->encrypt_type, schm, "encrypt_type");
    out->http_port = get_int(schm, "http_port", 1, 65535, 80);
    out->lv = get_int(schm, "lv", 1, 100, 1);
    /* 2025 firmware puts new_klap in the scheme; accept it at the result level too. */
    out->new_klap = get_int(schm, "new_klap", 0, 100, get_int(res, "new_klap", 0, 100, 0));
    out->is_support_https = json_is_true(json_object_get(schm, "is_support_https"));
    classify(out);
    rc = 0;
done:
    json_decref(root);
    return rc;
}

const char *kasa_transport_name(enum kasa_transport t)
{
    switch (t) {
    case KASA_TRANSPORT_IOT_XOR:
        return "IOT.XOR";
    case KASA_TRANSPORT_IOT_KLAP:
        return "IOT.KLAP";
    case KASA_TRANSPORT_SMART_KLAP:
        return "SMART.KLAP";
    case KASA_TRANSPORT_SMART_AES:
        return "SMART.AES";
    case KASA_TRANSPORT_UNKNOWN:
        break;
    }
    return "unknown";
}

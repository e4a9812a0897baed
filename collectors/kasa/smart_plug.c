#include "collectors/kasa/smart_plug.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <openssl/rand.h>

static const struct {
    const char *name;
    unsigned bit;
} poll_methods[] = {
    {"get_device_info", SMART_GET_DEVICE_INFO},
    {"get_energy_usage", SMART_GET_ENERGY_USAGE},
    {"get_emeter_data", SMART_GET_EMETER_DATA},
};
#define N_POLL_METHODS (sizeof poll_methods / sizeof poll_methods[0])

void smart_plug_init(struct smart_plug *sp)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t raw[16];
    memset(sp, 0, sizeof *sp);
    if (RAND_bytes(raw, sizeof raw) != 1)
        memset(raw, 0x5a, sizeof raw); /* an identifier, not a secret */
    size_t n = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            sp->terminal_uuid[n++] = '-';
        sp->terminal_uuid[n++] = hex[raw[i] >> 4];
        sp->terminal_uuid[n++] = hex[raw[i] & 15];
    }
    sp->terminal_uuid[n] = '\0';
}

char *smart_plug_request(const struct smart_plug *sp, long long now_ms, size_t *len,
                         const char **method)
{
    const char *names[N_POLL_METHODS] = {0};
    size_t n = 0;
    for (size_t i = 0; i < N_POLL_METHODS; i++)
        if (!(sp->unsupported & poll_methods[i].bit))
            names[n++] = poll_methods[i].name;
    /* get_device_info is never dropped: a device that lacks it is answered an error. */
    *method = n == 1 ? names[0] : "multipleRequest";
    return smart_build_request(names, n, now_ms, sp->terminal_uuid, len);
}

enum poll_status smart_plug_parse(struct smart_plug *sp, const char *method, const char *body,
                                  size_t len, struct smart_reading *out, char *detail,
                                  size_t detlen)
{
    memset(out, 0, sizeof *out);
    long long code = 0;
    enum smart_status st = smart_parse_reply(method, body, len, out, &code, detail, detlen);
    /* Never forget get_device_info: without it there is no reading at all. */
    sp->unsupported |= out->unsupported & ~(unsigned)SMART_GET_DEVICE_INFO;
    switch (st) {
    case SMART_OK:
    case SMART_UNSUPPORTED:
        break;
    case SMART_PROTOCOL:
        return POLL_ERR_PROTOCOL;
    case SMART_AUTH:
        return POLL_ERR_AUTH;
    case SMART_SESSION_EXPIRED:
    case SMART_RETRY:
    case SMART_DEVICE:
        return POLL_ERR_DEVICE;
    }
    if (!(out->got & SMART_GET_DEVICE_INFO)) {
        snprintf(detail, detlen, "the reply has no get_device_info result");
        return out->unsupported & SMART_GET_DEVICE_INFO ? POLL_ERR_DEVICE : POLL_ERR_PROTOCOL;
    }
    return POLL_OK;
}

bool smart_plug_reply_shape(const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    bool smart = json_is_integer(json_object_get(root, "error_code"));
    json_decref(root);
    return smart;
}

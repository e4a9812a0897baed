#include "collectors/kasa/xor.h"

#include <stdlib.h>
#include <string.h>

void kasa_xor_encrypt(const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t key = KASA_XOR_KEY;
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(in[i] ^ key);
        key = out[i];
    }
}

void kasa_xor_decrypt(const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t key = KASA_XOR_KEY;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i]; /* in and out may alias */
        out[i] = (uint8_t)(c ^ key);
        key = c;
    }
}

size_t kasa_frame_encode(const void *payload, size_t len, uint8_t *out, size_t cap)
{
    if (len > KASA_FRAME_MAX || cap < len + 4)
        return 0;
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    kasa_xor_encrypt(payload, len, out + 4);
    return len + 4;
}

void kasa_frame_reader_init(struct kasa_frame_reader *r)
{
    memset(r, 0, sizeof *r);
}

void kasa_frame_reader_free(struct kasa_frame_reader *r)
{
    free(r->body);
    kasa_frame_reader_init(r);
}

enum kasa_frame_status kasa_frame_feed(struct kasa_frame_reader *r, const uint8_t *data, size_t len,
                                       size_t *used)
{
    size_t n = 0;
    *used = 0;
    if (r->header_len == 4 && r->body && r->body_len == r->want)
        return KASA_FRAME_DONE;
    while (r->header_len < 4 && n < len)
        r->header[r->header_len++] = data[n++];
    if (r->header_len < 4) {
        *used = n;
        return KASA_FRAME_MORE;
    }
    if (!r->body) {
        uint32_t want = (uint32_t)r->header[0] << 24 | (uint32_t)r->header[1] << 16 |
                        (uint32_t)r->header[2] << 8 | r->header[3];
        if (want > KASA_FRAME_MAX) {
            *used = n;
            return KASA_FRAME_TOO_LONG;
        }
        r->want = want;
        r->body = malloc(want + 1);
        if (!r->body) {
            *used = n;
            return KASA_FRAME_NOMEM;
        }
    }
    size_t take = r->want - r->body_len;
    if (take > len - n)
        take = len - n;
    memcpy(r->body + r->body_len, data + n, take);
    r->body_len += take;
    n += take;
    *used = n;
    if (r->body_len < r->want)
        return KASA_FRAME_MORE;
    kasa_xor_decrypt(r->body, r->body_len, r->body);
    r->body[r->body_len] = '\0';
    return KASA_FRAME_DONE;
}

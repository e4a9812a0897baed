/* The Kasa legacy cipher and TCP framing. Pure functions, no I/O.
 *
 * XOR autokey: the key starts at 171 for every message and is always the previous
 * cipher byte. TCP frames are a 4-byte big-endian length followed by the cipher text;
 * UDP datagrams are the cipher text alone. */
#ifndef TPLINK_KASA_XOR_H
#define TPLINK_KASA_XOR_H

#include <stddef.h>
#include <stdint.h>

#define KASA_XOR_KEY 171
/* Replies from plugs and strips stay far below this (about 1.5 KB for an HS300); a larger
 * length prefix is a protocol error, never an allocation. */
#define KASA_FRAME_MAX (64u * 1024u)

void kasa_xor_encrypt(const uint8_t *in, size_t len, uint8_t *out);
void kasa_xor_decrypt(const uint8_t *in, size_t len, uint8_t *out);

/* Writes header + cipher text of payload into out; returns the frame length, or 0 when
 * the payload exceeds KASA_FRAME_MAX or cap is too small. */
size_t kasa_frame_encode(const void *payload, size_t len, uint8_t *out, size_t cap);

/* Reassembles one frame from a stream delivered in arbitrary pieces. */
struct kasa_frame_reader {
    uint8_t header[4];
    size_t header_len;
    uint8_t *body; /* owned; allocated once the length is known */
    size_t body_len;
    size_t want;
};

enum kasa_frame_status {
    KASA_FRAME_MORE,     /* need more bytes */
    KASA_FRAME_DONE,     /* body holds the decrypted payload (NUL-terminated) */
    KASA_FRAME_TOO_LONG, /* length prefix above KASA_FRAME_MAX */
    KASA_FRAME_NOMEM,
};

void kasa_frame_reader_init(struct kasa_frame_reader *r);
void kasa_frame_reader_free(struct kasa_frame_reader *r);
/* Feeds bytes; *used tells how many were consumed (bytes after a complete frame are left).
 * After DONE, body/body_len hold the plaintext until the reader is reset or freed. */
enum kasa_frame_status kasa_frame_feed(struct kasa_frame_reader *r, const uint8_t *data, size_t len,
                                       size_t *used);

#endif

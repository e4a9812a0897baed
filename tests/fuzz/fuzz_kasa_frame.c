/* libFuzzer target: the plug's TCP frame reader (kasa_frame_feed) fed in pieces of varying
 * size, then kasa_iot_parse_reply on every decrypted frame.
 *
 * Input: byte 0 selects the mode (bit 0) and seeds, with byte 1, the piece sizes.
 *   mode 0: the rest is the byte stream from the socket, frames back to back.
 *   mode 1: the rest is one plaintext reply, framed here with kasa_frame_encode so that
 *           mutations reach the JSON parser intact; the decoded body must equal it. */
#include "collectors/kasa/xor.h"
#include "tests/fuzz/iot_check.h"

#define MAX_FRAMES 64

/* xorshift32: piece sizes that vary but repeat for the same input. */
static size_t next_piece(uint32_t *state, size_t left)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    size_t n;
    switch (x & 3) {
    case 0:
        n = 1 + (x >> 8) % 4; /* a few bytes: splits the header */
        break;
    case 1:
        n = 1 + (x >> 8) % 64;
        break;
    case 2:
        n = 1 + (x >> 8) % 4096;
        break;
    default:
        n = left; /* everything at once */
        break;
    }
    return n < left ? n : left;
}

/* Feeds stream in pieces; returns the number of complete frames. With expect, there must be
 * exactly one frame and its body must equal expect. */
static unsigned feed_stream(const uint8_t *p, size_t len, uint32_t seed, const uint8_t *expect,
                            size_t expect_len)
{
    struct kasa_frame_reader r;
    kasa_frame_reader_init(&r);
    uint32_t state = seed ? seed : 1;
    size_t off = 0;
    unsigned frames = 0;
    enum kasa_frame_status st = KASA_FRAME_MORE;
    while (off < len && frames < MAX_FRAMES) {
        size_t piece = next_piece(&state, len - off);
        size_t used = (size_t)-1;
        st = kasa_frame_feed(&r, p + off, piece, &used);
        FUZZ_CHECK(used <= piece);
        off += used;
        if (st == KASA_FRAME_MORE) {
            FUZZ_CHECK(used == piece);
            continue;
        }
        if (st != KASA_FRAME_DONE)
            break; /* TOO_LONG or NOMEM: the connection is dropped */
        FUZZ_CHECK(r.body && r.body_len == r.want && r.body_len <= KASA_FRAME_MAX);
        FUZZ_CHECK(r.body[r.body_len] == '\0');
        /* A finished reader consumes nothing more until it is reset. */
        size_t again = (size_t)-1;
        FUZZ_CHECK(kasa_frame_feed(&r, p + off, len - off, &again) == KASA_FRAME_DONE);
        FUZZ_CHECK(again == 0);
        if (expect)
            FUZZ_CHECK(r.body_len == expect_len && memcmp(r.body, expect, expect_len) == 0);
        fuzz_parse_iot((const char *)r.body, r.body_len);
        frames++;
        kasa_frame_reader_free(&r);
    }
    if (expect)
        FUZZ_CHECK(frames == 1 && off == len);
    kasa_frame_reader_free(&r);
    return frames;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = (uint32_t)data[0] << 8 | data[1];
    const uint8_t *p = data + 2;
    size_t len = size - 2;
    if ((data[0] & 1) == 0) {
        feed_stream(p, len, seed, NULL, 0);
        return 0;
    }
    if (len > KASA_FRAME_MAX)
        return 0;
    uint8_t *frame = malloc(len + 4);
    FUZZ_CHECK(frame != NULL);
    FUZZ_CHECK(kasa_frame_encode(p, len, frame, len + 3) == 0); /* one byte short */
    FUZZ_CHECK(kasa_frame_encode(p, len, frame, len + 4) == len + 4);
    feed_stream(frame, len + 4, seed, p, len);
    free(frame);
    return 0;
}

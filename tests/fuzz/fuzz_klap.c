/* libFuzzer target: the KLAP codec on untrusted bytes (klap_handshake1_check, klap_decrypt),
 * plus round trips that must hold for any plaintext.
 *
 * Input: byte 0 = mode (bits 0-1), hash version (bit 2: 1 or 2), check_sig (bit 3);
 * bytes 1-4 = a sequence number (big-endian); the rest is the payload.
 *   mode 0: the payload is a handshake1 reply checked against fixed credentials.
 *   mode 1: the payload is a /app/request reply body: klap_decrypt, then the IOT reply
 *           mapping on what it yields.
 *   mode 2: the payload is a plaintext: sealed and opened again (klap_seal, klap_encrypt,
 *           klap_decrypt), which must give it back, and a tampered or mis-sequenced body
 *           must fail its signature.
 *   mode 3: the payload's first 16 bytes are a remote seed: a genuine handshake1 reply for
 *           it must pass, the same with one bit flipped must not. */
#include "collectors/kasa/klap.h"
#include "tests/fuzz/iot_check.h"

static const uint8_t local_seed[KLAP_SEED_LEN] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                  8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t remote_seed[KLAP_SEED_LEN] = {0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
                                                   0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f};

static void make_auth(struct klap_auth *a, int version)
{
    char user[] = "user@example.com", pass[] = "fuzz-password";
    struct secret u = {user, sizeof user - 1}, p = {pass, sizeof pass - 1};
    FUZZ_CHECK(klap_auth_init(a, version, &u, &p) == KLAP_OK);
}

static void handshake_check(const struct klap_auth *a, const uint8_t *p, size_t len)
{
    uint8_t remote[KLAP_SEED_LEN];
    memset(remote, 0xaa, sizeof remote);
    enum klap_status st = klap_handshake1_check(a, local_seed, p, len, remote);
    if (len != KLAP_HANDSHAKE1_REPLY_LEN) {
        FUZZ_CHECK(st == KLAP_ERR_FORMAT);
        return;
    }
    FUZZ_CHECK(st == KLAP_OK || st == KLAP_ERR_AUTH);
    if (st == KLAP_OK)
        FUZZ_CHECK(memcmp(remote, p, KLAP_SEED_LEN) == 0);
}

static void decrypt(const struct klap_session *s, int32_t seq, bool check_sig, const uint8_t *p,
                    size_t len)
{
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    enum klap_status st = klap_decrypt(s, seq, p, len, check_sig, &pt, &pt_len);
    FUZZ_CHECK(klap_strerror(st) != NULL);
    if (st != KLAP_OK) {
        FUZZ_CHECK(pt == NULL);
        return;
    }
    /* PKCS#7 removed 1..16 bytes of the cipher text after the 32-byte signature. */
    FUZZ_CHECK(len >= KLAP_HASH_LEN + 16 && pt_len + 1 <= len - KLAP_HASH_LEN &&
               pt_len + 16 >= len - KLAP_HASH_LEN);
    FUZZ_CHECK(pt[pt_len] == '\0');
    fuzz_parse_iot((const char *)pt, pt_len);
    free(pt);
}

static int32_t seq_after(int32_t seq)
{
    return seq == INT32_MAX ? INT32_MIN : seq + 1;
}

static void round_trip(struct klap_session *s, int32_t seq, const uint8_t *p, size_t len,
                       size_t flip)
{
    if (len > KLAP_PAYLOAD_MAX)
        return;
    uint8_t *body = NULL, *pt = NULL;
    size_t body_len = 0, pt_len = 0;
    FUZZ_CHECK(klap_seal(s, seq, p, len, &body, &body_len) == KLAP_OK);
    FUZZ_CHECK(body_len == KLAP_HASH_LEN + (len / 16 + 1) * 16);
    FUZZ_CHECK(klap_decrypt(s, seq, body, body_len, true, &pt, &pt_len) == KLAP_OK);
    FUZZ_CHECK(pt_len == len && memcmp(pt, p, len) == 0 && pt[len] == '\0');
    free(pt);
    pt = NULL;
    FUZZ_CHECK(klap_decrypt(s, seq_after(seq), body, body_len, true, &pt, &pt_len) ==
               KLAP_ERR_SIGNATURE);
    body[flip % body_len] ^= 0x01;
    FUZZ_CHECK(klap_decrypt(s, seq, body, body_len, true, &pt, &pt_len) == KLAP_ERR_SIGNATURE);
    free(body);

    /* klap_encrypt: the next sequence number, wrapping like the wire's int32. */
    s->seq = seq;
    int32_t used = 0;
    FUZZ_CHECK(klap_encrypt(s, p, len, &body, &body_len, &used) == KLAP_OK);
    FUZZ_CHECK(used == seq_after(seq) && s->seq == used);
    FUZZ_CHECK(klap_decrypt(s, used, body, body_len, true, &pt, &pt_len) == KLAP_OK);
    FUZZ_CHECK(pt_len == len && memcmp(pt, p, len) == 0);
    free(pt);
    free(body);
}

static void genuine_handshake(const struct klap_auth *a, const uint8_t *p, size_t len, size_t flip)
{
    uint8_t reply[KLAP_HANDSHAKE1_REPLY_LEN] = {0};
    memcpy(reply, p, len < KLAP_SEED_LEN ? len : KLAP_SEED_LEN);
    FUZZ_CHECK(klap_handshake1_server_hash(a, local_seed, reply, reply + KLAP_SEED_LEN) == KLAP_OK);
    uint8_t remote[KLAP_SEED_LEN];
    FUZZ_CHECK(klap_handshake1_check(a, local_seed, reply, sizeof reply, remote) == KLAP_OK);
    FUZZ_CHECK(memcmp(remote, reply, KLAP_SEED_LEN) == 0);
    uint8_t body2[KLAP_HASH_LEN];
    FUZZ_CHECK(klap_handshake2_body(a, local_seed, remote, body2) == KLAP_OK);
    /* v1's server hash does not cover the remote seed: flip a bit it does cover. */
    size_t at = a->version == 1 ? KLAP_SEED_LEN + flip % KLAP_HASH_LEN : flip % sizeof reply;
    reply[at] ^= (uint8_t)(1u << (flip % 8));
    FUZZ_CHECK(klap_handshake1_check(a, local_seed, reply, sizeof reply, remote) == KLAP_ERR_AUTH);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    unsigned mode = data[0] & 3;
    int version = data[0] & 4 ? 2 : 1;
    bool check_sig = (data[0] & 8) != 0;
    uint32_t useq =
        (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
    int32_t seq = (int32_t)useq;
    const uint8_t *p = data + 5;
    size_t len = size - 5;

    struct klap_auth auth;
    make_auth(&auth, version);
    struct klap_session s;
    FUZZ_CHECK(klap_session_init(&s, &auth, local_seed, remote_seed) == KLAP_OK);
    switch (mode) {
    case 0:
        handshake_check(&auth, p, len);
        break;
    case 1:
        decrypt(&s, seq, check_sig, p, len);
        break;
    case 2:
        round_trip(&s, seq, p, len, useq);
        break;
    default:
        genuine_handshake(&auth, p, len, useq);
        break;
    }
    klap_session_clear(&s);
    klap_auth_clear(&auth);
    return 0;
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "collectors/kasa/klap.h"

/* Reference vectors: user "user@example.com", password "secret", local seed 00..0f,
 * remote seed 10..1f, plaintext {"system":{"get_sysinfo":{}}}. */
struct vec {
    int version;
    const char *auth, *server_hash, *hs2, *key, *iv12;
    int32_t seq0;
    const char *sig, *url, *iv_first, *body_sig, *ct;
};

static const struct vec vectors[] = {
    {1, "9d6ce791ce44316e9e52fc1bc9d36496",
     "c2d456076f946c707000874d2e226a1c09e89a21e459272b8ec0f01cdaf774cf",
     "50ef3325d42cd7c999aa9e47e8cb0f8a7f6f239f1d51b39d46d581a4bb75c8c5",
     "c5d896030359050e711d402b829b53cd", "3dcdd2bc7801fec3a7a7eb96", -59551828,
     "4617dcf442a7c0101e3e8bdcfee6978938be30821c84b70c71571fab", "/app/request?seq=-59551827",
     "3dcdd2bc7801fec3a7a7eb96fc734fad",
     "c96f0b774642c44a6c9b1ddc66d940fd1ef589b5839f50918b910bc99cce62a9",
     "d938d48d944c90ce1725e9a8ea0af3a37e8b6039e6189a3a497bf0b9b03700d8"},
    {2, "b039216532fc844e9ae0cc8fe3ea911c9ba09c641bb96a3e1f776d93f7b5ae9b",
     "8ed3b905e654fbee23900d0244156a33029c025b71b03bfcc601eff33aaebb70",
     "1e590e7a4dc128da48ed17e06fe23ddb6ec646bb6da2eb00708d590f194201d7",
     "35dcf29cd535ce140a239c67f641d395", "863e09a70667472d3fa152a4", -903964344,
     "777443e2fdd5cb21052633a60e830f44c8654b3a701f449231ed11fa", "/app/request?seq=-903964343",
     "863e09a70667472d3fa152a4ca1e9949",
     "ee33583262ebfd6b6977db181b8ba22a26f04b66d42c628224c0a40961942c64",
     "b2ea7862e52efd2186b9d6c73afb86a8b9821180993deb7e55bf8d03b44290d9"},
};

static const char PLAINTEXT[] = "{\"system\":{\"get_sysinfo\":{}}}";

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static void assert_hex(const uint8_t *b, size_t n, const char *expect)
{
    char buf[1024];
    assert_true(n * 2 < sizeof buf);
    hex(b, n, buf);
    assert_string_equal(buf, expect);
}

static void seeds(uint8_t local[16], uint8_t remote[16])
{
    for (int i = 0; i < 16; i++) {
        local[i] = (uint8_t)i;
        remote[i] = (uint8_t)(16 + i);
    }
}

static void creds(struct secret *u, struct secret *p)
{
    memset(u, 0, sizeof *u);
    memset(p, 0, sizeof *p);
    assert_int_equal(secret_set(u, "user@example.com", 16), 0);
    assert_int_equal(secret_set(p, "secret", 6), 0);
}

static void auth_for(const struct vec *v, struct klap_auth *a)
{
    struct secret u, p;
    creds(&u, &p);
    assert_int_equal(klap_auth_init(a, v->version, &u, &p), KLAP_OK);
    secret_clear(&u);
    secret_clear(&p);
}

static void session_for(const struct vec *v, struct klap_session *s)
{
    struct klap_auth a;
    uint8_t l[16], r[16];
    auth_for(v, &a);
    seeds(l, r);
    assert_int_equal(klap_session_init(s, &a, l, r), KLAP_OK);
    klap_auth_clear(&a);
}

static void test_auth_hash(void **state)
{
    for (size_t i = 0; i < 2; i++) {
        struct klap_auth a;
        auth_for(&vectors[i], &a);
        assert_int_equal(a.version, vectors[i].version);
        assert_int_equal(a.len, vectors[i].version == 1 ? 16 : 32);
        assert_hex(a.hash, a.len, vectors[i].auth);
    }
}

static void test_blank_auth_hash(void **state)
{
    struct klap_auth a;
    struct secret empty_u = {0}, empty_p = {0};
    /* NULL secrets and unset secrets are both the blank credential. */
    assert_int_equal(klap_auth_init(&a, 1, NULL, NULL), KLAP_OK);
    assert_hex(a.hash, a.len, "5873dd45edd01f09c1ef2e7819369e8e");
    assert_int_equal(klap_auth_init(&a, 1, &empty_u, &empty_p), KLAP_OK);
    assert_hex(a.hash, a.len, "5873dd45edd01f09c1ef2e7819369e8e");
    assert_int_equal(klap_auth_init(&a, 2, NULL, &empty_p), KLAP_OK);
    assert_hex(a.hash, a.len, "b8628ab91c74f531603f6d5b45e730e54c123a7247b8978272c03f1e13560cea");
    assert_int_equal(secret_set(&empty_u, "", 0), 0);
    assert_int_equal(klap_auth_init(&a, 2, &empty_u, NULL), KLAP_OK);
    assert_hex(a.hash, a.len, "b8628ab91c74f531603f6d5b45e730e54c123a7247b8978272c03f1e13560cea");
    secret_clear(&empty_u);
}

static void test_bad_version(void **state)
{
    struct klap_auth a;
    assert_int_equal(klap_auth_init(&a, 0, NULL, NULL), KLAP_ERR_ARG);
    assert_int_equal(klap_auth_init(&a, 3, NULL, NULL), KLAP_ERR_ARG);
    assert_int_equal(klap_auth_init(NULL, 1, NULL, NULL), KLAP_ERR_ARG);
    /* A struct whose version and length disagree is refused by every derivation. */
    struct klap_auth forged = {.version = 2, .len = 16};
    uint8_t l[16], r[16], out[32];
    struct klap_session s;
    seeds(l, r);
    assert_int_equal(klap_handshake2_body(&forged, l, r, out), KLAP_ERR_ARG);
    assert_int_equal(klap_handshake1_server_hash(&forged, l, r, out), KLAP_ERR_ARG);
    assert_int_equal(klap_session_init(&s, &forged, l, r), KLAP_ERR_ARG);
    assert_string_equal(klap_strerror(KLAP_ERR_AUTH),
                        "handshake1 hash does not match the credentials");
}

static void test_handshake1(void **state)
{
    for (size_t i = 0; i < 2; i++) {
        const struct vec *v = &vectors[i];
        struct klap_auth a;
        uint8_t l[16], r[16], sh[32], reply[48], got_remote[16];
        auth_for(v, &a);
        seeds(l, r);
        assert_int_equal(klap_handshake1_server_hash(&a, l, r, sh), KLAP_OK);
        assert_hex(sh, 32, v->server_hash);

        memcpy(reply, r, 16);
        memcpy(reply + 16, sh, 32);
        memset(got_remote, 0, sizeof got_remote);
        assert_int_equal(klap_handshake1_check(&a, l, reply, 48, got_remote), KLAP_OK);
        assert_memory_equal(got_remote, r, 16);

        /* Lengths other than 48 are malformed, never read past the end. */
        assert_int_equal(klap_handshake1_check(&a, l, reply, 47, got_remote), KLAP_ERR_FORMAT);
        assert_int_equal(klap_handshake1_check(&a, l, reply, 0, got_remote), KLAP_ERR_FORMAT);
        uint8_t longer[49] = {0};
        memcpy(longer, reply, 48);
        assert_int_equal(klap_handshake1_check(&a, l, longer, 49, got_remote), KLAP_ERR_FORMAT);

        /* A flipped bit, other credentials or the other version: mismatch. */
        reply[47] ^= 1;
        assert_int_equal(klap_handshake1_check(&a, l, reply, 48, got_remote), KLAP_ERR_AUTH);
        reply[47] ^= 1;
        struct klap_auth blank, other;
        assert_int_equal(klap_auth_init(&blank, v->version, NULL, NULL), KLAP_OK);
        assert_int_equal(klap_handshake1_check(&blank, l, reply, 48, got_remote), KLAP_ERR_AUTH);
        auth_for(&vectors[1 - i], &other);
        assert_int_equal(klap_handshake1_check(&other, l, reply, 48, got_remote), KLAP_ERR_AUTH);
        /* The remote seed is bound into v2's hash, not into v1's. */
        reply[0] ^= 1;
        assert_int_equal(klap_handshake1_check(&a, l, reply, 48, got_remote),
                         v->version == 2 ? KLAP_ERR_AUTH : KLAP_OK);
    }
}

static void test_handshake2(void **state)
{
    for (size_t i = 0; i < 2; i++) {
        struct klap_auth a;
        uint8_t l[16], r[16], body[32];
        auth_for(&vectors[i], &a);
        seeds(l, r);
        assert_int_equal(klap_handshake2_body(&a, l, r, body), KLAP_OK);
        assert_hex(body, 32, vectors[i].hs2);
    }
}

static void test_session_derivation(void **state)
{
    for (size_t i = 0; i < 2; i++) {
        const struct vec *v = &vectors[i];
        struct klap_session s;
        session_for(v, &s);
        assert_hex(s.key, 16, v->key);
        assert_hex(s.iv12, 12, v->iv12);
        assert_int_equal(s.seq, v->seq0);
        assert_hex(s.sig, 28, v->sig);
    }
}

static void test_first_request(void **state)
{
    for (size_t i = 0; i < 2; i++) {
        const struct vec *v = &vectors[i];
        struct klap_session s;
        session_for(v, &s);
        uint8_t *body = NULL;
        size_t body_len = 0;
        int32_t seq = 0;
        assert_int_equal(
            klap_encrypt(&s, (const uint8_t *)PLAINTEXT, strlen(PLAINTEXT), &body, &body_len, &seq),
            KLAP_OK);
        /* seq increments before use, and the session remembers it. */
        assert_int_equal(seq, v->seq0 + 1);
        assert_int_equal(s.seq, seq);
        char url[64];
        snprintf(url, sizeof url, "/app/request?seq=%d", seq);
        assert_string_equal(url, v->url);
        uint8_t iv[16];
        klap_iv(&s, seq, iv);
        assert_hex(iv, 16, v->iv_first);
        assert_int_equal(body_len, 64);
        assert_hex(body, 32, v->body_sig);
        assert_hex(body + 32, 32, v->ct);

        /* The reference body decrypts, with its signature checked. */
        uint8_t *pt = NULL;
        size_t pt_len = 0;
        assert_int_equal(klap_decrypt(&s, seq, body, body_len, true, &pt, &pt_len), KLAP_OK);
        assert_int_equal(pt_len, strlen(PLAINTEXT));
        assert_string_equal((char *)pt, PLAINTEXT);
        free(pt);

        /* The next request uses the next seq and a different body. */
        uint8_t *body2 = NULL;
        size_t body2_len = 0;
        int32_t seq2 = 0;
        assert_int_equal(klap_encrypt(&s, (const uint8_t *)PLAINTEXT, strlen(PLAINTEXT), &body2,
                                      &body2_len, &seq2),
                         KLAP_OK);
        assert_int_equal(seq2, seq + 1);
        assert_memory_not_equal(body, body2, 64);
        free(body);
        free(body2);
    }
}

static void test_signature_checks(void **state)
{
    struct klap_session s;
    session_for(&vectors[1], &s);
    uint8_t *body = NULL, *pt = NULL;
    size_t body_len = 0, pt_len = 0;
    int32_t seq = 0;
    assert_int_equal(
        klap_encrypt(&s, (const uint8_t *)PLAINTEXT, strlen(PLAINTEXT), &body, &body_len, &seq),
        KLAP_OK);

    /* Wrong seq: the signature covers it. */
    assert_int_equal(klap_decrypt(&s, seq + 1, body, body_len, true, &pt, &pt_len),
                     KLAP_ERR_SIGNATURE);
    /* Tampered signature: refused when checked, ignored when not (python-kasa's mode). */
    body[0] ^= 0x80;
    assert_int_equal(klap_decrypt(&s, seq, body, body_len, true, &pt, &pt_len), KLAP_ERR_SIGNATURE);
    assert_int_equal(klap_decrypt(&s, seq, body, body_len, false, &pt, &pt_len), KLAP_OK);
    assert_string_equal((char *)pt, PLAINTEXT);
    free(pt);
    body[0] ^= 0x80;
    /* Tampered cipher text: the signature catches it before the padding check does. */
    body[40] ^= 1;
    assert_int_equal(klap_decrypt(&s, seq, body, body_len, true, &pt, &pt_len), KLAP_ERR_SIGNATURE);
    free(body);
}

static void test_device_side_reply(void **state)
{
    /* The device answers with the request's seq; klap_seal frames that without advancing. */
    struct klap_session client, device;
    session_for(&vectors[0], &client);
    session_for(&vectors[0], &device);
    uint8_t *req = NULL, *reply = NULL, *pt = NULL;
    size_t req_len = 0, reply_len = 0, pt_len = 0;
    int32_t seq = 0;
    assert_int_equal(
        klap_encrypt(&client, (const uint8_t *)PLAINTEXT, strlen(PLAINTEXT), &req, &req_len, &seq),
        KLAP_OK);
    assert_int_equal(klap_decrypt(&device, seq, req, req_len, true, &pt, &pt_len), KLAP_OK);
    assert_string_equal((char *)pt, PLAINTEXT);
    free(pt);
    const char answer[] = "{\"system\":{\"get_sysinfo\":{\"model\":\"HS100(UK)\",\"err_code\":0}}}";
    assert_int_equal(
        klap_seal(&device, seq, (const uint8_t *)answer, strlen(answer), &reply, &reply_len),
        KLAP_OK);
    assert_int_equal(device.seq, vectors[0].seq0);
    assert_int_equal(klap_decrypt(&client, seq, reply, reply_len, true, &pt, &pt_len), KLAP_OK);
    assert_int_equal(pt_len, strlen(answer));
    assert_string_equal((char *)pt, answer);
    free(pt);
    free(req);
    free(reply);
}

static void test_round_trip_sizes(void **state)
{
    struct klap_session s;
    session_for(&vectors[1], &s);
    static uint8_t big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    const size_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, sizeof big};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint8_t *body = NULL, *pt = NULL;
        size_t body_len = 0, pt_len = 0;
        int32_t seq = 0;
        assert_int_equal(klap_encrypt(&s, big, sizes[k], &body, &body_len, &seq), KLAP_OK);
        assert_int_equal(body_len, 32 + (sizes[k] / 16 + 1) * 16);
        assert_int_equal(klap_decrypt(&s, seq, body, body_len, true, &pt, &pt_len), KLAP_OK);
        assert_int_equal(pt_len, sizes[k]);
        if (sizes[k])
            assert_memory_equal(pt, big, sizes[k]);
        assert_int_equal(pt[pt_len], 0);
        free(body);
        free(pt);
    }
}

static void test_malformed_bodies(void **state)
{
    struct klap_session s;
    session_for(&vectors[0], &s);
    uint8_t junk[100];
    memset(junk, 0x5a, sizeof junk);
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    const size_t bad_lens[] = {0, 1, 31, 32, 47, 49, 63, 65, 99};
    for (size_t k = 0; k < sizeof bad_lens / sizeof bad_lens[0]; k++) {
        assert_int_equal(klap_decrypt(&s, s.seq, junk, bad_lens[k], false, &pt, &pt_len),
                         KLAP_ERR_FORMAT);
        assert_int_equal(klap_decrypt(&s, s.seq, junk, bad_lens[k], true, &pt, &pt_len),
                         KLAP_ERR_FORMAT);
    }
    assert_null(pt);
    assert_int_equal(klap_decrypt(&s, s.seq, junk, 48, true, &pt, &pt_len), KLAP_ERR_SIGNATURE);
    assert_int_equal(klap_decrypt(NULL, 0, junk, 48, true, &pt, &pt_len), KLAP_ERR_ARG);

    /* Bad PKCS#7 padding: one block of zeros encrypted without padding. */
    uint8_t iv[16], zeros[16] = {0}, body[48];
    int n = 0;
    klap_iv(&s, 7, iv);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    assert_non_null(ctx);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, s.key, iv), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_int_equal(EVP_EncryptUpdate(ctx, body + 32, &n, zeros, 16), 1);
    assert_int_equal(n, 16);
    EVP_CIPHER_CTX_free(ctx);
    memset(body, 0, 32);
    assert_int_equal(klap_decrypt(&s, 7, body, 48, false, &pt, &pt_len), KLAP_ERR_DECRYPT);
    assert_null(pt);
}

static void test_seq_wrap(void **state)
{
    struct klap_session s;
    session_for(&vectors[0], &s);
    s.seq = INT32_MAX - 1;
    assert_int_equal(klap_next_seq(&s), INT32_MAX);
    uint8_t *body = NULL, *pt = NULL;
    size_t body_len = 0, pt_len = 0;
    int32_t seq = 0;
    assert_int_equal(klap_encrypt(&s, (const uint8_t *)"x", 1, &body, &body_len, &seq), KLAP_OK);
    assert_int_equal(seq, INT32_MIN);
    assert_int_equal(s.seq, INT32_MIN);
    char url[64];
    snprintf(url, sizeof url, "seq=%d", seq);
    assert_string_equal(url, "seq=-2147483648");
    uint8_t iv[16];
    klap_iv(&s, seq, iv);
    assert_memory_equal(iv, s.iv12, 12);
    const uint8_t tail[4] = {0x80, 0, 0, 0};
    assert_memory_equal(iv + 12, tail, 4);
    assert_int_equal(klap_decrypt(&s, INT32_MIN, body, body_len, true, &pt, &pt_len), KLAP_OK);
    assert_string_equal((char *)pt, "x");
    free(pt);
    free(body);
    s.seq = -1;
    assert_int_equal(klap_next_seq(&s), 0);
    klap_iv(&s, -1, iv);
    const uint8_t ff[4] = {0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(iv + 12, ff, 4);
}

static void test_failure_keeps_seq(void **state)
{
    struct klap_session s;
    session_for(&vectors[0], &s);
    uint8_t *body = NULL;
    size_t body_len = 0;
    int32_t seq = 12345;
    uint8_t one = 0;
    assert_int_equal(klap_encrypt(&s, &one, (size_t)KLAP_PAYLOAD_MAX + 1, &body, &body_len, &seq),
                     KLAP_ERR_ARG);
    assert_int_equal(s.seq, vectors[0].seq0);
    assert_int_equal(seq, 12345);
    assert_null(body);
    assert_int_equal(klap_encrypt(&s, NULL, 5, &body, &body_len, &seq), KLAP_ERR_ARG);
    assert_int_equal(s.seq, vectors[0].seq0);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static void test_clear_wipes(void **state)
{
    struct klap_auth a;
    struct klap_session s;
    auth_for(&vectors[1], &a);
    session_for(&vectors[1], &s);
    assert_false(all_zero(a.hash, sizeof a.hash));
    assert_false(all_zero(s.key, sizeof s.key));
    klap_auth_clear(&a);
    klap_session_clear(&s);
    assert_true(all_zero(&a, sizeof a));
    assert_true(all_zero(&s, sizeof s));
    klap_auth_clear(NULL);
    klap_session_clear(NULL);
}

static void test_local_seed_random(void **state)
{
    uint8_t a[16], b[16];
    assert_int_equal(klap_local_seed(a), KLAP_OK);
    assert_int_equal(klap_local_seed(b), KLAP_OK);
    assert_memory_not_equal(a, b, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_hash),         cmocka_unit_test(test_blank_auth_hash),
        cmocka_unit_test(test_bad_version),       cmocka_unit_test(test_handshake1),
        cmocka_unit_test(test_handshake2),        cmocka_unit_test(test_session_derivation),
        cmocka_unit_test(test_first_request),     cmocka_unit_test(test_signature_checks),
        cmocka_unit_test(test_device_side_reply), cmocka_unit_test(test_round_trip_sizes),
        cmocka_unit_test(test_malformed_bodies),  cmocka_unit_test(test_seq_wrap),
        cmocka_unit_test(test_failure_keeps_seq), cmocka_unit_test(test_clear_wipes),
        cmocka_unit_test(test_local_seed_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

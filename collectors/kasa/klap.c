#include "collectors/kasa/klap.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "collectors/kasa/aes_passthrough.h"

struct chunk {
    const void *p;
    size_t n;
};

/* Digest of the concatenation of parts, without building the concatenation. */
static enum klap_status digest(const EVP_MD *md, const struct chunk *parts, size_t n, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return KLAP_ERR_NOMEM;
    int ok = EVP_DigestInit_ex(ctx, md, NULL);
    for (size_t i = 0; ok && i < n; i++)
        if (parts[i].n)
            ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].n);
    unsigned int len = 0;
    if (ok)
        ok = EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
    return ok ? KLAP_OK : KLAP_ERR_CRYPTO;
}

static struct chunk secret_chunk(const struct secret *s)
{
    if (!s || !s->bytes)
        return (struct chunk){"", 0};
    return (struct chunk){s->bytes, s->len};
}

static void put_be32(uint8_t out[4], int32_t v)
{
    uint32_t u = (uint32_t)v;
    out[0] = (uint8_t)(u >> 24);
    out[1] = (uint8_t)(u >> 16);
    out[2] = (uint8_t)(u >> 8);
    out[3] = (uint8_t)u;
}

static int32_t get_be32(const uint8_t in[4])
{
    uint32_t u = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    /* Two's complement without implementation-defined conversion. */
    return u <= INT32_MAX ? (int32_t)u : (int32_t)(u - 0x80000000u) + INT32_MIN;
}

static bool auth_ok(const struct klap_auth *a)
{
    return a && ((a->version == 1 && a->len == 16) || (a->version == 2 && a->len == 32));
}

const char *klap_strerror(enum klap_status st)
{
    switch (st) {
    case KLAP_OK:
        return "ok";
    case KLAP_ERR_ARG:
        return "invalid argument";
    case KLAP_ERR_FORMAT:
        return "malformed KLAP body";
    case KLAP_ERR_AUTH:
        return "handshake1 hash does not match the credentials";
    case KLAP_ERR_SIGNATURE:
        return "KLAP body signature mismatch";
    case KLAP_ERR_DECRYPT:
        return "KLAP body does not decrypt";
    case KLAP_ERR_CRYPTO:
        return "OpenSSL failure";
    case KLAP_ERR_NOMEM:
        return "out of memory";
    }
    return "unknown KLAP error";
}

enum klap_status klap_auth_init(struct klap_auth *a, int version, const struct secret *user,
                                const struct secret *pass)
{
    if (!a || (version != 1 && version != 2))
        return KLAP_ERR_ARG;
    const EVP_MD *inner = version == 1 ? EVP_md5() : EVP_sha1();
    const EVP_MD *outer = version == 1 ? EVP_md5() : EVP_sha256();
    size_t ilen = version == 1 ? 16 : 20;
    uint8_t h[2][20];
    struct chunk u = secret_chunk(user), p = secret_chunk(pass);
    enum klap_status st = digest(inner, &u, 1, h[0]);
    if (st == KLAP_OK)
        st = digest(inner, &p, 1, h[1]);
    if (st == KLAP_OK) {
        struct chunk parts[] = {{h[0], ilen}, {h[1], ilen}};
        st = digest(outer, parts, 2, a->hash);
    }
    OPENSSL_cleanse(h, sizeof h);
    if (st != KLAP_OK) {
        klap_auth_clear(a);
        return st;
    }
    a->version = version;
    a->len = version == 1 ? 16 : 32;
    return KLAP_OK;
}

void klap_auth_clear(struct klap_auth *a)
{
    if (a)
        OPENSSL_cleanse(a, sizeof *a);
}

enum klap_status klap_local_seed(uint8_t seed[KLAP_SEED_LEN])
{
    return RAND_bytes(seed, KLAP_SEED_LEN) == 1 ? KLAP_OK : KLAP_ERR_CRYPTO;
}

enum klap_status klap_handshake1_server_hash(const struct klap_auth *a,
                                             const uint8_t local_seed[KLAP_SEED_LEN],
                                             const uint8_t remote_seed[KLAP_SEED_LEN],
                                             uint8_t out[KLAP_HASH_LEN])
{
    if (!auth_ok(a) || !local_seed || !remote_seed || !out)
        return KLAP_ERR_ARG;
    struct chunk l = {local_seed, KLAP_SEED_LEN}, r = {remote_seed, KLAP_SEED_LEN},
                 h = {a->hash, a->len};
    if (a->version == 1) {
        struct chunk parts[] = {l, h};
        return digest(EVP_sha256(), parts, 2, out);
    }
    struct chunk parts[] = {l, r, h};
    return digest(EVP_sha256(), parts, 3, out);
}

enum klap_status klap_handshake1_check(const struct klap_auth *a,
                                       const uint8_t local_seed[KLAP_SEED_LEN],
                                       const uint8_t *reply, size_t reply_len,
                                       uint8_t remote_seed[KLAP_SEED_LEN])
{
    if (!reply || !remote_seed)
        return KLAP_ERR_ARG;
    if (reply_len != KLAP_HANDSHAKE1_REPLY_LEN)
        return KLAP_ERR_FORMAT;
    uint8_t expect[KLAP_HASH_LEN];
    enum klap_status st = klap_handshake1_server_hash(a, local_seed, reply, expect);
    if (st != KLAP_OK)
        return st;
    if (CRYPTO_memcmp(expect, reply + KLAP_SEED_LEN, KLAP_HASH_LEN) != 0)
        return KLAP_ERR_AUTH;
    memcpy(remote_seed, reply, KLAP_SEED_LEN);
    return KLAP_OK;
}

enum klap_status klap_handshake2_body(const struct klap_auth *a,
                                      const uint8_t local_seed[KLAP_SEED_LEN],
                                      const uint8_t remote_seed[KLAP_SEED_LEN],
                                      uint8_t out[KLAP_HASH_LEN])
{
    if (!auth_ok(a) || !local_seed || !remote_seed || !out)
        return KLAP_ERR_ARG;
    struct chunk l = {local_seed, KLAP_SEED_LEN}, r = {remote_seed, KLAP_SEED_LEN},
                 h = {a->hash, a->len};
    if (a->version == 1) {
        struct chunk parts[] = {r, h};
        return digest(EVP_sha256(), parts, 2, out);
    }
    struct chunk parts[] = {r, l, h};
    return digest(EVP_sha256(), parts, 3, out);
}

enum klap_status klap_session_init(struct klap_session *s, const struct klap_auth *a,
                                   const uint8_t local_seed[KLAP_SEED_LEN],
                                   const uint8_t remote_seed[KLAP_SEED_LEN])
{
    if (!s || !auth_ok(a) || !local_seed || !remote_seed)
        return KLAP_ERR_ARG;
    struct chunk parts[] = {
        {NULL, 0}, {local_seed, KLAP_SEED_LEN}, {remote_seed, KLAP_SEED_LEN}, {a->hash, a->len}};
    uint8_t full[3][KLAP_HASH_LEN];
    static const char *const labels[] = {"lsk", "iv", "ldk"};
    enum klap_status st = KLAP_OK;
    for (size_t i = 0; i < 3 && st == KLAP_OK; i++) {
        parts[0] = (struct chunk){labels[i], strlen(labels[i])};
        st = digest(EVP_sha256(), parts, 4, full[i]);
    }
    if (st == KLAP_OK) {
        memcpy(s->key, full[0], sizeof s->key);
        memcpy(s->iv12, full[1], sizeof s->iv12);
        s->seq = get_be32(full[1] + 28);
        memcpy(s->sig, full[2], sizeof s->sig);
    } else {
        klap_session_clear(s);
    }
    OPENSSL_cleanse(full, sizeof full);
    return st;
}

void klap_session_clear(struct klap_session *s)
{
    if (s)
        OPENSSL_cleanse(s, sizeof *s);
}

/* The wire field is a signed 32-bit integer; wrap instead of overflowing. */
static int32_t seq_after(int32_t seq)
{
    return seq == INT32_MAX ? INT32_MIN : seq + 1;
}

int32_t klap_next_seq(struct klap_session *s)
{
    s->seq = seq_after(s->seq);
    return s->seq;
}

void klap_iv(const struct klap_session *s, int32_t seq, uint8_t iv[16])
{
    memcpy(iv, s->iv12, 12);
    put_be32(iv + 12, seq);
}

static enum klap_status body_signature(const struct klap_session *s, int32_t seq, const uint8_t *ct,
                                       size_t ct_len, uint8_t out[32])
{
    uint8_t be[4];
    put_be32(be, seq);
    struct chunk parts[] = {{s->sig, KLAP_SIG_LEN}, {be, 4}, {ct, ct_len}};
    return digest(EVP_sha256(), parts, 3, out);
}

static enum klap_status from_aes(enum aes_status st)
{
    switch (st) {
    case AES_OK:
        return KLAP_OK;
    case AES_ERR_NOMEM:
        return KLAP_ERR_NOMEM;
    case AES_ERR_PROTOCOL:
        return KLAP_ERR_FORMAT;
    case AES_ERR_DECRYPT:
        return KLAP_ERR_DECRYPT;
    case AES_ERR_ARG:
        return KLAP_ERR_ARG;
    default:
        return KLAP_ERR_CRYPTO;
    }
}

enum klap_status klap_seal(const struct klap_session *s, int32_t seq, const uint8_t *plaintext,
                           size_t len, uint8_t **body, size_t *body_len)
{
    if (!s || (!plaintext && len) || !body || !body_len || len > KLAP_PAYLOAD_MAX)
        return KLAP_ERR_ARG;
    uint8_t iv[16];
    klap_iv(s, seq, iv);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    enum klap_status st = from_aes(aes_cbc_encrypt(s->key, iv, plaintext, len, &ct, &ct_len));
    if (st != KLAP_OK)
        return st;
    uint8_t *out = malloc(KLAP_HASH_LEN + ct_len);
    if (!out) {
        free(ct);
        return KLAP_ERR_NOMEM;
    }
    st = body_signature(s, seq, ct, ct_len, out);
    if (st != KLAP_OK) {
        free(ct);
        free(out);
        return st;
    }
    memcpy(out + KLAP_HASH_LEN, ct, ct_len);
    free(ct);
    *body = out;
    *body_len = KLAP_HASH_LEN + ct_len;
    return KLAP_OK;
}

enum klap_status klap_encrypt(struct klap_session *s, const uint8_t *plaintext, size_t len,
                              uint8_t **body, size_t *body_len, int32_t *seq_out)
{
    if (!s || !seq_out)
        return KLAP_ERR_ARG;
    int32_t seq = seq_after(s->seq);
    enum klap_status st = klap_seal(s, seq, plaintext, len, body, body_len);
    if (st != KLAP_OK)
        return st;
    s->seq = seq;
    *seq_out = seq;
    return KLAP_OK;
}

enum klap_status klap_decrypt(const struct klap_session *s, int32_t seq, const uint8_t *body,
                              size_t body_len, bool check_sig, uint8_t **plaintext, size_t *len)
{
    if (!s || !body || !plaintext || !len)
        return KLAP_ERR_ARG;
    /* Signature plus at least one block; PKCS#7 always adds one. */
    if (body_len < KLAP_HASH_LEN + 16 || (body_len - KLAP_HASH_LEN) % 16 != 0)
        return KLAP_ERR_FORMAT;
    if (body_len - KLAP_HASH_LEN > KLAP_PAYLOAD_MAX + 16)
        return KLAP_ERR_ARG;
    const uint8_t *ct = body + KLAP_HASH_LEN;
    size_t ct_len = body_len - KLAP_HASH_LEN;
    if (check_sig) {
        uint8_t expect[KLAP_HASH_LEN];
        enum klap_status st = body_signature(s, seq, ct, ct_len, expect);
        if (st != KLAP_OK)
            return st;
        if (CRYPTO_memcmp(expect, body, KLAP_HASH_LEN) != 0)
            return KLAP_ERR_SIGNATURE;
    }
    uint8_t iv[16];
    klap_iv(s, seq, iv);
    return from_aes(aes_cbc_decrypt(s->key, iv, ct, ct_len, plaintext, len));
}

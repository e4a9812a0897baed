#include "collectors/kasa/aes_passthrough.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

const char *aes_strerror(enum aes_status st)
{
    switch (st) {
    case AES_OK:
        return "ok";
    case AES_ERR_ARG:
        return "invalid argument";
    case AES_ERR_PROTOCOL:
        return "malformed reply";
    case AES_ERR_DEVICE:
        return "device returned an error code";
    case AES_ERR_DECRYPT:
        return "decryption failed";
    case AES_ERR_CRYPTO:
        return "OpenSSL failure";
    case AES_ERR_NOMEM:
        return "out of memory";
    }
    return "unknown AES error";
}

/* --- primitives --------------------------------------------------------------------- */

static enum aes_status cbc(int enc, const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                           size_t len, uint8_t **out, size_t *out_len)
{
    if (!key || !iv || (!in && len) || !out || !out_len || len > AES_PAYLOAD_MAX + 16)
        return AES_ERR_ARG;
    if (!enc && (len == 0 || len % 16 != 0))
        return AES_ERR_PROTOCOL;
    size_t cap = len + 16 + 1; /* one padding block, and a NUL for JSON consumers */
    uint8_t *buf = malloc(cap);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!buf || !ctx) {
        free(buf);
        EVP_CIPHER_CTX_free(ctx);
        return AES_ERR_NOMEM;
    }
    enum aes_status st = AES_ERR_CRYPTO;
    int n1 = 0, n2 = 0;
    if (EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv, enc) != 1)
        goto out;
    if (len && EVP_CipherUpdate(ctx, buf, &n1, in, (int)len) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, buf + n1, &n2) != 1) {
        st = enc ? AES_ERR_CRYPTO : AES_ERR_DECRYPT;
        goto out;
    }
    st = AES_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (st != AES_OK) {
        OPENSSL_cleanse(buf, cap);
        free(buf);
        return st;
    }
    buf[n1 + n2] = '\0';
    *out = buf;
    *out_len = (size_t)n1 + (size_t)n2;
    return AES_OK;
}

enum aes_status aes_cbc_encrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                                size_t len, uint8_t **out, size_t *out_len)
{
    return cbc(1, key, iv, in, len, out, out_len);
}

enum aes_status aes_cbc_decrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                                size_t len, uint8_t **out, size_t *out_len)
{
    return cbc(0, key, iv, in, len, out, out_len);
}

char *aes_b64_encode(const uint8_t *in, size_t len, size_t *out_len)
{
    if ((!in && len) || len > AES_PAYLOAD_MAX)
        return NULL;
    size_t cap = (len + 2) / 3 * 4 + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    int n = len ? EVP_EncodeBlock((unsigned char *)out, in, (int)len) : 0;
    out[n] = '\0';
    if (out_len)
        *out_len = (size_t)n;
    return out;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

enum aes_status aes_b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
    if ((!in && len) || !out || !out_len || len > AES_PAYLOAD_MAX * 2)
        return AES_ERR_ARG;
    uint8_t *buf = malloc(len / 4 * 3 + 3 + 1);
    if (!buf)
        return AES_ERR_NOMEM;
    uint32_t acc = 0;
    size_t n = 0, quad = 0, pad = 0, i = 0;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_space(c))
            continue;
        int v;
        if (c == '=') {
            /* Only in the last two places of a quad, and then only '=' up to its end. */
            if (quad < 2)
                goto bad;
            pad++;
            v = 0;
        } else {
            v = b64_value(c);
            if (v < 0 || pad)
                goto bad;
        }
        acc = acc << 6 | (uint32_t)v;
        if (++quad == 4) {
            buf[n++] = (uint8_t)(acc >> 16);
            buf[n++] = (uint8_t)(acc >> 8);
            buf[n++] = (uint8_t)acc;
            n -= pad;
            quad = 0;
            acc = 0;
            if (pad)
                break;
        }
    }
    if (quad != 0)
        goto bad;
    for (i = pad ? i + 1 : len; i < len; i++) /* after padding only whitespace */
        if (!is_space((unsigned char)in[i]))
            goto bad;
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return AES_OK;
bad:
    OPENSSL_cleanse(buf, len / 4 * 3 + 3 + 1);
    free(buf);
    return AES_ERR_PROTOCOL;
}

/* --- JSON helpers ------------------------------------------------------------------- */

/* Parses an object reply and its integer error_code; *root is the caller's to decref. */
static enum aes_status load_reply(const char *json, size_t len, json_t **root,
                                  long long *error_code)
{
    if (error_code)
        *error_code = 0;
    if (!json || len > AES_PAYLOAD_MAX * 2)
        return AES_ERR_ARG;
    json_error_t jerr;
    json_t *r = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(r)) {
        json_decref(r);
        return AES_ERR_PROTOCOL;
    }
    json_t *code = json_object_get(r, "error_code");
    if (!json_is_integer(code)) {
        json_decref(r);
        return AES_ERR_PROTOCOL;
    }
    if (error_code)
        *error_code = (long long)json_integer_value(code);
    if (json_integer_value(code) != 0) {
        json_decref(r);
        return AES_ERR_DEVICE;
    }
    *root = r;
    return AES_OK;
}

/* result.<key> as a string, or NULL. */
static const char *result_string(json_t *root, const char *key, size_t *len)
{
    json_t *v = json_object_get(json_object_get(root, "result"), key);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

/* --- handshake ---------------------------------------------------------------------- */

enum aes_status aes_keypair_generate(struct aes_keypair *kp)
{
    if (!kp)
        return AES_ERR_ARG;
    memset(kp, 0, sizeof *kp);
    EVP_PKEY *pkey = EVP_RSA_gen(1024);
    if (!pkey)
        return AES_ERR_CRYPTO;
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY(pkey, &der);
    if (der_len <= 0) {
        EVP_PKEY_free(pkey);
        return AES_ERR_CRYPTO;
    }
    char *b64 = aes_b64_encode(der, (size_t)der_len, NULL);
    OPENSSL_free(der);
    if (!b64) {
        EVP_PKEY_free(pkey);
        return AES_ERR_NOMEM;
    }
    int n = snprintf(kp->pem, sizeof kp->pem,
                     "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", b64);
    free(b64);
    if (n < 0 || (size_t)n >= sizeof kp->pem) {
        EVP_PKEY_free(pkey);
        memset(kp, 0, sizeof *kp);
        return AES_ERR_CRYPTO;
    }
    kp->pkey = pkey;
    return AES_OK;
}

void aes_keypair_free(struct aes_keypair *kp)
{
    if (!kp)
        return;
    EVP_PKEY_free(kp->pkey);
    memset(kp, 0, sizeof *kp);
}

/* a || b || c as a malloc'd string; *len its length. */
static char *concat3(const char *a, const char *b, const char *c, size_t *len)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *out = malloc(la + lb + lc + 1);
    if (!out)
        return NULL;
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    memcpy(out + la + lb, c, lc + 1);
    if (len)
        *len = la + lb + lc;
    return out;
}

char *aes_handshake_request(const struct aes_keypair *kp, size_t *len)
{
    if (!kp || !kp->pkey)
        return NULL;
    /* The PEM holds only base64, dashes, spaces, letters and newlines: escape the newlines. */
    char escaped[AES_PEM_MAX * 2];
    size_t o = 0;
    for (const char *p = kp->pem; *p; p++) {
        if (o + 3 > sizeof escaped)
            return NULL;
        if (*p == '\n') {
            escaped[o++] = '\\';
            escaped[o++] = 'n';
        } else if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
            return NULL; /* not a PEM this module produced */
        } else {
            escaped[o++] = *p;
        }
    }
    escaped[o] = '\0';
    return concat3("{\"method\":\"handshake\",\"params\":{\"key\":\"", escaped, "\"}}", len);
}

static enum aes_status rsa_decrypt(EVP_PKEY *pkey, const uint8_t *in, size_t in_len,
                                   uint8_t out[32])
{
    if (in_len != (size_t)EVP_PKEY_get_size(pkey) || in_len > 512)
        return AES_ERR_PROTOCOL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    if (!ctx)
        return AES_ERR_NOMEM;
    enum aes_status st = AES_ERR_CRYPTO;
    uint8_t buf[512];
    size_t buf_len = sizeof buf;
    if (EVP_PKEY_decrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    /* OpenSSL >= 3.2 would hand back a random message on bad padding; we want the error
     * (the peer is the device and the key pair lives for one handshake). 3.0 ignores it. */
    unsigned int implicit = 0;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_uint("implicit-rejection", &implicit),
                           OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX_set_params(ctx, params);
    if (EVP_PKEY_decrypt(ctx, buf, &buf_len, in, in_len) != 1) {
        st = AES_ERR_DECRYPT;
        goto out;
    }
    if (buf_len != 32) {
        st = AES_ERR_PROTOCOL;
        goto out;
    }
    memcpy(out, buf, 32);
    st = AES_OK;
out:
    OPENSSL_cleanse(buf, sizeof buf);
    EVP_PKEY_CTX_free(ctx);
    return st;
}

enum aes_status aes_handshake_reply(const struct aes_keypair *kp, const char *json, size_t len,
                                    struct aes_session *out, long long *error_code)
{
    if (!kp || !kp->pkey || !out)
        return AES_ERR_ARG;
    json_t *root = NULL;
    enum aes_status st = load_reply(json, len, &root, error_code);
    if (st != AES_OK)
        return st;
    size_t klen = 0;
    const char *key = result_string(root, "key", &klen);
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    st = key ? aes_b64_decode(key, klen, &enc, &enc_len) : AES_ERR_PROTOCOL;
    json_decref(root);
    if (st != AES_OK)
        return st;
    uint8_t both[32];
    st = rsa_decrypt(kp->pkey, enc, enc_len, both);
    free(enc);
    if (st == AES_OK) {
        memcpy(out->key, both, 16);
        memcpy(out->iv, both + 16, 16);
    }
    OPENSSL_cleanse(both, sizeof both);
    return st;
}

void aes_session_clear(struct aes_session *s)
{
    if (s)
        OPENSSL_cleanse(s, sizeof *s);
}

/* --- tunnel ------------------------------------------------------------------------- */

char *aes_wrap(const struct aes_session *s, const char *inner, size_t inner_len, size_t *len)
{
    if (!s || (!inner && inner_len))
        return NULL;
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    if (aes_cbc_encrypt(s->key, s->iv, (const uint8_t *)inner, inner_len, &ct, &ct_len) != AES_OK)
        return NULL;
    char *b64 = aes_b64_encode(ct, ct_len, NULL);
    free(ct);
    if (!b64)
        return NULL;
    char *out =
        concat3("{\"method\":\"securePassthrough\",\"params\":{\"request\":\"", b64, "\"}}", len);
    free(b64);
    return out;
}

enum aes_status aes_unwrap(const struct aes_session *s, const char *json, size_t len, char **inner,
                           size_t *inner_len, long long *error_code)
{
    if (!s || !inner || !inner_len)
        return AES_ERR_ARG;
    json_t *root = NULL;
    enum aes_status st = load_reply(json, len, &root, error_code);
    if (st != AES_OK)
        return st;
    size_t rlen = 0;
    const char *resp = result_string(root, "response", &rlen);
    uint8_t *ct = NULL;
    size_t ct_len = 0;
    st = resp ? aes_b64_decode(resp, rlen, &ct, &ct_len) : AES_ERR_PROTOCOL;
    json_decref(root);
    if (st != AES_OK)
        return st;
    uint8_t *pt = NULL;
    st = aes_cbc_decrypt(s->key, s->iv, ct, ct_len, &pt, inner_len);
    free(ct);
    if (st == AES_OK)
        *inner = (char *)pt;
    return st;
}

static void hex_sha1(const struct secret *s, char hex[41])
{
    uint8_t md[20];
    unsigned int n = 0;
    const char *p = s && s->bytes ? s->bytes : "";
    size_t len = s && s->bytes ? s->len : 0;
    if (EVP_Digest(p, len, md, &n, EVP_sha1(), NULL) != 1 || n != 20) {
        hex[0] = '\0';
        return;
    }
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 20; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[40] = '\0';
    OPENSSL_cleanse(md, sizeof md);
}

char *aes_login_request(int version, const struct secret *user, const struct secret *pass,
                        long long now_ms, size_t *len)
{
    if (version != 1 && version != 2)
        return NULL;
    char uhex[41], phex[41];
    hex_sha1(user, uhex);
    hex_sha1(pass, phex);
    char *out = NULL, *un = NULL, *pw = NULL;
    size_t un_len = 0, pw_len = 0;
    if (!uhex[0] || !phex[0])
        goto done;
    un = aes_b64_encode((const uint8_t *)uhex, 40, &un_len);
    if (version == 2) {
        pw = aes_b64_encode((const uint8_t *)phex, 40, &pw_len);
    } else {
        const char *p = pass && pass->bytes ? pass->bytes : "";
        pw = aes_b64_encode((const uint8_t *)p, pass && pass->bytes ? pass->len : 0, &pw_len);
    }
    if (!un || !pw)
        goto done;
        /* Built by hand, not with jansson, so no unwiped copy of the credentials is left in
         * freed memory; base64 needs no JSON escaping. */
#define LOGIN_FMT                                                                                  \
    "{\"method\":\"login_device\",\"params\":{\"%s\":\"%s\",\"username\":\"%s\"},"                 \
    "\"request_time_milis\":%lld}"
    const char *field = version == 2 ? "password2" : "password";
    int n = snprintf(NULL, 0, LOGIN_FMT, field, pw, un, now_ms);
    if (n < 0)
        goto done;
    out = malloc((size_t)n + 1);
    if (!out)
        goto done;
    snprintf(out, (size_t)n + 1, LOGIN_FMT, field, pw, un, now_ms);
#undef LOGIN_FMT
    if (len)
        *len = (size_t)n;
done:
    OPENSSL_cleanse(uhex, sizeof uhex);
    OPENSSL_cleanse(phex, sizeof phex);
    aes_free_secret(un, un_len);
    aes_free_secret(pw, pw_len);
    return out;
}

void aes_free_secret(char *buf, size_t len)
{
    if (!buf)
        return;
    OPENSSL_cleanse(buf, len + 1);
    free(buf);
}

enum aes_status aes_login_token(const char *json, size_t len, char token[AES_TOKEN_MAX],
                                long long *error_code)
{
    if (!token)
        return AES_ERR_ARG;
    token[0] = '\0';
    json_t *root = NULL;
    enum aes_status st = load_reply(json, len, &root, error_code);
    if (st != AES_OK)
        return st;
    size_t tlen = 0;
    const char *t = result_string(root, "token", &tlen);
    st = AES_ERR_PROTOCOL;
    if (t && tlen > 0 && tlen < AES_TOKEN_MAX) {
        st = AES_OK;
        for (size_t i = 0; i < tlen; i++)
            if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
                st = AES_ERR_PROTOCOL;
        if (st == AES_OK)
            memcpy(token, t, tlen + 1);
    }
    json_decref(root);
    return st;
}

/* libFuzzer target: the AES securePassthrough codec on untrusted bytes (aes_handshake_reply,
 * aes_unwrap, aes_login_token, aes_b64_decode) plus round trips that must hold for any
 * payload. Byte 0 picks the mode, the rest is the payload.
 *   0: the handshake reply JSON, against this process's key pair.
 *   1: a securePassthrough reply JSON, unwrapped with a fixed session; the inner text
 *      then goes through aes_login_token.
 *   2: the (unwrapped) login reply JSON -> token.
 *   3: base64 text: decoded, and if valid, encoded and decoded again to the same bytes;
 *      also the payload itself encoded and decoded back.
 *   4: an inner request: aes_wrap must give JSON whose request decrypts back to it, and
 *      the device's reply built from the same cipher text must unwrap to it.
 *   5: up to 117 bytes the "device" encrypts with our public key as the handshake key:
 *      the reply must give key and IV exactly when they are 32 bytes.
 * The RSA key pair is generated once per process (it takes milliseconds), the one piece
 * of state a target keeps between inputs. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "collectors/kasa/aes_passthrough.h"
#include "tests/fuzz/fuzz.h"

static const struct aes_keypair *keypair(void)
{
    static struct aes_keypair kp;
    if (!kp.pkey)
        FUZZ_CHECK(aes_keypair_generate(&kp) == AES_OK);
    return &kp;
}

static const struct aes_session session = {
    .key = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef},
    .iv = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae,
           0xaf},
};

static void check_status(enum aes_status st)
{
    FUZZ_CHECK(st >= AES_OK && st <= AES_ERR_NOMEM);
    FUZZ_CHECK(aes_strerror(st) != NULL);
}

static void login_token(const char *json, size_t len)
{
    char token[AES_TOKEN_MAX];
    memset(token, 'x', sizeof token);
    long long code = 12345;
    enum aes_status st = aes_login_token(json, len, token, &code);
    check_status(st);
    FUZZ_CHECK(st != AES_ERR_DEVICE || code != 0);
    if (st != AES_OK)
        return;
    FUZZ_CHECK(code == 0);
    size_t n = strnlen(token, sizeof token);
    FUZZ_CHECK(n >= 1 && n < sizeof token);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(token[i] > 0x20 && token[i] < 0x7f);
}

static void handshake_reply(const char *json, size_t len)
{
    struct aes_session s;
    long long code = 12345;
    enum aes_status st = aes_handshake_reply(keypair(), json, len, &s, &code);
    check_status(st);
    FUZZ_CHECK(st != AES_ERR_DEVICE || code != 0);
}

static void unwrap(const char *json, size_t len)
{
    char *inner = NULL;
    size_t inner_len = 0;
    long long code = 12345;
    enum aes_status st = aes_unwrap(&session, json, len, &inner, &inner_len, &code);
    check_status(st);
    if (st != AES_OK) {
        FUZZ_CHECK(inner == NULL);
        return;
    }
    FUZZ_CHECK(inner[inner_len] == '\0');
    login_token(inner, inner_len);
    free(inner);
}

static void base64(const uint8_t *p, size_t len)
{
    uint8_t *out = NULL, *again = NULL;
    size_t out_len = 0, again_len = 0;
    enum aes_status st = aes_b64_decode((const char *)p, len, &out, &out_len);
    check_status(st);
    if (st == AES_OK) {
        FUZZ_CHECK(out_len <= len / 4 * 3 && out[out_len] == '\0');
        size_t enc_len = 0;
        char *enc = aes_b64_encode(out, out_len, &enc_len);
        FUZZ_CHECK(enc && enc_len == (out_len + 2) / 3 * 4 && enc_len <= len);
        FUZZ_CHECK(aes_b64_decode(enc, enc_len, &again, &again_len) == AES_OK);
        FUZZ_CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);
        free(enc);
        free(again);
        free(out);
    } else {
        FUZZ_CHECK(out == NULL);
    }
    size_t enc_len = 0;
    char *enc = aes_b64_encode(p, len, &enc_len);
    FUZZ_CHECK(enc && strlen(enc) == enc_len);
    FUZZ_CHECK(aes_b64_decode(enc, enc_len, &again, &again_len) == AES_OK);
    FUZZ_CHECK(again_len == len && memcmp(again, p, len) == 0);
    free(again);
    free(enc);
}

/* {"error_code":0,"result":{<key>:<b64 of data>}} */
static char *reply_with(const char *key, const uint8_t *data, size_t len)
{
    char *b64 = aes_b64_encode(data, len, NULL);
    FUZZ_CHECK(b64 != NULL);
    json_t *j = json_pack("{s:i,s:{s:s}}", "error_code", 0, "result", key, b64);
    free(b64);
    FUZZ_CHECK(j != NULL);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    FUZZ_CHECK(s != NULL);
    return s;
}

static void wrap_round_trip(const uint8_t *p, size_t len)
{
    if (len > AES_PAYLOAD_MAX)
        return;
    size_t wlen = 0;
    char *wrapped = aes_wrap(&session, (const char *)p, len, &wlen);
    FUZZ_CHECK(wrapped && strlen(wrapped) == wlen);
    json_error_t jerr;
    json_t *j = json_loadb(wrapped, wlen, 0, &jerr);
    FUZZ_CHECK(j != NULL);
    json_t *req = json_object_get(json_object_get(j, "params"), "request");
    FUZZ_CHECK(json_is_string(req));
    FUZZ_CHECK(!strcmp(json_string_value(json_object_get(j, "method")), "securePassthrough"));
    uint8_t *ct = NULL, *pt = NULL;
    size_t ct_len = 0, pt_len = 0;
    FUZZ_CHECK(aes_b64_decode(json_string_value(req), json_string_length(req), &ct, &ct_len) ==
               AES_OK);
    json_decref(j);
    free(wrapped);
    FUZZ_CHECK(aes_cbc_decrypt(session.key, session.iv, ct, ct_len, &pt, &pt_len) == AES_OK);
    FUZZ_CHECK(pt_len == len && memcmp(pt, p, len) == 0);
    free(pt);

    char *reply = reply_with("response", ct, ct_len);
    free(ct);
    char *inner = NULL;
    size_t inner_len = 0;
    long long code = 12345;
    FUZZ_CHECK(aes_unwrap(&session, reply, strlen(reply), &inner, &inner_len, &code) == AES_OK);
    FUZZ_CHECK(code == 0 && inner_len == len && memcmp(inner, p, len) == 0);
    free(inner);
    free(reply);
}

static void rsa_handshake(const uint8_t *p, size_t len)
{
    if (len > 117) /* PKCS#1 v1.5 with a 1024-bit key */
        len = 117;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(keypair()->pkey, NULL);
    FUZZ_CHECK(ctx != NULL);
    uint8_t enc[512];
    size_t enc_len = sizeof enc;
    FUZZ_CHECK(EVP_PKEY_encrypt_init(ctx) == 1 &&
               EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
               EVP_PKEY_encrypt(ctx, enc, &enc_len, p, len) == 1);
    EVP_PKEY_CTX_free(ctx);
    char *reply = reply_with("key", enc, enc_len);
    struct aes_session s;
    memset(&s, 0, sizeof s);
    long long code = 12345;
    enum aes_status st = aes_handshake_reply(keypair(), reply, strlen(reply), &s, &code);
    free(reply);
    FUZZ_CHECK(code == 0);
    if (len == 32) {
        FUZZ_CHECK(st == AES_OK);
        FUZZ_CHECK(memcmp(s.key, p, 16) == 0 && memcmp(s.iv, p + 16, 16) == 0);
    } else {
        FUZZ_CHECK(st == AES_ERR_PROTOCOL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    switch (data[0] % 6) {
    case 0:
        handshake_reply((const char *)p, len);
        break;
    case 1:
        unwrap((const char *)p, len);
        break;
    case 2:
        login_token((const char *)p, len);
        break;
    case 3:
        base64(p, len);
        break;
    case 4:
        wrap_round_trip(p, len);
        break;
    default:
        rsa_handshake(p, len);
        break;
    }
    return 0;
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "collectors/kasa/aes_passthrough.h"

static const char HEADER[] = "-----BEGIN PUBLIC KEY-----\n";
static const char FOOTER[] = "\n-----END PUBLIC KEY-----\n";

/* What a device does with our PEM: parse it back into a public key. */
static EVP_PKEY *device_parse_pem(const char *pem)
{
    size_t len = strlen(pem);
    if (len < sizeof HEADER + sizeof FOOTER || strncmp(pem, HEADER, strlen(HEADER)) != 0 ||
        strcmp(pem + len - strlen(FOOTER), FOOTER) != 0)
        return NULL;
    const char *b64 = pem + strlen(HEADER);
    size_t b64_len = len - strlen(HEADER) - strlen(FOOTER);
    if (memchr(b64, '\n', b64_len))
        return NULL; /* one line, as python-kasa sends it */
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (aes_b64_decode(b64, b64_len, &der, &der_len) != AES_OK)
        return NULL;
    const unsigned char *p = der;
    EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)der_len);
    free(der);
    return pk;
}

/* The device side of the handshake: encrypt plain with the client's public key. */
static char *device_encrypt_b64(EVP_PKEY *pub, const uint8_t *plain, size_t len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
    uint8_t out[512];
    size_t out_len = sizeof out;
    assert_int_equal(EVP_PKEY_encrypt(ctx, out, &out_len, plain, len), 1);
    EVP_PKEY_CTX_free(ctx);
    return aes_b64_encode(out, out_len, NULL);
}

static char *reply_with_key(const char *b64)
{
    json_t *j = json_pack("{s:i,s:{s:s}}", "error_code", 0, "result", "key", b64);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static enum aes_status handshake(const struct aes_keypair *kp, const char *json,
                                 struct aes_session *s, long long *code)
{
    return aes_handshake_reply(kp, json, strlen(json), s, code);
}

static void test_keypair_and_request(void **state)
{
    struct aes_keypair kp;
    assert_int_equal(aes_keypair_generate(&kp), AES_OK);
    assert_non_null(kp.pkey);
    EVP_PKEY *pub = device_parse_pem(kp.pem);
    assert_non_null(pub);
    assert_int_equal(EVP_PKEY_get_bits(pub), 1024);
    assert_true(EVP_PKEY_is_a(pub, "RSA"));
    EVP_PKEY_free(pub);

    size_t len = 0;
    char *req = aes_handshake_request(&kp, &len);
    assert_non_null(req);
    assert_int_equal(len, strlen(req));
    /* python-kasa hard-codes Content-Length 314 for this body with an RSA-1024 key. */
    assert_int_equal(len, 314);
    json_error_t jerr;
    json_t *j = json_loads(req, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "handshake");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "params"), "key")),
                        kp.pem);
    json_decref(j);
    free(req);

    struct aes_keypair other;
    assert_int_equal(aes_keypair_generate(&other), AES_OK);
    assert_string_not_equal(kp.pem, other.pem);
    aes_keypair_free(&other);
    aes_keypair_free(&kp);
    assert_null(kp.pkey);
    assert_int_equal(kp.pem[0], 0);
    aes_keypair_free(&kp); /* twice is harmless */
}

static void test_handshake_round_trip(void **state)
{
    struct aes_keypair kp;
    assert_int_equal(aes_keypair_generate(&kp), AES_OK);
    EVP_PKEY *pub = device_parse_pem(kp.pem);
    assert_non_null(pub);
    uint8_t secret[32];
    assert_int_equal(RAND_bytes(secret, sizeof secret), 1);
    char *b64 = device_encrypt_b64(pub, secret, 32);
    char *reply = reply_with_key(b64);

    struct aes_session s;
    long long code = 42;
    assert_int_equal(handshake(&kp, reply, &s, &code), AES_OK);
    assert_int_equal(code, 0);
    assert_memory_equal(s.key, secret, 16);
    assert_memory_equal(s.iv, secret + 16, 16);

    /* Now the tunnel, both ways, with the keys each side holds. */
    const char inner[] = "{\"method\":\"get_device_info\",\"request_time_milis\":1}";
    size_t wlen = 0;
    char *wrapped = aes_wrap(&s, inner, strlen(inner), &wlen);
    assert_non_null(wrapped);
    assert_int_equal(wlen, strlen(wrapped));
    json_t *j = json_loads(wrapped, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "securePassthrough");
    const char *req_b64 =
        json_string_value(json_object_get(json_object_get(j, "params"), "request"));
    assert_non_null(req_b64);
    uint8_t *ct = NULL, *pt = NULL;
    size_t ct_len = 0, pt_len = 0;
    assert_int_equal(aes_b64_decode(req_b64, strlen(req_b64), &ct, &ct_len), AES_OK);
    assert_int_equal(aes_cbc_decrypt(secret, secret + 16, ct, ct_len, &pt, &pt_len), AES_OK);
    assert_int_equal(pt_len, strlen(inner));
    assert_string_equal((char *)pt, inner);
    free(ct);
    free(pt);
    json_decref(j);
    free(wrapped);

    const char answer[] = "{\"error_code\":0,\"result\":{\"device_on\":true}}";
    assert_int_equal(
        aes_cbc_encrypt(secret, secret + 16, (const uint8_t *)answer, strlen(answer), &ct, &ct_len),
        AES_OK);
    char *ans_b64 = aes_b64_encode(ct, ct_len, NULL);
    free(ct);
    j = json_pack("{s:i,s:{s:s}}", "error_code", 0, "result", "response", ans_b64);
    char *outer = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    free(ans_b64);
    char *got = NULL;
    size_t got_len = 0;
    assert_int_equal(aes_unwrap(&s, outer, strlen(outer), &got, &got_len, &code), AES_OK);
    assert_int_equal(got_len, strlen(answer));
    assert_string_equal(got, answer);
    free(got);
    free(outer);

    aes_session_clear(&s);
    const struct aes_session zero = {0};
    assert_memory_equal(&s, &zero, sizeof s);
    free(b64);
    free(reply);
    EVP_PKEY_free(pub);
    aes_keypair_free(&kp);
}

static void test_handshake_errors(void **state)
{
    struct aes_keypair kp, other;
    assert_int_equal(aes_keypair_generate(&kp), AES_OK);
    assert_int_equal(aes_keypair_generate(&other), AES_OK);
    EVP_PKEY *pub = device_parse_pem(kp.pem);
    EVP_PKEY *other_pub = device_parse_pem(other.pem);
    struct aes_session s;
    long long code = 0;
    uint8_t secret[32] = {1, 2, 3};

    assert_int_equal(handshake(&kp, "{\"error_code\":-1010}", &s, &code), AES_ERR_DEVICE);
    assert_int_equal(code, -1010);
    assert_int_equal(handshake(&kp, "{\"result\":{\"key\":\"AAAA\"}}", &s, &code),
                     AES_ERR_PROTOCOL);
    assert_int_equal(handshake(&kp, "not json", &s, &code), AES_ERR_PROTOCOL);
    assert_int_equal(handshake(&kp, "[0]", &s, &code), AES_ERR_PROTOCOL);
    assert_int_equal(handshake(&kp, "{\"error_code\":0}", &s, &code), AES_ERR_PROTOCOL);
    assert_int_equal(handshake(&kp, "{\"error_code\":0,\"result\":{\"key\":7}}", &s, &code),
                     AES_ERR_PROTOCOL);
    assert_int_equal(handshake(&kp, "{\"error_code\":0,\"result\":{\"key\":\"!!\"}}", &s, &code),
                     AES_ERR_PROTOCOL);
    /* A cipher text shorter than the modulus. */
    assert_int_equal(
        handshake(&kp, "{\"error_code\":0,\"result\":{\"key\":\"AAAAAAAA\"}}", &s, &code),
        AES_ERR_PROTOCOL);

    /* Right size, wrong plaintext length (16 instead of 32 bytes). */
    char *b64 = device_encrypt_b64(pub, secret, 16);
    char *reply = reply_with_key(b64);
    assert_int_equal(handshake(&kp, reply, &s, &code), AES_ERR_PROTOCOL);
    free(b64);
    free(reply);
    /* Encrypted for another key: the PKCS#1 padding check fails. */
    b64 = device_encrypt_b64(other_pub, secret, 32);
    reply = reply_with_key(b64);
    assert_int_equal(handshake(&kp, reply, &s, &code), AES_ERR_DECRYPT);
    free(b64);
    free(reply);
    /* Garbage of the right length. */
    uint8_t junk[128];
    memset(junk, 0x33, sizeof junk);
    b64 = aes_b64_encode(junk, sizeof junk, NULL);
    reply = reply_with_key(b64);
    assert_int_equal(handshake(&kp, reply, &s, &code), AES_ERR_DECRYPT);
    free(b64);
    free(reply);

    struct aes_keypair empty = {0};
    assert_int_equal(handshake(&empty, "{\"error_code\":0}", &s, &code), AES_ERR_ARG);
    assert_null(aes_handshake_request(&empty, NULL));
    EVP_PKEY_free(pub);
    EVP_PKEY_free(other_pub);
    aes_keypair_free(&kp);
    aes_keypair_free(&other);
}

/* Known answer computed with Python's cryptography package (an independent AES). */
static void test_wrap_known_answer(void **state)
{
    struct aes_session s;
    for (int i = 0; i < 16; i++) {
        s.key[i] = (uint8_t)i;
        s.iv[i] = (uint8_t)(16 + i);
    }
    const char inner[] = "{\"method\":\"get_device_info\",\"request_time_milis\":1700000000000}";
    size_t len = 0;
    char *w = aes_wrap(&s, inner, strlen(inner), &len);
    assert_string_equal(w, "{\"method\":\"securePassthrough\",\"params\":{\"request\":\""
                           "AoTU/alSJog6QIUAiFg+poF1hblZ8lh2QdzQZRpSQOki/npIuPRK4ikwCaZ3o/"
                           "aX4BIlRluvM9u0btLHXK0mPw==\"}}");
    free(w);
}

static void test_unwrap_errors(void **state)
{
    struct aes_session s = {{0}, {0}};
    char *out = NULL;
    size_t out_len = 0;
    long long code = 0;
#define UNWRAP(j) aes_unwrap(&s, j, strlen(j), &out, &out_len, &code)
    assert_int_equal(UNWRAP("{\"error_code\":9999}"), AES_ERR_DEVICE);
    assert_int_equal(code, 9999);
    assert_int_equal(UNWRAP("{\"error_code\":0,\"result\":{}}"), AES_ERR_PROTOCOL);
    assert_int_equal(UNWRAP("{\"error_code\":0,\"result\":{\"response\":\"%%%%\"}}"),
                     AES_ERR_PROTOCOL);
    /* 15 bytes: not whole AES blocks. */
    assert_int_equal(
        UNWRAP("{\"error_code\":0,\"result\":{\"response\":\"AAAAAAAAAAAAAAAAAAAA\"}}"),
        AES_ERR_PROTOCOL);
    /* Empty response. */
    assert_int_equal(UNWRAP("{\"error_code\":0,\"result\":{\"response\":\"\"}}"), AES_ERR_PROTOCOL);
    assert_int_equal(UNWRAP("{\"error_code\":\"0\",\"result\":{\"response\":\"\"}}"),
                     AES_ERR_PROTOCOL);
    /* One block that does not end in valid padding under this key. */
    uint8_t block[16] = {0};
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t raw[16];
    int n = 0;
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, s.key, s.iv), 1);
    EVP_CIPHER_CTX_set_padding(ctx, 0);
    assert_int_equal(EVP_EncryptUpdate(ctx, raw, &n, block, 16), 1);
    EVP_CIPHER_CTX_free(ctx);
    char *b64 = aes_b64_encode(raw, 16, NULL);
    char json[200];
    snprintf(json, sizeof json, "{\"error_code\":0,\"result\":{\"response\":\"%s\"}}", b64);
    free(b64);
    assert_int_equal(UNWRAP(json), AES_ERR_DECRYPT);
    assert_null(out);
#undef UNWRAP
}

static void test_login_request(void **state)
{
    struct secret u = {0}, p = {0};
    assert_int_equal(secret_set(&u, "user@example.com", 16), 0);
    assert_int_equal(secret_set(&p, "secret", 6), 0);
    size_t len = 0;
    char *v1 = aes_login_request(1, &u, &p, 1700000000000LL, &len);
    assert_string_equal(
        v1, "{\"method\":\"login_device\",\"params\":{\"password\":\"c2VjcmV0\","
            "\"username\":\"NjNhNzEwNTY5MjYxYTI0YjM3NjYyNzViNzAwMGNlOGQ3YjMyZTJmNw==\"},"
            "\"request_time_milis\":1700000000000}");
    assert_int_equal(len, strlen(v1));
    aes_free_secret(v1, len);
    char *v2 = aes_login_request(2, &u, &p, 5, &len);
    assert_string_equal(
        v2, "{\"method\":\"login_device\",\"params\":{\"password2\":"
            "\"ZTVlOWZhMWJhMzFlY2QxYWU4NGY3NWNhYWE0NzRmM2E2NjNmMDVmNA==\","
            "\"username\":\"NjNhNzEwNTY5MjYxYTI0YjM3NjYyNzViNzAwMGNlOGQ3YjMyZTJmNw==\"},"
            "\"request_time_milis\":5}");
    aes_free_secret(v2, len);
    /* Blank credentials: sha1("") for the user, an empty password. */
    char *blank = aes_login_request(1, NULL, NULL, 0, &len);
    assert_string_equal(
        blank, "{\"method\":\"login_device\",\"params\":{\"password\":\"\","
               "\"username\":\"ZGEzOWEzZWU1ZTZiNGIwZDMyNTViZmVmOTU2MDE4OTBhZmQ4MDcwOQ==\"},"
               "\"request_time_milis\":0}");
    aes_free_secret(blank, len);
    assert_null(aes_login_request(3, &u, &p, 0, &len));
    secret_clear(&u);
    secret_clear(&p);
}

static void test_login_token(void **state)
{
    char token[AES_TOKEN_MAX];
    long long code = 0;
#define TOKEN(j) aes_login_token(j, strlen(j), token, &code)
    assert_int_equal(TOKEN("{\"error_code\":0,\"result\":{\"token\":\"ABC123def-._\"}}"), AES_OK);
    assert_string_equal(token, "ABC123def-._");
    assert_int_equal(TOKEN("{\"error_code\":-1501}"), AES_ERR_DEVICE);
    assert_int_equal(code, -1501);
    assert_string_equal(token, "");
    assert_int_equal(TOKEN("{\"error_code\":0,\"result\":{}}"), AES_ERR_PROTOCOL);
    assert_int_equal(TOKEN("{\"error_code\":0,\"result\":{\"token\":\"\"}}"), AES_ERR_PROTOCOL);
    assert_int_equal(TOKEN("{\"error_code\":0,\"result\":{\"token\":\"a b\"}}"), AES_ERR_PROTOCOL);
    assert_int_equal(TOKEN("{\"error_code\":0,\"result\":{\"token\":\"a\\nb\"}}"),
                     AES_ERR_PROTOCOL);
    char json[400];
    char longtok[AES_TOKEN_MAX + 1];
    memset(longtok, 'a', AES_TOKEN_MAX);
    longtok[AES_TOKEN_MAX] = '\0';
    snprintf(json, sizeof json, "{\"error_code\":0,\"result\":{\"token\":\"%s\"}}", longtok);
    assert_int_equal(TOKEN(json), AES_ERR_PROTOCOL);
    longtok[AES_TOKEN_MAX - 1] = '\0';
    snprintf(json, sizeof json, "{\"error_code\":0,\"result\":{\"token\":\"%s\"}}", longtok);
    assert_int_equal(TOKEN(json), AES_OK);
    assert_int_equal(strlen(token), AES_TOKEN_MAX - 1);
#undef TOKEN
}

static void expect_b64(const char *in, const char *out)
{
    uint8_t *got = NULL;
    size_t len = 0;
    enum aes_status st = aes_b64_decode(in, strlen(in), &got, &len);
    if (!out) {
        assert_int_equal(st, AES_ERR_PROTOCOL);
        assert_null(got);
        return;
    }
    assert_int_equal(st, AES_OK);
    assert_int_equal(len, strlen(out));
    assert_memory_equal(got, out, len);
    assert_int_equal(got[len], 0);
    free(got);
}

static void test_base64(void **state)
{
    expect_b64("", "");
    expect_b64("Zg==", "f");
    expect_b64("Zm8=", "fo");
    expect_b64("Zm9v", "foo");
    expect_b64("Zm9vYmFy", "foobar");
    expect_b64(" Zm9v\r\nYmE=\n", "fooba");
    expect_b64("Zg", NULL);
    expect_b64("Zg=", NULL);
    expect_b64("Z===", NULL);
    expect_b64("Zg===", NULL);
    expect_b64("Zg==Zg==", NULL);
    expect_b64("Zg=a", NULL);
    expect_b64("Zm9v!", NULL);
    expect_b64("Zm9-", NULL);
    expect_b64("=Zm9", NULL);
    const char nul[] = {'Z', 'm', '\0', 'v'};
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(aes_b64_decode(nul, sizeof nul, &got, &len), AES_ERR_PROTOCOL);

    const uint8_t bin[] = {0, 0xff, 0xfe, 0x10};
    char *enc = aes_b64_encode(bin, sizeof bin, &len);
    assert_string_equal(enc, "AP/+EA==");
    assert_int_equal(len, 8);
    assert_int_equal(aes_b64_decode(enc, len, &got, &len), AES_OK);
    assert_memory_equal(got, bin, sizeof bin);
    free(got);
    free(enc);
    enc = aes_b64_encode(NULL, 0, &len);
    assert_string_equal(enc, "");
    free(enc);
}

static void test_cbc_errors(void **state)
{
    uint8_t key[16] = {0}, iv[16] = {0}, *out = NULL;
    size_t len = 0;
    uint8_t buf[32] = {0};
    assert_int_equal(aes_cbc_decrypt(key, iv, buf, 0, &out, &len), AES_ERR_PROTOCOL);
    assert_int_equal(aes_cbc_decrypt(key, iv, buf, 17, &out, &len), AES_ERR_PROTOCOL);
    assert_int_equal(aes_cbc_decrypt(key, iv, NULL, 16, &out, &len), AES_ERR_ARG);
    assert_int_equal(aes_cbc_encrypt(key, iv, buf, (size_t)AES_PAYLOAD_MAX + 17, &out, &len),
                     AES_ERR_ARG);
    assert_null(out);
    assert_string_equal(aes_strerror(AES_ERR_DECRYPT), "decryption failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keypair_and_request), cmocka_unit_test(test_handshake_round_trip),
        cmocka_unit_test(test_handshake_errors),    cmocka_unit_test(test_wrap_known_answer),
        cmocka_unit_test(test_unwrap_errors),       cmocka_unit_test(test_login_request),
        cmocka_unit_test(test_login_token),         cmocka_unit_test(test_base64),
        cmocka_unit_test(test_cbc_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

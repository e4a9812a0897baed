/* AES "securePassthrough" (SMART.AES on HTTP /app): the pure parts. No I/O, no global state.
 *
 * Flow for a client:
 *   aes_keypair_generate(); POST aes_handshake_request() (exact Content-Length);
 *   aes_handshake_reply() -> struct aes_session (key and IV fixed for the session);
 *   aes_login_request() wrapped with aes_wrap(), reply through aes_unwrap() and
 *   aes_login_token(); later requests go to /app?token=<token>, each wrapped and unwrapped.
 * Also the AES-128-CBC and base64 primitives that KLAP and the SMART codec share. */
#ifndef TPLINK_KASA_AES_PASSTHROUGH_H
#define TPLINK_KASA_AES_PASSTHROUGH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/secret.h"

/* Bounds every input length: far above a plug reply, and inside OpenSSL's int lengths. */
#define AES_PAYLOAD_MAX (1024u * 1024u)
/* "-----BEGIN PUBLIC KEY-----\n" + one line of base64 SPKI + "\n-----END PUBLIC KEY-----\n"
 * for RSA-1024 is 268 bytes; room for a larger key. */
#define AES_PEM_MAX 1024
#define AES_TOKEN_MAX 128

enum aes_status {
    AES_OK = 0,
    AES_ERR_ARG,      /* NULL pointer, bad version, length above AES_PAYLOAD_MAX */
    AES_ERR_PROTOCOL, /* not JSON, a missing field, bad base64, wrong lengths */
    AES_ERR_DEVICE,   /* the device answered a non-zero error_code (see *error_code) */
    AES_ERR_DECRYPT,  /* RSA or AES decryption failed (bad padding, wrong key) */
    AES_ERR_CRYPTO,   /* OpenSSL failed otherwise */
    AES_ERR_NOMEM,
};

const char *aes_strerror(enum aes_status st);

/* --- primitives --------------------------------------------------------------------- */

/* AES-128-CBC with PKCS#7 padding; *out is malloc'd (decrypt: NUL-terminated, not
 * counted). Decrypt returns AES_ERR_PROTOCOL for a length that is not whole blocks and
 * AES_ERR_DECRYPT for bad padding. */
enum aes_status aes_cbc_encrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                                size_t len, uint8_t **out, size_t *out_len);
enum aes_status aes_cbc_decrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in,
                                size_t len, uint8_t **out, size_t *out_len);

/* Standard base64 with padding; returns a malloc'd NUL-terminated string or NULL. */
char *aes_b64_encode(const uint8_t *in, size_t len, size_t *out_len);
/* Strict decoding: ASCII whitespace is skipped, anything else outside the alphabet, a bad
 * length or misplaced '=' is AES_ERR_PROTOCOL. *out is malloc'd and NUL-terminated. */
enum aes_status aes_b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len);

/* --- handshake ---------------------------------------------------------------------- */

struct aes_keypair {
    void *pkey;            /* EVP_PKEY *, private; kept opaque to spare includers OpenSSL */
    char pem[AES_PEM_MAX]; /* public key, PEM with the base64 on one line, as devices accept */
};

/* Generates an RSA-1024 key pair (e = 65537) and its PEM public key. */
enum aes_status aes_keypair_generate(struct aes_keypair *kp);
/* Frees the key (OpenSSL wipes private key material) and zeroes the struct. */
void aes_keypair_free(struct aes_keypair *kp);

/* {"method":"handshake","params":{"key":"<PEM>"}}, compact: malloc'd, NUL-terminated,
 * *len is the exact Content-Length (314 for RSA-1024). */
char *aes_handshake_request(const struct aes_keypair *kp, size_t *len);

struct aes_session {
    uint8_t key[16];
    uint8_t iv[16];
};

/* Parses the handshake reply {"error_code":0,"result":{"key":"<base64>"}}: RSA PKCS#1 v1.5
 * decrypts the key with kp to exactly 32 bytes -> key (0..15) and iv (16..31).
 * A missing or non-integer error_code is AES_ERR_PROTOCOL, a non-zero one AES_ERR_DEVICE
 * with *error_code set (map it with smart_classify()). error_code may be NULL here and below. */
enum aes_status aes_handshake_reply(const struct aes_keypair *kp, const char *json, size_t len,
                                    struct aes_session *out, long long *error_code);
void aes_session_clear(struct aes_session *s);

/* --- tunnel ------------------------------------------------------------------------- */

/* {"method":"securePassthrough","params":{"request":"<base64(AES-CBC(inner))>"}}:
 * malloc'd, NUL-terminated, *len = Content-Length. */
char *aes_wrap(const struct aes_session *s, const char *inner, size_t inner_len, size_t *len);

/* Unwraps {"error_code":0,"result":{"response":"<base64>"}} into the inner JSON (malloc'd,
 * NUL-terminated). A non-zero outer error_code is AES_ERR_DEVICE with *error_code set. */
enum aes_status aes_unwrap(const struct aes_session *s, const char *json, size_t len, char **inner,
                           size_t *inner_len, long long *error_code);

/* The inner login_device request: username = base64(hex(sha1(user))), and for version 1
 * password = base64(pass), for version 2 (lv 2) password2 = base64(hex(sha1(pass))).
 * It carries credentials: release it with aes_free_secret(). NULL on failure. */
char *aes_login_request(int version, const struct secret *user, const struct secret *pass,
                        long long now_ms, size_t *len);
/* Wipes len bytes (plus the NUL) and frees; for buffers that held credentials. */
void aes_free_secret(char *buf, size_t len);

/* Takes result.token from the (unwrapped) login reply into token (NUL-terminated; printable
 * ASCII without spaces, else AES_ERR_PROTOCOL; percent-encode it for the URL). A non-zero
 * error_code is AES_ERR_DEVICE. */
enum aes_status aes_login_token(const char *json, size_t len, char token[AES_TOKEN_MAX],
                                long long *error_code);

#endif

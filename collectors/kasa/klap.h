/* KLAP v1/v2 (HTTP /app/handshake1, /app/handshake2, /app/request): the pure derivations.
 * No I/O and no global state; the HTTP state machine lives elsewhere and calls these.
 *
 * Flow for a client:
 *   klap_auth_init() for each credential candidate (configured, default, blank);
 *   klap_local_seed() -> POST /app/handshake1 with it;
 *   klap_handshake1_check() with each candidate until one matches the server hash;
 *   klap_handshake2_body() -> POST /app/handshake2;
 *   klap_session_init(); then per request klap_encrypt() -> POST /app/request?seq=<seq>,
 *   and klap_decrypt() on the reply with the same seq.
 * Wipe with klap_auth_clear() and klap_session_clear(). */
#ifndef TPLINK_KASA_KLAP_H
#define TPLINK_KASA_KLAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/secret.h"

#define KLAP_SEED_LEN 16
#define KLAP_HASH_LEN 32 /* server hash, handshake2 body, body signature */
#define KLAP_AUTH_MAX 32 /* v1 auth hash is 16 bytes, v2 32 */
#define KLAP_SIG_LEN 28
#define KLAP_HANDSHAKE1_REPLY_LEN (KLAP_SEED_LEN + KLAP_HASH_LEN)
/* Far above any plug reply; bounds allocations and keeps lengths inside OpenSSL's int. */
#define KLAP_PAYLOAD_MAX (1024u * 1024u)

enum klap_status {
    KLAP_OK = 0,
    KLAP_ERR_ARG,       /* bad version, NULL pointer, payload above KLAP_PAYLOAD_MAX */
    KLAP_ERR_FORMAT,    /* body of the wrong length (short, not whole blocks) */
    KLAP_ERR_AUTH,      /* handshake1 server hash does not match these credentials */
    KLAP_ERR_SIGNATURE, /* body signature does not match */
    KLAP_ERR_DECRYPT,   /* bad PKCS#7 padding: wrong key, seq or corrupt body */
    KLAP_ERR_CRYPTO,    /* OpenSSL failed (RAND_bytes, digest, cipher) */
    KLAP_ERR_NOMEM,
};

/* The credential hash; version 1 = md5(md5(user) || md5(pass)) (16 B), version 2 =
 * sha256(sha1(user) || sha1(pass)) (32 B). It is password-equivalent: wipe it. */
struct klap_auth {
    int version;
    size_t len;
    uint8_t hash[KLAP_AUTH_MAX];
};

/* Per-session keys. seq is the last sequence number used (seq0 right after init). */
struct klap_session {
    uint8_t key[16];
    uint8_t iv12[12];
    uint8_t sig[KLAP_SIG_LEN];
    int32_t seq;
};

/* One short English phrase for a status; never contains key material. */
const char *klap_strerror(enum klap_status st);

/* Computes the auth hash for version 1 or 2 (lv >= 2 or new_klap selects 2). A NULL
 * secret or one with no bytes is the blank credential "". */
enum klap_status klap_auth_init(struct klap_auth *a, int version, const struct secret *user,
                                const struct secret *pass);
void klap_auth_clear(struct klap_auth *a);

/* Draws the 16 random bytes that are the body of POST /app/handshake1 (RAND_bytes). */
enum klap_status klap_local_seed(uint8_t seed[KLAP_SEED_LEN]);

/* The hash a device holding `a` puts after its remote seed in the handshake1 reply:
 * v1 sha256(local || auth), v2 sha256(local || remote || auth). Device side and tests. */
enum klap_status klap_handshake1_server_hash(const struct klap_auth *a,
                                             const uint8_t local_seed[KLAP_SEED_LEN],
                                             const uint8_t remote_seed[KLAP_SEED_LEN],
                                             uint8_t out[KLAP_HASH_LEN]);

/* Checks a handshake1 reply (remote_seed(16) || server_hash(32)) against credentials `a`:
 * KLAP_OK and remote_seed filled on a match (constant-time compare), KLAP_ERR_AUTH on a
 * mismatch (try the next candidate; no new round trip needed), KLAP_ERR_FORMAT unless the
 * reply is exactly 48 bytes. */
enum klap_status klap_handshake1_check(const struct klap_auth *a,
                                       const uint8_t local_seed[KLAP_SEED_LEN],
                                       const uint8_t *reply, size_t reply_len,
                                       uint8_t remote_seed[KLAP_SEED_LEN]);

/* Body of POST /app/handshake2: v1 sha256(remote || auth), v2 sha256(remote || local || auth). */
enum klap_status klap_handshake2_body(const struct klap_auth *a,
                                      const uint8_t local_seed[KLAP_SEED_LEN],
                                      const uint8_t remote_seed[KLAP_SEED_LEN],
                                      uint8_t out[KLAP_HASH_LEN]);

/* Derives key, iv12, sig and seq0 (identical for v1 and v2 given the auth hash). */
enum klap_status klap_session_init(struct klap_session *s, const struct klap_auth *a,
                                   const uint8_t local_seed[KLAP_SEED_LEN],
                                   const uint8_t remote_seed[KLAP_SEED_LEN]);
void klap_session_clear(struct klap_session *s);

/* Advances seq by one, wrapping from INT32_MAX to INT32_MIN as the signed 32-bit field on
 * the wire does, and returns the new value. klap_encrypt calls it; exposed for tests. */
int32_t klap_next_seq(struct klap_session *s);

/* The full 16-byte IV for a sequence number: iv12 || int32_be(seq). */
void klap_iv(const struct klap_session *s, int32_t seq, uint8_t iv[16]);

/* Encrypts one request: seq = klap_next_seq(s), then *body (malloc'd) =
 * sha256(sig || int32_be(seq) || ct) || ct with ct = AES-128-CBC-PKCS7(plaintext).
 * *seq_out goes in the URL as ?seq=<signed decimal>. On failure seq is not advanced. */
enum klap_status klap_encrypt(struct klap_session *s, const uint8_t *plaintext, size_t len,
                              uint8_t **body, size_t *body_len, int32_t *seq_out);

/* The same framing for a given seq without advancing: the device side of a reply. */
enum klap_status klap_seal(const struct klap_session *s, int32_t seq, const uint8_t *plaintext,
                           size_t len, uint8_t **body, size_t *body_len);

/* Decrypts a body (request or reply) framed as above with the request's seq. *plaintext is
 * malloc'd and NUL-terminated (not counted in *len). With check_sig the leading 32 bytes
 * must equal sha256(sig || int32_be(seq) || ct) (constant-time), else KLAP_ERR_SIGNATURE.
 * Request signatures are confirmed by the reference vectors; that devices sign replies the
 * same way is an assumption (python-kasa skips the check), so a transport should be able to
 * turn check_sig off for a device that fails it. */
enum klap_status klap_decrypt(const struct klap_session *s, int32_t seq, const uint8_t *body,
                              size_t body_len, bool check_sig, uint8_t **plaintext, size_t *len);

#endif

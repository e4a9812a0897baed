/* The HTTP side of a simulated newer-firmware plug (klap_sim.h). The cryptography is the
 * protocol's own (the KLAP derivations of klap.c, AES-CBC and base64), so it is shared;
 * the device's decisions (sessions, cookies, which login fields it wants, its answers to
 * the wrong ones) are written here. */
#include "sim/klap_sim.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "collectors/kasa/aes_passthrough.h"
#include "collectors/kasa/klap.h"
#include "daemon/log.h"
#include "daemon/mhd_loop.h"
#include "sim/sim_http.h"

#define BODY_MAX (64u * 1024u)
#define SESSIONS 8 /* the oldest is forgotten when a ninth handshake comes */
#define ID_LEN 32
#define CRED_MAX 128
#define CONN_TIMEOUT_S 15
#define CONN_LIMIT 16

/* SMART error codes. */
#define E_SESSION_TIMEOUT 9999
#define E_LOGIN (-1501)
#define E_UNKNOWN_METHOD (-1002)
#define E_JSON (-1003)

struct session {
    bool used;
    char id[ID_LEN + 1];
    ev_tstamp created, expires;
    /* KLAP */
    uint8_t local[KLAP_SEED_LEN], remote[KLAP_SEED_LEN];
    bool confirmed;
    struct klap_session ks;
    /* AES */
    uint8_t key[16], iv[16];
    bool logged_in;
    char token[ID_LEN + 1];
};

struct klap_sim {
    struct ev_loop *loop;
    struct sim_http http;
    enum klap_sim_kind kind;
    int version;
    char name[96];
    char addr[INET6_ADDRSTRLEN];
    char user[CRED_MAX + 1], pass[CRED_MAX + 1];
    struct klap_auth auth; /* KLAP: the hash of the device's account */
    unsigned timeout_s;
    klap_sim_handler handler;
    void *handler_ctx;
    struct session sessions[SESSIONS];
    struct klap_sim_stats stats;
};

struct req {
    size_t len;
    bool too_big;
    uint8_t body[]; /* BODY_MAX + 1 */
};

/* ---- helpers ---- */

static void random_id(char out[ID_LEN + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    uint8_t raw[ID_LEN / 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        memset(raw, 0x42, sizeof raw);
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[ID_LEN] = '\0';
}

static void session_clear(struct session *s)
{
    klap_session_clear(&s->ks);
    explicit_bzero(s, sizeof *s);
}

static struct session *session_new(struct klap_sim *ks)
{
    struct session *slot = &ks->sessions[0];
    for (size_t i = 0; i < SESSIONS; i++) {
        struct session *s = &ks->sessions[i];
        if (!s->used) {
            slot = s;
            break;
        }
        if (s->created < slot->created)
            slot = s;
    }
    session_clear(slot);
    slot->used = true;
    random_id(slot->id);
    slot->created = ev_now(ks->loop);
    slot->expires = slot->created + ks->timeout_s;
    return slot;
}

static struct session *session_find(struct klap_sim *ks, const char *id)
{
    if (!id)
        return NULL;
    for (size_t i = 0; i < SESSIONS; i++) {
        struct session *s = &ks->sessions[i];
        if (s->used && strcmp(s->id, id) == 0) {
            if (ev_now(ks->loop) >= s->expires) {
                session_clear(s);
                return NULL;
            }
            return s;
        }
    }
    return NULL;
}

static MHD_RESULT respond(struct MHD_Connection *conn, unsigned status, const void *body,
                          size_t len, const char *type, const struct session *set_cookie,
                          unsigned timeout_s)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (set_cookie) {
        /* As the devices send it: TIMEOUT in the attribute position of the same header. */
        char line[ID_LEN + 64];
        snprintf(line, sizeof line, "TP_SESSIONID=%s;TIMEOUT=%u", set_cookie->id, timeout_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, line);
    }
    MHD_RESULT ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static MHD_RESULT respond_json(struct MHD_Connection *conn, json_t *j,
                               const struct session *set_cookie, unsigned timeout_s)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return respond(conn, 500, NULL, 0, NULL, NULL, 0);
    MHD_RESULT r = respond(conn, 200, text, strlen(text), "application/json;charset=UTF-8",
                           set_cookie, timeout_s);
    free(text);
    return r;
}

static MHD_RESULT respond_code(struct MHD_Connection *conn, int code)
{
    return respond_json(conn, json_pack("{s:i}", "error_code", code), NULL, 0);
}

/* ---- KLAP ---- */

static MHD_RESULT klap_handshake1(struct klap_sim *ks, struct MHD_Connection *conn,
                                  const struct req *r)
{
    if (r->len != KLAP_SEED_LEN)
        return respond(conn, 400, NULL, 0, NULL, NULL, 0);
    struct session *s = session_new(ks);
    memcpy(s->local, r->body, KLAP_SEED_LEN);
    uint8_t out[KLAP_HANDSHAKE1_REPLY_LEN];
    if (RAND_bytes(s->remote, KLAP_SEED_LEN) != 1 ||
        klap_handshake1_server_hash(&ks->auth, s->local, s->remote, out + KLAP_SEED_LEN) !=
            KLAP_OK) {
        session_clear(s);
        return respond(conn, 500, NULL, 0, NULL, NULL, 0);
    }
    memcpy(out, s->remote, KLAP_SEED_LEN);
    ks->stats.handshakes++;
    return respond(conn, 200, out, sizeof out, "application/octet-stream", s, ks->timeout_s);
}

static MHD_RESULT klap_handshake2(struct klap_sim *ks, struct MHD_Connection *conn,
                                  const struct req *r, struct session *s)
{
    uint8_t want[KLAP_HASH_LEN];
    if (!s || s->confirmed) {
        ks->stats.forbidden++;
        return respond(conn, 403, NULL, 0, NULL, NULL, 0);
    }
    if (klap_handshake2_body(&ks->auth, s->local, s->remote, want) != KLAP_OK ||
        r->len != KLAP_HASH_LEN || CRYPTO_memcmp(want, r->body, KLAP_HASH_LEN) != 0 ||
        klap_session_init(&s->ks, &ks->auth, s->local, s->remote) != KLAP_OK) {
        ks->stats.auth_failures++;
        ks->stats.forbidden++;
        session_clear(s);
        return respond(conn, 403, NULL, 0, NULL, NULL, 0);
    }
    s->confirmed = true;
    ks->stats.sessions++;
    return respond(conn, 200, NULL, 0, NULL, NULL, 0);
}

static bool parse_seq(const char *text, int32_t *out)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

static MHD_RESULT klap_request(struct klap_sim *ks, struct MHD_Connection *conn,
                               const struct req *r, struct session *s)
{
    int32_t seq;
    if (!parse_seq(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "seq"), &seq))
        return respond(conn, 400, NULL, 0, NULL, NULL, 0);
    if (!s || !s->confirmed) {
        ks->stats.forbidden++;
        return respond(conn, 403, NULL, 0, NULL, NULL, 0);
    }
    uint8_t *plain = NULL;
    size_t plen = 0;
    if (klap_decrypt(&s->ks, seq, r->body, r->len, true, &plain, &plen) != KLAP_OK)
        return respond(conn, 400, NULL, 0, NULL, NULL, 0);
    char *reply = ks->handler(ks->handler_ctx, (const char *)plain, plen);
    free(plain);
    if (!reply)
        return respond(conn, 500, NULL, 0, NULL, NULL, 0);
    uint8_t *body = NULL;
    size_t blen = 0;
    enum klap_status st =
        klap_seal(&s->ks, seq, (const uint8_t *)reply, strlen(reply), &body, &blen);
    free(reply);
    if (st != KLAP_OK)
        return respond(conn, 500, NULL, 0, NULL, NULL, 0);
    ks->stats.requests++;
    MHD_RESULT ret = respond(conn, 200, body, blen, "application/octet-stream", NULL, 0);
    free(body);
    return ret;
}

static MHD_RESULT klap_dispatch(struct klap_sim *ks, struct MHD_Connection *conn, const char *url,
                                const struct req *r)
{
    const char *id = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "TP_SESSIONID");
    if (strcmp(url, "/app/handshake1") == 0)
        return klap_handshake1(ks, conn, r);
    if (MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "TIMEOUT")) {
        /* Devices do not like to get TIMEOUT back (python-kasa): refuse it outright. */
        ks->stats.timeout_cookies++;
        ks->stats.forbidden++;
        return respond(conn, 403, NULL, 0, NULL, NULL, 0);
    }
    struct session *s = session_find(ks, id);
    if (strcmp(url, "/app/handshake2") == 0)
        return klap_handshake2(ks, conn, r, s);
    if (strcmp(url, "/app/request") == 0)
        return klap_request(ks, conn, r, s);
    return respond(conn, 404, NULL, 0, NULL, NULL, 0);
}

/* ---- AES ---- */

static MHD_RESULT aes_handshake(struct klap_sim *ks, struct MHD_Connection *conn, json_t *req)
{
    const char *pem = json_string_value(json_object_get(json_object_get(req, "params"), "key"));
    if (!pem)
        return respond_code(conn, -1010); /* params error */
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pub = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!pub)
        return respond_code(conn, -1010);
    uint8_t keyiv[32], enc[512];
    size_t enclen = sizeof enc;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    bool ok = ctx && RAND_bytes(keyiv, sizeof keyiv) == 1 && EVP_PKEY_encrypt_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
              EVP_PKEY_encrypt(ctx, enc, &enclen, keyiv, sizeof keyiv) == 1;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pub);
    char *b64 = ok ? aes_b64_encode(enc, enclen, NULL) : NULL;
    if (!b64) {
        explicit_bzero(keyiv, sizeof keyiv);
        return respond_code(conn, -1010);
    }
    struct session *s = session_new(ks);
    memcpy(s->key, keyiv, 16);
    memcpy(s->iv, keyiv + 16, 16);
    explicit_bzero(keyiv, sizeof keyiv);
    ks->stats.handshakes++;
    json_t *j = json_pack("{s:i, s:{s:s}}", "error_code", 0, "result", "key", b64);
    free(b64);
    return respond_json(conn, j, s, ks->timeout_s);
}

/* base64 of the lowercase hex SHA-1 of text, as login_device carries the account. */
static char *b64_hex_sha1(const char *text)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t md[20];
    char h[41];
    if (EVP_Digest(text, strlen(text), md, NULL, EVP_sha1(), NULL) != 1)
        return NULL;
    for (int i = 0; i < 20; i++) {
        h[2 * i] = hex[md[i] >> 4];
        h[2 * i + 1] = hex[md[i] & 15];
    }
    h[40] = '\0';
    return aes_b64_encode((const uint8_t *)h, 40, NULL);
}

static bool same(const char *a, const char *b)
{
    return a && b && strlen(a) == strlen(b) && CRYPTO_memcmp(a, b, strlen(a)) == 0;
}

/* The inner reply to login_device. */
static json_t *aes_login(struct klap_sim *ks, struct session *s, json_t *params)
{
    const char *un = json_string_value(json_object_get(params, "username"));
    const char *pw =
        json_string_value(json_object_get(params, ks->version == 2 ? "password2" : "password"));
    char *want_un = b64_hex_sha1(ks->user);
    char *want_pw = ks->version == 2
                        ? b64_hex_sha1(ks->pass)
                        : aes_b64_encode((const uint8_t *)ks->pass, strlen(ks->pass), NULL);
    bool ok = same(un, want_un) && same(pw, want_pw);
    free(want_un);
    if (want_pw)
        aes_free_secret(want_pw, strlen(want_pw));
    if (!ok) {
        ks->stats.auth_failures++;
        s->logged_in = false;
        return json_pack("{s:i}", "error_code", E_LOGIN);
    }
    random_id(s->token);
    s->logged_in = true;
    ks->stats.sessions++;
    return json_pack("{s:i, s:{s:s}}", "error_code", 0, "result", "token", s->token);
}

static MHD_RESULT aes_passthrough(struct klap_sim *ks, struct MHD_Connection *conn, json_t *req,
                                  struct session *s)
{
    if (!s) {
        ks->stats.expired++;
        return respond_code(conn, E_SESSION_TIMEOUT);
    }
    const char *b64 = json_string_value(json_object_get(json_object_get(req, "params"), "request"));
    uint8_t *ct = NULL, *plain = NULL;
    size_t ctlen = 0, plen = 0;
    if (!b64 || aes_b64_decode(b64, strlen(b64), &ct, &ctlen) != AES_OK)
        return respond_code(conn, -1010);
    enum aes_status as = aes_cbc_decrypt(s->key, s->iv, ct, ctlen, &plain, &plen);
    free(ct);
    if (as != AES_OK)
        return respond_code(conn, -1005); /* AES decode failure */
    json_t *inner = json_loadb((const char *)plain, plen, 0, NULL);
    const char *method = json_string_value(json_object_get(inner, "method"));
    char *reply = NULL;
    if (!json_is_object(inner)) {
        json_t *e = json_pack("{s:i}", "error_code", E_JSON);
        reply = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
    } else if (method && strcmp(method, "login_device") == 0) {
        json_t *r = aes_login(ks, s, json_object_get(inner, "params"));
        reply = r ? json_dumps(r, JSON_COMPACT) : NULL;
        json_decref(r);
    } else {
        const char *token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
        if (!s->logged_in || !same(token, s->token)) {
            json_decref(inner);
            aes_free_secret((char *)plain, plen);
            ks->stats.expired++;
            return respond_code(conn, E_SESSION_TIMEOUT);
        }
        reply = ks->handler(ks->handler_ctx, (const char *)plain, plen);
        if (reply)
            ks->stats.requests++;
    }
    json_decref(inner);
    aes_free_secret((char *)plain, plen); /* may hold the login */
    if (!reply)
        return respond(conn, 500, NULL, 0, NULL, NULL, 0);
    uint8_t *enc = NULL;
    size_t enclen = 0;
    as = aes_cbc_encrypt(s->key, s->iv, (const uint8_t *)reply, strlen(reply), &enc, &enclen);
    free(reply);
    char *out = as == AES_OK ? aes_b64_encode(enc, enclen, NULL) : NULL;
    free(enc);
    if (!out)
        return respond(conn, 500, NULL, 0, NULL, NULL, 0);
    json_t *j = json_pack("{s:i, s:{s:s}}", "error_code", 0, "result", "response", out);
    free(out);
    return respond_json(conn, j, NULL, 0);
}

static MHD_RESULT aes_dispatch(struct klap_sim *ks, struct MHD_Connection *conn, const char *url,
                               const struct req *r)
{
    if (strcmp(url, "/app") != 0)
        return respond(conn, 404, NULL, 0, NULL, NULL, 0);
    if (!MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        /* "Device needs the content length or it will response with 500" (python-kasa) */
        ks->stats.missing_length++;
        return respond(conn, 500, NULL, 0, NULL, NULL, 0);
    }
    json_t *req = json_loadb((const char *)r->body, r->len, 0, NULL);
    const char *method = json_string_value(json_object_get(req, "method"));
    MHD_RESULT ret;
    if (!json_is_object(req) || !method) {
        ret = respond_code(conn, E_JSON);
    } else if (strcmp(method, "handshake") == 0) {
        ret = aes_handshake(ks, conn, req);
    } else if (strcmp(method, "securePassthrough") == 0) {
        const char *id = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "TP_SESSIONID");
        ret = aes_passthrough(ks, conn, req, session_find(ks, id));
    } else {
        ret = respond_code(conn, E_UNKNOWN_METHOD);
    }
    json_decref(req);
    return ret;
}

/* ---- MHD glue ---- */

static MHD_RESULT handler(void *cls, struct MHD_Connection *conn, const char *url,
                          const char *method, const char *version, const char *upload_data,
                          size_t *upload_data_size, void **con_cls)
{
    struct klap_sim *ks = cls;
    struct req *r = *con_cls;
    if (!r) {
        if (strcmp(method, "POST") != 0)
            return respond(conn, 405, NULL, 0, NULL, NULL, 0);
        r = malloc(sizeof *r + BODY_MAX + 1);
        if (!r)
            return MHD_NO;
        r->len = 0;
        r->too_big = false;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (*upload_data_size > BODY_MAX - r->len)
            r->too_big = true;
        else {
            memcpy(r->body + r->len, upload_data, *upload_data_size);
            r->len += *upload_data_size;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        return respond(conn, 413, NULL, 0, NULL, NULL, 0);
    r->body[r->len] = 0;
    return ks->kind == KLAP_SIM_KLAP ? klap_dispatch(ks, conn, url, r)
                                     : aes_dispatch(ks, conn, url, r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    if (r) {
        explicit_bzero(r->body, r->len);
        free(r);
    }
    *con_cls = NULL;
}

static bool cred_ok(const char *s)
{
    if (strlen(s) > CRED_MAX)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

struct klap_sim *klap_sim_start(struct ev_loop *loop, const struct klap_sim_opts *opts, char *err,
                                size_t errlen)
{
    const char *addr = opts->addr ? opts->addr : "127.0.0.1";
    const char *name = opts->name ? opts->name : "klapsim";
    const char *user = opts->username ? opts->username : "";
    const char *pass = opts->password ? opts->password : "";
    if (opts->kind != KLAP_SIM_KLAP && opts->kind != KLAP_SIM_AES) {
        snprintf(err, errlen, "%s: unknown transport", name);
        return NULL;
    }
    if (opts->version != 1 && opts->version != 2) {
        snprintf(err, errlen, "%s: version %d, expected 1 or 2", name, opts->version);
        return NULL;
    }
    if (!opts->handler) {
        snprintf(err, errlen, "%s: no request handler", name);
        return NULL;
    }
    if (!cred_ok(user) || !cred_ok(pass)) {
        snprintf(err, errlen, "%s: user name and password must be at most %d printable bytes", name,
                 CRED_MAX);
        return NULL;
    }
    struct sockaddr_storage ss;
    char why[256];
    if (sim_loopback_sockaddr(addr, opts->port, &ss, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", name, why);
        return NULL;
    }
    struct klap_sim *ks = calloc(1, sizeof *ks);
    if (!ks) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    ks->loop = loop;
    ks->kind = opts->kind;
    ks->version = opts->version;
    ks->handler = opts->handler;
    ks->handler_ctx = opts->handler_ctx;
    ks->timeout_s = opts->session_timeout_s ? opts->session_timeout_s : 86400u;
    snprintf(ks->addr, sizeof ks->addr, "%s", addr);
    snprintf(ks->user, sizeof ks->user, "%s", user);
    snprintf(ks->pass, sizeof ks->pass, "%s", pass);
    snprintf(ks->name, sizeof ks->name, "%s", name);
    if (ks->kind == KLAP_SIM_KLAP) {
        struct secret u = {ks->user, strlen(ks->user)}, p = {ks->pass, strlen(ks->pass)};
        if (klap_auth_init(&ks->auth, ks->version, &u, &p) != KLAP_OK) {
            snprintf(err, errlen, "%s: cannot hash the credentials", name);
            klap_sim_stop(ks);
            return NULL;
        }
    }
    const struct sim_http_opts ho = {
        .name = ks->name,
        .addr = addr,
        .port = opts->port,
        .conn_limit = CONN_LIMIT,
        .conn_timeout_s = CONN_TIMEOUT_S,
        .handler = handler,
        .handler_cls = ks,
        .completed = completed,
        .completed_cls = ks,
    };
    if (sim_http_start(&ks->http, loop, &ss, &ho, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s: %s", name, why);
        klap_sim_stop(ks);
        return NULL;
    }
    log_msg(LOG_DEBUG, ks->name, "%s v%d listening on %s:%u",
            ks->kind == KLAP_SIM_KLAP ? "KLAP" : "AES", ks->version, ks->addr,
            (unsigned)ks->http.port);
    return ks;
}

void klap_sim_stop(struct klap_sim *ks)
{
    if (!ks)
        return;
    sim_http_stop(&ks->http);
    for (size_t i = 0; i < SESSIONS; i++)
        session_clear(&ks->sessions[i]);
    klap_auth_clear(&ks->auth);
    explicit_bzero(ks->user, sizeof ks->user);
    explicit_bzero(ks->pass, sizeof ks->pass);
    free(ks);
}

uint16_t klap_sim_port(const struct klap_sim *ks)
{
    return ks->http.port;
}

const char *klap_sim_addr(const struct klap_sim *ks)
{
    return ks->addr;
}

void klap_sim_expire_sessions(struct klap_sim *ks)
{
    for (size_t i = 0; i < SESSIONS; i++)
        session_clear(&ks->sessions[i]);
}

void klap_sim_get_stats(const struct klap_sim *ks, struct klap_sim_stats *out)
{
    *out = ks->stats;
}

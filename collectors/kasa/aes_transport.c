/* AES "securePassthrough" over HTTP (kasa-protocol.md §12): the state machine around the
 * pure parts of aes_passthrough.c. It carries SMART JSON only, so it may read the inner
 * reply's error_code: 9999 (session timeout) renews the session like an outer 9999 does.
 *
 * A failed login_device makes devices want a new handshake before the next attempt
 * (python-kasa notes a 9999 otherwise), so each credential candidate gets its own. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/kasa/aes_passthrough.h"
#include "collectors/kasa/http_transport.h"
#include "collectors/kasa/kasa_http.h"
#include "collectors/kasa/smart_json.h"
#include "daemon/log.h"

#define AES_CANDIDATES 4 /* configured (or blank), Tapo default; times two login versions */

enum phase { IDLE, HANDSHAKE, LOGIN, REQUEST };

struct candidate {
    int which; /* 0: configured or blank, 1: the Tapo default account */
    int version;
};

struct kasa_transport {
    struct ev_loop *loop;
    char device[80];
    struct kasa_http *http;
    struct secret user, pass; /* configured; empty = blank */
    struct candidate cand[AES_CANDIDATES];
    size_t ncand;
    size_t good; /* the candidate that last logged in: tried first */
    size_t attempt;
    bool keypair_ready;
    struct aes_keypair kp;

    /* The session. */
    bool have_session, logged_in;
    bool fresh;
    struct aes_session sess;
    char cookie[KASA_HTTP_COOKIE_MAX];
    bool have_cookie;
    char token_query[3 * AES_TOKEN_MAX + 16]; /* "/app?token=..." */
    unsigned timeout_cookie;
    ev_tstamp expires;
    bool announced;

    /* The request in flight. */
    enum phase phase;
    char *json;
    size_t json_len;
    char *out; /* the POST body */
    size_t out_len;
    bool retried;
    kasa_reply_fn cb;
    void *ctx;
};

static void drop_session(struct kasa_transport *t)
{
    t->have_session = t->logged_in = false;
    aes_session_clear(&t->sess);
    explicit_bzero(t->cookie, sizeof t->cookie);
    explicit_bzero(t->token_query, sizeof t->token_query);
    t->have_cookie = false;
}

static void free_out(struct kasa_transport *t)
{
    if (t->out)
        aes_free_secret(t->out, t->out_len); /* a login body carries the password */
    t->out = NULL;
    t->out_len = 0;
}

static void clear_request(struct kasa_transport *t)
{
    free_out(t);
    if (t->json) {
        explicit_bzero(t->json, t->json_len);
        free(t->json);
    }
    t->json = NULL;
    t->json_len = 0;
    t->cb = NULL;
    t->phase = IDLE;
}

static void answer(struct kasa_transport *t, enum poll_status st, const char *body, size_t len,
                   const char *detail)
{
    kasa_reply_fn cb = t->cb;
    void *ctx = t->ctx;
    if (st == POLL_ERR_AUTH || st == POLL_ERR_PROTOCOL)
        drop_session(t);
    clear_request(t);
    if (cb)
        cb(ctx, st, body, len, detail);
}

static void answerf(struct kasa_transport *t, enum poll_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void answerf(struct kasa_transport *t, enum poll_status st, const char *fmt, ...)
{
    char detail[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    answer(t, st, NULL, 0, detail);
}

static void on_http(void *ctx, const struct kasa_http_result *r);

static void post(struct kasa_transport *t, enum phase ph, const char *path)
{
    t->phase = ph;
    if (kasa_http_post(t->http, path, t->out, t->out_len, KASA_HTTP_JSON,
                       t->have_cookie && ph != HANDSHAKE ? t->cookie : NULL, on_http, t) < 0)
        answerf(t, POLL_ERR_CONNECT, "cannot start POST /app");
}

static void start_handshake(struct kasa_transport *t)
{
    drop_session(t);
    free_out(t);
    t->fresh = true;
    if (!t->keypair_ready) {
        if (aes_keypair_generate(&t->kp) != AES_OK) {
            answerf(t, POLL_ERR_PROTOCOL, "cannot generate the RSA key pair");
            return;
        }
        t->keypair_ready = true;
    }
    t->out = aes_handshake_request(&t->kp, &t->out_len);
    if (!t->out) {
        answerf(t, POLL_ERR_PROTOCOL, "out of memory for the handshake");
        return;
    }
    post(t, HANDSHAKE, "/app");
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void login(struct kasa_transport *t)
{
    const struct candidate *c = &t->cand[(t->good + t->attempt) % t->ncand];
    struct secret du = {0}, dp = {0};
    const struct secret *u = &t->user, *p = &t->pass;
    if (c->which == 1) {
        if (kasa_default_credentials(1, &du, &dp) < 0) {
            answerf(t, POLL_ERR_PROTOCOL, "out of memory for the login");
            return;
        }
        u = &du;
        p = &dp;
    }
    size_t ilen = 0;
    char *inner = aes_login_request(c->version, u, p, now_ms(), &ilen);
    secret_clear(&du);
    secret_clear(&dp);
    free_out(t);
    if (inner)
        t->out = aes_wrap(&t->sess, inner, ilen, &t->out_len);
    if (inner)
        aes_free_secret(inner, ilen);
    if (!t->out) {
        answerf(t, POLL_ERR_PROTOCOL, "cannot build the login request");
        return;
    }
    post(t, LOGIN, "/app");
}

static void send_request(struct kasa_transport *t)
{
    free_out(t);
    t->out = aes_wrap(&t->sess, t->json, t->json_len, &t->out_len);
    if (!t->out) {
        answerf(t, POLL_ERR_PROTOCOL, "cannot encrypt the request");
        return;
    }
    post(t, REQUEST, t->token_query);
}

static bool renew(struct kasa_transport *t, const char *why)
{
    if (t->retried || t->fresh)
        return false;
    log_msg(LOG_DEBUG, t->device, "AES session renewed: %s", why);
    t->retried = true;
    t->attempt = 0;
    start_handshake(t);
    return true;
}

/* The next credential candidate, on a new handshake; false when none is left. */
static bool next_candidate(struct kasa_transport *t)
{
    if (++t->attempt >= t->ncand)
        return false;
    start_handshake(t);
    return true;
}

static enum poll_status device_status(long long code)
{
    enum smart_status ss = smart_classify(code);
    return ss == SMART_AUTH ? POLL_ERR_AUTH : POLL_ERR_DEVICE;
}

static void on_handshake(struct kasa_transport *t, const struct kasa_http_result *r)
{
    if (r->status != 200) {
        answerf(t, POLL_ERR_DEVICE, "AES handshake answered HTTP %ld", r->status);
        return;
    }
    long long code = 0;
    enum aes_status as =
        aes_handshake_reply(&t->kp, (const char *)r->body, r->len, &t->sess, &code);
    if (as == AES_ERR_DEVICE) {
        answerf(t, device_status(code), "AES handshake refused with error_code %lld", code);
        return;
    }
    if (as != AES_OK) {
        answerf(t, POLL_ERR_PROTOCOL, "AES handshake: %s", aes_strerror(as));
        return;
    }
    t->have_session = true;
    const char *cookie = kasa_http_session_cookie(t->http);
    t->have_cookie = cookie != NULL;
    if (cookie)
        snprintf(t->cookie, sizeof t->cookie, "%s", cookie);
    t->timeout_cookie = kasa_http_timeout_cookie(t->http);
    t->expires = ev_now(t->loop) + kasa_session_lifetime(t->timeout_cookie);
    login(t);
}

static void set_token(struct kasa_transport *t, const char *token)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = (size_t)snprintf(t->token_query, sizeof t->token_query, "/app?token=");
    for (const char *c = token; *c && n + 4 < sizeof t->token_query; c++) {
        unsigned char ch = (unsigned char)*c;
        bool plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~';
        if (plain) {
            t->token_query[n++] = (char)ch;
        } else {
            t->token_query[n++] = '%';
            t->token_query[n++] = hex[ch >> 4];
            t->token_query[n++] = hex[ch & 15];
        }
    }
    t->token_query[n] = '\0';
}

static void on_login(struct kasa_transport *t, const struct kasa_http_result *r)
{
    if (r->status != 200) {
        answerf(t, POLL_ERR_DEVICE, "AES login answered HTTP %ld", r->status);
        return;
    }
    long long code = 0;
    char *inner = NULL;
    size_t ilen = 0;
    char token[AES_TOKEN_MAX];
    enum aes_status as = aes_unwrap(&t->sess, (const char *)r->body, r->len, &inner, &ilen, &code);
    if (as == AES_OK) {
        as = aes_login_token(inner, ilen, token, &code);
        free(inner);
    }
    if (as == AES_ERR_DEVICE && smart_classify(code) == SMART_AUTH) {
        if (!next_candidate(t))
            answerf(t, POLL_ERR_AUTH,
                    "AES login refused (error_code %lld) for the configured and the default "
                    "credentials",
                    code);
        return;
    }
    if (as == AES_ERR_DEVICE) {
        answerf(t, POLL_ERR_DEVICE, "AES login answered error_code %lld", code);
        return;
    }
    if (as != AES_OK) {
        answerf(t, POLL_ERR_PROTOCOL, "AES login reply: %s", aes_strerror(as));
        return;
    }
    set_token(t, token);
    explicit_bzero(token, sizeof token);
    t->logged_in = true;
    const struct candidate *c = &t->cand[(t->good + t->attempt) % t->ncand];
    t->good = (t->good + t->attempt) % t->ncand;
    t->attempt = 0;
    if (!t->announced) {
        t->announced = true;
        log_msg(LOG_INFO, t->device, "AES session, login v%d with the %s credentials", c->version,
                c->which                     ? "Tapo default"
                : t->user.len || t->pass.len ? "configured"
                                             : "blank");
    }
    send_request(t);
}

/* error_code at the top of the inner SMART reply; 0 when absent or not JSON. */
static long long inner_code(const char *json, size_t len)
{
    json_t *root = json_loadb(json, len, 0, NULL);
    json_t *ec = json_object_get(root, "error_code");
    long long code = json_is_integer(ec) ? (long long)json_integer_value(ec) : 0;
    json_decref(root);
    return code;
}

static void on_reply(struct kasa_transport *t, const struct kasa_http_result *r)
{
    if (r->status == 403 || r->status == 401) {
        drop_session(t);
        if (!renew(t, "HTTP 403"))
            answerf(t, POLL_ERR_DEVICE, "AES request answered HTTP %ld on a new session",
                    r->status);
        return;
    }
    if (r->status != 200) {
        answerf(t, POLL_ERR_DEVICE, "AES request answered HTTP %ld", r->status);
        return;
    }
    long long code = 0;
    char *inner = NULL;
    size_t ilen = 0;
    enum aes_status as = aes_unwrap(&t->sess, (const char *)r->body, r->len, &inner, &ilen, &code);
    if (as == AES_OK)
        code = inner_code(inner, ilen);
    enum smart_status ss = smart_classify(code);
    if ((as == AES_OK || as == AES_ERR_DEVICE) &&
        (ss == SMART_SESSION_EXPIRED || (as == AES_ERR_DEVICE && ss == SMART_AUTH))) {
        free(inner);
        drop_session(t);
        if (!renew(t, "session expired"))
            answerf(t, device_status(code), "AES request answered error_code %lld on a new session",
                    code);
        return;
    }
    if (as == AES_ERR_DEVICE) {
        answerf(t, device_status(code), "AES request answered error_code %lld", code);
        return;
    }
    if (as != AES_OK) {
        drop_session(t);
        if (!renew(t, aes_strerror(as)))
            answerf(t, POLL_ERR_PROTOCOL, "AES reply: %s", aes_strerror(as));
        return;
    }
    answer(t, POLL_OK, inner, ilen, NULL);
    free(inner);
}

static void on_http(void *ctx, const struct kasa_http_result *r)
{
    struct kasa_transport *t = ctx;
    if (r->st != POLL_OK) {
        if (t->phase == REQUEST && r->st != POLL_ERR_TIMEOUT) {
            drop_session(t);
            if (renew(t, r->detail))
                return;
        }
        if (t->phase != REQUEST)
            drop_session(t);
        answer(t, r->st, NULL, 0, r->detail);
        return;
    }
    switch (t->phase) {
    case HANDSHAKE:
        on_handshake(t, r);
        break;
    case LOGIN:
        on_login(t, r);
        break;
    case REQUEST:
        on_reply(t, r);
        break;
    case IDLE:
        break;
    }
}

/* --- ops -------------------------------------------------------------------------- */

static void aes_destroy(struct kasa_transport *t);

struct kasa_transport *kasa_aes_create(const struct kasa_http_opts *o, struct ev_loop *loop,
                                       char *err, size_t errlen)
{
    if (o->version < 0 || o->version > 2) {
        snprintf(err, errlen, "AES login version %d: expected 1 or 2", o->version);
        return NULL;
    }
    struct kasa_transport *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->loop = loop;
    snprintf(t->device, sizeof t->device, "%s", o->device ? o->device : o->host);
    if ((o->user && o->user->bytes && secret_set(&t->user, o->user->bytes, o->user->len) < 0) ||
        (o->pass && o->pass->bytes && secret_set(&t->pass, o->pass->bytes, o->pass->len) < 0)) {
        snprintf(err, errlen, "out of memory");
        aes_destroy(t);
        return NULL;
    }
    for (int which = 0; which < 2; which++)
        for (int v = 2; v >= 1; v--)
            if (!o->version || o->version == v)
                t->cand[t->ncand++] = (struct candidate){which, v};
    t->http = kasa_http_new(loop, o->host, o->port, o->timeout_s, err, errlen);
    if (!t->http) {
        aes_destroy(t);
        return NULL;
    }
    return t;
}

static struct kasa_transport *aes_create_cfg(const struct device_config *cfg, struct ev_loop *loop,
                                             char *err, size_t errlen)
{
    struct kasa_http_opts o;
    kasa_http_opts_from_config(cfg, &o);
    return kasa_aes_create(&o, loop, err, errlen);
}

static void aes_request(struct kasa_transport *t, const char *json, kasa_reply_fn cb, void *ctx)
{
    kasa_http_cancel(t->http);
    clear_request(t);
    t->cb = cb;
    t->ctx = ctx;
    t->retried = false;
    t->fresh = false;
    t->attempt = 0;
    size_t len = strlen(json);
    t->json = malloc(len + 1);
    if (!t->json) {
        answerf(t, POLL_ERR_PROTOCOL, "out of memory for the request");
        return;
    }
    memcpy(t->json, json, len + 1);
    t->json_len = len;
    if (t->logged_in && ev_now(t->loop) < t->expires)
        send_request(t);
    else
        start_handshake(t);
}

static void aes_cancel(struct kasa_transport *t)
{
    kasa_http_cancel(t->http);
    if (t->phase == HANDSHAKE || t->phase == LOGIN)
        drop_session(t);
    clear_request(t);
}

static void aes_end_poll(struct kasa_transport *t) {}

static void aes_destroy(struct kasa_transport *t)
{
    if (!t)
        return;
    kasa_http_free(t->http);
    t->http = NULL;
    clear_request(t);
    drop_session(t);
    if (t->keypair_ready)
        aes_keypair_free(&t->kp);
    secret_clear(&t->user);
    secret_clear(&t->pass);
    free(t);
}

const struct kasa_transport_ops kasa_aes_transport = {
    .name = "aes",
    .create = aes_create_cfg,
    .request = aes_request,
    .cancel = aes_cancel,
    .end_poll = aes_end_poll,
    .destroy = aes_destroy,
};

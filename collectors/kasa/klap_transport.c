/* KLAP over HTTP (kasa-protocol.md §11): the state machine around the pure derivations of
 * klap.c. handshake1 answers with the device's hash of its own credentials; every
 * candidate (configured, default accounts, blank; v1 and v2 when the version is open) is
 * checked against that one answer, so a wrong guess costs no round trip and cannot lock
 * anything out. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/kasa/aes_passthrough.h"
#include "collectors/kasa/http_transport.h"
#include "collectors/kasa/kasa_http.h"
#include "collectors/kasa/klap.h"
#include "daemon/log.h"

/* configured, Kasa default, Tapo default, blank; times two versions */
#define KLAP_CANDIDATES 8

enum phase { IDLE, HANDSHAKE1, HANDSHAKE2, REQUEST };

struct kasa_transport {
    struct ev_loop *loop;
    char device[80];
    struct kasa_http *http;

    struct klap_auth cand[KLAP_CANDIDATES];
    const char *cand_name[KLAP_CANDIDATES]; /* "configured", "Kasa default", ... */
    size_t ncand;
    int version; /* configured: 0, 1 or 2 */

    /* The session. */
    bool have_session;
    bool fresh; /* made for the request in flight */
    struct klap_session sess;
    char cookie[KASA_HTTP_COOKIE_MAX];
    bool have_cookie;
    ev_tstamp expires;
    unsigned timeout_cookie;
    uint8_t local_seed[KLAP_SEED_LEN], remote_seed[KLAP_SEED_LEN];
    size_t chosen;
    bool sig_off; /* the device signs replies otherwise than requests: stop checking */
    bool spoke;   /* see kasa_klap_spoke */
    bool announced;

    /* The request in flight. */
    enum phase phase;
    char *json;
    size_t json_len;
    uint8_t *body;
    size_t body_len;
    uint8_t hs2[KLAP_HASH_LEN];
    int32_t seq;
    bool retried;
    kasa_reply_fn cb;
    void *ctx;
};

/* --- credentials ------------------------------------------------------------------ */

/* TP-Link's built-in accounts, as the apps carry them (kasa-protocol.md §11). */
static const char *const default_b64[2][2] = {
    {"a2FzYUB0cC1saW5rLm5ldA==", "a2FzYVNldHVw"},
    {"dGVzdEB0cC1saW5rLm5ldA==", "dGVzdA=="},
};

int kasa_default_credentials(int which, struct secret *user, struct secret *pass)
{
    user->bytes = pass->bytes = NULL;
    user->len = pass->len = 0;
    if (which < 0 || which > 1)
        return -1;
    uint8_t *u = NULL, *p = NULL;
    size_t ulen = 0, plen = 0;
    const char *ub = default_b64[which][0], *pb = default_b64[which][1];
    if (aes_b64_decode(ub, strlen(ub), &u, &ulen) != AES_OK ||
        aes_b64_decode(pb, strlen(pb), &p, &plen) != AES_OK) {
        free(u);
        return -1;
    }
    int rc =
        secret_set(user, (const char *)u, ulen) == 0 && secret_set(pass, (const char *)p, plen) == 0
            ? 0
            : -1;
    explicit_bzero(u, ulen);
    explicit_bzero(p, plen);
    free(u);
    free(p);
    if (rc < 0) {
        secret_clear(user);
        secret_clear(pass);
    }
    return rc;
}

double kasa_session_lifetime(unsigned cookie)
{
    double t = cookie ? (double)cookie : (double)KASA_SESSION_DEFAULT_S;
    return t > 2.0 * KASA_SESSION_MARGIN_S ? t - KASA_SESSION_MARGIN_S : t / 2.0;
}

static bool has_secret(const struct secret *s)
{
    return s && s->bytes && s->len > 0;
}

static int add_candidates(struct kasa_transport *t, const char *name, const struct secret *user,
                          const struct secret *pass)
{
    for (int v = 2; v >= 1; v--) {
        if (t->version && t->version != v)
            continue;
        if (t->ncand >= KLAP_CANDIDATES ||
            klap_auth_init(&t->cand[t->ncand], v, user, pass) != KLAP_OK)
            return -1;
        t->cand_name[t->ncand++] = name;
    }
    return 0;
}

static int build_candidates(struct kasa_transport *t, const struct kasa_http_opts *o)
{
    if ((has_secret(o->user) || has_secret(o->pass)) &&
        add_candidates(t, "configured", o->user, o->pass) < 0)
        return -1;
    static const char *const names[2] = {"Kasa default", "Tapo default"};
    for (int i = 0; i < 2; i++) {
        struct secret u, p;
        if (kasa_default_credentials(i, &u, &p) < 0)
            return -1;
        int rc = add_candidates(t, names[i], &u, &p);
        secret_clear(&u);
        secret_clear(&p);
        if (rc < 0)
            return -1;
    }
    return add_candidates(t, "blank", NULL, NULL);
}

/* --- session ---------------------------------------------------------------------- */

static void drop_session(struct kasa_transport *t)
{
    t->have_session = false;
    klap_session_clear(&t->sess);
    explicit_bzero(t->cookie, sizeof t->cookie);
    t->have_cookie = false;
    explicit_bzero(t->local_seed, sizeof t->local_seed);
    explicit_bzero(t->remote_seed, sizeof t->remote_seed);
    explicit_bzero(t->hs2, sizeof t->hs2);
}

static void clear_request(struct kasa_transport *t)
{
    if (t->json) {
        explicit_bzero(t->json, t->json_len);
        free(t->json);
    }
    free(t->body);
    t->json = NULL;
    t->body = NULL;
    t->json_len = t->body_len = 0;
    t->cb = NULL;
    t->phase = IDLE;
}

/* Answers the request once; nothing of t is touched after the callback. */
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

static void post(struct kasa_transport *t, enum phase ph, const char *path, const void *body,
                 size_t len)
{
    t->phase = ph;
    if (kasa_http_post(t->http, path, body, len, KASA_HTTP_BINARY,
                       t->have_cookie && ph != HANDSHAKE1 ? t->cookie : NULL, on_http, t) < 0)
        answerf(t, POLL_ERR_CONNECT, "cannot start POST %s", path);
}

static void start_handshake(struct kasa_transport *t)
{
    drop_session(t);
    t->fresh = true;
    if (klap_local_seed(t->local_seed) != KLAP_OK) {
        answerf(t, POLL_ERR_PROTOCOL, "no random bytes for the KLAP seed");
        return;
    }
    post(t, HANDSHAKE1, "/app/handshake1", t->local_seed, sizeof t->local_seed);
}

static void send_request(struct kasa_transport *t)
{
    free(t->body);
    t->body = NULL;
    enum klap_status ks = klap_encrypt(&t->sess, (const uint8_t *)t->json, t->json_len, &t->body,
                                       &t->body_len, &t->seq);
    if (ks != KLAP_OK) {
        answerf(t, POLL_ERR_PROTOCOL, "cannot encrypt the request: %s", klap_strerror(ks));
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/app/request?seq=%ld", (long)t->seq);
    post(t, REQUEST, path, t->body, t->body_len);
}

/* A reused session failed in a way a new one may fix: handshake again, once. */
static bool renew(struct kasa_transport *t, const char *why)
{
    if (t->retried || t->fresh)
        return false;
    log_msg(LOG_DEBUG, t->device, "KLAP session renewed: %s", why);
    t->retried = true;
    start_handshake(t);
    return true;
}

static void on_handshake1(struct kasa_transport *t, const struct kasa_http_result *r)
{
    if (r->status != 200) {
        answerf(t, POLL_ERR_DEVICE, "KLAP handshake1 answered HTTP %ld", r->status);
        return;
    }
    if (r->len != KLAP_HANDSHAKE1_REPLY_LEN) {
        answerf(t, POLL_ERR_PROTOCOL, "KLAP handshake1 answer is %zu bytes, not %d", r->len,
                KLAP_HANDSHAKE1_REPLY_LEN);
        return;
    }
    t->spoke = true;
    size_t i;
    for (i = 0; i < t->ncand; i++)
        if (klap_handshake1_check(&t->cand[i], t->local_seed, r->body, r->len, t->remote_seed) ==
            KLAP_OK)
            break;
    if (i == t->ncand) {
        answerf(t, POLL_ERR_AUTH,
                "KLAP handshake1: the device holds other credentials than the configured, "
                "default or blank ones%s",
                t->version ? " (or another KLAP version)" : "");
        return;
    }
    t->chosen = i;
    const char *cookie = kasa_http_session_cookie(t->http);
    t->have_cookie = cookie != NULL;
    if (cookie)
        snprintf(t->cookie, sizeof t->cookie, "%s", cookie);
    t->timeout_cookie = kasa_http_timeout_cookie(t->http);
    klap_handshake2_body(&t->cand[i], t->local_seed, t->remote_seed, t->hs2);
    post(t, HANDSHAKE2, "/app/handshake2", t->hs2, sizeof t->hs2);
}

static void on_handshake2(struct kasa_transport *t, const struct kasa_http_result *r)
{
    explicit_bzero(t->hs2, sizeof t->hs2);
    if (r->status != 200) {
        answerf(t, POLL_ERR_DEVICE, "KLAP handshake2 answered HTTP %ld", r->status);
        return;
    }
    const struct klap_auth *a = &t->cand[t->chosen];
    if (klap_session_init(&t->sess, a, t->local_seed, t->remote_seed) != KLAP_OK) {
        answerf(t, POLL_ERR_PROTOCOL, "cannot derive the KLAP session keys");
        return;
    }
    t->have_session = true;
    t->expires = ev_now(t->loop) + kasa_session_lifetime(t->timeout_cookie);
    if (!t->announced) {
        t->announced = true;
        log_msg(LOG_INFO, t->device, "KLAP v%d session with the %s credentials", a->version,
                t->cand_name[t->chosen]);
    }
    send_request(t);
}

static void on_reply(struct kasa_transport *t, const struct kasa_http_result *r)
{
    t->spoke = true;
    if (r->status == 403) {
        drop_session(t);
        if (!renew(t, "HTTP 403"))
            answerf(t, POLL_ERR_DEVICE, "KLAP request answered HTTP 403 on a new session");
        return;
    }
    if (r->status != 200) {
        answerf(t, POLL_ERR_DEVICE, "KLAP request answered HTTP %ld", r->status);
        return;
    }
    uint8_t *plain = NULL;
    size_t plen = 0;
    enum klap_status ks =
        klap_decrypt(&t->sess, t->seq, r->body, r->len, !t->sig_off, &plain, &plen);
    if (ks == KLAP_ERR_SIGNATURE) {
        /* Only request signatures are known for sure (klap.h); accept a device whose
         * replies decrypt but are signed some other way, and stop checking them. */
        ks = klap_decrypt(&t->sess, t->seq, r->body, r->len, false, &plain, &plen);
        if (ks == KLAP_OK) {
            t->sig_off = true;
            log_msg(LOG_INFO, t->device, "KLAP replies carry another signature; not checked");
        }
    }
    if (ks != KLAP_OK) {
        /* Some firmware serves one request per session and garbles the next. */
        drop_session(t);
        if (!renew(t, klap_strerror(ks)))
            answerf(t, POLL_ERR_PROTOCOL, "KLAP reply: %s", klap_strerror(ks));
        return;
    }
    answer(t, POLL_OK, (const char *)plain, plen, NULL);
    free(plain);
}

static void on_http(void *ctx, const struct kasa_http_result *r)
{
    struct kasa_transport *t = ctx;
    if (r->st != POLL_OK) {
        /* A connection that breaks on a reused session may be the device dropping it. */
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
    case HANDSHAKE1:
        on_handshake1(t, r);
        break;
    case HANDSHAKE2:
        on_handshake2(t, r);
        break;
    case REQUEST:
        on_reply(t, r);
        break;
    case IDLE:
        break;
    }
}

/* --- ops -------------------------------------------------------------------------- */

static void klap_destroy(struct kasa_transport *t);

struct kasa_transport *kasa_klap_create(const struct kasa_http_opts *o, struct ev_loop *loop,
                                        char *err, size_t errlen)
{
    if (o->version < 0 || o->version > 2) {
        snprintf(err, errlen, "KLAP version %d: expected 1 or 2", o->version);
        return NULL;
    }
    struct kasa_transport *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->loop = loop;
    t->version = o->version;
    snprintf(t->device, sizeof t->device, "%s", o->device ? o->device : o->host);
    if (build_candidates(t, o) < 0) {
        snprintf(err, errlen, "out of memory");
        klap_destroy(t);
        return NULL;
    }
    t->http = kasa_http_new(loop, o->host, o->port, o->timeout_s, err, errlen);
    if (!t->http) {
        klap_destroy(t);
        return NULL;
    }
    return t;
}

void kasa_http_opts_from_config(const struct device_config *cfg, struct kasa_http_opts *o)
{
    *o = (struct kasa_http_opts){
        .device = cfg->name,
        .host = cfg->host,
        .port = cfg->http_port ? cfg->http_port : 80,
        .timeout_s = cfg->timeout_s,
        .version = cfg->klap_version,
        .user = &cfg->account_user,
        .pass = &cfg->account_password,
    };
}

bool kasa_klap_spoke(const struct kasa_transport *t)
{
    return t->spoke;
}

static struct kasa_transport *klap_create_cfg(const struct device_config *cfg, struct ev_loop *loop,
                                              char *err, size_t errlen)
{
    struct kasa_http_opts o;
    kasa_http_opts_from_config(cfg, &o);
    return kasa_klap_create(&o, loop, err, errlen);
}

static void klap_request(struct kasa_transport *t, const char *json, kasa_reply_fn cb, void *ctx)
{
    kasa_http_cancel(t->http);
    clear_request(t);
    t->cb = cb;
    t->ctx = ctx;
    t->retried = false;
    t->fresh = false;
    t->spoke = false;
    size_t len = strlen(json);
    t->json = malloc(len + 1);
    if (!t->json) {
        answerf(t, POLL_ERR_PROTOCOL, "out of memory for the request");
        return;
    }
    memcpy(t->json, json, len + 1);
    t->json_len = len;
    if (t->have_session && ev_now(t->loop) < t->expires)
        send_request(t);
    else
        start_handshake(t);
}

static void klap_cancel(struct kasa_transport *t)
{
    kasa_http_cancel(t->http);
    /* A half-done handshake is worthless; a session survives a cancelled request. */
    if (t->phase == HANDSHAKE1 || t->phase == HANDSHAKE2)
        drop_session(t);
    clear_request(t);
}

static void klap_end_poll(struct kasa_transport *t)
{
    /* Nothing to release: each POST has its own connection, the session stays. */
}

static void klap_destroy(struct kasa_transport *t)
{
    if (!t)
        return;
    kasa_http_free(t->http);
    t->http = NULL;
    clear_request(t);
    drop_session(t);
    for (size_t i = 0; i < KLAP_CANDIDATES; i++)
        klap_auth_clear(&t->cand[i]);
    free(t);
}

const struct kasa_transport_ops kasa_klap_transport = {
    .name = "klap",
    .create = klap_create_cfg,
    .request = klap_request,
    .cancel = klap_cancel,
    .end_poll = klap_end_poll,
    .destroy = klap_destroy,
};

/* protocol: auto (http_transport.h): legacy TCP first, KLAP when the legacy port refuses
 * connections, and whichever answered last first from then on. The KLAP leg (an HTTP
 * client, credentials) is made when a poll falls back to it and kept only while KLAP is
 * what answers: most plugs never need it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/kasa/http_transport.h"
#include "daemon/log.h"

enum leg { NONE, LEGACY, KLAP };

/* The legs are other transports' objects, only ever handed back to their own ops. */
struct kasa_transport {
    const struct device_config *cfg; /* outlives the transport */
    struct ev_loop *loop;
    uint16_t http_port;
    void *tcp, *klap; /* klap: NULL until the first fallback to it */
    bool klap_first;
    enum leg leg;
    bool fell_back;
    char *json;
    kasa_reply_fn cb;
    void *ctx;
    enum poll_status first_st;
    char *first_detail; /* after a fallback: why the first leg failed */
};

static void clear_request(struct kasa_transport *t)
{
    free(t->json);
    t->json = NULL;
    free(t->first_detail);
    t->first_detail = NULL;
    t->cb = NULL;
    t->leg = NONE;
}

static void answer(struct kasa_transport *t, enum poll_status st, const char *body, size_t len,
                   const char *detail)
{
    kasa_reply_fn cb = t->cb;
    void *ctx = t->ctx;
    clear_request(t);
    if (cb)
        cb(ctx, st, body, len, detail);
}

static void start(struct kasa_transport *t, enum leg leg);

/* Both legs failed: the fallback's answer when it reached a device of its kind, else the
 * first one's, with the fallback's reason added. */
static void both_failed(struct kasa_transport *t, enum poll_status st, const char *detail,
                        bool fallback_reached)
{
    if (fallback_reached) {
        answer(t, st, NULL, 0, detail);
        return;
    }
    char both[640];
    const char *first = t->first_detail ? t->first_detail : "failed";
    if (t->leg == KLAP)
        snprintf(both, sizeof both, "%s; KLAP on port %u: %s", first, (unsigned)t->http_port,
                 detail ? detail : "failed");
    else
        snprintf(both, sizeof both, "%s; legacy port: %s", first, detail ? detail : "failed");
    answer(t, t->first_st, NULL, 0, both);
}

static void fall_back(struct kasa_transport *t, enum poll_status st, const char *detail,
                      enum leg to)
{
    t->fell_back = true;
    t->first_st = st;
    /* As much of it as a message would have kept; NULL (out of memory) reads "failed". */
    free(t->first_detail);
    t->first_detail = strndup(detail ? detail : "failed", 299);
    log_msg(LOG_DEBUG, t->cfg->name, "%s; trying %s", t->first_detail ? t->first_detail : "failed",
            to == KLAP ? "KLAP" : "the legacy port");
    start(t, to);
}

static void on_legacy(void *ctx, enum poll_status st, const char *body, size_t len,
                      const char *detail)
{
    struct kasa_transport *t = ctx;
    if (st == POLL_OK) {
        if (t->klap_first)
            log_msg(LOG_INFO, t->cfg->name, "answering on the legacy port again");
        t->klap_first = false;
        answer(t, st, body, len, detail);
        return;
    }
    kasa_tcp_transport.end_poll(t->tcp);
    /* The TCP transport's words for a refused connection. */
    char refused_text[128];
    snprintf(refused_text, sizeof refused_text, "connect: %s", strerror(ECONNREFUSED));
    bool refused = st == POLL_ERR_CONNECT && detail && strcmp(detail, refused_text) == 0;
    if (!t->fell_back && refused) {
        fall_back(t, st, detail, KLAP);
        return;
    }
    if (t->fell_back)
        both_failed(t, st, detail, st != POLL_ERR_CONNECT);
    else
        answer(t, st, NULL, 0, detail);
}

static void on_klap(void *ctx, enum poll_status st, const char *body, size_t len,
                    const char *detail)
{
    struct kasa_transport *t = ctx;
    if (st == POLL_OK) {
        if (!t->klap_first)
            log_msg(LOG_INFO, t->cfg->name, "legacy port refused; speaking KLAP on port %u",
                    (unsigned)t->http_port);
        t->klap_first = true;
        answer(t, st, body, len, detail);
        return;
    }
    bool reached = kasa_klap_spoke(t->klap);
    if (!t->fell_back && !reached && st == POLL_ERR_CONNECT) {
        fall_back(t, st, detail, LEGACY);
        return;
    }
    if (t->fell_back)
        both_failed(t, st, detail, reached);
    else
        answer(t, st, NULL, 0, detail);
}

static void start(struct kasa_transport *t, enum leg leg)
{
    t->leg = leg;
    if (leg == LEGACY) {
        kasa_tcp_transport.request(t->tcp, t->json, on_legacy, t);
        return;
    }
    char err[200] = "";
    if (!t->klap)
        t->klap = kasa_klap_transport.create(t->cfg, t->loop, err, sizeof err);
    if (!t->klap) {
        if (t->fell_back)
            both_failed(t, POLL_ERR_PROTOCOL, err, false);
        else
            answer(t, POLL_ERR_PROTOCOL, NULL, 0, err);
        return;
    }
    kasa_klap_transport.request(t->klap, t->json, on_klap, t);
}

static void auto_destroy(struct kasa_transport *t)
{
    if (!t)
        return;
    if (t->tcp)
        kasa_tcp_transport.destroy(t->tcp);
    if (t->klap)
        kasa_klap_transport.destroy(t->klap);
    clear_request(t);
    free(t);
}

static struct kasa_transport *auto_create(const struct device_config *cfg, struct ev_loop *loop,
                                          char *err, size_t errlen)
{
    struct kasa_transport *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->cfg = cfg;
    t->loop = loop;
    t->http_port = cfg->http_port ? cfg->http_port : 80;
    t->tcp = kasa_tcp_transport.create(cfg, loop, err, errlen);
    if (!t->tcp) {
        auto_destroy(t);
        return NULL;
    }
    return t;
}

static void auto_request(struct kasa_transport *t, const char *json, kasa_reply_fn cb, void *ctx)
{
    clear_request(t);
    t->cb = cb;
    t->ctx = ctx;
    t->fell_back = false;
    t->json = strdup(json);
    if (!t->json) {
        answer(t, POLL_ERR_PROTOCOL, NULL, 0, "out of memory for the request");
        return;
    }
    start(t, t->klap_first ? KLAP : LEGACY);
}

static void auto_cancel(struct kasa_transport *t)
{
    kasa_tcp_transport.cancel(t->tcp);
    if (t->klap)
        kasa_klap_transport.cancel(t->klap);
    clear_request(t);
}

static void auto_end_poll(struct kasa_transport *t)
{
    kasa_tcp_transport.end_poll(t->tcp);
    if (!t->klap)
        return;
    kasa_klap_transport.end_poll(t->klap);
    /* Kept only while the device speaks KLAP: its session lives there. Otherwise an idle
     * plug would hold an HTTP client (and its descriptors) it does not use. */
    if (!t->klap_first) {
        kasa_klap_transport.destroy(t->klap);
        t->klap = NULL;
    }
}

const struct kasa_transport_ops kasa_auto_transport = {
    .name = "auto",
    .create = auto_create,
    .request = auto_request,
    .cancel = auto_cancel,
    .end_poll = auto_end_poll,
    .destroy = auto_destroy,
};

/* XOR JSON over UDP: one datagram per request, no length prefix, the reply is one datagram
 * from the device's address and port.
 *
 * Datagrams get lost on Wi-Fi, so the request is sent again at a third and two thirds of
 * the device's timeout; the core's deadline ends the wait. Each request gets a fresh
 * connected socket: the kernel then drops datagrams from any other source, and a late
 * answer to an earlier request of the same poll can never be taken for the current one. */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collectors/kasa/transport.h"
#include "collectors/kasa/xor.h"

#define UDP_SENDS 3             /* the first send and two retries */
#define UDP_DEFAULT_TIMEOUT 3.0 /* seconds, when the configuration gives none */

struct kasa_transport {
    struct ev_loop *loop;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double retry_s;
    int fd;
    ev_io io;
    ev_timer retry;
    uint8_t *out;
    size_t out_len;
    int sends;
    kasa_reply_fn cb;
    void *ctx;
};

static struct kasa_transport *udp_create(const struct device_config *cfg, struct ev_loop *loop,
                                         char *err, size_t errlen)
{
    struct kasa_transport *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->loop = loop;
    t->fd = -1;
    double timeout = cfg->timeout_s > 0 ? cfg->timeout_s : UDP_DEFAULT_TIMEOUT;
    t->retry_s = timeout / UDP_SENDS;
    ev_init(&t->io, NULL);
    ev_init(&t->retry, NULL);
    if (kasa_resolve(cfg->host, cfg->port, SOCK_DGRAM, &t->addr, &t->addrlen, err, errlen) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

/* Closes the request's socket and forgets the request; the callback is not called. */
static void udp_cancel(struct kasa_transport *t)
{
    if (t->fd >= 0) {
        ev_io_stop(t->loop, &t->io);
        close(t->fd);
        t->fd = -1;
    }
    ev_timer_stop(t->loop, &t->retry);
    free(t->out);
    t->out = NULL;
    t->out_len = 0;
    t->sends = 0;
    t->cb = NULL;
}

/* Answers the pending request once. The state is reset first: the callback may start the
 * next request of the poll. */
static void answer(struct kasa_transport *t, enum poll_status st, const char *body, size_t len,
                   const char *detail)
{
    kasa_reply_fn cb = t->cb;
    void *ctx = t->ctx;
    udp_cancel(t);
    if (cb)
        cb(ctx, st, body, len, detail);
}

static void answer_errno(struct kasa_transport *t, const char *what, int e)
{
    char detail[160];
    snprintf(detail, sizeof detail, "%s: %s", what, strerror(e));
    answer(t, POLL_ERR_CONNECT, NULL, 0, detail);
}

static bool same_peer(const struct kasa_transport *t, const struct sockaddr_storage *from,
                      socklen_t fromlen)
{
    if (from->ss_family != t->addr.ss_family)
        return false;
    if (from->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)from, *b = (const void *)&t->addr;
        return fromlen >= sizeof *a && a->sin_port == b->sin_port &&
               a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (from->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)from, *b = (const void *)&t->addr;
        return fromlen >= sizeof *a && a->sin6_port == b->sin6_port &&
               memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
    }
    return false;
}

/* One datagram: its size first (MSG_TRUNC reports the whole length), then the bytes. */
static void on_readable(struct kasa_transport *t)
{
    for (;;) {
        ssize_t size = recv(t->fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
        if (size < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            /* An ICMP port unreachable comes back as ECONNREFUSED on a connected socket. */
            answer_errno(t, "udp", errno);
            return;
        }
        size_t cap = (size_t)size > KASA_FRAME_MAX ? KASA_FRAME_MAX : (size_t)size;
        uint8_t *buf = malloc(cap + 1);
        if (!buf) {
            answer(t, POLL_ERR_PROTOCOL, NULL, 0, "out of memory for the reply");
            return;
        }
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(t->fd, buf, cap, MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            int e = errno;
            free(buf);
            if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
                return;
            answer_errno(t, "udp", e);
            return;
        }
        if (!same_peer(t, &from, fromlen)) { /* the kernel filters already; be sure */
            free(buf);
            continue;
        }
        if ((size_t)n > KASA_FRAME_MAX) {
            free(buf);
            answer(t, POLL_ERR_PROTOCOL, NULL, 0, "reply datagram larger than 64 KiB");
            return;
        }
        size_t len = (size_t)n;
        kasa_xor_decrypt(buf, len, buf);
        buf[len] = '\0';
        json_error_t jerr;
        json_t *j = len ? json_loadb((const char *)buf, len, 0, &jerr) : NULL;
        bool object = json_is_object(j);
        json_decref(j);
        if (!object) {
            free(buf);
            answer(t, POLL_ERR_PROTOCOL, NULL, 0,
                   len ? "reply datagram does not decrypt to a JSON object"
                       : "empty reply datagram");
            return;
        }
        answer(t, POLL_OK, (const char *)buf, len, NULL);
        free(buf);
        return;
    }
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    on_readable(w->data);
}

/* Returns 0, or -1 after answering with the error. */
static int send_once(struct kasa_transport *t)
{
    t->sends++;
    if (send(t->fd, t->out, t->out_len, MSG_NOSIGNAL) == (ssize_t)t->out_len)
        return 0;
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR)
        return 0; /* a lost datagram, as far as the device can tell: the retry covers it */
    answer_errno(t, "udp send", e);
    return -1;
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct kasa_transport *t = w->data;
    if (send_once(t) < 0)
        return;
    if (t->sends >= UDP_SENDS)
        ev_timer_stop(loop, w);
}

static void udp_request(struct kasa_transport *t, const char *json, kasa_reply_fn cb, void *ctx)
{
    udp_cancel(t);
    t->cb = cb;
    t->ctx = ctx;
    size_t len = strlen(json);
    if (len == 0 || len > KASA_FRAME_MAX) {
        answer(t, POLL_ERR_PROTOCOL, NULL, 0, "request too long");
        return;
    }
    if (!(t->out = malloc(len))) {
        answer(t, POLL_ERR_PROTOCOL, NULL, 0, "out of memory for the request");
        return;
    }
    kasa_xor_encrypt((const uint8_t *)json, len, t->out);
    t->out_len = len;
    t->fd = socket(t->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        answer_errno(t, "socket", errno);
        return;
    }
    if (connect(t->fd, (struct sockaddr *)&t->addr, t->addrlen) < 0) {
        answer_errno(t, "connect", errno);
        return;
    }
    ev_io_init(&t->io, io_cb, t->fd, EV_READ);
    t->io.data = t;
    ev_io_start(t->loop, &t->io);
    if (send_once(t) < 0)
        return;
    ev_timer_init(&t->retry, retry_cb, t->retry_s, t->retry_s);
    t->retry.data = t;
    ev_timer_start(t->loop, &t->retry);
}

static void udp_end_poll(struct kasa_transport *t)
{
    udp_cancel(t);
}

static void udp_destroy(struct kasa_transport *t)
{
    if (!t)
        return;
    udp_cancel(t);
    free(t);
}

const struct kasa_transport_ops kasa_udp_transport = {
    .name = "udp",
    .create = udp_create,
    .request = udp_request,
    .cancel = udp_cancel,
    .end_poll = udp_end_poll,
    .destroy = udp_destroy,
};

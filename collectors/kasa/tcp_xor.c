/* XOR JSON over TCP port 9999: non-blocking connect, one send of the whole frame (some
 * devices mishandle a header sent alone), read until the frame reader has the whole reply.
 * The connection is kept for the requests of one poll and closed at its end. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collectors/kasa/transport.h"
#include "collectors/kasa/xor.h"

enum phase { IDLE, CONNECTING, SENDING, RECEIVING };

struct kasa_transport {
    struct ev_loop *loop;
    union { /* not a sockaddr_storage: 100 bytes less per plug */
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;
    socklen_t addrlen;
    int fd;
    bool connected;
    enum phase phase;
    ev_io io;
    uint8_t *out;
    size_t out_len, out_sent;
    struct kasa_frame_reader reader;
    kasa_reply_fn cb;
    void *ctx;
};

int kasa_resolve(const char *host, unsigned port, int socktype, struct sockaddr_storage *addr,
                 socklen_t *addrlen, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = socktype, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve host %s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static struct kasa_transport *tcp_create(const struct device_config *cfg, struct ev_loop *loop,
                                         char *err, size_t errlen)
{
    struct kasa_transport *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->loop = loop;
    t->fd = -1;
    kasa_frame_reader_init(&t->reader);
    struct sockaddr_storage ss;
    if (kasa_resolve(cfg->host, cfg->port, SOCK_STREAM, &ss, &t->addrlen, err, errlen) < 0) {
        free(t);
        return NULL;
    }
    if (t->addrlen > sizeof t->addr) {
        snprintf(err, errlen, "host %s: not an IPv4 or IPv6 address", cfg->host);
        free(t);
        return NULL;
    }
    memcpy(&t->addr, &ss, t->addrlen);
    return t;
}

static void reset_request(struct kasa_transport *t)
{
    free(t->out);
    t->out = NULL;
    t->out_len = t->out_sent = 0;
    kasa_frame_reader_free(&t->reader);
    t->cb = NULL;
}

static void close_conn(struct kasa_transport *t)
{
    if (t->fd >= 0) {
        ev_io_stop(t->loop, &t->io);
        close(t->fd);
        t->fd = -1;
    }
    t->connected = false;
    t->phase = IDLE;
}

/* Answers the pending request once; a failed request also ends the connection. */
static void answer(struct kasa_transport *t, enum poll_status st, const char *detail)
{
    kasa_reply_fn cb = t->cb;
    void *ctx = t->ctx;
    if (st != POLL_OK)
        close_conn(t);
    else {
        ev_io_stop(t->loop, &t->io);
        t->phase = IDLE;
    }
    /* The reply buffer is handed over for the duration of the callback only. */
    struct kasa_frame_reader reader = t->reader;
    kasa_frame_reader_init(&t->reader);
    free(t->out);
    t->out = NULL;
    t->cb = NULL;
    if (cb)
        cb(ctx, st, st == POLL_OK ? (const char *)reader.body : NULL,
           st == POLL_OK ? reader.body_len : 0, detail);
    kasa_frame_reader_free(&reader);
}

static void answer_errno(struct kasa_transport *t, const char *what, int e)
{
    char detail[160];
    snprintf(detail, sizeof detail, "%s: %s", what, strerror(e));
    answer(t, POLL_ERR_CONNECT, detail);
}

static void watch(struct kasa_transport *t, int events)
{
    ev_io_stop(t->loop, &t->io);
    ev_io_set(&t->io, t->fd, events);
    ev_io_start(t->loop, &t->io);
}

static void on_readable(struct kasa_transport *t)
{
    uint8_t buf[4096];
    ssize_t n = recv(t->fd, buf, sizeof buf, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        if (t->reader.header_len > 0) { /* the device answered in part: as a close would */
            char detail[160];
            snprintf(detail, sizeof detail, "%s in the middle of a reply", strerror(errno));
            answer(t, POLL_ERR_PROTOCOL, detail);
            return;
        }
        answer_errno(t, "receive", errno);
        return;
    }
    if (n == 0) {
        bool partial = t->reader.header_len > 0;
        answer(t, partial ? POLL_ERR_PROTOCOL : POLL_ERR_CONNECT,
               partial ? "connection closed in the middle of a reply"
                       : "connection closed without a reply");
        return;
    }
    size_t used;
    switch (kasa_frame_feed(&t->reader, buf, (size_t)n, &used)) {
    case KASA_FRAME_MORE:
        return;
    case KASA_FRAME_DONE:
        answer(t, POLL_OK, NULL);
        return;
    case KASA_FRAME_TOO_LONG:
        answer(t, POLL_ERR_PROTOCOL, "reply length prefix exceeds 64 KiB");
        return;
    case KASA_FRAME_NOMEM:
        answer(t, POLL_ERR_PROTOCOL, "out of memory for the reply");
        return;
    }
}

static void on_writable(struct kasa_transport *t)
{
    if (t->phase == CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr) {
            answer_errno(t, "connect", soerr);
            return;
        }
        t->connected = true;
        t->phase = SENDING;
    }
    ssize_t n = send(t->fd, t->out + t->out_sent, t->out_len - t->out_sent, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        answer_errno(t, "send", errno);
        return;
    }
    t->out_sent += (size_t)n;
    if (t->out_sent < t->out_len)
        return;
    t->phase = RECEIVING;
    watch(t, EV_READ);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct kasa_transport *t = w->data;
    if (t->phase == RECEIVING)
        on_readable(t);
    else
        on_writable(t);
}

static void tcp_request(struct kasa_transport *t, const char *json, kasa_reply_fn cb, void *ctx)
{
    reset_request(t);
    t->cb = cb;
    t->ctx = ctx;
    size_t len = strlen(json);
    t->out = malloc(len + 4);
    t->out_len = t->out ? kasa_frame_encode(json, len, t->out, len + 4) : 0;
    if (!t->out_len) {
        answer(t, POLL_ERR_PROTOCOL, "request too long");
        return;
    }
    if (t->fd >= 0 && t->connected) {
        t->phase = SENDING;
        watch(t, EV_WRITE);
        return;
    }
    close_conn(t);
    t->fd = socket(t->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        answer_errno(t, "socket", errno);
        return;
    }
    int one = 1;
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    t->phase = CONNECTING;
    if (connect(t->fd, &t->addr.sa, t->addrlen) < 0 && errno != EINPROGRESS) {
        answer_errno(t, "connect", errno);
        return;
    }
    ev_io_init(&t->io, io_cb, t->fd, EV_WRITE);
    t->io.data = t;
    ev_io_start(t->loop, &t->io);
}

static void tcp_cancel(struct kasa_transport *t)
{
    close_conn(t);
    reset_request(t);
}

static void tcp_end_poll(struct kasa_transport *t)
{
    close_conn(t);
}

static void tcp_destroy(struct kasa_transport *t)
{
    if (!t)
        return;
    tcp_cancel(t);
    free(t);
}

const struct kasa_transport_ops kasa_tcp_transport = {
    .name = "tcp",
    .create = tcp_create,
    .request = tcp_request,
    .cancel = tcp_cancel,
    .end_poll = tcp_end_poll,
    .destroy = tcp_destroy,
};

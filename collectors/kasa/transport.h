/* How a Kasa request reaches a device and its reply comes back: XOR over TCP or UDP, or
 * KLAP over HTTP. The plug collector speaks JSON through this and knows no framing.
 *
 * One request at a time per transport. request() answers exactly once through the
 * callback (possibly before it returns), unless cancel() comes first. A transport may
 * keep a connection or session between requests of one poll; end_poll() releases what
 * the device should not keep (plugs serve one connection at a time). */
#ifndef TPLINK_KASA_TRANSPORT_H
#define TPLINK_KASA_TRANSPORT_H

#include <stddef.h>
#include <sys/socket.h>
#include <ev.h>

#include "collectors/collector.h"

/* body is the decrypted reply (NUL-terminated) on POLL_OK, else NULL and detail says why. */
typedef void (*kasa_reply_fn)(void *ctx, enum poll_status st, const char *body, size_t len,
                              const char *detail);

struct kasa_transport;

struct kasa_transport_ops {
    const char *name; /* "tcp", "udp", "klap" */
    struct kasa_transport *(*create)(const struct device_config *cfg, struct ev_loop *loop,
                                     char *err, size_t errlen);
    void (*request)(struct kasa_transport *t, const char *json, kasa_reply_fn cb, void *ctx);
    void (*cancel)(struct kasa_transport *t);
    void (*end_poll)(struct kasa_transport *t);
    void (*destroy)(struct kasa_transport *t);
};

extern const struct kasa_transport_ops kasa_tcp_transport;
extern const struct kasa_transport_ops kasa_udp_transport;

/* Resolves host:port once (at start or reload, never while polling). */
int kasa_resolve(const char *host, unsigned port, int socktype, struct sockaddr_storage *addr,
                 socklen_t *addrlen, char *err, size_t errlen);

#endif

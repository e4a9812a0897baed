/* The HTTP server of a simulated device (switch, KLAP/AES plug): libmicrohttpd driven by
 * the simulator's libev loop, listening on one loopback address only. The owner keeps its
 * own handlers; this is the setup, the port the kernel picked, and libmicrohttpd's log. */
#ifndef TPLINK_SIM_HTTP_H
#define TPLINK_SIM_HTTP_H

#include <ev.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/mhd_loop.h"

struct sim_http {
    struct MHD_Daemon *daemon;
    struct mhd_loop *ml;
    uint16_t port;    /* bound: the kernel's pick when 0 was asked for */
    const char *name; /* the owner's log name; the pointer is kept */
    bool starting;
    char start_err[160]; /* libmicrohttpd's last line while starting */
};

struct sim_http_opts {
    const char *name; /* for log lines: must outlive the server */
    const char *addr; /* as the owner was given it, for the error message */
    uint16_t port;
    unsigned flags; /* beyond MHD_USE_EPOLL | MHD_USE_ERROR_LOG (and IPv6 by address) */
    unsigned conn_limit;
    unsigned conn_timeout_s;
    size_t conn_memory; /* 0: libmicrohttpd's default */
    MHD_AccessHandlerCallback handler;
    void *handler_cls;
    MHD_RequestCompletedCallback completed;
    void *completed_cls;
};

/* Fills ss with addr (an IPv4 or IPv6 literal in the loopback range) and port. -1 with the
 * reason in why ("... is not a loopback address") otherwise; the sims never listen on
 * anything else. */
int sim_loopback_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss, char *why,
                          size_t whylen);

/* Listens on ss (from sim_loopback_sockaddr) and attaches to loop. 0, or -1 with the reason
 * in why and h stopped. */
int sim_http_start(struct sim_http *h, struct ev_loop *loop, const struct sockaddr_storage *ss,
                   const struct sim_http_opts *o, char *why, size_t whylen);

/* Stops the server and its loop glue; safe on a zeroed or failed one. Suspended
 * connections must have been resumed first (libmicrohttpd refuses otherwise). */
void sim_http_stop(struct sim_http *h);

#endif

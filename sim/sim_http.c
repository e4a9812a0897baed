#include "sim/sim_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/log.h"

int sim_loopback_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss, char *why,
                          size_t whylen)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    bool loopback;
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    } else {
        snprintf(why, whylen, "\"%.60s\" is not an IP address literal", addr);
        return -1;
    }
    if (!loopback) {
        snprintf(why, whylen, "%.60s is not a loopback address", addr);
        return -1;
    }
    return 0;
}

/* libmicrohttpd's own lines go to the debug log; while starting, the last one is kept for
 * the error message (it says why a listen failed better than errno does). */
__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    struct sim_http *h = cls;
    char line[200];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (h->starting)
        snprintf(h->start_err, sizeof h->start_err, "%s", line);
    log_msg(LOG_DEBUG, h->name, "libmicrohttpd: %s", line);
}

static uint16_t bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (!di || getsockname(di->listen_fd, (struct sockaddr *)&bound, &blen) != 0)
        return 0;
    return ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                             : ((struct sockaddr_in *)&bound)->sin_port);
}

int sim_http_start(struct sim_http *h, struct ev_loop *loop, const struct sockaddr_storage *ss,
                   const struct sim_http_opts *o, char *why, size_t whylen)
{
    memset(h, 0, sizeof *h);
    h->name = o->name;
    h->ml = mhd_loop_new(loop);
    if (!h->ml) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | o->flags;
    if (ss->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* the memory limit only when asked for: an empty array otherwise */
    struct MHD_OptionItem memory[] = {
        {o->conn_memory ? MHD_OPTION_CONNECTION_MEMORY_LIMIT : MHD_OPTION_END,
         (intptr_t)o->conn_memory, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    h->starting = true;
    errno = 0;
    h->daemon = MHD_start_daemon(
        flags, o->port, NULL, NULL, o->handler, o->handler_cls, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)ss, MHD_OPTION_CONNECTION_LIMIT, o->conn_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, o->conn_timeout_s, MHD_OPTION_ARRAY, memory,
        MHD_OPTION_NOTIFY_COMPLETED, o->completed, o->completed_cls, MHD_OPTION_NOTIFY_CONNECTION,
        mhd_loop_notify_connection, h->ml, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
        MHD_OPTION_END);
    int saved = errno;
    h->starting = false;
    if (!h->daemon) {
        snprintf(why, whylen, "cannot listen on %s:%u: %s", o->addr, (unsigned)o->port,
                 h->start_err[0] ? h->start_err
                 : saved         ? strerror(saved)
                                 : "failed");
        sim_http_stop(h);
        return -1;
    }
    h->port = bound_port(h->daemon);
    if (mhd_loop_attach(h->ml, h->daemon) < 0 || h->port == 0) {
        snprintf(why, whylen, "cannot attach the HTTP server to the loop");
        sim_http_stop(h);
        return -1;
    }
    return 0;
}

void sim_http_stop(struct sim_http *h)
{
    if (h->daemon)
        MHD_stop_daemon(h->daemon); /* its close notifications still reach h->ml */
    mhd_loop_free(h->ml);
    h->daemon = NULL;
    h->ml = NULL;
}

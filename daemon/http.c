#include "daemon/http.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "daemon/log.h"
#include "daemon/mhd_loop.h"

#define CONTENT_TYPE_TEXT "text/plain; version=0.0.4; charset=utf-8"

static const char landing_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>TP-Link Exporter</title></head>\n"
    "<body><h1>TP-Link Exporter</h1>\n"
    "<p>Easy Smart switch ports and Kasa smart plugs, polled in the background.</p>\n"
    "<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

struct http_server {
    struct daemon *daemon;
    struct MHD_Daemon *mhd;
    struct mhd_loop *ml;
    unsigned port;
};

int http_parse_listen(const char *listen, char *host, size_t hostlen, unsigned *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return -1;
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    } else if (memchr(h, ':', hl)) {
        return -1; /* an IPv6 literal needs brackets */
    }
    if (hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}

static MHD_RESULT queue(struct MHD_Connection *conn, unsigned status, const char *type,
                        struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_RESULT ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Static texts only. */
static MHD_RESULT reply(struct MHD_Connection *conn, unsigned status, const char *type,
                        const char *body, size_t len)
{
    return queue(conn, status, type,
                 MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT));
}

static void unref_body(void *cls)
{
    scrape_body_unref(cls);
}

/* The cached bytes go out as they are, gzipped once per render when the client asks;
 * the response holds a reference, so a re-render meanwhile frees nothing it sends. */
static MHD_RESULT reply_metrics(struct MHD_Connection *conn, struct scrape_body *b)
{
    if (!b)
        return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                     "503 out of memory\n", 18);
    const void *data = b->text;
    size_t len = b->text_len;
    const char *ae =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    const unsigned char *gz;
    size_t gz_len;
    bool gzip = accepts_gzip(ae) && scrape_body_gzip(b, &gz, &gz_len);
    if (gzip) {
        data = gz;
        len = gz_len;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)data, unref_body, scrape_body_ref(b));
    if (!r) {
        scrape_body_unref(b);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (gzip)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return queue(conn, MHD_HTTP_OK, CONTENT_TYPE_TEXT, r);
}

static MHD_RESULT handler(void *cls, struct MHD_Connection *conn, const char *url,
                          const char *method, const char *version, const char *upload_data,
                          size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    static const char not_found[] = "404 page not found\n";
    static const char bad_method[] = "405 method not allowed\n";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", bad_method,
                     sizeof bad_method - 1);
    if (strcmp(url, "/metrics") == 0)
        return reply_metrics(conn, daemon_exposition(s->daemon));
    if (strcmp(url, "/") == 0)
        return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", landing_page,
                     sizeof landing_page - 1);
    return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", not_found,
                 sizeof not_found - 1);
}

/* libmicrohttpd's printf-style logger; its format strings are its own literals. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_msg(LOG_WARN, NULL, "http: %s", line);
}

static struct MHD_Daemon *start(unsigned flags, unsigned port, const struct sockaddr *addr,
                                struct http_server *s)
{
    return MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_NOTIFY_CONNECTION,
        mhd_loop_notify_connection, s->ml, MHD_OPTION_END);
}

struct http_server *http_start(struct daemon *d, const char *listen, char *err, size_t errlen)
{
    char host[256];
    unsigned port;
    if (http_parse_listen(listen, host, sizeof host, &port) < 0) {
        snprintf(err, errlen,
                 "invalid listen address \"%s\" (want HOST:PORT, [IPV6]:PORT or :PORT)", listen);
        return NULL;
    }
    struct sockaddr_storage ss = {0};
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (host[0] == '\0') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_addr = in6addr_any;
        a6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_DUAL_STACK;
    } else if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "listen address \"%s\": host must be an IP address", listen);
        return NULL;
    }

    struct http_server *s = calloc(1, sizeof *s);
    if (!s || !(s->ml = mhd_loop_new(d->loop))) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    s->daemon = d;
    s->mhd = start(flags, port, (struct sockaddr *)&ss, s);
    if (!s->mhd && host[0] == '\0') {
        /* No IPv6 on this host: fall back to IPv4 any. */
        struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a4.sin_addr.s_addr = htonl(INADDR_ANY);
        s->mhd = start(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, port, (struct sockaddr *)&a4, s);
    }
    if (!s->mhd) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not available)", listen);
        mhd_loop_free(s->ml);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    if (mhd_loop_attach(s->ml, s->mhd) < 0) {
        snprintf(err, errlen, "cannot attach the HTTP server to the event loop");
        http_stop(s);
        return NULL;
    }
    return s;
}

unsigned http_port(const struct http_server *s)
{
    return s->port;
}

void http_stop(struct http_server *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd); /* its close notifications still kick s->ml */
    mhd_loop_free(s->ml);
    free(s);
}

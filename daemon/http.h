/* The HTTP endpoint: /metrics, a landing page at /, 404 for anything else. libmicrohttpd
 * runs on the daemon's libev loop (see mhd_loop.h), so a scrape only ever reads the
 * cached exposition: it never waits on a device. */
#ifndef TPLINK_HTTP_H
#define TPLINK_HTTP_H

#include <stddef.h>

#include "daemon/daemon.h"

struct http_server;

/* listen: "[HOST]:PORT" — ":9321", "127.0.0.1:9321", "[::1]:9321", "0.0.0.0:0".
 * Returns NULL with one line in err. */
struct http_server *http_start(struct daemon *d, const char *listen, char *err, size_t errlen);
/* The port actually bound (useful with port 0). */
unsigned http_port(const struct http_server *s);
void http_stop(struct http_server *s);

/* Exposed for tests: parses a listen address into host ("" for any) and port. */
int http_parse_listen(const char *listen, char *host, size_t hostlen, unsigned *port);

#endif

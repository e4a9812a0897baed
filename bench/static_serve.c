/* static_serve: the scrape baseline. libmicrohttpd (as the daemon uses it: epoll, one
 * thread, 64 connections) serving fixed bytes on /metrics from memory, gzipped once at start
 * for clients that accept gzip. What the daemon adds on top of this is its render, its cache
 * and its event loop.
 *
 *   static_serve --file FILE [--port N]
 *
 * Prints "ready PORT" once listening on 127.0.0.1; stops on SIGTERM or SIGINT. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#if MHD_VERSION >= 0x00097002
#define HANDLER_RESULT enum MHD_Result
#else
#define HANDLER_RESULT int
#endif

struct content {
    char *text;
    size_t len;
    unsigned char *gz;
    size_t gz_len;
};

static HANDLER_RESULT handler(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    const struct content *c = cls;
    if (strcmp(url, "/metrics") != 0)
        return MHD_NO;
    const char *ae =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    bool gzip = ae && strstr(ae, "gzip") && c->gz;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        gzip ? c->gz_len : c->len, gzip ? (void *)c->gz : (void *)c->text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (gzip)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    HANDLER_RESULT ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* gzip at level 1, as the daemon compresses. */
static bool gzip_once(struct content *c)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, MAX_WBITS + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    uLong cap = deflateBound(&z, (uLong)c->len);
    c->gz = malloc(cap);
    z.next_in = (Bytef *)c->text;
    z.avail_in = (uInt)c->len;
    z.next_out = c->gz;
    z.avail_out = (uInt)cap;
    bool ok = c->gz && deflate(&z, Z_FINISH) == Z_STREAM_END;
    c->gz_len = ok ? z.total_out : 0;
    deflateEnd(&z);
    return ok;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    unsigned port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--file") == 0)
            file = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)strtoul(argv[i + 1], NULL, 10);
    }
    if (!file || port > 65535) {
        fprintf(stderr, "usage: static_serve --file FILE [--port N]\n");
        return 2;
    }
    struct content c = {0};
    FILE *f = fopen(file, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "static_serve: cannot read %s\n", file);
        if (f)
            fclose(f);
        return 1;
    }
    long size = ftell(f);
    rewind(f);
    c.text = malloc(size > 0 ? (size_t)size : 1);
    if (!c.text || size < 0 || fread(c.text, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "static_serve: cannot read %s\n", file);
        free(c.text);
        fclose(f);
        return 1;
    }
    fclose(f);
    c.len = (size_t)size;
    if (!gzip_once(&c)) {
        fprintf(stderr, "static_serve: gzip failed\n");
        free(c.text);
        free(c.gz);
        return 1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL, NULL, handler, &c,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "static_serve: cannot listen\n");
        free(c.text);
        free(c.gz);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("ready %u\n", info ? info->port : port);
    fflush(stdout);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    free(c.text);
    free(c.gz);
    return 0;
}

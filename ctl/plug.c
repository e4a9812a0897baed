/* tplinkctl plug: the original smart-plug client (softScheck's tplink_smartplug.py) on the
 * legacy protocol, with its options and command table, plus strip outlets and switching
 * plugs of an inventory in parallel.
 *
 * One target: TCP (default) or UDP (-u), the reply printed as indented JSON or raw. -b
 * broadcasts the request and prints every reply within -T. With --config.file, on/off go to
 * the named plugs (or --all) at once through the daemon's own transports, one result line
 * per plug. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collectors/kasa/http_transport.h"
#include "collectors/kasa/smart_plug.h"
#include "collectors/kasa/transport.h"
#include "collectors/kasa/xor.h"
#include "config/inventory.h"
#include "config/secret.h"
#include "ctl/ctl.h"
#include "daemon/log.h"

#define DEFAULT_TIMEOUT 5.0   /* seconds for one device */
#define BROADCAST_TIMEOUT 0.5 /* seconds of listening after -b, as the original client */
#define UDP_SENDS 3           /* one datagram and two retries, spread over the timeout */
#define BROADCAST_MAX 4096    /* replies kept from one broadcast */
#define MAX_PARALLEL 64       /* inventory plugs in flight at once */
#define CHILD_ID_MAX 128
#define ACCOUNT_MAX 4096 /* bytes of a credentials file line, as the inventory allows */

static const struct command {
    const char *name;
    const char *json;
    bool dangerous;
    /* The SMART dialect's equivalent (kasa-protocol.md §12): method and params, or NULL. */
    const char *smart, *smart_params;
} commands[] = {
    {"info", "{\"system\":{\"get_sysinfo\":{}}}", false, "get_device_info", NULL},
    {"on", "{\"system\":{\"set_relay_state\":{\"state\":1}}}", false, "set_device_info",
     "{\"device_on\":true}"},
    {"off", "{\"system\":{\"set_relay_state\":{\"state\":0}}}", false, "set_device_info",
     "{\"device_on\":false}"},
    {"energy", "{\"emeter\":{\"get_realtime\":{}}}", false, "get_energy_usage", NULL},
    {"cloudinfo", "{\"cnCloud\":{\"get_info\":{}}}", false, "get_connect_cloud_state", NULL},
    {"wlanscan", "{\"netif\":{\"get_scaninfo\":{\"refresh\":0}}}", false, "get_wireless_scan_info",
     NULL},
    {"time", "{\"time\":{\"get_time\":{}}}", false, "get_device_time", NULL},
    {"schedule", "{\"schedule\":{\"get_rules\":{}}}", false, "get_schedule_rules", NULL},
    {"countdown", "{\"count_down\":{\"get_rules\":{}}}", false, "get_countdown_rules", NULL},
    {"antitheft", "{\"anti_theft\":{\"get_rules\":{}}}", false, "get_antitheft_rules", NULL},
    {"reboot", "{\"system\":{\"reboot\":{\"delay\":1}}}", true, "device_reboot", NULL},
    {"reset", "{\"system\":{\"reset\":{\"delay\":1}}}", true, "device_reset", NULL},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

struct opts {
    const char *target;
    const struct command *command; /* NULL with -j */
    const char *json;
    const char *source;
    const char *config;
    double timeout;
    long outlet; /* 1-based; 0 = the whole device */
    bool broadcast, udp, timeout_set, raw, yes, all;
    enum plug_protocol protocol; /* -t: legacy unless --protocol */
    bool protocol_set, http_port_set;
    const char *credentials; /* --credentials-file */
    uint16_t http_port;      /* --http-port: KLAP's port under --protocol auto */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tplinkctl plug (-t HOST[:PORT] | -b [-t ADDR[:PORT]]) [-c COMMAND | -j JSON]\n"
            "                      [-u] [-s ADDRESS] [-T SECONDS] [--outlet N] [--raw] [--yes]\n"
            "       tplinkctl plug -t HOST[:PORT] --protocol auto|klap|aes [--credentials-file F]\n"
            "                      [--http-port PORT] [-c COMMAND | -j JSON] [-T SECONDS] [--raw]\n"
            "       tplinkctl plug --config.file FILE (NAME... | --all) [-c COMMAND] [-T SECONDS]\n"
            "\n"
            "  -t, --target HOST[:PORT]  the plug (port 9999 unless given; [v6]:port)\n"
            "  -b, --broadcast           send over UDP to 255.255.255.255 (or to the -t address)\n"
            "                            and print every reply within -T\n"
            "  -c, --command COMMAND     one of:");
    for (size_t i = 0, col = 37; i < N_COMMANDS; i++) {
        size_t w = strlen(commands[i].name) + 1;
        if (col + w > 90) {
            fprintf(out, "\n%27s", "");
            col = 27;
        }
        fprintf(out, " %s", commands[i].name);
        col += w;
    }
    fprintf(out,
            "\n"
            "                            (info unless -c or -j is given)\n"
            "  -j, --json JSON           send this request instead, e.g.\n"
            "                            "
            "'{\"system\":{\"get_sysinfo\":{}},\"time\":{\"get_time\":{}}}'\n"
            "  -u, --udp                 UDP instead of TCP (resent at a third of -T)\n"
            "  -s, --source ADDRESS      send from this local address\n"
            "  -T, --timeout SECONDS     give up after this long (default %g; -b listens %g)\n"
            "      --outlet N            outlet N of a power strip (1 = first): learns the\n"
            "                            outlet's id from sysinfo and sends the command for it\n"
            "                            alone; info prints the outlet's entry\n"
            "      --raw                 print the reply as received, not indented\n"
            "      --yes                 confirm reboot and reset\n"
            "      --protocol PROTOCOL   legacy (XOR JSON on port 9999, the default), klap or\n"
            "                            aes (newer firmware, on the HTTP port: -t's port, 80\n"
            "                            unless given), or auto (legacy, KLAP when refused);\n"
            "                            a SMART plug (P110, KP125M) gets the same commands\n"
            "                            in its own dialect\n"
            "      --credentials-file F  the TP-Link account for klap/aes/auto: e-mail on line\n"
            "                            1, password on line 2 (or set TPLINK_KASA_USERNAME\n"
            "                            and TPLINK_KASA_PASSWORD); none: the default accounts\n"
            "      --http-port PORT      KLAP's port for --protocol auto (default 80)\n"
            "      --config.file FILE    send -c to plugs of this inventory, by NAME or --all,\n"
            "                            all at once, each over its own protocol; one line per\n"
            "                            plug (on/off: the result; else the reply), exit 1 if\n"
            "                            any failed\n"
            "      --all                 every plug of the inventory\n",
            DEFAULT_TIMEOUT, BROADCAST_TIMEOUT);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- one device over TCP ---- */

static int wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = events};
        int rc = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (rc >= 0 || errno != EINTR)
            return rc;
    }
}

static int bind_source(int fd, int family, const char *source, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = family, .ai_flags = AI_PASSIVE}, *res = NULL;
    int rc = getaddrinfo(source, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "source %s: %s", source, gai_strerror(rc));
        return -1;
    }
    rc = bind(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0) {
        snprintf(err, errlen, "bind to %s: %s", source, strerror(errno));
        return -1;
    }
    return 0;
}

static int query_tcp(const struct opts *o, const char *host, uint16_t port, const char *json,
                     char **reply, size_t *reply_len, char *err, size_t errlen)
{
    char ps[8];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -1;
    }
    double deadline = now_s() + o->timeout;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    if (o->source && bind_source(fd, res->ai_family, o->source, err, errlen) < 0) {
        freeaddrinfo(res);
        close(fd);
        return -1;
    }
    if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        freeaddrinfo(res);
        close(fd);
        return -1;
    }
    freeaddrinfo(res);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int soerr = 0;
    socklen_t slen = sizeof soerr;
    if (wait_fd(fd, POLLOUT, deadline) <= 0) {
        snprintf(err, errlen, "timed out connecting");
        close(fd);
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0 && soerr) {
        snprintf(err, errlen, "connect: %s", strerror(soerr));
        close(fd);
        return -1;
    }
    size_t len = strlen(json);
    uint8_t *frame = malloc(len + 4);
    size_t flen = frame ? kasa_frame_encode(json, len, frame, len + 4) : 0;
    const char *fail = flen == 0 ? "request too long" : NULL;
    /* One send of header and body together: some devices mishandle a header alone. */
    if (!fail && send(fd, frame, flen, MSG_NOSIGNAL) != (ssize_t)flen)
        fail = "could not send the request";
    free(frame);
    struct kasa_frame_reader reader;
    kasa_frame_reader_init(&reader);
    enum kasa_frame_status st = KASA_FRAME_MORE;
    while (!fail && st == KASA_FRAME_MORE) {
        if (wait_fd(fd, POLLIN, deadline) <= 0) {
            fail = "timed out waiting for the reply";
            break;
        }
        uint8_t buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            fail = n == 0 ? "connection closed before a whole reply" : strerror(errno);
            break;
        }
        size_t used;
        st = kasa_frame_feed(&reader, buf, (size_t)n, &used);
        if (st == KASA_FRAME_TOO_LONG)
            fail = "reply length prefix exceeds 64 KiB";
        else if (st == KASA_FRAME_NOMEM)
            fail = "out of memory";
    }
    close(fd);
    if (fail) {
        snprintf(err, errlen, "%s", fail);
        kasa_frame_reader_free(&reader);
        return -1;
    }
    *reply = (char *)reader.body; /* NUL-terminated; ownership passes to the caller */
    *reply_len = reader.body_len;
    return 0;
}

/* ---- one device over UDP ---- */

static int query_udp(const struct opts *o, const char *host, uint16_t port, const char *json,
                     char **reply, size_t *reply_len, char *err, size_t errlen)
{
    struct ctl_udp_query q = {
        .host = host,
        .port = port,
        .accept_port = port,
        .source = o->source,
        .json = json,
        .wait = o->timeout,
        .sends = UDP_SENDS,
        .unicast = true,
        .max = 1,
    };
    struct ctl_reply *r;
    size_t n;
    if (ctl_udp_collect(&q, &r, &n, err, errlen) < 0)
        return -1;
    if (n == 0) {
        snprintf(err, errlen, "timed out waiting for the reply (%d datagrams sent)", UDP_SENDS);
        ctl_replies_free(r, n);
        return -1;
    }
    *reply = r[0].body;
    *reply_len = r[0].len;
    r[0].body = NULL;
    ctl_replies_free(r, n);
    return 0;
}

static int query(const struct opts *o, const char *host, uint16_t port, const char *json,
                 char **reply, size_t *len, char *err, size_t errlen)
{
    return o->udp ? query_udp(o, host, port, json, reply, len, err, errlen)
                  : query_tcp(o, host, port, json, reply, len, err, errlen);
}

/* ---- output ---- */

static int print_reply(const char *body, size_t len, bool raw, const char *target)
{
    if (raw) {
        fwrite(body, 1, len, stdout);
        putchar('\n');
        return 0;
    }
    json_error_t jerr;
    json_t *reply = json_loadb(body, len, 0, &jerr);
    if (!reply) {
        fprintf(stderr, "tplinkctl: %s: reply is not JSON (%s); use --raw to see it\n", target,
                jerr.text);
        return -1;
    }
    json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(reply);
    return 0;
}

/* ---- strip outlets ---- */

/* Finds outlet n (1-based) in a sysinfo reply: its child object and full id. Over UDP strips
 * send only the id's last two characters; they are appended to the deviceId. */
static json_t *find_outlet(const char *body, size_t len, long n, char *id, size_t idlen, char *err,
                           size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    json_t *si = json_object_get(json_object_get(root, "system"), "get_sysinfo");
    json_t *children = json_object_get(si, "children");
    json_t *child = NULL;
    if (!json_is_object(si)) {
        snprintf(err, errlen, "sysinfo reply without system.get_sysinfo");
    } else if (!json_is_array(children) || json_array_size(children) == 0) {
        snprintf(err, errlen, "not a power strip: sysinfo lists no outlets");
    } else if ((size_t)n > json_array_size(children)) {
        snprintf(err, errlen, "there is no outlet %ld: the strip has %zu", n,
                 json_array_size(children));
    } else {
        child = json_array_get(children, (size_t)n - 1);
        json_t *cid = json_object_get(child, "id");
        const char *dev = json_string_value(json_object_get(si, "deviceId"));
        const char *c = json_string_value(cid);
        size_t cl = c ? strlen(c) : 0;
        if (!json_is_object(child) || cl == 0 || cl >= CHILD_ID_MAX) {
            snprintf(err, errlen, "outlet %ld has no usable id", n);
            child = NULL;
        } else if (cl <= 2 && dev && strlen(dev) < CHILD_ID_MAX - 3) {
            snprintf(id, idlen, "%s%s%s", dev, cl == 1 ? "0" : "", c);
        } else {
            snprintf(id, idlen, "%s", c);
        }
    }
    json_incref(child);
    json_decref(root);
    return child;
}

/* The request with {"context":{"child_ids":[id]}} first: only the first context counts. */
static char *wrap_for_outlet(const char *json, const char *id, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *req = json_loads(json, 0, &jerr);
    char *out = NULL;
    if (!json_is_object(req)) {
        snprintf(err, errlen, "the request is not a JSON object");
    } else if (json_object_get(req, "context")) {
        snprintf(err, errlen, "the request has its own \"context\"; leave out --outlet");
    } else {
        json_t *wrapped = json_pack("{s:{s:[s]}}", "context", "child_ids", id);
        if (wrapped && json_object_update(wrapped, req) == 0)
            out = json_dumps(wrapped, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!out)
            snprintf(err, errlen, "out of memory");
        json_decref(wrapped);
    }
    json_decref(req);
    return out;
}

static int run_one(const struct opts *o)
{
    char host[256], err[300];
    uint16_t port;
    if (ctl_split_target(o->target, host, sizeof host, &port, 9999) < 0) {
        fprintf(stderr, "tplinkctl: bad target \"%s\" (want HOST, HOST:PORT or [V6]:PORT)\n",
                o->target);
        return 2;
    }
    char *reply = NULL, *wrapped = NULL;
    size_t len = 0;
    const char *json = o->json;
    int rc = 1;
    if (o->outlet) {
        char id[CHILD_ID_MAX + 8];
        if (query(o, host, port, commands[0].json, &reply, &len, err, sizeof err) < 0) {
            fprintf(stderr, "tplinkctl: %s: %s\n", o->target, err);
            return 1;
        }
        json_t *child = find_outlet(reply, len, o->outlet, id, sizeof id, err, sizeof err);
        free(reply);
        reply = NULL;
        if (!child) {
            fprintf(stderr, "tplinkctl: %s: %s\n", o->target, err);
            return 1;
        }
        if (o->command == &commands[0]) { /* info: the outlet's entry, with its full id */
            json_object_set_new(child, "id", json_string(id));
            json_dumpf(child, stdout, o->raw ? JSON_COMPACT : JSON_INDENT(2));
            putchar('\n');
            json_decref(child);
            return 0;
        }
        json_decref(child);
        if (!(json = wrapped = wrap_for_outlet(o->json, id, err, sizeof err))) {
            fprintf(stderr, "tplinkctl: %s\n", err);
            return 2;
        }
    }
    if (query(o, host, port, json, &reply, &len, err, sizeof err) < 0)
        fprintf(stderr, "tplinkctl: %s: %s\n", o->target, err);
    else
        rc = print_reply(reply, len, o->raw, o->target) < 0 ? 1 : 0;
    free(reply);
    free(wrapped);
    return rc;
}

/* ---- broadcast ---- */

static int run_broadcast(const struct opts *o)
{
    char host[256], err[300];
    uint16_t port;
    const char *target = o->target ? o->target : "255.255.255.255";
    if (ctl_split_target(target, host, sizeof host, &port, 9999) < 0) {
        fprintf(stderr, "tplinkctl: bad target \"%s\" (want ADDR or ADDR:PORT)\n", target);
        return 2;
    }
    struct ctl_udp_query q = {
        .host = host,
        .port = port,
        .accept_port = port,
        .source = o->source,
        .json = o->json,
        .wait = o->timeout_set ? o->timeout : BROADCAST_TIMEOUT,
        .sends = 1, /* a command, not a probe: sent once, as the original client does */
        .max = BROADCAST_MAX,
    };
    struct ctl_reply *r;
    size_t n;
    if (ctl_udp_collect(&q, &r, &n, err, sizeof err) < 0) {
        fprintf(stderr, "tplinkctl: broadcast: %s\n", err);
        return 1;
    }
    ctl_replies_sort(r, n);
    int rc = n ? 0 : 1;
    if (!n)
        fprintf(stderr, "tplinkctl: no reply on %s port %u within %gs\n", host, (unsigned)port,
                q.wait);
    for (size_t i = 0; i < n; i++) {
        char from[80];
        snprintf(from, sizeof from, strchr(r[i].host, ':') ? "[%s]:%u" : "%s:%u", r[i].host,
                 (unsigned)r[i].port);
        if (o->raw) {
            printf("%s ", from);
            print_reply(r[i].body, r[i].len, true, from);
        } else {
            printf("%s\n", from);
            if (print_reply(r[i].body, r[i].len, false, from) < 0)
                rc = 1;
        }
    }
    ctl_replies_free(r, n);
    return rc;
}

/* ---- through the daemon's transports: inventory plugs in parallel, one plug over KLAP,
 * AES or auto ---- */

struct job {
    struct batch *batch;
    struct device_config cfg; /* a copy, with -T applied */
    const struct kasa_transport_ops *ops;
    struct kasa_transport *t;
    ev_timer deadline;
    bool started, done, ok;
    bool smart;        /* the request in flight is SMART JSON */
    bool may_be_smart; /* KLAP or auto: a SMART-shaped answer to IOT JSON means ask again */
    char *smart_req;
    char *body; /* the reply, NUL-terminated */
    size_t len;
    char line[400]; /* on/off: the result; otherwise why it failed */
};

struct batch {
    struct ev_loop *loop;
    struct job *jobs;
    size_t n, next, running;
    bool starting;                 /* in start_next: jobs that end at once must not recurse */
    const struct command *command; /* NULL: json as given, in whichever dialect */
    const char *json;
    bool relay;           /* on or off: one verdict line per plug */
    struct smart_plug sp; /* its terminal_uuid */
};

static void start_next(struct batch *b);

static void finish(struct job *j, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish(struct job *j, bool ok, const char *fmt, ...)
{
    if (j->done)
        return;
    j->done = true;
    j->ok = ok;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->line, sizeof j->line, fmt, ap);
    va_end(ap);
    ev_timer_stop(j->batch->loop, &j->deadline);
    if (j->t) {
        j->ops->end_poll(j->t);
    }
    j->batch->running--;
    start_next(j->batch);
}

/* Device text is untrusted: keep a line one printable line. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* What the device said to set_relay_state: "" when it obeyed, else why not. */
static void relay_verdict(const char *body, size_t len, char *why, size_t cap)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    json_t *sys = json_object_get(root, "system");
    json_t *res = json_object_get(sys, "set_relay_state");
    json_t *code = json_object_get(json_is_object(res) ? res : sys, "err_code");
    json_t *msg = json_object_get(json_is_object(res) ? res : sys, "err_msg");
    why[0] = '\0';
    if (!json_is_object(root))
        snprintf(why, cap, "reply is not a JSON object");
    else if (!json_is_integer(code))
        snprintf(why, cap, "reply has no system.set_relay_state result");
    else if (json_integer_value(code) != 0)
        snprintf(why, cap, "device answered err_code %lld%s%.80s",
                 (long long)json_integer_value(code), json_is_string(msg) ? ": " : "",
                 json_is_string(msg) ? json_string_value(msg) : "");
    json_decref(root);
    printable(why);
}

/* A SMART reply: "" when its error_code is 0, else why not. */
static void smart_verdict(const char *body, size_t len, char *why, size_t cap)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    json_t *code = json_object_get(root, "error_code");
    why[0] = '\0';
    if (!json_is_object(root))
        snprintf(why, cap, "reply is not a JSON object");
    else if (!json_is_integer(code))
        snprintf(why, cap, "reply has no error_code");
    else if (json_integer_value(code) != 0)
        snprintf(why, cap, "device answered error_code %lld", (long long)json_integer_value(code));
    json_decref(root);
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The command in the SMART dialect: {"method":m,"params":p,"request_time_milis":t,...}. */
static char *smart_request(const struct batch *b)
{
    const struct command *c = b->command;
    json_t *req = json_pack("{s:s,s:I,s:s}", "method", c->smart, "request_time_milis",
                            (json_int_t)wall_ms(), "terminal_uuid", b->sp.terminal_uuid);
    if (req && c->smart_params)
        json_object_set_new(req, "params", json_loads(c->smart_params, 0, NULL));
    char *out = req ? json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(req);
    return out;
}

static void on_reply(void *ctx, enum poll_status st, const char *body, size_t len,
                     const char *detail);

static void send_request(struct job *j)
{
    struct batch *b = j->batch;
    if (!j->smart) {
        j->ops->request(j->t, b->json, on_reply, j);
        return;
    }
    free(j->smart_req);
    if (!(j->smart_req = smart_request(b))) {
        finish(j, false, "%s: error: out of memory", j->cfg.name);
        return;
    }
    j->ops->request(j->t, j->smart_req, on_reply, j);
}

static void on_reply(void *ctx, enum poll_status st, const char *body, size_t len,
                     const char *detail)
{
    struct job *j = ctx;
    struct batch *b = j->batch;
    if (st != POLL_OK) {
        finish(j, false, "%s: error: %s", j->cfg.name, detail ? detail : poll_status_reason(st));
        return;
    }
    if (!j->smart && j->may_be_smart && b->command && smart_plug_reply_shape(body, len)) {
        j->smart = true; /* the IOT request was refused in the SMART dialect: ask in it */
        send_request(j);
        return;
    }
    free(j->body);
    if (!(j->body = malloc(len + 1))) {
        finish(j, false, "%s: error: out of memory", j->cfg.name);
        return;
    }
    memcpy(j->body, body, len);
    j->body[len] = '\0';
    j->len = len;
    char why[200] = "";
    if (j->smart && b->command)
        smart_verdict(body, len, why, sizeof why);
    else if (b->relay)
        relay_verdict(body, len, why, sizeof why);
    if (why[0])
        finish(j, false, "%s: error: %s", j->cfg.name, why);
    else
        finish(j, true, "%s: %s", j->cfg.name, b->command ? b->command->name : "ok");
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct job *j = w->data;
    j->ops->cancel(j->t);
    finish(j, false, "%s: error: timed out after %gs", j->cfg.name, j->cfg.timeout_s);
}

/* The transport of a plug's protocol, as the collector picks it. */
static void choose_transport(struct job *j)
{
    switch (j->cfg.protocol) {
    case PLUG_PROTOCOL_LEGACY:
        j->ops = j->cfg.transport == PLUG_TRANSPORT_UDP ? &kasa_udp_transport : &kasa_tcp_transport;
        break;
    case PLUG_PROTOCOL_KLAP:
        j->ops = &kasa_klap_transport;
        j->may_be_smart = true;
        break;
    case PLUG_PROTOCOL_AES:
        j->ops = &kasa_aes_transport;
        j->smart = true;
        break;
    case PLUG_PROTOCOL_AUTO:
    default:
        j->ops = &kasa_auto_transport;
        j->may_be_smart = true;
        break;
    }
}

static void start_next(struct batch *b)
{
    if (b->starting)
        return;
    b->starting = true;
    while (b->running < MAX_PARALLEL && b->next < b->n) {
        struct job *j = &b->jobs[b->next++];
        char err[300];
        j->started = true;
        b->running++;
        choose_transport(j);
        if (!b->command)
            j->smart = false; /* -j is sent as given, in whichever dialect it is */
        j->t = j->ops->create(&j->cfg, b->loop, err, sizeof err);
        if (!j->t) {
            finish(j, false, "%s: error: %s", j->cfg.name, err);
            continue;
        }
        ev_timer_init(&j->deadline, on_deadline, j->cfg.timeout_s, 0);
        j->deadline.data = j;
        ev_timer_start(b->loop, &j->deadline);
        send_request(j);
    }
    b->starting = false;
    if (b->running == 0 && b->next == b->n)
        ev_break(b->loop, EVBREAK_ALL);
}

/* Runs every job of b to its end on a loop of its own. -1 when there is no loop. */
static int run_batch(struct batch *b)
{
    smart_plug_init(&b->sp);
    /* The transports' session notes are for the daemon's log, not a one-shot's output. */
    log_set_level(LOG_WARN);
    b->loop = ev_loop_new(EVFLAG_AUTO);
    if (!b->loop) {
        fprintf(stderr, "tplinkctl: cannot create the event loop\n");
        return -1;
    }
    start_next(b);
    if (b->running > 0)
        ev_run(b->loop, 0);
    return 0;
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct job *j = &b->jobs[i];
        if (j->t)
            j->ops->destroy(j->t);
        free(j->smart_req);
        free(j->body);
    }
    if (b->loop)
        ev_loop_destroy(b->loop);
}

static int run_inventory(const struct opts *o, char **names, int n_names)
{
    if (!o->command) {
        fprintf(stderr, "tplinkctl: with --config.file, give -c (not -j)\n");
        return 2;
    }
    struct inventory inv;
    char err[600];
    if (inventory_load_file(o->config, &inv, err, sizeof err) < 0) {
        fprintf(stderr, "tplinkctl: %s\n", err);
        return 2;
    }
    int rc = 2;
    bool relay = strcmp(o->command->name, "on") == 0 || strcmp(o->command->name, "off") == 0;
    struct batch b = {.command = o->command, .json = o->command->json, .relay = relay};
    b.jobs = calloc(inv.n_devices ? inv.n_devices : 1, sizeof *b.jobs);
    bool *chosen = calloc(inv.n_devices ? inv.n_devices : 1, sizeof *chosen);
    if (!b.jobs || !chosen) {
        fprintf(stderr, "tplinkctl: out of memory\n");
        goto out;
    }
    for (int k = 0; k < n_names; k++) {
        size_t i = 0;
        while (i < inv.n_devices && strcmp(inv.devices[i].name, names[k]) != 0)
            i++;
        if (i == inv.n_devices || inv.devices[i].kind != DEVICE_PLUG) {
            fprintf(stderr, "tplinkctl: %s: no plug named \"%.64s\"%s\n", o->config, names[k],
                    i < inv.n_devices ? " (it is a switch)" : "");
            goto out;
        }
        chosen[i] = true;
    }
    for (size_t i = 0; i < inv.n_devices; i++) {
        if (!(o->all ? inv.devices[i].kind == DEVICE_PLUG : chosen[i]))
            continue;
        struct job *j = &b.jobs[b.n++];
        j->batch = &b;
        j->cfg = inv.devices[i];
        if (o->timeout_set)
            j->cfg.timeout_s = o->timeout;
    }
    if (b.n == 0) {
        fprintf(stderr, "tplinkctl: %s has no plugs\n", o->config);
        goto out;
    }
    if (run_batch(&b) < 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < b.n; i++) {
        struct job *j = &b.jobs[i];
        if (j->done && j->ok && !relay) {
            /* A read: the reply on one line after the plug's name. */
            json_t *reply = json_loadb(j->body, j->len, 0, NULL);
            char *text = reply ? json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            json_decref(reply);
            if (text) {
                printf("%s: %s\n", j->cfg.name, text);
                free(text);
                continue;
            }
            snprintf(j->line, sizeof j->line, "%s: error: reply is not JSON", j->cfg.name);
            j->ok = false;
        }
        printf("%s\n", j->done ? j->line : "internal error: no result");
        if (!j->done || !j->ok)
            rc = 1;
    }
out:
    batch_free(&b);
    free(chosen);
    free(b.jobs);
    inventory_free(&inv);
    return rc;
}

/* The TP-Link account for KLAP/AES: --credentials-file (e-mail on line 1, password on line
 * 2), else TPLINK_KASA_USERNAME and TPLINK_KASA_PASSWORD, else none (the transports then try
 * the default accounts and blank). Never on the command line, where ps shows it. */
static int read_account(const char *path, struct secret *user, struct secret *pass)
{
    if (!path) {
        const char *u = getenv("TPLINK_KASA_USERNAME"), *p = getenv("TPLINK_KASA_PASSWORD");
        if (!u && !p)
            return 0;
        if (!u || !p || !*u || !*p) {
            fprintf(stderr, "tplinkctl: set both TPLINK_KASA_USERNAME and TPLINK_KASA_PASSWORD, "
                            "or neither\n");
            return -1;
        }
        if (secret_set(user, u, strlen(u)) < 0 || secret_set(pass, p, strlen(p)) < 0) {
            fprintf(stderr, "tplinkctl: out of memory\n");
            return -1;
        }
        return 0;
    }
    char buf[2 * ACCOUNT_MAX + 4];
    size_t n = 0;
    int rc = -1;
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "tplinkctl: cannot read credentials file %s: %s\n", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof buf, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    const char *nl = memchr(buf, '\n', n);
    size_t ulen = nl ? (size_t)(nl - buf) : 0;
    if (ulen > 0 && buf[ulen - 1] == '\r')
        ulen--;
    const char *pw = nl ? nl + 1 : buf + n;
    size_t plen = (size_t)(buf + n - pw);
    if (plen > 0 && pw[plen - 1] == '\n')
        plen--;
    if (plen > 0 && pw[plen - 1] == '\r')
        plen--;
    if (bad)
        fprintf(stderr, "tplinkctl: cannot read credentials file %s\n", path);
    else if (n == sizeof buf || ulen > ACCOUNT_MAX || plen > ACCOUNT_MAX)
        fprintf(stderr, "tplinkctl: credentials file %s is too long\n", path);
    else if (!nl || ulen == 0 || plen == 0 || memchr(pw, '\n', plen) || memchr(buf, '\0', n))
        fprintf(stderr,
                "tplinkctl: credentials file %s: expected two lines, the TP-Link account e-mail "
                "and its password\n",
                path);
    else if (secret_set(user, buf, ulen) < 0 || secret_set(pass, pw, plen) < 0)
        fprintf(stderr, "tplinkctl: out of memory\n");
    else
        rc = 0;
    explicit_bzero(buf, sizeof buf);
    return rc;
}

/* One plug by -t over KLAP, AES or auto: the reply printed as the legacy path prints it. */
static int run_http_one(const struct opts *o)
{
    char host[256], name[300];
    uint16_t port;
    uint16_t def = o->protocol == PLUG_PROTOCOL_AUTO ? 9999 : 80;
    if (ctl_split_target(o->target, host, sizeof host, &port, def) < 0) {
        fprintf(stderr, "tplinkctl: bad target \"%s\" (want HOST, HOST:PORT or [V6]:PORT)\n",
                o->target);
        return 2;
    }
    snprintf(name, sizeof name, "%s", o->target);
    struct job job = {
        .cfg =
            {
                .name = name,
                .kind = DEVICE_PLUG,
                .host = host,
                .port = port,
                .protocol = o->protocol,
                .http_port = o->protocol == PLUG_PROTOCOL_AUTO ? o->http_port : port,
                .timeout_s = o->timeout,
                .interval_s = o->timeout,
            },
    };
    int rc = 1;
    struct batch b = {.jobs = &job, .n = 1, .command = o->command, .json = o->json};
    job.batch = &b;
    if (read_account(o->credentials, &job.cfg.account_user, &job.cfg.account_password) < 0) {
        rc = 2;
        goto out;
    }
    if (run_batch(&b) < 0)
        goto out;
    if (!job.body) {
        fprintf(stderr, "tplinkctl: %s\n", job.done ? job.line : "internal error: no result");
        goto out;
    }
    if (print_reply(job.body, job.len, o->raw, o->target) < 0)
        goto out;
    if (!job.ok) {
        fprintf(stderr, "tplinkctl: %s\n", job.line);
        goto out;
    }
    rc = 0;
out:
    batch_free(&b);
    secret_clear(&job.cfg.account_user);
    secret_clear(&job.cfg.account_password);
    return rc;
}

/* ---- main ---- */

int ctl_plug_main(int argc, char **argv)
{
    enum {
        OPT_RAW = 256,
        OPT_YES,
        OPT_OUTLET,
        OPT_CONFIG,
        OPT_ALL,
        OPT_PROTOCOL,
        OPT_CREDENTIALS,
        OPT_HTTP_PORT
    };
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'},
        {"broadcast", no_argument, NULL, 'b'},
        {"command", required_argument, NULL, 'c'},
        {"json", required_argument, NULL, 'j'},
        {"udp", no_argument, NULL, 'u'},
        {"source", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 'T'},
        {"outlet", required_argument, NULL, OPT_OUTLET},
        {"raw", no_argument, NULL, OPT_RAW},
        {"yes", no_argument, NULL, OPT_YES},
        {"config.file", required_argument, NULL, OPT_CONFIG},
        {"all", no_argument, NULL, OPT_ALL},
        {"protocol", required_argument, NULL, OPT_PROTOCOL},
        {"credentials-file", required_argument, NULL, OPT_CREDENTIALS},
        {"http-port", required_argument, NULL, OPT_HTTP_PORT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {.timeout = DEFAULT_TIMEOUT, .protocol = PLUG_PROTOCOL_LEGACY, .http_port = 80};
    const char *command = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:bc:j:us:T:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            o.target = optarg;
            break;
        case 'b':
            o.broadcast = true;
            break;
        case 'c':
            command = optarg;
            break;
        case 'j':
            o.json = optarg;
            break;
        case 'u':
            o.udp = true;
            break;
        case 's':
            o.source = optarg;
            break;
        case 'T':
            if (ctl_parse_seconds(optarg, &o.timeout) < 0) {
                fprintf(stderr, "tplinkctl: -T wants seconds above 0, at most 3600\n");
                return 2;
            }
            o.timeout_set = true;
            break;
        case OPT_OUTLET: {
            char *end;
            errno = 0;
            o.outlet = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || o.outlet < 1 || o.outlet > 64) {
                fprintf(stderr, "tplinkctl: --outlet wants a number from 1 (the first outlet)\n");
                return 2;
            }
            break;
        }
        case OPT_RAW:
            o.raw = true;
            break;
        case OPT_YES:
            o.yes = true;
            break;
        case OPT_CONFIG:
            o.config = optarg;
            break;
        case OPT_ALL:
            o.all = true;
            break;
        case OPT_PROTOCOL: {
            static const char *const names[] = {"auto", "legacy", "klap", "aes"};
            static const enum plug_protocol values[] = {PLUG_PROTOCOL_AUTO, PLUG_PROTOCOL_LEGACY,
                                                        PLUG_PROTOCOL_KLAP, PLUG_PROTOCOL_AES};
            size_t i = 0;
            while (i < 4 && strcmp(optarg, names[i]) != 0)
                i++;
            if (i == 4) {
                fprintf(stderr, "tplinkctl: --protocol wants auto, legacy, klap or aes\n");
                return 2;
            }
            o.protocol = values[i];
            o.protocol_set = true;
            break;
        }
        case OPT_CREDENTIALS:
            o.credentials = optarg;
            break;
        case OPT_HTTP_PORT: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || optarg[0] == '-' || optarg[0] == '+' || v < 1 ||
                v > 65535) {
                fprintf(stderr, "tplinkctl: --http-port wants a port from 1 to 65535\n");
                return 2;
            }
            o.http_port = (uint16_t)v;
            o.http_port_set = true;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    const char *why = NULL;
    if (command && o.json)
        why = "give -c or -j, not both";
    else if (o.config && (o.target || o.broadcast || o.outlet || o.source || o.udp))
        why = "--config.file takes plug names or --all, not -t, -b, -u, -s or --outlet";
    else if (o.config && o.all == (optind < argc))
        why = "--config.file wants plug names or --all";
    else if (!o.config && (o.all || optind != argc))
        why = "plug names and --all need --config.file";
    else if (!o.config && !o.target && !o.broadcast)
        why = "give -t HOST, -b or --config.file";
    else if (o.broadcast && o.outlet)
        why = "--outlet needs one target, not -b";
    else if (o.config && (o.protocol_set || o.credentials || o.http_port_set))
        why = "with --config.file, protocol and credentials come from the inventory";
    else if (o.protocol != PLUG_PROTOCOL_LEGACY && (o.broadcast || o.udp || o.source || o.outlet))
        why = "-b, -u, -s and --outlet speak the legacy protocol only";
    else if (!o.config && o.protocol == PLUG_PROTOCOL_LEGACY && (o.credentials || o.http_port_set))
        why = "--credentials-file and --http-port need --protocol auto, klap or aes";
    else if (o.http_port_set && o.protocol != PLUG_PROTOCOL_AUTO)
        why = "--http-port is for --protocol auto (klap and aes use -t's port)";
    if (why) {
        fprintf(stderr, "tplinkctl: %s\n", why);
        usage(stderr);
        return 2;
    }
    if (!o.json) {
        size_t i = 0;
        const char *name = command ? command : "info";
        while (i < N_COMMANDS && strcmp(commands[i].name, name) != 0)
            i++;
        if (i == N_COMMANDS) {
            fprintf(stderr, "tplinkctl: unknown command \"%s\"\n", name);
            usage(stderr);
            return 2;
        }
        if (commands[i].dangerous && !o.yes) {
            fprintf(stderr, "tplinkctl: \"%s\" acts on the device; add --yes to confirm\n", name);
            return 2;
        }
        o.command = &commands[i];
        o.json = commands[i].json;
    } else {
        json_error_t jerr;
        json_t *req = json_loads(o.json, 0, &jerr);
        if (!json_is_object(req)) {
            fprintf(stderr, "tplinkctl: -j is not a JSON object: %s\n",
                    req ? "another JSON value" : jerr.text);
            json_decref(req);
            return 2;
        }
        json_decref(req);
    }
    if (o.config)
        return run_inventory(&o, argv + optind, argc - optind);
    if (o.broadcast)
        return run_broadcast(&o);
    if (o.protocol != PLUG_PROTOCOL_LEGACY)
        return run_http_one(&o);
    return run_one(&o);
}

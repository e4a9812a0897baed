/* tplinkctl discover: finds legacy Kasa plugs by broadcasting sysinfo (with the meter, so one
 * round trip tells whether a plug measures), and prints a table or inventory YAML.
 *
 * Also the UDP sender/collector that `tplinkctl plug -u/-b` uses. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "collectors/kasa/discovery.h"
#include "collectors/kasa/discovery20002.h"
#include "collectors/kasa/xor.h"
#include "ctl/ctl.h"
#include "daemon/strbuf.h"

#define DISCOVER_MAX 4096         /* devices kept from one broadcast */
#define DISCOVER_DEFAULT_WAIT 2.0 /* seconds */
#define DISCOVER_SENDS 3

/* ---- shared helpers ---- */

int ctl_parse_seconds(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0 && v <= 3600))
        return -1;
    *out = v;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void numeric_host(const struct sockaddr_storage *sa, char *host, size_t cap, uint16_t *port)
{
    host[0] = '\0';
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)cap);
        *port = ntohs(s4->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)cap);
        *port = ntohs(s6->sin6_port);
    }
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

static int addr_cmp(const void *pa, const void *pb)
{
    const struct ctl_reply *a = pa, *b = pb;
    if (a->addr.ss_family != b->addr.ss_family)
        return a->addr.ss_family < b->addr.ss_family ? -1 : 1;
    int c;
    if (a->addr.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)&a->addr, *y = (const void *)&b->addr;
        uint32_t ax = ntohl(x->sin_addr.s_addr), ay = ntohl(y->sin_addr.s_addr);
        c = ax < ay ? -1 : ax > ay;
    } else {
        const struct sockaddr_in6 *x = (const void *)&a->addr, *y = (const void *)&b->addr;
        c = memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
    }
    return c ? c : (a->port > b->port) - (a->port < b->port);
}

void ctl_replies_sort(struct ctl_reply *r, size_t n)
{
    if (n > 1)
        qsort(r, n, sizeof *r, addr_cmp);
}

void ctl_replies_free(struct ctl_reply *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].body);
    free(r);
}

static int resolve(const char *host, uint16_t port, int family, int flags,
                   struct sockaddr_storage *out, socklen_t *len, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM, .ai_flags = flags};
    struct addrinfo *res = NULL;
    char ps[8];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Reads every datagram waiting on fd into the list; returns -1 on a socket error. */
static int drain(int fd, const struct ctl_udp_query *q, const struct sockaddr_storage *to,
                 uint8_t *buf, struct ctl_reply **list, size_t *n, size_t *cap, char *err,
                 size_t errlen)
{
    for (;;) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        memset(&from, 0, sizeof from);
        ssize_t got =
            recvfrom(fd, buf, KASA_FRAME_MAX, MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
            snprintf(err, errlen, "udp: %s", strerror(errno));
            return -1;
        }
        if ((size_t)got > KASA_FRAME_MAX || got == 0)
            continue; /* cut off, or empty: nothing a device would send */
        struct ctl_reply r;
        memset(&r, 0, sizeof r);
        r.addr = from;
        numeric_host(&from, r.host, sizeof r.host, &r.port);
        r.from_port2 = q->port2 && r.port == q->port2;
        if ((r.port != q->accept_port && !r.from_port2) || (q->unicast && !same_addr(&from, to)))
            continue;
        bool dup = false;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = same_addr(&(*list)[i].addr, &from);
        if (dup || *n >= q->max)
            continue;
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            struct ctl_reply *l = realloc(*list, nc * sizeof *l);
            if (!l) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            *list = l;
            *cap = nc;
        }
        if (!(r.body = malloc((size_t)got + 1))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (r.from_port2)
            memcpy(r.body, buf, (size_t)got);
        else
            kasa_xor_decrypt(buf, (size_t)got, (uint8_t *)r.body);
        r.body[got] = '\0';
        r.len = (size_t)got;
        (*list)[(*n)++] = r;
    }
}

int ctl_udp_collect(const struct ctl_udp_query *q, struct ctl_reply **out, size_t *n, char *err,
                    size_t errlen)
{
    *out = NULL;
    *n = 0;
    struct sockaddr_storage to, to2, src;
    socklen_t tolen, srclen;
    if (resolve(q->host, q->port, AF_UNSPEC, AI_NUMERICSERV, &to, &tolen, err, errlen) < 0)
        return -1;
    to2 = to;
    if (to2.ss_family == AF_INET)
        ((struct sockaddr_in *)&to2)->sin_port = htons(q->port2);
    else
        ((struct sockaddr_in6 *)&to2)->sin6_port = htons(q->port2);
    char why[200];
    if (q->source && resolve(q->source, 0, to.ss_family, AI_NUMERICSERV | AI_PASSIVE, &src, &srclen,
                             why, sizeof why) < 0) {
        snprintf(err, errlen, "source %s", why);
        return -1;
    }
    size_t len = strlen(q->json);
    uint8_t *buf = malloc(KASA_FRAME_MAX + 1);
    uint8_t *msg = malloc(len ? len : 1);
    if (!buf || !msg || len > KASA_FRAME_MAX) {
        snprintf(err, errlen, !buf || !msg ? "out of memory" : "request too long");
        free(buf);
        free(msg);
        return -1;
    }
    kasa_xor_encrypt((const uint8_t *)q->json, len, msg);
    int rc = -1;
    size_t cap = 0;
    int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto out;
    }
    if (to.ss_family == AF_INET && !q->unicast &&
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0) {
        snprintf(err, errlen, "SO_BROADCAST: %s", strerror(errno));
        goto out;
    }
    if (q->source && bind(fd, (struct sockaddr *)&src, srclen) != 0) {
        snprintf(err, errlen, "bind to %s: %s", q->source, strerror(errno));
        goto out;
    }
    /* A connected socket hears only that peer, and learns of an ICMP port unreachable. */
    if (q->unicast && connect(fd, (struct sockaddr *)&to, tolen) != 0) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        goto out;
    }
    double start = now_s(), end = start + q->wait;
    int sends = q->sends > 0 ? q->sends : 1;
    double step = sends > 1 ? q->wait / (q->unicast ? sends : 2.0 * (sends - 1)) : q->wait;
    int sent = 0;
    for (;;) {
        double now = now_s();
        if (sent < sends && now >= start + sent * step) {
            ssize_t w = q->unicast
                            ? send(fd, msg, len, MSG_NOSIGNAL)
                            : sendto(fd, msg, len, MSG_NOSIGNAL, (struct sockaddr *)&to, tolen);
            if (w < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
                snprintf(err, errlen, "send to %s port %u: %s", q->host, (unsigned)q->port,
                         strerror(errno));
                goto out;
            }
            if (q->port2 && !q->unicast) {
                w = sendto(fd, q->raw2, q->raw2_len, MSG_NOSIGNAL, (struct sockaddr *)&to2, tolen);
                if (w < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
                    snprintf(err, errlen, "send to %s port %u: %s", q->host, (unsigned)q->port2,
                             strerror(errno));
                    goto out;
                }
            }
            sent++;
            continue;
        }
        if (now >= end || (q->unicast && *n > 0))
            break;
        double until = sent < sends && start + sent * step < end ? start + sent * step : end;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ms = (int)((until - now) * 1000) + 1;
        int pr = poll(&pfd, 1, ms);
        if (pr < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            goto out;
        }
        if (pr > 0 && drain(fd, q, &to, buf, out, n, &cap, err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(msg);
    if (rc < 0) {
        ctl_replies_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* A 20002 reply as a found device: what the probe tells, the rest "-". -1 with err. */
static int found_from_20002(const struct ctl_reply *r, struct kasa_found *f, char *err,
                            size_t errlen)
{
    struct disc20002_info d;
    if (disc20002_parse_reply((const uint8_t *)r->body, r->len, &d, err, errlen) < 0)
        return -1;
    memset(f, 0, sizeof *f);
    snprintf(f->host, sizeof f->host, "%s", r->host);
    f->port = KASA_DEFAULT_PORT;
    f->relay = -1;
    f->partial = true;
    switch (d.transport) {
    case KASA_TRANSPORT_IOT_KLAP:
    case KASA_TRANSPORT_SMART_KLAP:
        snprintf(f->protocol, sizeof f->protocol, "klap");
        break;
    case KASA_TRANSPORT_SMART_AES:
        snprintf(f->protocol, sizeof f->protocol, "aes");
        break;
    case KASA_TRANSPORT_IOT_XOR:
        break; /* a legacy plug: the 9999 reply, if any, tells more */
    case KASA_TRANSPORT_UNKNOWN:
    default:
        snprintf(err, errlen, "unknown device type or encryption");
        return -1;
    }
    f->http_port = (uint16_t)d.http_port;
    snprintf(f->model, sizeof f->model, "%s", d.model);
    snprintf(f->device_id, sizeof f->device_id, "%s", d.device_id);
    snprintf(f->mac, sizeof f->mac, "%s", d.mac);
    for (char *c = f->mac; *c; c++)
        if (*c == '-')
            *c = ':'; /* as sysinfo writes it, so one device reads the same in both */
    return 0;
}

/* Two entries for one device: the same address, device id or MAC. */
static bool same_device(const struct kasa_found *a, const struct kasa_found *b)
{
    return strcmp(a->host, b->host) == 0 ||
           (a->device_id[0] && strcmp(a->device_id, b->device_id) == 0) ||
           (a->mac[0] && strcasecmp(a->mac, b->mac) == 0);
}

/* The devices of both probes, in the replies' (address) order, each once: a device that
 * answered the legacy probe is listed by that richer reply. Unusable replies get a line on
 * stderr. -1 when out of memory. */
static int merge_found(const struct ctl_reply *r, size_t n, struct kasa_found **out, size_t *nout)
{
    struct kasa_found *parsed = calloc(n ? n : 1, sizeof *parsed);
    struct kasa_found *found = calloc(n ? n : 1, sizeof *found);
    bool *ok = calloc(n ? n : 1, sizeof *ok);
    if (!parsed || !found || !ok) {
        free(parsed);
        free(found);
        free(ok);
        return -1;
    }
    char err[300];
    for (size_t i = 0; i < n; i++) {
        struct kasa_found *f = &parsed[i];
        snprintf(f->host, sizeof f->host, "%s", r[i].host);
        f->port = r[i].port;
        int rc = r[i].from_port2 ? found_from_20002(&r[i], f, err, sizeof err)
                                 : kasa_found_parse(r[i].body, r[i].len, f, err, sizeof err);
        if (rc < 0) {
            char shown[4 * sizeof err];
            fprintf(stderr, "tplinkctl: %s port %u: ignored: %s\n", r[i].host, (unsigned)r[i].port,
                    kasa_escape(err, false, shown, sizeof shown));
            continue;
        }
        ok[i] = true;
    }
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        bool dup = false;
        /* A device seen on two addresses (two interfaces, or a NAT) is listed once. */
        for (size_t j = 0; j < nf && !dup; j++)
            dup = r[i].from_port2 ? same_device(&parsed[i], &found[j])
                                  : parsed[i].device_id[0] &&
                                        strcmp(found[j].device_id, parsed[i].device_id) == 0;
        /* The probe's entry gives way to a legacy reply that comes later in the order. */
        for (size_t j = i + 1; j < n && !dup && r[i].from_port2; j++)
            dup = ok[j] && !r[j].from_port2 && same_device(&parsed[i], &parsed[j]);
        if (!dup)
            found[nf++] = parsed[i];
    }
    free(parsed);
    free(ok);
    *out = found;
    *nout = nf;
    return 0;
}

/* ---- discover ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tplinkctl discover [-T SECONDS] [--target ADDR[:PORT]] [--port P]\n"
            "                          [--discovery-port P] [--legacy-only] [--source ADDR]\n"
            "                          [--inventory]\n\n"
            "Broadcasts system.get_sysinfo (with emeter.get_realtime) to legacy Kasa plugs, and\n"
            "the discovery probe of newer firmware (KLAP, AES) to UDP 20002, and lists those\n"
            "that answer, each once.\n\n"
            "  -T, --timeout SECONDS   how long to listen (default %.0f); the request goes out\n"
            "                          %d times in the first half\n"
            "      --target ADDR[:PORT]\n"
            "                          where to send: a broadcast address (default\n"
            "                          255.255.255.255:9999), a subnet's broadcast address or\n"
            "                          one device\n"
            "      --port P            accept replies from this source port (default: the\n"
            "                          target's port)\n"
            "      --discovery-port P  where the new-firmware probe goes, and replies come from\n"
            "                          (default 20002), on the target's address\n"
            "      --legacy-only       send the legacy request only\n"
            "  -s, --source ADDR       send from this local address\n"
            "      --inventory         print the plugs as inventory YAML instead of a table\n",
            DISCOVER_DEFAULT_WAIT, DISCOVER_SENDS);
}

static void print_table(const struct kasa_found *found, size_t n)
{
    static const char *const head[] = {"HOST",  "MODEL", "HARDWARE", "FIRMWARE", "MAC",
                                       "ALIAS", "METER", "RELAY",    "PROTOCOL"};
    enum { COLS = 9, CELL = 4 * 128 + 16 };
    size_t width[COLS];
    for (size_t c = 0; c < COLS; c++)
        width[c] = strlen(head[c]);
    char(*cells)[COLS][CELL] = calloc(n ? n : 1, sizeof *cells);
    if (!cells) {
        fprintf(stderr, "tplinkctl: out of memory\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct kasa_found *f = &found[i];
        char host[80];
        if (f->port == KASA_DEFAULT_PORT)
            snprintf(host, sizeof host, "%s", f->host);
        else if (strchr(f->host, ':'))
            snprintf(host, sizeof host, "[%s]:%u", f->host, (unsigned)f->port);
        else
            snprintf(host, sizeof host, "%s:%u", f->host, (unsigned)f->port);
        kasa_escape(host, false, cells[i][0], CELL);
        kasa_escape(f->model, false, cells[i][1], CELL);
        kasa_escape(f->hw_ver, false, cells[i][2], CELL);
        kasa_escape(f->sw_ver, false, cells[i][3], CELL);
        kasa_escape(f->mac, false, cells[i][4], CELL);
        kasa_escape(f->alias, false, cells[i][5], CELL);
        snprintf(cells[i][6], CELL, "%s", f->partial ? "-" : f->meter ? "yes" : "no");
        if (f->outlets)
            snprintf(cells[i][7], CELL, "strip(%d)", f->outlets);
        else
            snprintf(cells[i][7], CELL, "%s", f->relay < 0 ? "-" : f->relay ? "on" : "off");
        if (!f->protocol[0])
            snprintf(cells[i][8], CELL, "legacy");
        else if (f->http_port && f->http_port != 80)
            snprintf(cells[i][8], CELL, "%s:%u", f->protocol, (unsigned)f->http_port);
        else
            snprintf(cells[i][8], CELL, "%s", f->protocol);
        for (size_t c = 0; c < COLS; c++) {
            if (!cells[i][c][0])
                snprintf(cells[i][c], CELL, "-");
            size_t w = kasa_text_width(cells[i][c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t i = 0; i <= n; i++) {
        for (size_t c = 0; c < COLS; c++) {
            const char *text = i == 0 ? head[c] : cells[i - 1][c];
            if (c == COLS - 1) {
                printf("%s\n", text);
                break;
            }
            printf("%s%*s", text, (int)(width[c] - kasa_text_width(text) + 2), "");
        }
    }
    free(cells);
}

int ctl_discover_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 'T'},
        {"target", required_argument, NULL, 't'},
        {"port", required_argument, NULL, 'p'},
        {"source", required_argument, NULL, 's'},
        {"inventory", no_argument, NULL, 'i'},
        {"discovery-port", required_argument, NULL, 'D'},
        {"legacy-only", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double wait = DISCOVER_DEFAULT_WAIT;
    const char *target = "255.255.255.255", *source = NULL;
    bool inventory = false, legacy_only = false;
    long accept = -1, port2 = DISC20002_PORT;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "T:t:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'T':
            if (ctl_parse_seconds(optarg, &wait) < 0) {
                fprintf(stderr, "tplinkctl: -T wants seconds above 0, at most 3600\n");
                return 2;
            }
            break;
        case 't':
            target = optarg;
            break;
        case 'p': {
            char *end;
            errno = 0;
            accept = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || accept < 1 || accept > 65535) {
                fprintf(stderr, "tplinkctl: --port wants a port from 1 to 65535\n");
                return 2;
            }
            break;
        }
        case 'D': {
            char *end;
            errno = 0;
            port2 = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || port2 < 1 || port2 > 65535) {
                fprintf(stderr, "tplinkctl: --discovery-port wants a port from 1 to 65535\n");
                return 2;
            }
            break;
        }
        case 'L':
            legacy_only = true;
            break;
        case 's':
            source = optarg;
            break;
        case 'i':
            inventory = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    char host[256];
    uint16_t port;
    if (ctl_split_target(target, host, sizeof host, &port, KASA_DEFAULT_PORT) < 0) {
        fprintf(stderr, "tplinkctl: bad target \"%s\" (want ADDR, ADDR:PORT or [V6]:PORT)\n",
                target);
        return 2;
    }
    struct ctl_udp_query q = {
        .host = host,
        .port = port,
        .accept_port = accept > 0 ? (uint16_t)accept : port,
        .source = source,
        .json = KASA_DISCOVERY_REQUEST,
        .wait = wait,
        .sends = DISCOVER_SENDS,
        .max = DISCOVER_MAX,
    };
    /* The bare probe (no RSA key): devices answer it with what discovery needs. */
    uint8_t probe[DISC20002_HEADER_LEN];
    if (!legacy_only) {
        if ((uint16_t)port2 == q.accept_port || (uint16_t)port2 == port) {
            fprintf(stderr,
                    "tplinkctl: --discovery-port must differ from the legacy port %u "
                    "(or give --legacy-only)\n",
                    (unsigned)port);
            return 2;
        }
        q.port2 = (uint16_t)port2;
        q.raw2 = probe;
        q.raw2_len = disc20002_build_probe(NULL, 0, probe, sizeof probe);
    }
    struct ctl_reply *replies;
    size_t n;
    char err[300];
    if (ctl_udp_collect(&q, &replies, &n, err, sizeof err) < 0) {
        fprintf(stderr, "tplinkctl: discover: %s\n", err);
        return 1;
    }
    ctl_replies_sort(replies, n);
    struct kasa_found *found = NULL;
    size_t nf = 0;
    if (merge_found(replies, n, &found, &nf) < 0) {
        fprintf(stderr, "tplinkctl: out of memory\n");
        ctl_replies_free(replies, n);
        return 1;
    }
    ctl_replies_free(replies, n);
    int rc = 0;
    if (nf == 0) {
        if (q.port2)
            fprintf(stderr,
                    "tplinkctl: discover: no plug answered on %s port %u or %u within %gs\n", host,
                    (unsigned)q.accept_port, (unsigned)q.port2, wait);
        else
            fprintf(stderr, "tplinkctl: discover: no plug answered on %s port %u within %gs\n",
                    host, (unsigned)q.accept_port, wait);
        rc = 1;
    } else if (inventory) {
        struct strbuf b;
        strbuf_init(&b, 0);
        if (kasa_found_inventory(found, nf, &b))
            fputs(b.data, stdout);
        else {
            fprintf(stderr, "tplinkctl: out of memory\n");
            rc = 1;
        }
        strbuf_free(&b);
    } else {
        print_table(found, nf);
    }
    free(found);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "tplinkctl: cannot write the output: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}

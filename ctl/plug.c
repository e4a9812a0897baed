/* tplinkctl plug: one request to a Kasa plug over the legacy protocol, reply printed.
 * The command table follows softScheck's original client so its users feel at home. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collectors/kasa/xor.h"
#include "ctl/ctl.h"

static const struct {
    const char *name;
    const char *json;
    bool dangerous;
} commands[] = {
    {"info", "{\"system\":{\"get_sysinfo\":{}}}", false},
    {"on", "{\"system\":{\"set_relay_state\":{\"state\":1}}}", false},
    {"off", "{\"system\":{\"set_relay_state\":{\"state\":0}}}", false},
    {"energy", "{\"emeter\":{\"get_realtime\":{}}}", false},
    {"cloudinfo", "{\"cnCloud\":{\"get_info\":{}}}", false},
    {"wlanscan", "{\"netif\":{\"get_scaninfo\":{\"refresh\":0}}}", false},
    {"time", "{\"time\":{\"get_time\":{}}}", false},
    {"schedule", "{\"schedule\":{\"get_rules\":{}}}", false},
    {"countdown", "{\"count_down\":{\"get_rules\":{}}}", false},
    {"antitheft", "{\"anti_theft\":{\"get_rules\":{}}}", false},
    {"reboot", "{\"system\":{\"reboot\":{\"delay\":1}}}", true},
    {"reset", "{\"system\":{\"reset\":{\"delay\":1}}}", true},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tplinkctl plug -t HOST[:PORT] (-c COMMAND | -j JSON) [-T SECONDS] "
                 "[--raw] [--yes]\n\n"
                 "  -t, --target HOST[:PORT]  the plug (port 9999 unless given; [v6]:port)\n"
                 "  -c, --command COMMAND     one of:");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, " %s", commands[i].name);
    fprintf(out, "\n  -j, --json JSON           send this request instead\n"
                 "  -T, --timeout SECONDS     give up after this long (default 5)\n"
                 "      --raw                 print the reply as received, not indented\n"
                 "      --yes                 confirm reboot and reset\n");
}

/* "host", "host:port", "[v6]" or "[v6]:port". */
static int split_target(const char *target, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *p = target, *end, *colon = NULL;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end)
            return -1;
        p++;
        if (end[1] == ':')
            colon = end + 1;
        else if (end[1] != '\0')
            return -1;
    } else {
        colon = strchr(p, ':');
        if (colon && strchr(colon + 1, ':'))
            return -1; /* a bare IPv6 literal needs brackets */
        end = colon ? colon : p + strlen(p);
    }
    size_t hl = (size_t)(end - p);
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    snprintf(port, portlen, "%s", colon ? colon + 1 : "9999");
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for fd to become ready within the overall deadline. */
static int wait_fd(int fd, short events, double deadline)
{
    double left = deadline - now_s();
    if (left <= 0)
        return 0;
    struct pollfd pfd = {.fd = fd, .events = events};
    int rc = poll(&pfd, 1, (int)(left * 1000) + 1);
    return rc;
}

static int query(const char *host, const char *port, const char *json, double timeout,
                 struct kasa_frame_reader *reader, const char *target)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "tplinkctl: %s: %s\n", target, gai_strerror(rc));
        return -1;
    }
    double deadline = now_s() + timeout;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        fprintf(stderr, "tplinkctl: %s: connect: %s\n", target, strerror(errno));
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    const char *fail = NULL;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (wait_fd(fd, POLLOUT, deadline) <= 0) {
        fail = "timed out connecting";
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr) {
        fprintf(stderr, "tplinkctl: %s: connect: %s\n", target, strerror(soerr));
        close(fd);
        return -1;
    }
    uint8_t frame[KASA_FRAME_MAX + 4];
    size_t flen = fail ? 0 : kasa_frame_encode(json, strlen(json), frame, sizeof frame);
    if (!fail && flen == 0)
        fail = "request too long";
    /* One send of header and body together: some devices mishandle a header alone. */
    if (!fail && send(fd, frame, flen, MSG_NOSIGNAL) != (ssize_t)flen)
        fail = "could not send the request";
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
        st = kasa_frame_feed(reader, buf, (size_t)n, &used);
        if (st == KASA_FRAME_TOO_LONG)
            fail = "reply length prefix exceeds 64 KiB";
        else if (st == KASA_FRAME_NOMEM)
            fail = "out of memory";
    }
    close(fd);
    if (fail) {
        fprintf(stderr, "tplinkctl: %s: %s\n", target, fail);
        return -1;
    }
    return 0;
}

int ctl_plug_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'}, {"command", required_argument, NULL, 'c'},
        {"json", required_argument, NULL, 'j'},   {"timeout", required_argument, NULL, 'T'},
        {"raw", no_argument, NULL, 'r'},          {"yes", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *target = NULL, *command = NULL, *json = NULL;
    double timeout = 5;
    bool raw = false, yes = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:c:j:T:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            target = optarg;
            break;
        case 'c':
            command = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 'T': {
            char *end;
            timeout = strtod(optarg, &end);
            if (*end || !(timeout > 0 && timeout <= 3600)) {
                fprintf(stderr, "tplinkctl: -T wants seconds between 0 and 3600\n");
                return 2;
            }
            break;
        }
        case 'r':
            raw = true;
            break;
        case 'y':
            yes = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!target || (!command == !json) || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (command) {
        size_t i = 0, n = sizeof commands / sizeof commands[0];
        while (i < n && strcmp(commands[i].name, command) != 0)
            i++;
        if (i == n) {
            fprintf(stderr, "tplinkctl: unknown command \"%s\"\n", command);
            usage(stderr);
            return 2;
        }
        if (commands[i].dangerous && !yes) {
            fprintf(stderr, "tplinkctl: \"%s\" acts on the device; add --yes to confirm\n",
                    command);
            return 2;
        }
        json = commands[i].json;
    } else {
        json_error_t jerr;
        json_t *req = json_loads(json, 0, &jerr);
        if (!json_is_object(req)) {
            fprintf(stderr, "tplinkctl: -j is not a JSON object: %s\n", jerr.text);
            json_decref(req);
            return 2;
        }
        json_decref(req);
    }
    char host[256], port[16];
    if (split_target(target, host, sizeof host, port, sizeof port) < 0) {
        fprintf(stderr, "tplinkctl: bad target \"%s\" (want HOST, HOST:PORT or [V6]:PORT)\n",
                target);
        return 2;
    }

    struct kasa_frame_reader reader;
    kasa_frame_reader_init(&reader);
    if (query(host, port, json, timeout, &reader, target) < 0) {
        kasa_frame_reader_free(&reader);
        return 1;
    }
    int rc = 0;
    if (raw) {
        fwrite(reader.body, 1, reader.body_len, stdout);
        putchar('\n');
    } else {
        json_error_t jerr;
        json_t *reply = json_loadb((const char *)reader.body, reader.body_len, 0, &jerr);
        if (!reply) {
            fprintf(stderr, "tplinkctl: %s: reply is not JSON (%s); use --raw to see it\n", target,
                    jerr.text);
            rc = 1;
        } else {
            json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            putchar('\n');
            json_decref(reply);
        }
    }
    kasa_frame_reader_free(&reader);
    return rc;
}

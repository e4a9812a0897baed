/* floor: the least a plug poller can do, as a baseline for the daemon's CPU per poll.
 *
 * A bare epoll loop, no libev, no timers but one schedule: for every target, at the same
 * rate as the daemon (one poll per interval, at the same phases), it connects, sends the
 * framed sysinfo+emeter request, reads the reply with the library's kasa_frame_reader,
 * decodes it with kasa_iot_parse_reply (the daemon's own codec, so the comparison is like
 * for like) and closes. Everything the daemon does beyond this is overhead.
 *
 *   floor --targets FILE [--interval S] [--timeout S] [--duration S] [--report S]
 *
 * FILE has one "ADDR PORT [NAME]" per line (IPv4 or IPv6 literals). With names, each target
 * gets the phase the daemon gives a device of that name (daemon_phase below), so both
 * programs start their polls at the same moments; without, phases are spread evenly.
 * Every --report seconds it
 * prints "stats t=SECONDS polls=N ok=N errors=N skipped=N cpu_s=SECONDS" (cumulative), and
 * a summary at the end (after --duration, or on SIGTERM/SIGINT). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collectors/kasa/iot_json.h"
#include "collectors/kasa/xor.h"

#define MAX_TARGETS 200000
#define MAX_EVENTS 256

enum phase { IDLE, CONNECTING, RECEIVING };

struct target {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    double offset; /* seconds into each interval */
    int fd;
    enum phase phase;
    double started;
    struct kasa_frame_reader rd;
};

struct stats {
    uint64_t polls, ok, errors, skipped;
};

/* Polls in the order they started: with one timeout for all, the oldest is the first to
 * expire, so deadlines cost O(1) per poll rather than a scan of every target. */
struct started {
    size_t idx;
    double at;
};

struct floor_state {
    struct target *t;
    size_t n;
    struct started *ring;
    size_t ring_cap, ring_head, ring_len;
    int ep;
    uint8_t frame[256];
    size_t frame_len;
    double timeout_s;
    struct stats st;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double daemon_phase(const char *name, double interval_s);

static int load_targets(const char *path, struct floor_state *f, double interval)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "floor: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1024;
    f->t = calloc(cap, sizeof *f->t);
    char line[256];
    unsigned lineno = 0;
    while (f->t && fgets(line, sizeof line, in)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *save = NULL, *end = NULL;
        const char *host = strtok_r(line, " \t\r\n", &save);
        const char *portstr = host ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        const char *name = portstr ? strtok_r(NULL, " \t\r\n", &save) : NULL;
        unsigned long port = portstr ? strtoul(portstr, &end, 10) : 0;
        if (!portstr || *end || port == 0 || port > 65535 || strlen(host) > INET6_ADDRSTRLEN) {
            fprintf(stderr, "floor: %s:%u: expected ADDR PORT [NAME]\n", path, lineno);
            fclose(in);
            return -1;
        }
        if (f->n == MAX_TARGETS) {
            fprintf(stderr, "floor: %s: more than %d targets\n", path, MAX_TARGETS);
            fclose(in);
            return -1;
        }
        if (f->n == cap) {
            cap *= 2;
            struct target *nt = realloc(f->t, cap * sizeof *nt);
            if (!nt)
                break;
            f->t = nt;
        }
        struct target *t = &f->t[f->n];
        memset(t, 0, sizeof *t);
        t->fd = -1;
        t->offset = name ? daemon_phase(name, interval) : -1;
        kasa_frame_reader_init(&t->rd);
        struct sockaddr_in *a4 = (struct sockaddr_in *)&t->addr;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&t->addr;
        if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons((uint16_t)port);
            t->addrlen = sizeof *a4;
        } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)port);
            t->addrlen = sizeof *a6;
        } else {
            fprintf(stderr, "floor: %s:%u: %s is not an IP literal\n", path, lineno, host);
            fclose(in);
            return -1;
        }
        f->n++;
    }
    fclose(in);
    if (!f->t) {
        fprintf(stderr, "floor: out of memory\n");
        return -1;
    }
    if (f->n == 0) {
        fprintf(stderr, "floor: %s: no targets\n", path);
        return -1;
    }
    return 0;
}

/* The daemon's phase for a device name, as daemon/poller.c computes it (copied rather than
 * linked: linking the poller pulls in every collector and its libraries). */
static double daemon_phase(const char *name, double interval_s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return interval_s * (double)(h % 10007) / 10007.0;
}

static int by_phase(const void *a, const void *b)
{
    double x = ((const struct target *)a)->offset, y = ((const struct target *)b)->offset;
    return (x > y) - (x < y);
}

/* Targets without a name are spread evenly; then all are sorted by phase, so the schedule
 * is one pass over the array per interval. */
static void set_phases(struct floor_state *f, double interval)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->t[i].offset < 0)
            f->t[i].offset = interval * (double)i / (double)f->n;
    qsort(f->t, f->n, sizeof *f->t, by_phase);
}

static void finish(struct floor_state *f, struct target *t, bool ok)
{
    if (t->fd >= 0)
        close(t->fd); /* also leaves the epoll set */
    t->fd = -1;
    t->phase = IDLE;
    kasa_frame_reader_free(&t->rd);
    if (ok)
        f->st.ok++;
    else
        f->st.errors++;
}

static void start_poll(struct floor_state *f, size_t i, double now)
{
    struct target *t = &f->t[i];
    if (t->phase != IDLE) {
        f->st.skipped++; /* one poll at a time per device, as the daemon does */
        return;
    }
    f->st.polls++;
    t->started = now;
    if (f->ring_cap == 0)
        return;
    if (f->ring_len == f->ring_cap) { /* cannot happen while timeout <= interval */
        f->ring_head = (f->ring_head + 1) % f->ring_cap;
        f->ring_len--;
    }
    f->ring[(f->ring_head + f->ring_len++) % f->ring_cap] = (struct started){i, now};
    t->fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        finish(f, t, false);
        return;
    }
    if (connect(t->fd, (struct sockaddr *)&t->addr, t->addrlen) < 0 && errno != EINPROGRESS) {
        finish(f, t, false);
        return;
    }
    t->phase = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = i};
    if (epoll_ctl(f->ep, EPOLL_CTL_ADD, t->fd, &ev) < 0)
        finish(f, t, false);
}

static void on_event(struct floor_state *f, size_t i, uint32_t events)
{
    struct target *t = &f->t[i];
    if (t->phase == CONNECTING) {
        /* No SO_ERROR query and no TCP_NODELAY (the daemon does both): a failed connect
         * fails this send, and one small send goes out at once anyway. */
        ssize_t n = send(t->fd, f->frame, f->frame_len, MSG_NOSIGNAL);
        if (n != (ssize_t)f->frame_len) { /* 70 bytes into an empty socket buffer */
            finish(f, t, false);
            return;
        }
        t->phase = RECEIVING;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
        if (epoll_ctl(f->ep, EPOLL_CTL_MOD, t->fd, &ev) < 0)
            finish(f, t, false);
        return;
    }
    if (t->phase != RECEIVING)
        return;
    uint8_t buf[4096];
    ssize_t n = recv(t->fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        finish(f, t, false);
        return;
    }
    size_t used;
    enum kasa_frame_status fs = kasa_frame_feed(&t->rd, buf, (size_t)n, &used);
    if (fs == KASA_FRAME_MORE)
        return;
    if (fs != KASA_FRAME_DONE) {
        finish(f, t, false);
        return;
    }
    struct plug_reading r;
    memset(&r, 0, sizeof r);
    char err[200];
    bool ok = kasa_iot_parse_reply((const char *)t->rd.body, t->rd.body_len, &r, err, sizeof err) ==
                  KASA_PARSE_OK &&
              r.has_power;
    kasa_plug_reading_free(&r);
    finish(f, t, ok);
}

static void sweep(struct floor_state *f, double now)
{
    while (f->ring_len) {
        const struct started *s = &f->ring[f->ring_head];
        if (now - s->at <= f->timeout_s)
            break;
        struct target *t = &f->t[s->idx];
        if (t->phase != IDLE && t->started == s->at)
            finish(f, t, false);
        f->ring_head = (f->ring_head + 1) % f->ring_cap;
        f->ring_len--;
    }
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: floor --targets FILE [--interval S] [--timeout S] [--duration S] "
                    "[--report S]\n");
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || v > 1e6)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    const char *targets = NULL;
    double interval = 10, timeout = 2, duration = 0, report = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double *dst = strcmp(a, "--interval") == 0   ? &interval
                      : strcmp(a, "--timeout") == 0  ? &timeout
                      : strcmp(a, "--duration") == 0 ? &duration
                      : strcmp(a, "--report") == 0   ? &report
                                                     : NULL;
        if (strcmp(a, "--targets") == 0 && v) {
            targets = v;
            i++;
        } else if (dst && v && parse_seconds(v, dst)) {
            i++;
        } else {
            usage();
            return 2;
        }
    }
    if (!targets || interval <= 0 || timeout <= 0 || timeout > interval) {
        usage();
        return 2;
    }

    /* As many descriptors as the hard limit allows: every target may be mid-poll. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    struct floor_state f = {.timeout_s = timeout};
    if (load_targets(targets, &f, interval) < 0) {
        free(f.t);
        return 1;
    }
    set_phases(&f, interval);
    f.ring_cap = 2 * f.n + 2;
    f.ring = calloc(f.ring_cap, sizeof *f.ring);
    if (!f.ring) {
        fprintf(stderr, "floor: out of memory\n");
        return 1;
    }
    f.frame_len = kasa_frame_encode(KASA_REQ_SYSINFO_EMETER, strlen(KASA_REQ_SYSINFO_EMETER),
                                    f.frame, sizeof f.frame);
    f.ep = epoll_create1(EPOLL_CLOEXEC);
    if (f.ep < 0 || f.frame_len == 0) {
        fprintf(stderr, "floor: epoll_create1: %s\n", strerror(errno));
        return 1;
    }

    /* Target i (in phase order) is due at t0 + phase_i + k * interval. */
    double t0 = mono();
    double cpu0 = cpu_seconds();
    size_t next = 0;
    uint64_t round = 0;
    double next_due = t0 + f.t[0].offset, next_report = t0 + report;
    struct epoll_event events[MAX_EVENTS];
    while (!stop_requested) {
        double now = mono();
        if (duration > 0 && now - t0 >= duration)
            break;
        while (next_due <= now) {
            start_poll(&f, next, now);
            if (++next == f.n) {
                next = 0;
                round++;
            }
            next_due = t0 + (double)round * interval + f.t[next].offset;
        }
        sweep(&f, now);
        if (report > 0 && now >= next_report) {
            printf("stats t=%.3f polls=%llu ok=%llu errors=%llu skipped=%llu cpu_s=%.3f\n",
                   now - t0, (unsigned long long)f.st.polls, (unsigned long long)f.st.ok,
                   (unsigned long long)f.st.errors, (unsigned long long)f.st.skipped,
                   cpu_seconds() - cpu0);
            fflush(stdout);
            next_report += report;
        }
        double wake = next_due;
        if (f.ring_len && f.ring[f.ring_head].at + f.timeout_s < wake)
            wake = f.ring[f.ring_head].at + f.timeout_s;
        if (report > 0 && next_report < wake)
            wake = next_report;
        int ms = (int)ceil((wake - now) * 1000.0);
        int n = epoll_wait(f.ep, events, MAX_EVENTS, ms < 0 ? 0 : ms);
        for (int k = 0; k < n; k++)
            on_event(&f, (size_t)events[k].data.u64, events[k].events);
    }
    double wall = mono() - t0, cpu = cpu_seconds() - cpu0;
    uint64_t done = f.st.ok + f.st.errors;
    printf("floor: targets=%zu wall_s=%.3f polls=%llu ok=%llu errors=%llu skipped=%llu "
           "cpu_s=%.3f cpu_us_per_poll=%.1f\n",
           f.n, wall, (unsigned long long)f.st.polls, (unsigned long long)f.st.ok,
           (unsigned long long)f.st.errors, (unsigned long long)f.st.skipped, cpu,
           done ? cpu * 1e6 / (double)done : 0.0);
    for (size_t i = 0; i < f.n; i++)
        if (f.t[i].fd >= 0)
            close(f.t[i].fd);
    for (size_t i = 0; i < f.n; i++)
        kasa_frame_reader_free(&f.t[i].rd);
    free(f.t);
    free(f.ring);
    close(f.ep);
    return 0;
}

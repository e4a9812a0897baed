#include "sim/disc20002_sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collectors/kasa/discovery20002.h"

struct disc20002_sim {
    struct ev_loop *loop;
    ev_io w[2]; /* the device's address, the broadcast address */
    int fd[2];
    uint8_t *reply;
    size_t reply_len;
};

static void on_probe(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct disc20002_sim *ds = w->data;
    for (;;) {
        uint8_t buf[DISC20002_REPLY_MAX];
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(w->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        /* A probe has the 16-byte header of version 2; only senders on this host are
         * answered (loopback), as the other simulators do. */
        if (n < DISC20002_HEADER_LEN || buf[0] != 2 || from.sin_family != AF_INET ||
            (ntohl(from.sin_addr.s_addr) >> 24) != 127)
            continue;
        memcpy(ds->reply + 8, buf + 8, 4); /* the probe's serial */
        /* From the device's own socket, so the reply's source is its address. */
        (void)sendto(ds->fd[0], ds->reply, ds->reply_len, MSG_NOSIGNAL, (struct sockaddr *)&from,
                     fl);
    }
}

static int open_udp(const char *addr, uint16_t port, bool shared, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "discovery: %s is not an IPv4 literal", addr);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || (shared && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "discovery: udp %s port %u: %s", addr, (unsigned)port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

struct disc20002_sim *disc20002_sim_start(struct ev_loop *loop, const char *addr, const char *bcast,
                                          uint16_t port, const char *reply_json, char *err,
                                          size_t errlen)
{
    size_t jl = strlen(reply_json);
    struct disc20002_sim *ds = calloc(1, sizeof *ds);
    if (!ds || jl > 65535 || !(ds->reply = malloc(DISC20002_HEADER_LEN + jl))) {
        snprintf(err, errlen, "discovery: out of memory");
        free(ds);
        return NULL;
    }
    ds->loop = loop;
    ds->fd[0] = ds->fd[1] = -1;
    /* version 2, msg_type 0, op_code 1, size, flags, padding, serial, CRC (not checked) */
    uint8_t *h = ds->reply;
    memset(h, 0, DISC20002_HEADER_LEN);
    h[0] = 2;
    h[3] = 1;
    h[4] = (uint8_t)(jl >> 8);
    h[5] = (uint8_t)jl;
    memcpy(h + DISC20002_HEADER_LEN, reply_json, jl);
    ds->reply_len = DISC20002_HEADER_LEN + jl;
    /* Devices of one test share the port on their own addresses and on the broadcast one. */
    if ((ds->fd[0] = open_udp(addr, port, true, err, errlen)) < 0 ||
        (bcast && (ds->fd[1] = open_udp(bcast, port, true, err, errlen)) < 0)) {
        disc20002_sim_stop(ds);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        if (ds->fd[i] < 0)
            continue;
        ev_io_init(&ds->w[i], on_probe, ds->fd[i], EV_READ);
        ds->w[i].data = ds;
        ev_io_start(loop, &ds->w[i]);
    }
    return ds;
}

void disc20002_sim_stop(struct disc20002_sim *ds)
{
    if (!ds)
        return;
    for (int i = 0; i < 2; i++) {
        if (ds->fd[i] < 0)
            continue;
        ev_io_stop(ds->loop, &ds->w[i]);
        close(ds->fd[i]);
    }
    free(ds->reply);
    free(ds);
}

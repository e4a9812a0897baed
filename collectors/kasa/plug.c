/* The Kasa plug collector: legacy XOR JSON over TCP, one connection per poll.
 *
 * A poll is a small state machine on the loop: non-blocking connect, one send of the whole
 * frame (some devices mishandle a header sent alone), read until the frame reader has the
 * whole reply, decode, close. Plugs serve one connection at a time, so a device never has
 * more than one poll in flight; the core's deadline cancels a poll that hangs.
 *
 * The first poll asks sysinfo alone; once the device says it has a meter ("ENE" in
 * feature), later polls ask sysinfo and emeter.get_realtime in one request. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collectors/collector.h"
#include "collectors/kasa/iot_json.h"
#include "collectors/kasa/xor.h"
#include "daemon/log.h"

enum plug_metric {
    M_RELAY_ON,
    M_ON_TIME,
    M_RSSI,
    M_POWER,
    M_VOLTAGE,
    M_CURRENT,
    M_ENERGY,
    M_COUNT
};

static const struct metric_family plug_families[M_COUNT] = {
    [M_RELAY_ON] = {"tplink_plug_relay_on", METRIC_GAUGE,
                    "Relay state of the plug, 1 = on (sysinfo relay_state), as last polled."},
    [M_ON_TIME] = {"tplink_plug_on_time_seconds", METRIC_GAUGE,
                   "Seconds since the relay was switched on, 0 when off (sysinfo on_time)."},
    [M_RSSI] = {"tplink_plug_wifi_rssi_dbm", METRIC_GAUGE,
                "Wi-Fi signal strength seen by the plug in dBm (sysinfo rssi)."},
    [M_POWER] = {"tplink_plug_power_watts", METRIC_GAUGE,
                 "Active power in watts (emeter get_realtime power or power_mw)."},
    [M_VOLTAGE] = {"tplink_plug_voltage_volts", METRIC_GAUGE,
                   "Mains voltage in volts (emeter get_realtime voltage or voltage_mv)."},
    [M_CURRENT] = {"tplink_plug_current_amperes", METRIC_GAUGE,
                   "Current in amperes (emeter get_realtime current or current_ma)."},
    [M_ENERGY] = {"tplink_plug_energy_joules_total", METRIC_COUNTER,
                  "Energy metered since the plug's counter was last erased, in joules "
                  "(emeter get_realtime total or total_wh)."},
};

enum phase { IDLE, CONNECTING, SENDING, RECEIVING };

struct plug {
    const struct device_config *cfg;
    struct collector_env env;
    struct sockaddr_storage addr;
    socklen_t addrlen;

    enum phase phase;
    int fd;
    ev_io io;
    uint8_t out[256];
    size_t out_len, out_sent;
    struct kasa_frame_reader reader;

    bool meter_known; /* a sysinfo reply said whether there is a meter */
    struct plug_reading reading, next;
    bool have_reading;
};

static int resolve(struct plug *p, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)p->cfg->port);
    /* Host names resolve once, at start and reload; a blocking lookup never runs on the
     * loop while it polls. */
    int rc = getaddrinfo(p->cfg->host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve host %s: %s", p->cfg->host, gai_strerror(rc));
        return -1;
    }
    memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
    p->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void *plug_create(const struct device_config *cfg, const struct collector_env *env,
                         char *err, size_t errlen)
{
    struct plug *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->env = *env;
    p->fd = -1;
    p->io.data = p;
    kasa_frame_reader_init(&p->reader);
    if (resolve(p, err, errlen) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* Ends the connection and forgets the in-flight poll; the reading survives. */
static void close_conn(struct plug *p)
{
    if (p->fd >= 0) {
        ev_io_stop(p->env.loop, &p->io);
        close(p->fd);
        p->fd = -1;
    }
    kasa_frame_reader_free(&p->reader);
    p->phase = IDLE;
}

static void finish(struct plug *p, enum poll_status st, const char *detail)
{
    close_conn(p);
    p->env.done(p->env.owner, st, detail);
}

static void finish_errno(struct plug *p, const char *what, int e)
{
    char detail[160];
    snprintf(detail, sizeof detail, "%s: %s", what, strerror(e));
    finish(p, POLL_ERR_CONNECT, detail);
}

static void queue_request(struct plug *p, const char *json)
{
    p->out_len = kasa_frame_encode(json, strlen(json), p->out, sizeof p->out);
    p->out_sent = 0;
    kasa_frame_reader_free(&p->reader);
    p->phase = SENDING;
    ev_io_stop(p->env.loop, &p->io);
    ev_io_set(&p->io, p->fd, EV_WRITE);
    ev_io_start(p->env.loop, &p->io);
}

static void on_reply(struct plug *p)
{
    char err[200];
    enum kasa_parse_status st = kasa_iot_parse_reply((const char *)p->reader.body,
                                                     p->reader.body_len, &p->next, err, sizeof err);
    if (st != KASA_PARSE_OK) {
        finish(p, st == KASA_PARSE_DEVICE ? POLL_ERR_DEVICE : POLL_ERR_PROTOCOL, err);
        return;
    }
    if (!p->meter_known) {
        p->meter_known = true;
        if (p->next.has_meter) {
            queue_request(p, KASA_REQ_EMETER);
            return;
        }
    }
    p->reading = p->next;
    p->have_reading = true;
    finish(p, POLL_OK, NULL);
}

static void on_readable(struct plug *p)
{
    uint8_t buf[4096];
    ssize_t n = recv(p->fd, buf, sizeof buf, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        finish_errno(p, "receive", errno);
        return;
    }
    if (n == 0) {
        finish(p, p->reader.header_len ? POLL_ERR_PROTOCOL : POLL_ERR_CONNECT,
               p->reader.header_len ? "connection closed in the middle of a reply"
                                    : "connection closed without a reply");
        return;
    }
    size_t used;
    switch (kasa_frame_feed(&p->reader, buf, (size_t)n, &used)) {
    case KASA_FRAME_MORE:
        return;
    case KASA_FRAME_DONE:
        on_reply(p);
        return;
    case KASA_FRAME_TOO_LONG:
        finish(p, POLL_ERR_PROTOCOL, "reply length prefix exceeds 64 KiB");
        return;
    case KASA_FRAME_NOMEM:
        finish(p, POLL_ERR_PROTOCOL, "out of memory for the reply");
        return;
    }
}

static void on_writable(struct plug *p)
{
    if (p->phase == CONNECTING) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr) {
            finish_errno(p, "connect", soerr);
            return;
        }
        queue_request(p, p->meter_known && p->reading.has_meter ? KASA_REQ_SYSINFO_EMETER
                                                                : KASA_REQ_SYSINFO);
        return;
    }
    ssize_t n = send(p->fd, p->out + p->out_sent, p->out_len - p->out_sent, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        finish_errno(p, "send", errno);
        return;
    }
    p->out_sent += (size_t)n;
    if (p->out_sent < p->out_len)
        return;
    p->phase = RECEIVING;
    ev_io_stop(p->env.loop, &p->io);
    ev_io_set(&p->io, p->fd, EV_READ);
    ev_io_start(p->env.loop, &p->io);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct plug *p = w->data;
    if (p->phase == RECEIVING)
        on_readable(p);
    else
        on_writable(p);
}

static void plug_poll_start(void *state)
{
    struct plug *p = state;
    close_conn(p);
    memset(&p->next, 0, sizeof p->next);
    if (p->have_reading)
        p->next = p->reading; /* an emeter-only follow-up keeps the sysinfo half */
    p->fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        finish_errno(p, "socket", errno);
        return;
    }
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p->phase = CONNECTING;
    if (connect(p->fd, (struct sockaddr *)&p->addr, p->addrlen) < 0 && errno != EINPROGRESS) {
        finish_errno(p, "connect", errno);
        return;
    }
    ev_io_init(&p->io, io_cb, p->fd, EV_WRITE);
    p->io.data = p;
    ev_io_start(p->env.loop, &p->io);
}

static void plug_poll_cancel(void *state)
{
    close_conn(state);
}

static bool plug_info(const void *state, struct device_info *info)
{
    const struct plug *p = state;
    if (!p->have_reading)
        return false;
    const struct plug_reading *r = &p->reading;
    snprintf(info->model, sizeof info->model, "%s", r->model);
    snprintf(info->hw_version, sizeof info->hw_version, "%s", r->hw_ver);
    snprintf(info->fw_version, sizeof info->fw_version, "%s", r->sw_ver);
    snprintf(info->mac, sizeof info->mac, "%s", r->mac);
    snprintf(info->alias, sizeof info->alias, "%s", r->alias);
    return true;
}

static void plug_emit(const void *state, const char *device, struct expo *e)
{
    const struct plug *p = state;
    if (!p->have_reading)
        return;
    const struct plug_reading *r = &p->reading;
    if (r->has_relay)
        expo_sample_dev(e, &plug_families[M_RELAY_ON], device, r->relay_on);
    if (r->has_on_time)
        expo_sample_dev(e, &plug_families[M_ON_TIME], device, r->on_time_s);
    if (r->has_rssi)
        expo_sample_dev(e, &plug_families[M_RSSI], device, r->rssi_dbm);
    if (r->has_power)
        expo_sample_dev(e, &plug_families[M_POWER], device, r->power_w);
    if (r->has_voltage)
        expo_sample_dev(e, &plug_families[M_VOLTAGE], device, r->voltage_v);
    if (r->has_current)
        expo_sample_dev(e, &plug_families[M_CURRENT], device, r->current_a);
    if (r->has_energy)
        expo_sample_dev(e, &plug_families[M_ENERGY], device, r->energy_j);
}

static void plug_destroy(void *state)
{
    struct plug *p = state;
    if (!p)
        return;
    close_conn(p);
    free(p);
}

const struct collector plug_collector = {
    .kind = "plug",
    .device_kind = DEVICE_PLUG,
    .metrics = {plug_families, M_COUNT},
    .create = plug_create,
    .poll_start = plug_poll_start,
    .poll_cancel = plug_poll_cancel,
    .info = plug_info,
    .emit = plug_emit,
    .shutdown = NULL,
    .destroy = plug_destroy,
};

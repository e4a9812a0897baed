/* The Kasa plug collector: the IOT JSON requests of a poll, sent through a transport
 * (transport.h), and the readings they give. The core's deadline cancels a poll that hangs.
 *
 * The first poll asks sysinfo alone; once the device says it has a meter ("ENE" in
 * feature), later polls ask sysinfo and emeter.get_realtime in one request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/collector.h"
#include "collectors/kasa/iot_json.h"
#include "collectors/kasa/transport.h"
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

struct plug {
    const struct device_config *cfg;
    struct collector_env env;
    const struct kasa_transport_ops *tops;
    struct kasa_transport *transport;

    bool meter_known; /* a sysinfo reply said whether there is a meter */
    struct plug_reading reading, next;
    bool have_reading;
};

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
    p->tops = cfg->transport == PLUG_TRANSPORT_UDP ? &kasa_udp_transport : &kasa_tcp_transport;
    p->transport = p->tops->create(cfg, env->loop, err, errlen);
    if (!p->transport) {
        free(p);
        return NULL;
    }
    return p;
}

static void finish(struct plug *p, enum poll_status st, const char *detail)
{
    p->tops->end_poll(p->transport);
    p->env.done(p->env.owner, st, detail);
}

static void on_reply(void *ctx, enum poll_status st, const char *body, size_t len,
                     const char *detail)
{
    struct plug *p = ctx;
    if (st != POLL_OK) {
        finish(p, st, detail);
        return;
    }
    char err[200];
    enum kasa_parse_status ps = kasa_iot_parse_reply(body, len, &p->next, err, sizeof err);
    if (ps != KASA_PARSE_OK) {
        finish(p, ps == KASA_PARSE_DEVICE ? POLL_ERR_DEVICE : POLL_ERR_PROTOCOL, err);
        return;
    }
    if (!p->meter_known) {
        /* First contact asked sysinfo alone; ask the meter now on the same connection. */
        p->meter_known = true;
        if (p->next.has_meter) {
            p->tops->request(p->transport, KASA_REQ_EMETER, on_reply, p);
            return;
        }
    }
    p->reading = p->next;
    p->have_reading = true;
    finish(p, POLL_OK, NULL);
}

static void plug_poll_start(void *state)
{
    struct plug *p = state;
    memset(&p->next, 0, sizeof p->next);
    if (p->have_reading)
        p->next = p->reading; /* an emeter-only follow-up keeps the sysinfo half */
    p->tops->request(p->transport,
                     p->meter_known && p->reading.has_meter ? KASA_REQ_SYSINFO_EMETER
                                                            : KASA_REQ_SYSINFO,
                     on_reply, p);
}

static void plug_poll_cancel(void *state)
{
    struct plug *p = state;
    p->tops->cancel(p->transport);
    p->tops->end_poll(p->transport);
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
    p->tops->destroy(p->transport);
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

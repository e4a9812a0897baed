/* The Kasa plug collector: the IOT JSON requests of a poll, sent through a transport
 * (transport.h), and the readings they give. The core's deadline cancels a poll that hangs,
 * and covers every request of the poll.
 *
 * A poll, on one connection:
 *   1. sysinfo; once the device is known, with emeter.get_realtime when it has a meter
 *      ("ENE" in feature) and is not a strip, and with cnCloud.get_info when that is due.
 *      First contact asks sysinfo alone (some devices misbehave on modules they lack), then
 *      what it said it has in a second request.
 *   2. On a metered strip (HS300), one emeter request per outlet with the child id in
 *      "context", in order. An outlet's error fails the whole poll with reason "device":
 *      a strip half read is not a reading.
 * The strip parent's own get_realtime is never asked: it is one outlet's reading (slot 0),
 * not a total.
 *
 * Plugs with newer firmware speak the same IOT JSON over KLAP, or the SMART dialect
 * (smart_plug.h) over KLAP or AES. Over KLAP the first IOT request tells which: a SMART
 * device answers it with a top-level error_code, and is asked in SMART from then on. A
 * SMART plug's energy counter restarts every month: it is exported as what it is
 * (tplink_plug_energy_month_joules, a gauge), never as a lifetime total. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/collector.h"
#include "collectors/kasa/http_transport.h"
#include "collectors/kasa/iot_json.h"
#include "collectors/kasa/smart_plug.h"
#include "collectors/kasa/transport.h"
#include "daemon/log.h"

/* The cloud binding rarely changes: ask it at most this often. */
#define CLOUD_REFRESH_S 300.0

enum plug_metric {
    M_RELAY_ON,
    M_ON_TIME,
    M_RSSI,
    M_POWER,
    M_VOLTAGE,
    M_CURRENT,
    M_ENERGY,
    M_LED_ON,
    M_UPDATING,
    M_CLOUD_BOUND,
    M_OUTLET_INFO,
    M_OUTLET_RELAY_ON,
    M_OUTLET_ON_TIME,
    M_OUTLET_POWER,
    M_OUTLET_VOLTAGE,
    M_OUTLET_CURRENT,
    M_OUTLET_ENERGY,
    M_ENERGY_MONTH,
    M_ENERGY_TODAY,
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
    [M_LED_ON] = {"tplink_plug_led_on", METRIC_GAUGE,
                  "1 if the plug's status LED is enabled (sysinfo led_off, inverted)."},
    [M_UPDATING] = {"tplink_plug_firmware_updating", METRIC_GAUGE,
                    "1 while the plug is flashing a firmware update (sysinfo updating)."},
    [M_CLOUD_BOUND] = {"tplink_plug_cloud_bound", METRIC_GAUGE,
                       "1 if the plug is bound to a TP-Link cloud account (cnCloud get_info "
                       "binded); refreshed every few minutes."},
    [M_OUTLET_INFO] = {"tplink_outlet_info", METRIC_GAUGE,
                       "A constant 1 per outlet of a power strip, labelled with the outlet's "
                       "alias (not unique: unused outlets are all \"Empty\"). outlet is 1-based "
                       "and stable: child id suffix 00 is outlet 1."},
    [M_OUTLET_RELAY_ON] = {"tplink_outlet_relay_on", METRIC_GAUGE,
                           "Relay state of a strip outlet, 1 = on (sysinfo children state)."},
    [M_OUTLET_ON_TIME] = {"tplink_outlet_on_time_seconds", METRIC_GAUGE,
                          "Seconds since the outlet was switched on, 0 when off (sysinfo "
                          "children on_time)."},
    [M_OUTLET_POWER] = {"tplink_outlet_power_watts", METRIC_GAUGE,
                        "Active power of a metered strip outlet in watts."},
    [M_OUTLET_VOLTAGE] = {"tplink_outlet_voltage_volts", METRIC_GAUGE,
                          "Voltage at a metered strip outlet in volts."},
    [M_OUTLET_CURRENT] = {"tplink_outlet_current_amperes", METRIC_GAUGE,
                          "Current of a metered strip outlet in amperes."},
    [M_OUTLET_ENERGY] = {"tplink_outlet_energy_joules_total", METRIC_COUNTER,
                         "Energy metered by a strip outlet since its counter was last erased, "
                         "in joules."},
    [M_ENERGY_MONTH] = {"tplink_plug_energy_month_joules", METRIC_GAUGE,
                        "Energy metered this calendar month so far, in joules (SMART plugs: "
                        "get_energy_usage month_energy). It restarts at 0 every month by the "
                        "plug's clock: use max_over_time or a recording rule, not rate()."},
    [M_ENERGY_TODAY] = {"tplink_plug_energy_today_joules", METRIC_GAUGE,
                        "Energy metered today so far, in joules (SMART plugs: get_energy_usage "
                        "today_energy); restarts at 0 every day by the plug's clock."},
};

enum step { STEP_MAIN, STEP_FOLLOW_UP, STEP_OUTLET, STEP_SMART };

/* What only a running poll needs: allocated at its start and freed at its end, so an idle
 * plug holds little more than its last reading. */
struct plug_poll {
    char req[192];
    struct plug_reading next; /* IOT: the reading being assembled */
    struct smart_reading smart_next;
    const char *smart_method;
    char *smart_req;
};

struct plug {
    const struct device_config *cfg;
    struct collector_env env;
    const struct kasa_transport_ops *tops;
    struct kasa_transport *transport;

    bool known; /* a sysinfo reply said what the device has: */
    bool meter, strip;
    bool cloud_unsupported;
    bool cloud_asked; /* cloud_asked_at is set */
    ev_tstamp cloud_asked_at;

    /* The poll in progress; poll is NULL between polls. */
    enum step step;
    bool asking_cloud; /* the request in flight carries cnCloud */
    size_t outlet;     /* STEP_OUTLET: index into poll->next.outlets */
    struct plug_poll *poll;

    struct plug_reading reading;
    bool have_reading;

    /* The SMART dialect. */
    bool smart;        /* the device speaks SMART JSON */
    bool may_be_smart; /* KLAP can carry it: tell IOT and SMART apart by the reply */
    struct smart_plug sp;
    bool has_month, has_today;
    double month_j, today_j;
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
    switch (cfg->protocol) {
    case PLUG_PROTOCOL_LEGACY:
        p->tops = cfg->transport == PLUG_TRANSPORT_UDP ? &kasa_udp_transport : &kasa_tcp_transport;
        break;
    case PLUG_PROTOCOL_KLAP:
        p->tops = &kasa_klap_transport;
        p->may_be_smart = true;
        break;
    case PLUG_PROTOCOL_AES:
        p->tops = &kasa_aes_transport;
        p->smart = true;
        break;
    case PLUG_PROTOCOL_AUTO:
    default:
        p->tops = &kasa_auto_transport;
        p->may_be_smart = true;
        break;
    }
    smart_plug_init(&p->sp);
    p->transport = p->tops->create(cfg, env->loop, err, errlen);
    if (!p->transport) {
        free(p);
        return NULL;
    }
    return p;
}

static void poll_free(struct plug *p)
{
    struct plug_poll *pp = p->poll;
    if (!pp)
        return;
    kasa_plug_reading_free(&pp->next);
    free(pp->smart_req);
    free(pp);
    p->poll = NULL;
}

/* The poll's scratch is gone once this is called: detail must not point into it. */
static void finish(struct plug *p, enum poll_status st, const char *detail)
{
    p->tops->end_poll(p->transport);
    poll_free(p);
    p->env.done(p->env.owner, st, detail);
}

/* The assembled reading becomes the plug's. */
static void keep_reading(struct plug *p, struct plug_reading *next)
{
    kasa_plug_reading_free(&p->reading);
    p->reading = *next;
    next->outlets = NULL; /* now the plug's */
    next->n_outlets = 0;
    p->have_reading = true;
}

static bool cloud_due(const struct plug *p)
{
    return !p->cloud_unsupported &&
           (!p->cloud_asked || ev_now(p->env.loop) - p->cloud_asked_at >= CLOUD_REFRESH_S);
}

static void on_reply(void *ctx, enum poll_status st, const char *body, size_t len,
                     const char *detail);

/* Sends one request of modules; false when there is nothing to ask. */
static bool ask(struct plug *p, bool sysinfo, bool emeter, bool cloud)
{
    static const char *const parts[3] = {"\"system\":{\"get_sysinfo\":{}}",
                                         "\"emeter\":{\"get_realtime\":{}}",
                                         "\"cnCloud\":{\"get_info\":{}}"};
    const bool want[3] = {sysinfo, emeter, cloud};
    char *req = p->poll->req;
    size_t n = 0;
    req[n++] = '{';
    for (int i = 0; i < 3; i++) {
        if (!want[i])
            continue;
        if (n > 1)
            req[n++] = ',';
        size_t l = strlen(parts[i]);
        memcpy(req + n, parts[i], l); /* the three fit in req by far */
        n += l;
    }
    if (n == 1)
        return false;
    req[n++] = '}';
    req[n] = '\0';
    p->asking_cloud = cloud;
    p->tops->request(p->transport, req, on_reply, p);
    return true;
}

static void ask_outlet(struct plug *p)
{
    struct plug_poll *pp = p->poll;
    const struct kasa_outlet *o = &pp->next.outlets[p->outlet];
    p->asking_cloud = false;
    /* The parser accepted the id, so it fits. */
    if (!kasa_iot_outlet_meter_request(o->id, pp->req, sizeof pp->req)) {
        finish(p, POLL_ERR_PROTOCOL, "child id unusable in a request");
        return;
    }
    p->tops->request(p->transport, pp->req, on_reply, p);
}

/* After sysinfo (and the follow-up): per-outlet meters, or done. */
static void read_outlets_or_finish(struct plug *p)
{
    struct plug_reading *next = &p->poll->next;
    if (next->is_strip && next->has_meter && next->n_outlets > 0) {
        p->step = STEP_OUTLET;
        p->outlet = 0;
        ask_outlet(p);
        return;
    }
    keep_reading(p, next);
    finish(p, POLL_OK, NULL);
}

static void on_outlet_reply(struct plug *p, const char *body, size_t len)
{
    char err[200], detail[240];
    struct plug_reading *next = &p->poll->next;
    struct kasa_outlet *o = &next->outlets[p->outlet];
    enum kasa_parse_status ps = kasa_iot_parse_outlet_meter(body, len, &o->meter, err, sizeof err);
    if (ps != KASA_PARSE_OK) {
        snprintf(detail, sizeof detail, "outlet %u: %s", o->number, err);
        finish(p, ps == KASA_PARSE_DEVICE ? POLL_ERR_DEVICE : POLL_ERR_PROTOCOL, detail);
        return;
    }
    if (++p->outlet < next->n_outlets) {
        ask_outlet(p);
        return;
    }
    keep_reading(p, next);
    finish(p, POLL_OK, NULL);
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One SMART request: device info and the meter in one multipleRequest. */
static void smart_poll(struct plug *p)
{
    struct plug_poll *pp = p->poll;
    size_t len;
    free(pp->smart_req);
    pp->smart_req = smart_plug_request(&p->sp, wall_ms(), &len, &pp->smart_method);
    if (!pp->smart_req) {
        finish(p, POLL_ERR_PROTOCOL, "out of memory for the SMART request");
        return;
    }
    p->step = STEP_SMART;
    p->tops->request(p->transport, pp->smart_req, on_reply, p);
}

static void on_smart_reply(struct plug *p, const char *body, size_t len)
{
    char detail[240];
    struct plug_poll *pp = p->poll;
    struct smart_reading *r = &pp->smart_next;
    enum poll_status st =
        smart_plug_parse(&p->sp, pp->smart_method, body, len, r, detail, sizeof detail);
    if (st != POLL_OK) {
        /* Not a SMART answer after all (auto went back to the legacy port): start over. */
        if (st == POLL_ERR_PROTOCOL && p->may_be_smart && !smart_plug_reply_shape(body, len))
            p->smart = false;
        finish(p, st, detail);
        return;
    }
    keep_reading(p, &r->plug);
    p->has_month = r->has_month_energy;
    p->month_j = r->month_energy_j;
    p->has_today = r->has_today_energy;
    p->today_j = r->today_energy_j;
    finish(p, POLL_OK, NULL);
}

static void on_reply(void *ctx, enum poll_status st, const char *body, size_t len,
                     const char *detail)
{
    struct plug *p = ctx;
    if (st != POLL_OK) {
        finish(p, st, detail);
        return;
    }
    if (p->step == STEP_OUTLET) {
        on_outlet_reply(p, body, len);
        return;
    }
    if (p->step == STEP_SMART) {
        on_smart_reply(p, body, len);
        return;
    }
    char err[200];
    struct plug_reading *next = &p->poll->next;
    enum kasa_parse_status ps = kasa_iot_parse_reply(body, len, next, err, sizeof err);
    if (ps != KASA_PARSE_OK && p->step == STEP_MAIN && p->may_be_smart &&
        smart_plug_reply_shape(body, len)) {
        log_msg(LOG_INFO, p->cfg->name, "answers in the SMART dialect");
        p->smart = true;
        p->known = false;
        smart_poll(p);
        return;
    }
    if (ps != KASA_PARSE_OK) {
        finish(p, ps == KASA_PARSE_DEVICE ? POLL_ERR_DEVICE : POLL_ERR_PROTOCOL, err);
        return;
    }
    if (p->asking_cloud) {
        p->cloud_asked = true;
        p->cloud_asked_at = ev_now(p->env.loop);
        if (next->cloud_unsupported) {
            p->cloud_unsupported = true;
            log_msg(LOG_DEBUG, p->cfg->name, "no cnCloud module; not asking again");
        }
    }
    if (p->step == STEP_MAIN) {
        bool first = !p->known;
        p->known = true;
        p->meter = next->has_meter;
        p->strip = next->is_strip;
        /* First contact asked sysinfo alone; ask what it has on the same connection. */
        p->step = STEP_FOLLOW_UP;
        if (first && ask(p, false, p->meter && !p->strip, cloud_due(p)))
            return;
    }
    read_outlets_or_finish(p);
}

static void plug_poll_start(void *state)
{
    struct plug *p = state;
    poll_free(p);
    /* Not zeroed whole: smart_plug_parse zeroes smart_next, req is written before use. */
    struct plug_poll *pp = malloc(sizeof *pp);
    if (!pp) {
        finish(p, POLL_ERR_PROTOCOL, "out of memory for the poll");
        return;
    }
    memset(&pp->next, 0, sizeof pp->next);
    pp->smart_method = NULL;
    pp->smart_req = NULL;
    p->poll = pp;
    if (p->smart) {
        smart_poll(p);
        return;
    }
    /* Parts not asked this time (the cloud) keep their value. */
    if (p->have_reading && !kasa_plug_reading_copy(&pp->next, &p->reading)) {
        finish(p, POLL_ERR_PROTOCOL, "out of memory for the poll");
        return;
    }
    p->step = STEP_MAIN;
    ask(p, true, p->known && p->meter && !p->strip, p->known && cloud_due(p));
}

static void plug_poll_cancel(void *state)
{
    struct plug *p = state;
    p->tops->cancel(p->transport);
    p->tops->end_poll(p->transport);
    poll_free(p);
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

static void emit_outlet(const struct kasa_outlet *o, const char *device, struct expo *e)
{
    char number[12];
    snprintf(number, sizeof number, "%u", o->number);
    struct label l[3] = {{"device", device}, {"outlet", number}, {"alias", o->alias}};
    expo_sample(e, &plug_families[M_OUTLET_INFO], l, 3, 1);
    if (o->has_relay)
        expo_sample(e, &plug_families[M_OUTLET_RELAY_ON], l, 2, o->relay_on);
    if (o->has_on_time)
        expo_sample(e, &plug_families[M_OUTLET_ON_TIME], l, 2, o->on_time_s);
    const struct kasa_meter *m = &o->meter;
    if (m->has_power)
        expo_sample(e, &plug_families[M_OUTLET_POWER], l, 2, m->power_w);
    if (m->has_voltage)
        expo_sample(e, &plug_families[M_OUTLET_VOLTAGE], l, 2, m->voltage_v);
    if (m->has_current)
        expo_sample(e, &plug_families[M_OUTLET_CURRENT], l, 2, m->current_a);
    if (m->has_energy)
        expo_sample(e, &plug_families[M_OUTLET_ENERGY], l, 2, m->energy_j);
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
    if (!r->is_strip) { /* a strip's own reading is one outlet's, never a total */
        if (r->has_power)
            expo_sample_dev(e, &plug_families[M_POWER], device, r->power_w);
        if (r->has_voltage)
            expo_sample_dev(e, &plug_families[M_VOLTAGE], device, r->voltage_v);
        if (r->has_current)
            expo_sample_dev(e, &plug_families[M_CURRENT], device, r->current_a);
        if (r->has_energy)
            expo_sample_dev(e, &plug_families[M_ENERGY], device, r->energy_j);
    }
    if (r->has_led)
        expo_sample_dev(e, &plug_families[M_LED_ON], device, r->led_on);
    if (r->has_updating)
        expo_sample_dev(e, &plug_families[M_UPDATING], device, r->updating);
    if (r->has_cloud)
        expo_sample_dev(e, &plug_families[M_CLOUD_BOUND], device, r->cloud_bound);
    for (size_t i = 0; i < r->n_outlets; i++)
        emit_outlet(&r->outlets[i], device, e);
    if (p->smart && p->has_month)
        expo_sample_dev(e, &plug_families[M_ENERGY_MONTH], device, p->month_j);
    if (p->smart && p->has_today)
        expo_sample_dev(e, &plug_families[M_ENERGY_TODAY], device, p->today_j);
}

static void plug_destroy(void *state)
{
    struct plug *p = state;
    if (!p)
        return;
    p->tops->destroy(p->transport);
    poll_free(p);
    kasa_plug_reading_free(&p->reading);
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

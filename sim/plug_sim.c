/* Simulated Kasa smart plugs and power strips (legacy XOR JSON on TCP and UDP).
 *
 * A profile is a dump of a device's replies: module -> method -> reply object. Static methods
 * are answered from it as they are; the state that moves on a real plug (relay, on_time, the
 * meter, alias, LED) lives here and overrides the profile's fields in each reply.
 *
 * The meter is a model, not a recording: power follows a bounded random walk around the
 * profile's reading (±10 %, one step per simulated second, 0 while the relay is off), voltage
 * a narrower one around the profile's voltage, current is power / voltage, and the energy
 * total integrates power over time so it never goes down (except on erase_emeter_stat, as on
 * a real plug). Time is a monotonic clock plus an offset tests can advance.
 *
 * Strips: a profile whose sysinfo has children[] is a strip (HS300, KP303). Child ids are
 * deviceId + "00".."NN" (the last two characters alone over UDP, as real strips send them);
 * each outlet has its own relay, on_time (counting while on) and, when the strip has a meter,
 * its own meter model. The optional top-level "sim_child_realtime" array gives each outlet's
 * reading in the profile's emeter shape; an entry with a non-zero err_code is answered as it
 * is, which is how a test makes one outlet's meter fail. Without it, outlets get loads drawn
 * around the profile's reading. "context":{"child_ids":[...]} scopes the child-aware methods
 * as on a real HS300: set_relay_state acts on every listed id, set_dev_alias and the emeter
 * methods on the first; an unknown id answers -14 "entry not exist" and applies nothing, a
 * child_ids that is not an array of strings -3 "invalid argument". (jansson keeps the last of
 * duplicate keys, so of several "context"s the last is seen; a real strip honours the first.)
 * Plugs without children ignore context. */
#include "sim/sim.h"
#include "sim/plug_sim.h"

#include "collectors/kasa/xor.h"
#include "daemon/log.h"
#include "daemon/strbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIM_DEFAULT_SEED 0x5eed5eedu
#define SIM_PROFILE_MAX (1u << 20)               /* bytes of a profile file */
#define SIM_ALIAS_MAX 64                         /* bytes; longer aliases get -3 invalid argument */
#define SIM_OUT_MAX (4u * (KASA_FRAME_MAX + 4u)) /* queued reply bytes per connection */
#define SIM_WALK_MAX_STEPS 2000.0                /* older history is integrated at one power */
#define SIM_ACCEPT_BURST 16
#define SIM_UDP_BURST 16
#define SIM_MAX_CHILDREN 16
#define SIM_CONTEXT_IDS_MAX 64 /* longer child_ids lists get -3 invalid argument */

struct plug;

struct conn {
    struct plug *dev;
    int fd;
    ev_io rio, wio;
    struct kasa_frame_reader rd;
    struct strbuf out;
    size_t out_off;
    bool close_after_flush;
    ev_timer fault_timer; /* drip: one byte per tick; reset: the RST after a partial reply */
    struct conn *prev, *next;
};

/* The meter model of a plug or of one strip outlet. */
struct meter {
    uint64_t rng;
    double base_w, nominal_v;
    double walk_p, walk_v; /* factors on base_w and nominal_v */
    double energy_wh, energy_start_wh;
    double last, next_step; /* model time of the last update and of the next walk step */
};

struct child {
    char id[48]; /* deviceId + two hex digits */
    char alias[SIM_ALIAS_MAX + 1];
    int relay;
    double on_since;
    json_t *entry;    /* the profile's children[i] (borrowed) */
    json_t *rt_error; /* the profile's error reply for this outlet's meter, or NULL (borrowed) */
    struct meter meter;
};

struct plug {
    struct sim *sim;
    int idx;
    char addr[INET6_ADDRSTRLEN];
    char name[INET6_ADDRSTRLEN + 16]; /* "addr:port" for logs */
    struct sockaddr_storage sa;
    socklen_t salen;
    uint16_t port;
    int lfd, ufd;
    int bfd; /* UDP on the broadcast address and our port (sim_set_broadcast), or -1 */
    ev_io lio, uio, bio;
    ev_timer accept_pause; /* after EMFILE, so a level-triggered fd cannot spin the loop */
    enum sim_fault fault;
    struct conn *conns;
    size_t nconns;
    json_t *profile;

    uint64_t rng;
    char device_id[41];
    char mac[18];
    char alias[SIM_ALIAS_MAX + 1];
    int relay;
    int led_off;
    double on_since;

    bool metered; /* emeter.get_realtime answers a reading, not an error */
    struct meter meter;

    bool strip; /* sysinfo has children[]; the relays and meters are the children's */
    size_t nchildren;
    struct child children[SIM_MAX_CHILDREN];
};

struct sim {
    struct ev_loop *loop;
    uint64_t seed;
    struct plug **devs;
    size_t ndevs, cap;
    size_t nconns;
    double clock_offset;
    uint8_t *ubuf; /* one UDP datagram, KASA_FRAME_MAX + 1 bytes */
    struct sockaddr_in bcast;
    bool have_bcast;
};

/* ---- random source: splitmix64, per sim / per device ---- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) /* [0, 1) */
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* ---- clock ---- */

static double sim_now(const struct sim *sim)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + sim->clock_offset;
}

/* ---- the meter model ---- */

static double meter_power_w(const struct meter *m, int relay)
{
    return relay ? m->base_w * m->walk_p : 0.0;
}

static double meter_voltage_v(const struct meter *m)
{
    return m->nominal_v * m->walk_v;
}

/* A step of a random walk reflected into [lo, hi]. */
static double walk(uint64_t *rng, double x, double step, double lo, double hi)
{
    x += (rng_unit(rng) - 0.5) * 2.0 * step;
    if (x > hi)
        x = 2.0 * hi - x;
    if (x < lo)
        x = 2.0 * lo - x;
    return x;
}

/* Brings the model to now: integrates energy at the power of each one-second step. */
static void meter_advance(struct meter *m, int relay, double now)
{
    if (!(now > m->last))
        return;
    if (now - m->next_step > SIM_WALK_MAX_STEPS) {
        double skip_to = now - SIM_WALK_MAX_STEPS;
        m->energy_wh += meter_power_w(m, relay) * (skip_to - m->last) / 3600.0;
        m->last = skip_to;
        m->next_step = skip_to;
    }
    while (m->last < now) {
        double end = now < m->next_step ? now : m->next_step;
        m->energy_wh += meter_power_w(m, relay) * (end - m->last) / 3600.0;
        m->last = end;
        if (end >= m->next_step) {
            m->walk_p = walk(&m->rng, m->walk_p, 0.02, 0.90, 1.10);
            m->walk_v = walk(&m->rng, m->walk_v, 0.002, 0.98, 1.02);
            m->next_step += 1.0;
        }
    }
}

static void plug_set_relay(struct plug *p, int on)
{
    double now = sim_now(p->sim);
    meter_advance(&p->meter, p->relay, now);
    on = on ? 1 : 0;
    if (on && !p->relay)
        p->on_since = now;
    p->relay = on;
}

static void child_set_relay(struct plug *p, struct child *c, int on)
{
    double now = sim_now(p->sim);
    meter_advance(&c->meter, c->relay, now);
    on = on ? 1 : 0;
    if (on && !c->relay)
        c->on_since = now;
    c->relay = on;
}

/* ---- requests: the scope a strip's "context" gives ---- */

struct scope {
    bool given; /* a strip got context.child_ids */
    int err;    /* 0, or the error every child-aware method answers */
    size_t n;
    struct child *targets[SIM_CONTEXT_IDS_MAX];
};

/* Over UDP strips show ids as their last two characters; accept that form there too. */
static struct child *find_child(struct plug *p, const char *id, bool udp)
{
    for (size_t i = 0; i < p->nchildren; i++) {
        struct child *c = &p->children[i];
        if (strcmp(c->id, id) == 0 || (udp && strcmp(c->id + strlen(c->id) - 2, id) == 0))
            return c;
    }
    return NULL;
}

static void parse_scope(struct plug *p, json_t *req, bool udp, struct scope *s)
{
    memset(s, 0, sizeof *s);
    json_t *ctx = json_object_get(req, "context");
    if (!p->strip || !ctx)
        return;
    json_t *ids = json_is_object(ctx) ? json_object_get(ctx, "child_ids") : NULL;
    s->given = true;
    if (!json_is_array(ids) || json_array_size(ids) > SIM_CONTEXT_IDS_MAX) {
        s->err = -3;
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (!json_is_string(v)) {
            s->err = -3;
            return;
        }
        struct child *c = find_child(p, json_string_value(v), udp);
        if (!c)
            s->err = -14; /* keep looking: a non-string id still wins */
        else
            s->targets[s->n++] = c;
    }
}

/* What a method call sees. */
struct call {
    json_t *entry; /* the profile's reply for the method, or NULL */
    json_t *args;
    const struct scope *scope;
    bool udp;
};

/* The meter an emeter method reads: a plug's own; a strip's first listed outlet, or its
 * first outlet without context (a real HS300 answers outlet 0, "slot_id":0). */
struct target {
    struct meter *m;
    int relay;
    json_t *error; /* answer this instead */
    int slot;
};

static bool meter_target(struct plug *p, const struct call *c, struct target *t)
{
    if (!p->strip) {
        *t = (struct target){&p->meter, p->relay, NULL, 0};
        return true;
    }
    struct child *ch = NULL;
    if (c->scope->given)
        ch = c->scope->n ? c->scope->targets[0] : NULL;
    else if (p->nchildren)
        ch = &p->children[0];
    if (!ch)
        return false;
    *t = (struct target){&ch->meter, ch->relay, ch->rt_error, (int)(ch - p->children)};
    return true;
}

/* ---- replies ---- */

static json_t *err_obj(int code, const char *msg)
{
    return json_pack("{s:i, s:s}", "err_code", code, "err_msg", msg);
}

static json_t *ok_obj(void)
{
    return json_pack("{s:i}", "err_code", 0);
}

static double round_to(double x, double scale)
{
    return round(x * scale) / scale;
}

/* Replaces a key's value where it stands (jansson keeps the position), or appends it. */
static void set_field(json_t *obj, const char *key, json_t *value)
{
    json_object_set_new(obj, key, value);
}

static void set_if_present(json_t *obj, const char *key, json_t *value)
{
    if (json_object_get(obj, key))
        json_object_set_new(obj, key, value);
    else
        json_decref(value);
}

static const char *shown_id(const struct child *c, bool udp)
{
    return udp ? c->id + strlen(c->id) - 2 : c->id;
}

static json_t *children_json(struct plug *p, double now, bool udp)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p->nchildren; i++) {
        struct child *c = &p->children[i];
        json_t *e = json_deep_copy(c->entry);
        if (!e || json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            return NULL;
        }
        set_field(e, "id", json_string(shown_id(c, udp)));
        set_field(e, "state", json_integer(c->relay));
        set_field(e, "alias", json_string(c->alias));
        set_field(e, "on_time", json_integer(c->relay ? (json_int_t)(now - c->on_since) : 0));
    }
    return arr;
}

static json_t *m_get_sysinfo(struct plug *p, const struct call *c)
{
    double now = sim_now(p->sim);
    meter_advance(&p->meter, p->relay, now);
    json_t *r = json_deep_copy(c->entry);
    if (!r)
        return NULL;
    set_field(r, "deviceId", json_string(p->device_id));
    set_field(r, "mac", json_string(p->mac));
    set_field(r, "alias", json_string(p->alias));
    if (p->strip) { /* no relay of its own */
        json_t *children = children_json(p, now, c->udp);
        if (!children) {
            json_decref(r);
            return NULL;
        }
        json_object_del(r, "relay_state");
        json_object_del(r, "on_time");
        set_field(r, "child_num", json_integer((json_int_t)p->nchildren));
        set_field(r, "children", children);
    } else {
        set_field(r, "relay_state", json_integer(p->relay));
        set_field(r, "on_time", json_integer(p->relay ? (json_int_t)(now - p->on_since) : 0));
    }
    set_field(r, "led_off", json_integer(p->led_off));
    return r;
}

static json_t *m_get_relationship(struct plug *p, const struct call *c)
{
    json_t *data = json_array();
    for (size_t i = 0; data && i < p->nchildren; i++)
        json_array_append_new(data,
                              json_pack("{s:s, s:i}", "child_id", shown_id(&p->children[i], c->udp),
                                        "hw_slot", (int)i));
    return data ? json_pack("{s:o, s:i}", "data", data, "err_code", 0) : NULL;
}

static bool arg_int(json_t *args, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
    json_t *v = json_is_object(args) ? json_object_get(args, key) : NULL;
    if (!json_is_integer(v))
        return false;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static json_t *m_set_relay_state(struct plug *p, const struct call *c)
{
    json_int_t state;
    if (!arg_int(c->args, "state", 0, 1, &state))
        return err_obj(-3, "invalid argument");
    if (!p->strip) {
        plug_set_relay(p, (int)state);
    } else if (c->scope->given) {
        for (size_t i = 0; i < c->scope->n; i++)
            child_set_relay(p, c->scope->targets[i], (int)state);
    } else { /* the whole strip */
        for (size_t i = 0; i < p->nchildren; i++)
            child_set_relay(p, &p->children[i], (int)state);
    }
    log_msg(LOG_DEBUG, p->name, "relay %s", state ? "on" : "off");
    return ok_obj();
}

static json_t *m_set_dev_alias(struct plug *p, const struct call *c)
{
    json_t *v = json_is_object(c->args) ? json_object_get(c->args, "alias") : NULL;
    if (!json_is_string(v) || json_string_length(v) > SIM_ALIAS_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return err_obj(-3, "invalid argument");
    char *dst = p->alias;
    if (c->scope->given) /* the first listed outlet; none listed: nothing */
        dst = c->scope->n ? c->scope->targets[0]->alias : NULL;
    if (dst)
        snprintf(dst, SIM_ALIAS_MAX + 1, "%s", json_string_value(v));
    return ok_obj();
}

static json_t *m_set_led_off(struct plug *p, const struct call *c)
{
    json_int_t off;
    if (!arg_int(c->args, "off", 0, 1, &off))
        return err_obj(-3, "invalid argument");
    p->led_off = (int)off;
    return ok_obj();
}

static json_t *m_get_realtime(struct plug *p, const struct call *c)
{
    struct target t;
    if (!meter_target(p, c, &t))
        return err_obj(-3, "invalid argument"); /* an empty child_ids: nothing to read */
    if (t.error)
        return json_deep_copy(t.error);
    meter_advance(t.m, t.relay, sim_now(p->sim));
    json_t *r = json_deep_copy(c->entry);
    if (!r)
        return NULL;
    double w = meter_power_w(t.m, t.relay), v = meter_voltage_v(t.m);
    double a = v > 0 ? w / v : 0.0;
    /* Per field, as the profile spells it: v1 floats (A, V, W, kWh), v2 ints (mA, mV, mW, Wh). */
    set_if_present(r, "current", json_real(round_to(a, 1e6)));
    set_if_present(r, "voltage", json_real(round_to(v, 1e6)));
    set_if_present(r, "power", json_real(round_to(w, 1e6)));
    set_if_present(r, "total", json_real(round_to(t.m->energy_wh / 1000.0, 1e3)));
    set_if_present(r, "current_ma", json_integer((json_int_t)llround(a * 1000.0)));
    set_if_present(r, "voltage_mv", json_integer((json_int_t)llround(v * 1000.0)));
    set_if_present(r, "power_mw", json_integer((json_int_t)llround(w * 1000.0)));
    set_if_present(r, "total_wh", json_integer((json_int_t)floor(t.m->energy_wh)));
    set_if_present(r, "slot_id", json_integer(t.slot));
    return r;
}

static bool plug_meter_v2(const struct plug *p)
{
    json_t *rt = json_object_get(json_object_get(p->profile, "emeter"), "get_realtime");
    return json_object_get(rt, "power_mw") != NULL;
}

static void local_date(const struct plug *p, struct tm *tm)
{
    time_t t = time(NULL) + (time_t)p->sim->clock_offset;
    localtime_r(&t, tm);
}

/* The energy used since the device was added, reported as today's (and this month's)
 * entry: enough for a client to parse both stat shapes. */
static json_t *stat_entry(struct plug *p, const struct meter *m, const struct tm *tm, bool with_day)
{
    double wh = m->energy_wh - m->energy_start_wh;
    if (wh < 0)
        wh = 0;
    json_t *e = json_pack("{s:i, s:i}", "year", tm->tm_year + 1900, "month", tm->tm_mon + 1);
    if (!e)
        return NULL;
    if (with_day)
        json_object_set_new(e, "day", json_integer(tm->tm_mday));
    if (plug_meter_v2(p))
        json_object_set_new(e, "energy_wh", json_integer((json_int_t)floor(wh)));
    else
        json_object_set_new(e, "energy", json_real(round_to(wh / 1000.0, 1e3)));
    return e;
}

static json_t *m_get_stat(struct plug *p, const struct call *c, bool daily)
{
    json_int_t year, month = 0;
    struct target t;
    if (!arg_int(c->args, "year", 1970, 9999, &year) ||
        (daily && !arg_int(c->args, "month", 1, 12, &month)) || !meter_target(p, c, &t))
        return err_obj(-3, "invalid argument");
    if (t.error)
        return json_deep_copy(t.error);
    meter_advance(t.m, t.relay, sim_now(p->sim));
    struct tm tm;
    local_date(p, &tm);
    json_t *list = json_array();
    if (year == tm.tm_year + 1900 && (!daily || month == tm.tm_mon + 1))
        json_array_append_new(list, stat_entry(p, t.m, &tm, daily));
    return json_pack("{s:o, s:i}", daily ? "day_list" : "month_list", list, "err_code", 0);
}

static json_t *m_get_daystat(struct plug *p, const struct call *c)
{
    return m_get_stat(p, c, true);
}

static json_t *m_get_monthstat(struct plug *p, const struct call *c)
{
    return m_get_stat(p, c, false);
}

static json_t *m_erase_emeter_stat(struct plug *p, const struct call *c)
{
    struct target t;
    if (!meter_target(p, c, &t))
        return err_obj(-3, "invalid argument");
    if (t.error)
        return json_deep_copy(t.error);
    meter_advance(t.m, t.relay, sim_now(p->sim));
    t.m->energy_wh = 0;
    t.m->energy_start_wh = 0;
    return ok_obj();
}

static json_t *m_get_time(struct plug *p, const struct call *c)
{
    struct tm tm;
    local_date(p, &tm);
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "year", tm.tm_year + 1900, "month",
                     tm.tm_mon + 1, "mday", tm.tm_mday, "hour", tm.tm_hour, "min", tm.tm_min, "sec",
                     tm.tm_sec, "err_code", 0);
}

enum needs { NEEDS_NOTHING, NEEDS_ENTRY, NEEDS_METER };

struct method {
    const char *module, *method;
    enum needs needs;
    bool child_aware; /* on a strip, "context" scopes it */
    json_t *(*fn)(struct plug *p, const struct call *c);
};

static const struct method methods[] = {
    {"system", "get_sysinfo", NEEDS_ENTRY, false, m_get_sysinfo},
    {"system", "set_relay_state", NEEDS_NOTHING, true, m_set_relay_state},
    {"system", "set_dev_alias", NEEDS_NOTHING, true, m_set_dev_alias},
    {"system", "set_led_off", NEEDS_NOTHING, false, m_set_led_off},
    {"emeter", "get_realtime", NEEDS_METER, true, m_get_realtime},
    {"emeter", "get_daystat", NEEDS_METER, true, m_get_daystat},
    {"emeter", "get_monthstat", NEEDS_METER, true, m_get_monthstat},
    {"emeter", "erase_emeter_stat", NEEDS_METER, true, m_erase_emeter_stat},
    {"time", "get_time", NEEDS_ENTRY, false, m_get_time},
    {"smartlife.iot.smartpowerstrip.manage", "get_relationship", NEEDS_ENTRY, false,
     m_get_relationship},
};

/* A module the dump shows only as "-1 module not support" stubs (an HS100's emeter): every
 * method of it gets that answer, not "member not support". */
static bool module_is_stub(json_t *mod)
{
    const char *k;
    json_t *v;
    if (json_object_size(mod) == 0)
        return false;
    json_object_foreach(mod, k, v)
    {
        if (json_integer_value(json_object_get(v, "err_code")) != -1)
            return false;
    }
    return true;
}

static json_t *handle_method(struct plug *p, const char *modname, json_t *mod, const char *name,
                             json_t *args, const struct scope *scope, bool udp)
{
    json_t *entry = json_object_get(mod, name);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        const struct method *m = &methods[i];
        if (strcmp(m->module, modname) != 0 || strcmp(m->method, name) != 0)
            continue;
        if (m->needs == NEEDS_NOTHING || (m->needs == NEEDS_ENTRY && json_is_object(entry)) ||
            (m->needs == NEEDS_METER && p->metered)) {
            if (m->child_aware && scope->err == -3)
                return err_obj(-3, "invalid argument");
            if (m->child_aware && scope->err == -14)
                return err_obj(-14, "entry not exist");
            struct call c = {entry, args, scope, udp};
            /* A new reply object, never a pointer into c (cppcheck cannot see that). */
            // cppcheck-suppress returnDanglingLifetime
            return m->fn(p, &c);
        }
        break;
    }
    if (json_is_object(entry))
        return json_deep_copy(entry);
    if (module_is_stub(mod))
        return err_obj(-1, "module not support");
    return err_obj(-2, "member not support");
}

/* Dumps carry other top-level keys too (python-kasa's "discovery_result"): a module is an
 * object of method replies, or a module-level error. */
static bool is_module(json_t *mod)
{
    const char *k;
    json_t *v;
    if (!json_is_object(mod))
        return false;
    if (json_object_get(mod, "err_code"))
        return true;
    json_object_foreach(mod, k, v)
    {
        if (!json_is_object(v))
            return false;
    }
    return true;
}

static json_t *handle_module(struct plug *p, const char *name, json_t *margs,
                             const struct scope *scope, bool udp)
{
    json_t *mod = json_object_get(p->profile, name);
    if (!is_module(mod))
        return err_obj(-1, "module not support");
    if (json_object_get(mod, "err_code")) /* the dump has the module-level error */
        return json_deep_copy(mod);
    if (!json_is_object(margs))
        return err_obj(-3, "invalid argument");
    json_t *out = json_object();
    const char *meth;
    json_t *args;
    json_object_foreach(margs, meth, args)
    {
        json_t *r = handle_method(p, name, mod, meth, args, scope, udp);
        if (!r || json_object_set_new(out, meth, r) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

/* Returns the reply text (malloc'd), or NULL when the request is not a JSON object: a real
 * plug answers nothing then, and the caller closes. */
static char *plug_handle(struct plug *p, const uint8_t *text, size_t len, bool udp)
{
    json_error_t jerr;
    json_t *req = json_loadb((const char *)text, len, 0, &jerr);
    if (!json_is_object(req)) {
        log_msg(LOG_DEBUG, p->name, "bad request: %s", req ? "not an object" : jerr.text);
        json_decref(req);
        return NULL;
    }
    struct scope *scope = malloc(sizeof *scope);
    json_t *reply = json_object();
    const char *mod;
    json_t *margs;
    bool ok = reply && scope;
    if (scope)
        parse_scope(p, req, udp, scope);
    json_object_foreach(req, mod, margs)
    {
        if (!ok)
            break;
        if (strcmp(mod, "context") == 0) /* not a module; plugs without children ignore it */
            continue;
        json_t *r = handle_module(p, mod, margs, scope, udp);
        ok = r && json_object_set_new(reply, mod, r) == 0;
    }
    char *s = ok ? json_dumps(reply, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(reply);
    json_decref(req);
    free(scope);
    return s;
}

/* ---- TCP connections ---- */

static void conn_close(struct conn *c)
{
    struct plug *p = c->dev;
    struct ev_loop *loop = p->sim->loop;
    ev_io_stop(loop, &c->rio);
    ev_io_stop(loop, &c->wio);
    ev_timer_stop(loop, &c->fault_timer);
    close(c->fd);
    kasa_frame_reader_free(&c->rd);
    strbuf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    p->nconns--;
    p->sim->nconns--;
    free(c);
}

/* Sends what is queued; false when the connection was closed. */
static bool conn_flush(struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ev_io_start(c->dev->sim->loop, &c->wio);
            return true;
        }
        if (n <= 0) {
            conn_close(c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    ev_io_stop(c->dev->sim->loop, &c->wio);
    strbuf_reset(&c->out);
    c->out_off = 0;
    if (c->close_after_flush) {
        conn_close(c);
        return false;
    }
    return true;
}

static bool conn_queue(struct conn *c, const void *data, size_t len)
{
    if (!strbuf_append(&c->out, data, len)) { /* a client that never reads */
        log_msg(LOG_DEBUG, c->dev->name, "client does not read its replies; closing");
        conn_close(c);
        return false;
    }
    return conn_flush(c);
}

static void random_bytes(uint64_t *rng, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(rng_next(rng) >> 56);
}

/* ---- injected faults (enum sim_fault) ---- */

#define SIM_DRIP_PERIOD 1.0  /* s between the bytes of a dripped reply */
#define SIM_RESET_DELAY 0.05 /* s between a partial reply and the RST, so the bytes go first */
#define SIM_HUGE_LENGTH 0x7fffffffu

/* The reply text to a request as the fault shapes it, malloc'd; NULL when the request is not
 * a JSON object (a real plug answers nothing then) or on allocation failure. */
static char *fault_reply_text(struct plug *p, const uint8_t *body, size_t len)
{
    char *reply = plug_handle(p, body, len, false);
    if (!reply)
        return NULL;
    if (p->fault == SIM_FAULT_BAD_JSON) {
        reply[strlen(reply) / 2] = '\0'; /* an object cut off mid-way */
    } else if (p->fault == SIM_FAULT_DEVICE_ERROR) {
        /* -7 "unknown error" is what real plugs answer when a method fails internally. */
        json_t *j = json_loads(reply, 0, NULL);
        json_t *sys = json_object_get(j, "system");
        if (json_is_object(sys))
            json_object_set_new(sys, "get_sysinfo", err_obj(-7, "unknown error"));
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
        json_decref(j);
        free(reply);
        reply = s;
    }
    return reply;
}

static void fault_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct conn *c = w->data;
    if (w->repeat == 0.0) { /* the reset's one-shot */
        /* SO_LINGER 0 turns close() into an RST. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        conn_close(c);
        return;
    }
    if (c->out_off >= c->out.len) { /* flushed at once after the fault was cleared */
        ev_timer_stop(loop, w);
        return;
    }
    ssize_t n = send(c->fd, c->out.data + c->out_off, 1, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_close(c);
        return;
    }
    if (n > 0 && ++c->out_off == c->out.len) {
        strbuf_reset(&c->out);
        c->out_off = 0;
        ev_timer_stop(loop, w);
    }
}

/* Queues a frame shaped by the plug's fault; false when the connection was closed. */
static bool conn_fault_reply(struct conn *c, const uint8_t *frame, size_t flen)
{
    struct plug *p = c->dev;
    struct ev_loop *loop = p->sim->loop;
    switch (p->fault) {
    case SIM_FAULT_DRIP:
        /* Bytes already dripping go first; the timer sends whatever is queued. */
        if (!strbuf_append(&c->out, frame, flen)) {
            conn_close(c);
            return false;
        }
        if (!ev_is_active(&c->fault_timer)) {
            ev_timer_set(&c->fault_timer, SIM_DRIP_PERIOD, SIM_DRIP_PERIOD);
            ev_timer_start(loop, &c->fault_timer);
        }
        return true;
    case SIM_FAULT_TRUNCATED:
        c->close_after_flush = true;
        ev_io_stop(loop, &c->rio);
        return conn_queue(c, frame, 4 + (flen - 4) / 2);
    case SIM_FAULT_HUGE_LENGTH: {
        uint8_t junk[4 + 64];
        uint32_t be = htonl(SIM_HUGE_LENGTH);
        memcpy(junk, &be, 4);
        random_bytes(&p->rng, junk + 4, sizeof junk - 4);
        c->close_after_flush = true;
        ev_io_stop(loop, &c->rio);
        return conn_queue(c, junk, sizeof junk);
    }
    case SIM_FAULT_RESET:
        ev_io_stop(loop, &c->rio);
        ev_timer_set(&c->fault_timer, SIM_RESET_DELAY, 0.0);
        ev_timer_start(loop, &c->fault_timer);
        return conn_queue(c, frame, 4 + (flen - 4) / 3);
    default: /* none, bad_json, device_error: the frame itself is well formed */
        return conn_queue(c, frame, flen);
    }
}

/* One whole request arrived; false when the connection was closed. */
static bool conn_request(struct conn *c, const uint8_t *body, size_t len)
{
    struct plug *p = c->dev;
    switch (p->fault) {
    case SIM_FAULT_HANG:
        return true;
    case SIM_FAULT_GARBAGE: {
        uint8_t junk[256];
        size_t n = 8 + (size_t)(rng_next(&p->rng) % (sizeof junk - 8 + 1));
        random_bytes(&p->rng, junk, n);
        c->close_after_flush = true;
        ev_io_stop(p->sim->loop, &c->rio);
        return conn_queue(c, junk, n);
    }
    case SIM_FAULT_CLOSE:
    case SIM_FAULT_REFUSE: /* a connection accepted just before the listener closed */
        conn_close(c);
        return false;
    default: {
        char *reply = fault_reply_text(p, body, len);
        size_t rlen = reply ? strlen(reply) : 0;
        uint8_t *frame = reply ? malloc(rlen + 4) : NULL;
        size_t flen = frame ? kasa_frame_encode(reply, rlen, frame, rlen + 4) : 0;
        free(reply);
        if (flen == 0) {
            free(frame);
            conn_close(c);
            return false;
        }
        bool alive = conn_fault_reply(c, frame, flen);
        free(frame);
        return alive;
    }
    }
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    uint8_t buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c);
        return;
    }
    size_t off = 0;
    while (off < (size_t)n) {
        size_t used;
        enum kasa_frame_status st = kasa_frame_feed(&c->rd, buf + off, (size_t)n - off, &used);
        off += used;
        if (st == KASA_FRAME_MORE)
            continue;
        if (st != KASA_FRAME_DONE) {
            log_msg(LOG_DEBUG, c->dev->name, "%s; closing",
                    st == KASA_FRAME_TOO_LONG ? "length prefix too large" : "out of memory");
            conn_close(c);
            return;
        }
        bool alive = conn_request(c, c->rd.body, c->rd.body_len);
        if (!alive)
            return;
        kasa_frame_reader_free(&c->rd);
        if (c->close_after_flush)
            return;
    }
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    conn_flush(w->data);
}

static void conn_close_all(struct plug *p)
{
    /* conn_close unlinks the head from p->conns before freeing it; the analyzer cannot see
     * that c->dev is p. */
    while (p->conns)
        conn_close(p->conns); // NOLINT(clang-analyzer-unix.Malloc)
}

/* ---- listening sockets ---- */

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct plug *p = w->data;
    for (int i = 0; i < SIM_ACCEPT_BURST; i++) {
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_msg(LOG_WARN, p->name, "accept: %s; pausing 1 s", strerror(errno));
                ev_io_stop(loop, &p->lio);
                ev_timer_set(&p->accept_pause, 1.0, 0.0);
                ev_timer_start(loop, &p->accept_pause);
            }
            return;
        }
        if (p->nconns >= SIM_CONNS_PER_DEVICE || p->sim->nconns >= SIM_CONNS_TOTAL) {
            log_msg(LOG_DEBUG, p->name, "connection limit reached; closing a new connection");
            close(fd);
            continue;
        }
        struct conn *c = NULL;
        if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
            !(c = calloc(1, sizeof *c))) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->dev = p;
        c->fd = fd;
        kasa_frame_reader_init(&c->rd);
        strbuf_init(&c->out, SIM_OUT_MAX);
        ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
        ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
        ev_init(&c->fault_timer, fault_timer_cb);
        c->rio.data = c;
        c->wio.data = c;
        c->fault_timer.data = c;
        c->next = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        p->nconns++;
        p->sim->nconns++;
        ev_io_start(loop, &c->rio);
    }
}

static void accept_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct plug *p = w->data;
    if (p->lfd >= 0)
        ev_io_start(loop, &p->lio);
}

static bool is_local_sender(const struct sockaddr_storage *sa);

/* Datagrams from fd (the device's own socket or its broadcast socket) are answered from the
 * device's own socket, as a real plug answers discovery from its address and port. */
static void udp_serve(struct plug *p, int fd, bool broadcast)
{
    uint8_t *buf = p->sim->ubuf;
    for (int i = 0; i < SIM_UDP_BURST; i++) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, KASA_FRAME_MAX + 1, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0)
            return;
        if ((size_t)n > KASA_FRAME_MAX || n == 0)
            continue;
        if (broadcast && !is_local_sender(&from))
            continue; /* a broadcast from the network: the simulator never answers off-host */
        size_t len = (size_t)n;
        if (p->fault == SIM_FAULT_GARBAGE) {
            uint8_t junk[256];
            len = 8 + (size_t)(rng_next(&p->rng) % (sizeof junk - 8 + 1));
            random_bytes(&p->rng, junk, len);
            sendto(p->ufd, junk, len, 0, (struct sockaddr *)&from, fromlen);
            continue;
        }
        if (p->fault != SIM_FAULT_NONE)
            continue;
        kasa_xor_decrypt(buf, len, buf);
        char *reply = plug_handle(p, buf, len, true);
        if (!reply)
            continue;
        size_t rlen = strlen(reply);
        if (rlen <= KASA_FRAME_MAX) {
            kasa_xor_encrypt((const uint8_t *)reply, rlen, buf);
            if (sendto(p->ufd, buf, rlen, 0, (struct sockaddr *)&from, fromlen) < 0)
                log_msg(LOG_DEBUG, p->name, "udp reply: %s", strerror(errno));
        }
        free(reply);
    }
}

static void udp_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct plug *p = w->data;
    udp_serve(p, p->ufd, false);
}

static void bcast_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct plug *p = w->data;
    udp_serve(p, p->bfd, true);
}

static int open_socket(const struct plug *p, int type, uint16_t port, char *err, size_t errlen)
{
    struct sockaddr_storage sa = p->sa;
    if (sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&sa)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
    int fd = socket(sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, p->salen) != 0 ||
        (type == SOCK_STREAM && listen(fd, 16) != 0)) {
        snprintf(err, errlen, "%s %s port %u: %s", type == SOCK_STREAM ? "tcp" : "udp", p->addr,
                 (unsigned)port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static uint16_t socket_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        return 0;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
}

/* Binds TCP and UDP on one port; with port 0 the kernel picks TCP's and UDP follows, retried
 * when another socket already holds that UDP port. */
static int plug_open(struct plug *p, uint16_t port, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        p->lfd = open_socket(p, SOCK_STREAM, port, err, errlen);
        if (p->lfd < 0)
            return -1;
        p->port = socket_port(p->lfd);
        p->ufd = open_socket(p, SOCK_DGRAM, p->port, err, errlen);
        if (p->ufd >= 0)
            return 0;
        close(p->lfd);
        p->lfd = -1;
        if (port != 0)
            return -1;
    }
    return -1;
}

/* ---- profiles ---- */

static json_t *load_profile(const char *profile, char *err, size_t errlen)
{
    json_error_t jerr;
    for (const struct sim_profile_blob *b = sim_profile_blobs; b->name; b++) {
        if (strcmp(b->name, profile) == 0) {
            json_t *j = json_loadb((const char *)b->data, b->len, 0, &jerr);
            if (!j)
                snprintf(err, errlen, "built-in profile %s:%d:%d: %s", profile, jerr.line,
                         jerr.column, jerr.text);
            return j;
        }
    }
    int fd = open(profile, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : EINVAL;
        snprintf(err, errlen, "profile %s: not a built-in profile and not a readable file (%s)",
                 profile, e == EINVAL ? "not a regular file" : strerror(e));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char *buf = malloc(SIM_PROFILE_MAX + 1);
    size_t len = 0;
    ssize_t n = 0;
    while (buf && len <= SIM_PROFILE_MAX &&
           ((n = read(fd, buf + len, SIM_PROFILE_MAX + 1 - len)) > 0 || (n < 0 && errno == EINTR)))
        if (n > 0)
            len += (size_t)n;
    int read_errno = errno;
    close(fd);
    json_t *j = NULL;
    if (!buf)
        snprintf(err, errlen, "profile %s: out of memory", profile);
    else if (n < 0)
        snprintf(err, errlen, "profile %s: %s", profile, strerror(read_errno));
    else if (len > SIM_PROFILE_MAX)
        snprintf(err, errlen, "profile %s: larger than %u bytes", profile, SIM_PROFILE_MAX);
    else if (!(j = json_loadb(buf, len, 0, &jerr)))
        snprintf(err, errlen, "%s:%d:%d: %s", profile, jerr.line, jerr.column, jerr.text);
    free(buf);
    return j;
}

static double num(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

static bool is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* A sender on this host: loopback, or an IPv4 address of one of its interfaces. */
static bool is_local_sender(const struct sockaddr_storage *sa)
{
    if (is_loopback(sa))
        return true;
    if (sa->ss_family != AF_INET)
        return false;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return false;
    bool local = false;
    for (struct ifaddrs *i = ifs; i && !local; i = i->ifa_next)
        local = i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
                ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr.s_addr ==
                    ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
    freeifaddrs(ifs);
    return local;
}

/* The loopback or limited broadcast, or the broadcast address of a local interface. */
static bool is_broadcast_addr(struct in_addr a)
{
    uint32_t h = ntohl(a.s_addr);
    if (h == 0x7fffffffu || h == 0xffffffffu)
        return true;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return false;
    bool found = false;
    for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
        found = (i->ifa_flags & IFF_BROADCAST) && i->ifa_broadaddr &&
                i->ifa_broadaddr->sa_family == AF_INET &&
                ((const struct sockaddr_in *)(const void *)i->ifa_broadaddr)->sin_addr.s_addr ==
                    a.s_addr;
    freeifaddrs(ifs);
    return found;
}

static int open_broadcast(struct plug *p, char *err, size_t errlen)
{
    struct sockaddr_in sa = p->sim->bcast;
    sa.sin_port = htons(p->port);
    p->bfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    /* Every device on this port shares the address; each gets its own copy. */
    if (p->bfd < 0 || setsockopt(p->bfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(p->bfd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sa.sin_addr, a, sizeof a);
        snprintf(err, errlen, "udp broadcast %s port %u: %s", a, (unsigned)p->port,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int parse_addr(struct plug *p, const char *addr, char *err, size_t errlen)
{
    memset(&p->sa, 0, sizeof p->sa);
    struct sockaddr_in *s4 = (struct sockaddr_in *)&p->sa;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->sa;
    if (addr && inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        p->salen = sizeof *s4;
    } else if (addr && inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        p->salen = sizeof *s6;
    } else {
        snprintf(err, errlen, "address %s: not an IPv4 or IPv6 literal", addr ? addr : "(null)");
        return -1;
    }
    if (!is_loopback(&p->sa)) {
        snprintf(err, errlen, "address %s: not a loopback address", addr);
        return -1;
    }
    inet_ntop(p->sa.ss_family,
              p->sa.ss_family == AF_INET ? (const void *)&s4->sin_addr
                                         : (const void *)&s6->sin6_addr,
              p->addr, sizeof p->addr);
    return 0;
}

/* A meter's starting point from a reading in the profile's emeter shape (v1 or v2 fields).
 * A reading of 0 W taken while the relay was off says nothing about the load: pick a small
 * one; a voltage that is no mains voltage gets the region's. */
static void meter_init(struct meter *m, json_t *rt, int relay, const char *model, uint64_t seed,
                       double now)
{
    memset(m, 0, sizeof *m);
    if (json_is_object(rt)) {
        m->base_w = json_object_get(rt, "power") ? num(rt, "power") : num(rt, "power_mw") / 1e3;
        m->nominal_v =
            json_object_get(rt, "voltage") ? num(rt, "voltage") : num(rt, "voltage_mv") / 1e3;
        m->energy_wh = json_object_get(rt, "total") ? num(rt, "total") * 1e3 : num(rt, "total_wh");
    }
    if (!(m->base_w > 0) || m->base_w > 1e5)
        m->base_w = relay ? 0.0 : 40.0;
    if (!(m->nominal_v > 50) || m->nominal_v > 400)
        m->nominal_v =
            strstr(model, "(US)") || strstr(model, "(CA)") || strstr(model, "(JP)") ? 120.0 : 230.0;
    if (!(m->energy_wh >= 0) || m->energy_wh > 1e12)
        m->energy_wh = 0;
    m->energy_start_wh = m->energy_wh;
    m->rng = seed;
    m->walk_p = 0.95 + 0.1 * rng_unit(&m->rng);
    m->walk_v = 0.995 + 0.01 * rng_unit(&m->rng);
    m->last = now;
    m->next_step = now + 1.0;
}

/* A strip's outlets: ids from the generated deviceId, relays and aliases from the profile,
 * one meter each (see the top of the file for sim_child_realtime). */
static int init_children(struct plug *p, json_t *sys, json_t *rt, const char *model, double now,
                         char *err, size_t errlen)
{
    json_t *children = json_object_get(sys, "children");
    if (!children)
        return 0;
    json_t *rts = json_object_get(p->profile, "sim_child_realtime");
    if (!json_is_array(children) || json_array_size(children) > SIM_MAX_CHILDREN) {
        snprintf(err, errlen, "children must be an array of at most %d outlets", SIM_MAX_CHILDREN);
        return -1;
    }
    if (rts && !json_is_array(rts)) {
        snprintf(err, errlen, "sim_child_realtime must be an array");
        return -1;
    }
    p->strip = true;
    p->nchildren = json_array_size(children);
    for (size_t i = 0; i < p->nchildren; i++) {
        struct child *c = &p->children[i];
        json_t *e = json_array_get(children, i);
        json_t *a = json_object_get(e, "alias");
        const char *alias = json_is_string(a) ? json_string_value(a) : "";
        if (!json_is_object(e) || strlen(alias) > SIM_ALIAS_MAX) {
            snprintf(err, errlen,
                     "children[%zu] is not an object with an alias of at most %d bytes", i,
                     SIM_ALIAS_MAX);
            return -1;
        }
        snprintf(c->alias, sizeof c->alias, "%s", alias);
        snprintf(c->id, sizeof c->id, "%s%02X", p->device_id, (unsigned)i);
        c->entry = e;
        c->relay = json_integer_value(json_object_get(e, "state")) ? 1 : 0;
        json_int_t on_time = json_integer_value(json_object_get(e, "on_time"));
        c->on_since = now - (double)(on_time > 0 ? on_time : 0);

        uint64_t seed = rng_next(&p->rng);
        json_t *crt = json_array_get(rts, i);
        if (json_is_object(crt) && json_integer_value(json_object_get(crt, "err_code")) != 0) {
            c->rt_error = crt;
            crt = NULL;
        }
        if (json_is_object(crt)) {
            meter_init(&c->meter, crt, c->relay, model, seed, now);
        } else {
            /* Loads drawn around the profile's reading, which is outlet 0's. */
            meter_init(&c->meter, p->metered ? rt : NULL, c->relay, model, seed, now);
            if (i > 0) {
                double f = 0.3 + 1.4 * rng_unit(&c->meter.rng);
                c->meter.base_w *= f;
                c->meter.energy_wh *= f;
                c->meter.energy_start_wh = c->meter.energy_wh;
            }
        }
    }
    return 0;
}

/* The live state starts from the profile's sysinfo and meter reading. */
static int plug_init_state(struct plug *p, const char *alias, char *err, size_t errlen)
{
    json_t *sys = json_object_get(json_object_get(p->profile, "system"), "get_sysinfo");
    if (!json_is_object(sys)) {
        snprintf(err, errlen, "profile has no system.get_sysinfo object");
        return -1;
    }
    if (!alias) {
        json_t *a = json_object_get(sys, "alias");
        alias = json_is_string(a) ? json_string_value(a) : "";
    }
    if (strlen(alias) > SIM_ALIAS_MAX) {
        snprintf(err, errlen, "alias longer than %d bytes", SIM_ALIAS_MAX);
        return -1;
    }
    json_t *check = json_string(alias);
    if (!check) {
        snprintf(err, errlen, "alias is not valid UTF-8");
        return -1;
    }
    json_decref(check);
    snprintf(p->alias, sizeof p->alias, "%s", alias);

    p->rng = p->sim->seed ^ (0xA0761D6478BD642Fu * (uint64_t)(p->idx + 1));
    static const char hex[] = "0123456789ABCDEF";
    memcpy(p->device_id, "8006", 4);
    for (int i = 4; i < 40; i++)
        p->device_id[i] = hex[rng_next(&p->rng) & 15];
    p->device_id[40] = '\0';
    /* Keep the profile's vendor prefix; the last two octets are the index, so unique. */
    json_t *mac = json_object_get(sys, "mac");
    char oui[9] = "50:C7:BF";
    if (json_is_string(mac) && json_string_length(mac) == 17)
        memcpy(oui, json_string_value(mac), 8);
    snprintf(p->mac, sizeof p->mac, "%.8s:%02X:%02X:%02X", oui,
             (unsigned)(rng_next(&p->rng) & 0xff), (unsigned)((p->idx >> 8) & 0xff),
             (unsigned)(p->idx & 0xff));

    double now = sim_now(p->sim);
    p->relay = json_integer_value(json_object_get(sys, "relay_state")) ? 1 : 0;
    p->led_off = json_integer_value(json_object_get(sys, "led_off")) ? 1 : 0;
    json_int_t on_time = json_integer_value(json_object_get(sys, "on_time"));
    p->on_since = now - (double)(on_time > 0 ? on_time : 0);

    json_t *rt = json_object_get(json_object_get(p->profile, "emeter"), "get_realtime");
    p->metered = json_is_object(rt) && json_integer_value(json_object_get(rt, "err_code")) == 0 &&
                 (json_object_get(rt, "power") || json_object_get(rt, "power_mw"));
    json_t *jm = json_object_get(sys, "model");
    const char *model = json_is_string(jm) ? json_string_value(jm) : "";
    meter_init(&p->meter, p->metered ? rt : NULL, p->relay, model, rng_next(&p->rng), now);
    return init_children(p, sys, rt, model, now, err, errlen);
}

/* ---- public API ---- */

struct sim *sim_new(struct ev_loop *loop)
{
    struct sim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return NULL;
    sim->ubuf = malloc(KASA_FRAME_MAX + 1);
    if (!sim->ubuf) {
        free(sim);
        return NULL;
    }
    sim->loop = loop;
    sim->seed = SIM_DEFAULT_SEED;
    return sim;
}

void sim_set_seed(struct sim *sim, uint64_t seed)
{
    sim->seed = seed;
}

int sim_set_broadcast(struct sim *sim, const char *addr, char *err, size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (!addr || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "broadcast address %s: not an IPv4 literal", addr ? addr : "(null)");
        return -1;
    }
    if (!is_broadcast_addr(sa.sin_addr)) {
        snprintf(err, errlen,
                 "broadcast address %s: not 127.255.255.255, 255.255.255.255 or the broadcast "
                 "address of a local interface",
                 addr);
        return -1;
    }
    sim->bcast = sa;
    sim->have_bcast = true;
    return 0;
}

static void plug_free(struct plug *p)
{
    struct ev_loop *loop = p->sim->loop;
    conn_close_all(p);
    ev_io_stop(loop, &p->lio);
    ev_io_stop(loop, &p->uio);
    ev_io_stop(loop, &p->bio);
    ev_timer_stop(loop, &p->accept_pause);
    if (p->lfd >= 0)
        close(p->lfd);
    if (p->ufd >= 0)
        close(p->ufd);
    if (p->bfd >= 0)
        close(p->bfd);
    json_decref(p->profile);
    free(p);
}

void sim_free(struct sim *sim)
{
    if (!sim)
        return;
    for (size_t i = 0; i < sim->ndevs; i++)
        plug_free(sim->devs[i]);
    free(sim->devs);
    free(sim->ubuf);
    free(sim);
}

int sim_add_plug(struct sim *sim, const char *profile, const char *addr, uint16_t port,
                 const char *alias, char *err, size_t errlen)
{
    char why[256] = "";
    if (!profile || !*profile) {
        snprintf(err, errlen, "no profile given");
        return -1;
    }
    if (sim->ndevs >= (size_t)INT32_MAX) {
        snprintf(err, errlen, "too many devices");
        return -1;
    }
    if (sim->ndevs == sim->cap) {
        size_t cap = sim->cap ? sim->cap * 2 : 8;
        struct plug **devs = realloc(sim->devs, cap * sizeof(struct plug *));
        if (!devs) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        sim->devs = devs;
        sim->cap = cap;
    }
    struct plug *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->sim = sim;
    p->idx = (int)sim->ndevs;
    p->lfd = p->ufd = p->bfd = -1;
    ev_init(&p->lio, accept_cb);
    ev_init(&p->uio, udp_cb);
    ev_init(&p->bio, bcast_cb);
    p->bio.data = p;
    ev_init(&p->accept_pause, accept_pause_cb);
    p->lio.data = p->uio.data = p->accept_pause.data = p;

    /* Profile errors name the file (and line:col) already; the others get the profile. */
    if (!(p->profile = load_profile(profile, err, errlen))) {
        plug_free(p);
        return -1;
    }
    if (parse_addr(p, addr, why, sizeof why) != 0 ||
        plug_init_state(p, alias, why, sizeof why) != 0 ||
        plug_open(p, port, why, sizeof why) != 0 ||
        (sim->have_bcast && p->sa.ss_family == AF_INET &&
         open_broadcast(p, why, sizeof why) != 0)) {
        snprintf(err, errlen, "plug %s: %s", profile, why);
        plug_free(p);
        return -1;
    }
    snprintf(p->name, sizeof p->name, p->sa.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", p->addr,
             (unsigned)p->port);
    ev_io_set(&p->lio, p->lfd, EV_READ);
    ev_io_set(&p->uio, p->ufd, EV_READ);
    ev_io_start(sim->loop, &p->lio);
    ev_io_start(sim->loop, &p->uio);
    if (p->bfd >= 0) {
        ev_io_set(&p->bio, p->bfd, EV_READ);
        ev_io_start(sim->loop, &p->bio);
    }
    sim->devs[sim->ndevs++] = p;
    log_msg(LOG_DEBUG, p->name, "plug %s listening", profile);
    return p->idx;
}

static struct plug *dev_at(const struct sim *sim, int idx)
{
    if (!sim || idx < 0 || (size_t)idx >= sim->ndevs)
        return NULL;
    return sim->devs[idx];
}

uint16_t sim_device_port(const struct sim *sim, int idx)
{
    struct plug *p = dev_at(sim, idx);
    return p ? p->port : 0;
}

const char *sim_device_addr(const struct sim *sim, int idx)
{
    struct plug *p = dev_at(sim, idx);
    return p ? p->addr : NULL;
}

size_t sim_device_count(const struct sim *sim)
{
    return sim ? sim->ndevs : 0;
}

const char *sim_device_id(const struct sim *sim, int idx)
{
    struct plug *p = dev_at(sim, idx);
    return p ? p->device_id : NULL;
}

size_t sim_device_connections(const struct sim *sim, int idx)
{
    struct plug *p = dev_at(sim, idx);
    return p ? p->nconns : 0;
}

enum sim_fault sim_device_fault(const struct sim *sim, int idx)
{
    struct plug *p = dev_at(sim, idx);
    return p ? p->fault : SIM_FAULT_NONE;
}

int sim_set_fault(struct sim *sim, int idx, enum sim_fault fault)
{
    struct plug *p = dev_at(sim, idx);
    if (!p || (unsigned)fault >= SIM_FAULT_COUNT)
        return -1;
    if (fault == p->fault)
        return 0;
    if (fault == SIM_FAULT_REFUSE) {
        /* The device is gone: no listener, no open connections, no UDP answers. */
        conn_close_all(p);
        ev_io_stop(sim->loop, &p->lio);
        ev_timer_stop(sim->loop, &p->accept_pause);
        close(p->lfd);
        p->lfd = -1;
    } else if (p->fault == SIM_FAULT_REFUSE) {
        char why[256];
        p->lfd = open_socket(p, SOCK_STREAM, p->port, why, sizeof why);
        if (p->lfd < 0) {
            log_msg(LOG_WARN, p->name, "cannot listen again: %s", why);
            return -1;
        }
        ev_io_set(&p->lio, p->lfd, EV_READ);
        ev_io_start(sim->loop, &p->lio);
    }
    log_msg(LOG_DEBUG, p->name, "fault %s -> %s", sim_fault_name(p->fault), sim_fault_name(fault));
    p->fault = fault;
    return 0;
}

int sim_set_relay(struct sim *sim, int idx, int on)
{
    struct plug *p = dev_at(sim, idx);
    if (!p)
        return -1;
    if (!p->strip)
        plug_set_relay(p, on);
    for (size_t i = 0; i < p->nchildren; i++)
        child_set_relay(p, &p->children[i], on);
    return 0;
}

int sim_set_outlet(struct sim *sim, int idx, int outlet, int on)
{
    struct plug *p = dev_at(sim, idx);
    if (!p || outlet < 1 || (size_t)outlet > p->nchildren)
        return -1;
    child_set_relay(p, &p->children[outlet - 1], on);
    return 0;
}

void sim_advance_clock(struct sim *sim, double seconds)
{
    if (seconds > 0 && seconds < 1e9)
        sim->clock_offset += seconds;
}

char *sim_plug_handle_json(struct sim *sim, int idx, const char *json, size_t len)
{
    struct plug *p = dev_at(sim, idx);
    return p ? plug_handle(p, (const uint8_t *)json, len, false) : NULL;
}

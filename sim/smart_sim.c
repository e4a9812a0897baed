#include "sim/smart_sim.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"

#define PROFILE_MAX (1u << 20)
#define MULTI_MAX 16 /* requests answered per multipleRequest */

/* SMART error codes the devices answer. */
#define E_OK 0
#define E_UNKNOWN_METHOD (-1002)
#define E_JSON_DECODE (-1003)
#define E_PARAMS (-1008)

struct smart_sim {
    json_t *profile;
    uint64_t rng;
    double clock_offset;
    char device_id[41];
    bool on;
    double on_since;
    bool metered; /* the profile has get_energy_usage */
    double base_w, nominal_v, walk;
    double energy_wh; /* since start */
    double today_wh0, month_wh0;
    double last; /* model time of the last update */
};

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static double now_s(const struct smart_sim *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + s->clock_offset;
}

static double power_w(const struct smart_sim *s)
{
    return s->on && s->metered ? s->base_w * s->walk : 0.0;
}

/* Integrates the power held since the last update, then lets it wander (±10 %). */
static void advance(struct smart_sim *s)
{
    double now = now_s(s);
    if (now > s->last) {
        s->energy_wh += power_w(s) * (now - s->last) / 3600.0;
        s->last = now;
    }
    double step = ((double)(rng_next(&s->rng) >> 11) * 0x1.0p-53 - 0.5) * 0.04;
    s->walk += step;
    if (s->walk > 1.10)
        s->walk = 2.20 - s->walk;
    if (s->walk < 0.90)
        s->walk = 1.80 - s->walk;
}

static void set_on(struct smart_sim *s, bool on)
{
    advance(s);
    if (on && !s->on)
        s->on_since = now_s(s);
    s->on = on;
}

/* ---- methods ---- */

static json_t *m_device_info(struct smart_sim *s, json_t *entry, json_t *params)
{
    json_t *r = json_deep_copy(entry);
    if (!r)
        return NULL;
    json_object_set_new(r, "device_id", json_string(s->device_id));
    json_object_set_new(r, "device_on", json_boolean(s->on));
    json_object_set_new(r, "on_time",
                        json_integer(s->on ? (json_int_t)(now_s(s) - s->on_since) : 0));
    return r;
}

static json_int_t wh(double x)
{
    return (json_int_t)floor(x);
}

static json_t *m_energy_usage(struct smart_sim *s, json_t *entry, json_t *params)
{
    advance(s);
    json_t *r = json_deep_copy(entry);
    if (!r)
        return NULL;
    char when[32];
    time_t t = time(NULL) + (time_t)s->clock_offset;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    json_object_set_new(r, "current_power", json_integer((json_int_t)llround(power_w(s) * 1e3)));
    json_object_set_new(r, "today_energy", json_integer(wh(s->today_wh0 + s->energy_wh)));
    json_object_set_new(r, "month_energy", json_integer(wh(s->month_wh0 + s->energy_wh)));
    json_object_set_new(r, "local_time", json_string(when));
    return r;
}

static json_t *m_current_power(struct smart_sim *s, json_t *entry, json_t *params)
{
    advance(s);
    return json_pack("{s:I}", "current_power", (json_int_t)llround(power_w(s)));
}

static json_t *m_emeter_data(struct smart_sim *s, json_t *entry, json_t *params)
{
    advance(s);
    double w = power_w(s), v = s->nominal_v * (0.995 + 0.01 * (s->walk - 0.9) / 0.2);
    json_t *r = json_deep_copy(entry);
    if (!r)
        return NULL;
    json_object_set_new(r, "power_mw", json_integer((json_int_t)llround(w * 1e3)));
    json_object_set_new(r, "voltage_mv", json_integer((json_int_t)llround(v * 1e3)));
    json_object_set_new(r, "current_ma", json_integer((json_int_t)llround(w / v * 1e3)));
    json_object_set_new(r, "energy_wh", json_integer(wh(s->month_wh0 + s->energy_wh)));
    return r;
}

static json_t *m_set_device_info(struct smart_sim *s, json_t *entry, json_t *params)
{
    json_t *on = json_object_get(params, "device_on");
    json_t *nick = json_object_get(params, "nickname");
    if ((!on && !nick) || (on && !json_is_boolean(on)) || (nick && !json_is_string(nick)))
        return NULL; /* params error */
    json_t *info = json_object_get(s->profile, "get_device_info");
    if (nick)
        json_object_set(info, "nickname", nick);
    if (on)
        set_on(s, json_is_true(on));
    return json_object();
}

struct method {
    const char *name;
    json_t *(*fn)(struct smart_sim *s, json_t *entry, json_t *params);
    bool needs_entry; /* only where the profile has it */
};

static const struct method methods[] = {
    {"get_device_info", m_device_info, true},      {"get_energy_usage", m_energy_usage, true},
    {"get_current_power", m_current_power, true},  {"get_emeter_data", m_emeter_data, true},
    {"set_device_info", m_set_device_info, false},
};

/* {"error_code":c[,"result":r]} for one method; steals r. */
static json_t *one(const char *name, json_t *params, struct smart_sim *s)
{
    json_t *entry = json_object_get(s->profile, name);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        const struct method *m = &methods[i];
        if (strcmp(m->name, name) != 0)
            continue;
        if (m->needs_entry && !json_is_object(entry))
            break;
        json_t *r = m->fn(s, entry, params);
        if (!r)
            return json_pack("{s:i}", "error_code", E_PARAMS);
        return json_pack("{s:i, s:o}", "error_code", E_OK, "result", r);
    }
    if (json_is_object(entry) && strncmp(name, "get_", 4) == 0)
        return json_pack("{s:i, s:O}", "error_code", E_OK, "result", entry);
    return json_pack("{s:i}", "error_code", E_UNKNOWN_METHOD);
}

static json_t *multi(struct smart_sim *s, json_t *params)
{
    json_t *reqs = json_object_get(params, "requests");
    if (!json_is_array(reqs) || json_array_size(reqs) > MULTI_MAX)
        return json_pack("{s:i}", "error_code", E_PARAMS);
    json_t *list = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r)
    {
        const char *m = json_string_value(json_object_get(r, "method"));
        json_t *resp = m ? one(m, json_object_get(r, "params"), s)
                         : json_pack("{s:i}", "error_code", E_PARAMS);
        if (!resp)
            continue;
        if (m)
            json_object_set_new(resp, "method", json_string(m));
        json_array_append_new(list, resp);
    }
    return json_pack("{s:i, s:{s:o}}", "error_code", E_OK, "result", "responses", list);
}

char *smart_sim_handle(void *ctx, const char *json, size_t len)
{
    struct smart_sim *s = ctx;
    json_t *req = json_loadb(json, len, 0, NULL);
    const char *m = json_string_value(json_object_get(req, "method"));
    json_t *resp;
    if (!json_is_object(req))
        resp = json_pack("{s:i}", "error_code", E_JSON_DECODE);
    else if (!m)
        resp = json_pack("{s:i}", "error_code", E_PARAMS);
    else if (!strcmp(m, "multipleRequest"))
        resp = multi(s, json_object_get(req, "params"));
    else
        resp = one(m, json_object_get(req, "params"), s);
    json_decref(req);
    char *out = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
    json_decref(resp);
    return out;
}

/* ---- profiles ---- */

static json_t *load(const char *profile, char *err, size_t errlen)
{
    json_error_t jerr;
    for (const struct sim_profile_blob *b = sim_smart_profile_blobs; b->name; b++) {
        if (strcmp(b->name, profile) == 0) {
            json_t *j = json_loadb((const char *)b->data, b->len, 0, &jerr);
            if (!j)
                snprintf(err, errlen, "built-in SMART profile %s:%d:%d: %s", profile, jerr.line,
                         jerr.column, jerr.text);
            return j;
        }
    }
    int fd = open(profile, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > PROFILE_MAX) {
        snprintf(err, errlen,
                 "SMART profile %s: not built in, and not a readable file of at most %u bytes",
                 profile, PROFILE_MAX);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    json_t *j = json_loadfd(fd, 0, &jerr);
    close(fd);
    if (!j)
        snprintf(err, errlen, "%s:%d:%d: %s", profile, jerr.line, jerr.column, jerr.text);
    return j;
}

bool smart_sim_builtin(const char *name)
{
    for (const struct sim_profile_blob *b = sim_smart_profile_blobs; b->name; b++)
        if (strcmp(b->name, name) == 0)
            return true;
    return false;
}

static double num(json_t *obj, const char *key, double dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) && isfinite(json_number_value(v)) ? json_number_value(v) : dflt;
}

struct smart_sim *smart_sim_new(const char *profile, uint64_t seed, char *err, size_t errlen)
{
    struct smart_sim *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!(s->profile = load(profile, err, errlen))) {
        free(s);
        return NULL;
    }
    json_t *info = json_object_get(s->profile, "get_device_info");
    if (!json_is_object(info)) {
        snprintf(err, errlen, "SMART profile %s has no get_device_info object", profile);
        smart_sim_free(s);
        return NULL;
    }
    s->rng = seed ^ 0x534D415254u;
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < 40; i++)
        s->device_id[i] = hex[rng_next(&s->rng) & 15];
    s->device_id[40] = '\0';
    double now = now_s(s);
    s->last = now;
    s->on = json_is_true(json_object_get(info, "device_on"));
    s->on_since = now - num(info, "on_time", 0.0);
    json_t *eu = json_object_get(s->profile, "get_energy_usage");
    json_t *em = json_object_get(s->profile, "get_emeter_data");
    s->metered = json_is_object(eu);
    s->base_w = num(eu, "current_power", 0.0) / 1e3;
    if (!(s->base_w > 0.5) || s->base_w > 1e4)
        s->base_w = 60.0; /* a profile taken while idle: a small load */
    s->nominal_v = num(em, "voltage_mv", 0.0) / 1e3;
    if (!(s->nominal_v > 50.0) || s->nominal_v > 400.0)
        s->nominal_v = 120.0;
    s->today_wh0 = fmax(0.0, num(eu, "today_energy", 0.0));
    s->month_wh0 = fmax(s->today_wh0, num(eu, "month_energy", 0.0));
    s->walk = 0.95 + 0.1 * ((double)(rng_next(&s->rng) >> 11) * 0x1.0p-53);
    return s;
}

void smart_sim_free(struct smart_sim *s)
{
    if (!s)
        return;
    json_decref(s->profile);
    free(s);
}

void smart_sim_set_on(struct smart_sim *s, bool on)
{
    set_on(s, on);
}

bool smart_sim_is_on(const struct smart_sim *s)
{
    return s->on;
}

double smart_sim_power_w(struct smart_sim *s)
{
    return power_w(s);
}

void smart_sim_advance_clock(struct smart_sim *s, double seconds)
{
    if (seconds > 0 && seconds < 1e9) {
        s->clock_offset += seconds;
        advance(s);
    }
}

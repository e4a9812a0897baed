/* tplinksim: simulated TP-Link devices on loopback, for tests and demos.
 *
 * Prints "ready plug|klap|aes PROFILE ADDR PORT" or "ready switch MODEL ADDR PORT" per
 * device, in argument order, and then "ready all" once every device listens; then takes
 * control commands on stdin, one per line, answering "ok" or "error <why>". Plugs, switches
 * and klap/aes devices are numbered separately, from 0, in argument order (the IOT plug
 * behind a klap: device takes a plug number too). Stops cleanly on SIGTERM/SIGINT. */
#include "daemon/log.h"
#include "sim/disc20002_sim.h"
#include "sim/klap_sim.h"
#include "sim/sim.h"
#include "sim/smart_sim.h"
#include "sim/switch_sim.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_LEN 256
#define SPEC_MAX_LEN 4096

#define MAX_SWITCHES 256
#define MAX_HTTP 256

struct ctl;

/* A plug on HTTP (KLAP or AES): the transport simulator and the device behind it, either a
 * SMART plug or an IOT plug of the sim with its own sockets shut. */
struct http_dev {
    struct ctl *ctl;
    struct klap_sim *ks;
    struct smart_sim *smart;
    struct disc20002_sim *disc; /* with --discovery-port */
    int plug;                   /* the IOT plug's index in ctl->sim, or -1 */
    char kind[8], profile[256];
};

struct ctl {
    struct sim *sim;
    struct switch_sim *switches[MAX_SWITCHES];
    size_t nswitches;
    struct http_dev http[MAX_HTTP];
    size_t nhttp;
    uint16_t disc_port;    /* --discovery-port: klap/aes devices answer the 20002 probe there */
    const char *broadcast; /* --broadcast */
    ev_io in;
    char line[LINE_MAX_LEN + 1];
    size_t len;
    bool overlong; /* discarding the rest of a too long line */
    int stdin_flags;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tplinksim [--seed N] [--log.level error|warn|info|debug] [--broadcast ADDR] "
               "[--discovery-port P] DEVICE...\n"
               "\n"
               "DEVICE is plug:PROFILE@ADDR:PORT[,alias=TEXT][,fault=FAULT]\n"
               "       or switch:MODEL@ADDR:PORT[,user=U][,password=P][,session=ip|cookie]\n"
               "              [,conflict=evict|full][,wrap=SECONDS][,timeout=SECONDS]\n"
               "              [,slow=SECONDS][,seed=N][,description=TEXT][,fault=FAULT]\n"
               "              [,pages=DIR]\n"
               "       or klap:PROFILE@ADDR:PORT[,version=1|2][,user=U][,password=P]\n"
               "              [,timeout=SECONDS]\n"
               "       or aes:SMART_PROFILE@ADDR:PORT[,version=1|2][,user=U][,password=P]\n"
               "              [,timeout=SECONDS]\n"
               "  PROFILE  a built-in profile (");
    for (size_t i = 0; sim_builtin_profiles[i]; i++)
        fprintf(f, "%s%s", i ? ", " : "", sim_builtin_profiles[i]);
    fprintf(
        f,
        ") or a JSON file path\n"
        "  SMART_PROFILE  a built-in SMART profile (kp125m, p110, ep25v26) or a JSON file\n"
        "           of {method: result} with get_device_info; klap: takes either kind\n"
        "  version  KLAP hash version (klap:) or login version (aes:); default 2\n"
        "  U, P     the device's TP-Link account; default blank (never bound)\n"
        "  timeout  the session cookie's TIMEOUT; default 86400\n"
        "  ADDR     a loopback address: 127.x.y.z or [::1]\n"
        "  PORT     0 picks a free port\n"
        "  TEXT     the alias, without commas\n"
        "  FAULT    none, refuse, hang, garbage, close, drip, truncated, huge_length,\n"
        "           bad_json, device_error or reset\n"
        "\n"
        "  MODEL    TL-SG105E, TL-SG108E, TL-SG1016DE, TL-SG1024DE, TL-SG108PE, TL-SG1016PE\n"
        "  a switch FAULT is none, http500, endless_login, slow, users_full, errtype6,\n"
        "           post_reset or wrong_credentials\n"
        "  DIR      saved pages: DIR/PortStatisticsRpm.htm (SystemInfoRpm.htm,\n"
        "           PortSettingRpm.htm, PoeConfigRpm.htm) is served instead of the\n"
        "           generated page of that name\n"
        "\n"
        "Prints \"ready plug|klap|aes PROFILE ADDR PORT\" or \"ready switch MODEL ADDR PORT\" per\n"
        "device, then \"ready all\". Commands on stdin (plugs and switches are numbered\n"
        "separately, from 0): \"fault INDEX FAULT\", \"relay INDEX 0|1\",\n"
        "\"outlet INDEX OUTLET 0|1\" (a strip's outlet, 1-based),\n"
        "\"switch INDEX fault FAULT\", \"switch INDEX reboot\",\n"
        "\"switch INDEX link PORT CODE\", \"switch INDEX snapshot\" (one JSON line: per-port\n"
        "state, link code, page counters, 64-bit totals, request counts; then \"ok\"),\n"
        "\"http INDEX relay 0|1\", \"http INDEX expire\" (klap:/aes: devices, numbered\n"
        "separately; the IOT plug behind a klap: device also takes a plug number).\n");
    fprintf(f, "\n--broadcast ADDR: IPv4 plugs also answer datagrams to ADDR on their port, as\n"
               "plugs answer discovery (ADDR: 127.255.255.255, 255.255.255.255 or a local\n"
               "interface's broadcast address; only senders on this host get answers).\n");
    fprintf(f, "--discovery-port P: klap:/aes: devices answer the new-firmware discovery probe\n"
               "(UDP 20002 on a network) on their address and port P, and on the --broadcast\n"
               "address if given (IPv4 only).\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_port(const char *s, size_t len, uint16_t *out)
{
    if (len == 0 || len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* Parses ADDR:PORT at s (up to a ',' or the end); *rest points after it. */
static bool parse_endpoint(const char *s, char *addr, size_t addrlen, uint16_t *port,
                           const char **rest)
{
    const char *end = strchr(s, ',');
    if (!end)
        end = s + strlen(s);
    const char *colon;
    const char *a = s;
    size_t alen;
    if (*s == '[') {
        const char *close = memchr(s, ']', (size_t)(end - s));
        if (!close || close[1] != ':')
            return false;
        a = s + 1;
        alen = (size_t)(close - a);
        colon = close + 1;
    } else {
        colon = NULL;
        for (const char *q = s; q < end; q++)
            if (*q == ':')
                colon = q;
        if (!colon)
            return false;
        alen = (size_t)(colon - s);
        if (memchr(s, ':', alen)) /* bare IPv6 needs brackets */
            return false;
    }
    if (alen == 0 || alen >= addrlen)
        return false;
    memcpy(addr, a, alen);
    addr[alen] = '\0';
    if (!parse_port(colon + 1, (size_t)(end - colon - 1), port))
        return false;
    *rest = end;
    return true;
}

/* plug:PROFILE@ADDR:PORT[,alias=TEXT][,fault=FAULT]. The profile (a path) may itself hold
 * '@', so the first '@' followed by a valid endpoint ends it. */
static int add_device(struct sim *sim, const char *spec, char **profile_out)
{
    char profile[SPEC_MAX_LEN] = "", addr[64], alias[SPEC_MAX_LEN], err[512];
    const char *why = NULL;
    uint16_t port = 0;
    enum sim_fault fault = SIM_FAULT_NONE;
    bool have_alias = false;
    const char *rest = NULL;

    if (strlen(spec) >= SPEC_MAX_LEN) {
        why = "too long";
    } else if (strncmp(spec, "plug:", 5) != 0) {
        why = "expected plug:PROFILE@ADDR:PORT";
    } else {
        const char *body = spec + 5;
        for (const char *at = strchr(body, '@'); at; at = strchr(at + 1, '@')) {
            if (parse_endpoint(at + 1, addr, sizeof addr, &port, &rest)) {
                memcpy(profile, body, (size_t)(at - body));
                profile[at - body] = '\0';
                break;
            }
        }
        if (!rest)
            why = "expected plug:PROFILE@ADDR:PORT (IPv6 as [::1]:PORT)";
        else if (!profile[0])
            why = "empty profile";
    }
    while (!why && *rest == ',') {
        const char *opt = rest + 1;
        const char *end = strchr(opt, ',');
        size_t len = end ? (size_t)(end - opt) : strlen(opt);
        if (strncmp(opt, "alias=", 6) == 0) {
            memcpy(alias, opt + 6, len - 6);
            alias[len - 6] = '\0';
            have_alias = true;
        } else if (strncmp(opt, "fault=", 6) == 0) {
            char name[32];
            if (len - 6 >= sizeof name) {
                why = "unknown fault";
                break;
            }
            memcpy(name, opt + 6, len - 6);
            name[len - 6] = '\0';
            if (sim_fault_parse(name, &fault) != 0)
                why = "unknown fault (see --help)";
        } else {
            why = "unknown option (alias=, fault=)";
        }
        rest = opt + len;
    }
    if (why) {
        fprintf(stderr, "tplinksim: %s: %s\n", spec, why);
        return -1;
    }
    int idx = sim_add_plug(sim, profile, addr, port, have_alias ? alias : NULL, err, sizeof err);
    if (idx < 0) {
        fprintf(stderr, "tplinksim: %s: %s\n", spec, err);
        return -1;
    }
    if (fault != SIM_FAULT_NONE && sim_set_fault(sim, idx, fault) != 0) {
        fprintf(stderr, "tplinksim: %s: cannot set fault %s\n", spec, sim_fault_name(fault));
        return -1;
    }
    *profile_out = strdup(profile);
    if (!*profile_out) {
        fprintf(stderr, "tplinksim: %s: out of memory\n", spec);
        return -1;
    }
    return 0;
}

static int add_switch(struct ctl *ctl, struct ev_loop *loop, const char *spec)
{
    struct switch_sim_spec s;
    char err[512];
    if (ctl->nswitches == MAX_SWITCHES) {
        fprintf(stderr, "tplinksim: %s: at most %d switches\n", spec, MAX_SWITCHES);
        return -1;
    }
    if (switch_sim_spec_parse(spec, &s, err, sizeof err) != 0) {
        fprintf(stderr, "tplinksim: %s\n", err);
        return -1;
    }
    struct switch_sim *sw = switch_sim_start(loop, &s.opts, err, sizeof err);
    if (!sw) {
        fprintf(stderr, "tplinksim: %s\n", err);
        return -1;
    }
    switch_sim_set_fault(sw, s.fault);
    ctl->switches[ctl->nswitches++] = sw;
    return 0;
}

static char *iot_handler(void *ctx, const char *json, size_t len)
{
    struct http_dev *d = ctx;
    return sim_plug_handle_json(d->ctl->sim, d->plug, json, len);
}

/* A profile file is SMART when it has a get_device_info object. */
static bool smart_profile(const char *profile)
{
    if (smart_sim_builtin(profile))
        return true;
    json_t *j = json_load_file(profile, 0, NULL);
    bool smart = json_is_object(json_object_get(j, "get_device_info"));
    json_decref(j);
    return smart;
}

/* The device's answer to the 20002 probe, from what it says of itself. */
static int start_discovery(struct ctl *ctl, struct ev_loop *loop, struct http_dev *d,
                           const char *addr, int version, bool aes, klap_sim_handler handler,
                           void *hctx, char *err, size_t errlen)
{
    bool smart = d->smart != NULL;
    const char *req =
        smart ? "{\"method\":\"get_device_info\"}" : "{\"system\":{\"get_sysinfo\":{}}}";
    char *reply = handler(hctx, req, strlen(req));
    json_t *root = reply ? json_loads(reply, 0, NULL) : NULL;
    free(reply);
    json_t *info = smart ? json_object_get(root, "result")
                         : json_object_get(json_object_get(root, "system"), "get_sysinfo");
    const char *model = json_string_value(json_object_get(info, "model"));
    const char *mac = json_string_value(json_object_get(info, "mac"));
    const char *id = json_string_value(json_object_get(info, smart ? "device_id" : "deviceId"));
    const char *type =
        smart ? json_string_value(json_object_get(info, "type")) : "IOT.SMARTPLUGSWITCH";
    char dashed[32];
    snprintf(dashed, sizeof dashed, "%s", mac ? mac : "");
    for (char *c = dashed; *c; c++)
        if (*c == ':')
            *c = '-'; /* as the 20002 reply writes it */
    json_t *out = json_pack(
        "{s:i,s:{s:s,s:s,s:s,s:s,s:s,s:{s:b,s:s,s:i,s:i}}}", "error_code", 0, "result", "device_id",
        id ? id : "", "device_type", type ? type : "", "device_model", model ? model : "", "ip",
        addr, "mac", dashed, "mgt_encrypt_schm", "is_support_https", 0, "encrypt_type",
        aes ? "AES" : "KLAP", "http_port", (int)klap_sim_port(d->ks), "lv", version);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    json_decref(root);
    if (!text) {
        snprintf(err, errlen, "discovery: out of memory");
        return -1;
    }
    d->disc = disc20002_sim_start(loop, addr, ctl->broadcast, ctl->disc_port, text, err, errlen);
    free(text);
    return d->disc ? 0 : -1;
}

/* klap:PROFILE@ADDR:PORT[,version=1|2][,user=U][,password=P][,timeout=SECONDS] and the
 * same with aes:. Messages never echo the password. */
static int add_http(struct ctl *ctl, struct ev_loop *loop, const char *spec)
{
    char addr[64], user[200] = "", pass[200] = "", err[512];
    const char *why = NULL, *rest = NULL;
    uint16_t port = 0;
    uint64_t version = 2, timeout = 0;
    bool have_user = false, have_pass = false;
    if (ctl->nhttp == MAX_HTTP) {
        fprintf(stderr, "tplinksim: at most %d klap/aes devices\n", MAX_HTTP);
        return -1;
    }
    struct http_dev *d = &ctl->http[ctl->nhttp];
    memset(d, 0, sizeof *d);
    d->ctl = ctl;
    d->plug = -1;
    bool aes = strncmp(spec, "aes:", 4) == 0;
    snprintf(d->kind, sizeof d->kind, "%s", aes ? "aes" : "klap");
    const char *body = spec + (aes ? 4 : 5);
    for (const char *at = strchr(body, '@'); at; at = strchr(at + 1, '@')) {
        if (parse_endpoint(at + 1, addr, sizeof addr, &port, &rest)) {
            if ((size_t)(at - body) >= sizeof d->profile)
                why = "profile path too long";
            else {
                memcpy(d->profile, body, (size_t)(at - body));
                d->profile[at - body] = '\0';
            }
            break;
        }
    }
    if (!why && !rest)
        why = "expected klap:PROFILE@ADDR:PORT or aes:PROFILE@ADDR:PORT (IPv6 as [::1]:PORT)";
    else if (!why && !d->profile[0])
        why = "empty profile";
    while (!why && *rest == ',') {
        const char *opt = rest + 1;
        const char *end = strchr(opt, ',');
        size_t len = end ? (size_t)(end - opt) : strlen(opt);
        char val[200];
        const char *eq = memchr(opt, '=', len);
        size_t vlen = eq ? len - (size_t)(eq - opt) - 1 : 0;
        if (!eq || vlen >= sizeof val) {
            why = "bad option (version=, user=, password=, timeout=)";
            break;
        }
        memcpy(val, eq + 1, vlen);
        val[vlen] = '\0';
        size_t klen = (size_t)(eq - opt);
        if (klen == 7 && !strncmp(opt, "version", 7)) {
            if (!parse_u64(val, &version) || version < 1 || version > 2)
                why = "version must be 1 or 2";
        } else if (klen == 4 && !strncmp(opt, "user", 4)) {
            memcpy(user, val, vlen + 1);
            have_user = true;
        } else if (klen == 8 && !strncmp(opt, "password", 8)) {
            memcpy(pass, val, vlen + 1);
            have_pass = true;
        } else if (klen == 7 && !strncmp(opt, "timeout", 7)) {
            if (!parse_u64(val, &timeout) || timeout < 1 || timeout > 10000000)
                why = "timeout must be 1 to 10000000 seconds";
        } else {
            why = "unknown option (version=, user=, password=, timeout=)";
        }
        explicit_bzero(val, sizeof val);
        rest = opt + len;
    }
    klap_sim_handler handler = smart_sim_handle;
    void *hctx = NULL;
    if (!why) {
        if (smart_profile(d->profile)) {
            d->smart = smart_sim_new(d->profile, ctl->nhttp + 1, err, sizeof err);
            if (!d->smart)
                why = err;
            hctx = d->smart;
        } else if (aes) {
            why = "aes: carries SMART profiles only (kp125m, p110, ep25v26 or a file with "
                  "get_device_info)";
        } else {
            /* The IOT plug behind it keeps no open port of its own. */
            d->plug = sim_add_plug(ctl->sim, d->profile, addr, 0, NULL, err, sizeof err);
            if (d->plug < 0)
                why = err;
            else if (sim_set_fault(ctl->sim, d->plug, SIM_FAULT_REFUSE) != 0)
                why = "cannot close the legacy port";
            handler = iot_handler;
            hctx = d;
        }
    }
    if (!why) {
        char name[300];
        snprintf(name, sizeof name, "%s %s", d->kind, d->profile);
        struct klap_sim_opts o = {
            .kind = aes ? KLAP_SIM_AES : KLAP_SIM_KLAP,
            .version = (int)version,
            .addr = addr,
            .port = port,
            .username = have_user ? user : NULL,
            .password = have_pass ? pass : NULL,
            .session_timeout_s = (unsigned)timeout,
            .handler = handler,
            .handler_ctx = hctx,
            .name = name,
        };
        d->ks = klap_sim_start(loop, &o, err, sizeof err);
        if (!d->ks || (ctl->disc_port && start_discovery(ctl, loop, d, addr, (int)version, aes,
                                                         handler, hctx, err, sizeof err) < 0))
            why = err;
    }
    explicit_bzero(pass, sizeof pass);
    if (why) {
        /* Not the spec: it may hold the password. */
        fprintf(stderr, "tplinksim: %s:%s@...: %s\n", d->kind, d->profile, why);
        klap_sim_stop(d->ks);
        d->ks = NULL;
        smart_sim_free(d->smart);
        d->smart = NULL;
        return -1;
    }
    ctl->nhttp++;
    return 0;
}

static void stop_http(struct ctl *ctl)
{
    for (size_t i = 0; i < ctl->nhttp; i++) {
        disc20002_sim_stop(ctl->http[i].disc);
        klap_sim_stop(ctl->http[i].ks);
        smart_sim_free(ctl->http[i].smart);
    }
    ctl->nhttp = 0;
}

static void http_command(struct ctl *ctl, const char *index, const char *verb, const char *arg,
                         const char *extra)
{
    uint64_t i;
    if (!index || !verb || !parse_u64(index, &i) || i >= ctl->nhttp) {
        printf("error no klap/aes device %s\n", index ? index : "");
        return;
    }
    struct http_dev *d = &ctl->http[i];
    if (strcmp(verb, "expire") == 0 && !arg) {
        klap_sim_expire_sessions(d->ks);
        printf("ok\n");
    } else if (strcmp(verb, "relay") == 0 && arg && !extra &&
               (strcmp(arg, "0") == 0 || strcmp(arg, "1") == 0)) {
        if (d->smart)
            smart_sim_set_on(d->smart, arg[0] == '1');
        else
            sim_set_relay(ctl->sim, d->plug, arg[0] == '1');
        printf("ok\n");
    } else {
        printf("error usage: http INDEX relay 0|1 | expire\n");
    }
}

static bool parse_index(const struct sim *sim, const char *s, int *out)
{
    uint64_t v;
    if (!parse_u64(s, &v) || v >= sim_device_count(sim))
        return false;
    *out = (int)v;
    return true;
}

static void switch_command(struct ctl *ctl, const char *index, const char *verb, const char *arg,
                           char *save)
{
    uint64_t i, port, code;
    char *arg2 = arg ? strtok_r(NULL, " \t\r", &save) : NULL;
    enum switch_sim_fault fault;
    if (!index || !verb || !parse_u64(index, &i) || i >= ctl->nswitches) {
        printf("error no switch %s\n", index ? index : "");
        return;
    }
    struct switch_sim *sw = ctl->switches[i];
    if (strcmp(verb, "reboot") == 0 && !arg) {
        switch_sim_reboot(sw);
        printf("ok\n");
    } else if (strcmp(verb, "snapshot") == 0 && !arg) {
        struct strbuf b;
        strbuf_init(&b, 64 * 1024);
        if (switch_sim_snapshot_json(sw, &b))
            printf("%s\nok\n", b.data);
        else
            printf("error snapshot too large\n");
        strbuf_free(&b);
    } else if (strcmp(verb, "fault") == 0 && arg && !arg2) {
        if (switch_sim_fault_parse(arg, &fault) != 0)
            printf("error unknown fault %s\n", arg);
        else {
            switch_sim_set_fault(sw, fault);
            printf("ok\n");
        }
    } else if (strcmp(verb, "link") == 0 && arg && arg2 && parse_u64(arg, &port) &&
               parse_u64(arg2, &code) && code <= 255) {
        if (switch_sim_link(sw, (unsigned)port, (unsigned)code) != 0)
            printf("error no port %s\n", arg);
        else
            printf("ok\n");
    } else {
        printf("error usage: switch INDEX reboot | snapshot | fault FAULT | link PORT CODE\n");
    }
}

static void command(struct ctl *ctl, char *line)
{
    char *save = NULL;
    char *verb = strtok_r(line, " \t\r", &save);
    char *a1 = verb ? strtok_r(NULL, " \t\r", &save) : NULL;
    char *a2 = a1 ? strtok_r(NULL, " \t\r", &save) : NULL;
    char *extra = a2 ? strtok_r(NULL, " \t\r", &save) : NULL;
    int idx;
    enum sim_fault fault;

    if (!verb)
        return; /* blank line */
    if (strcmp(verb, "fault") == 0) {
        if (!a2 || extra)
            printf("error usage: fault INDEX FAULT\n");
        else if (!parse_index(ctl->sim, a1, &idx))
            printf("error no device %s\n", a1);
        else if (sim_fault_parse(a2, &fault) != 0)
            printf("error unknown fault %s\n", a2);
        else if (sim_set_fault(ctl->sim, idx, fault) != 0)
            printf("error cannot set fault %s on device %d\n", a2, idx);
        else
            printf("ok\n");
    } else if (strcmp(verb, "relay") == 0) {
        if (!a2 || extra || (strcmp(a2, "0") != 0 && strcmp(a2, "1") != 0))
            printf("error usage: relay INDEX 0|1\n");
        else if (!parse_index(ctl->sim, a1, &idx))
            printf("error no device %s\n", a1);
        else if (sim_set_relay(ctl->sim, idx, a2[0] == '1') != 0)
            printf("error cannot switch device %d\n", idx);
        else
            printf("ok\n");
    } else if (strcmp(verb, "outlet") == 0) {
        char *state = extra;
        char *more = state ? strtok_r(NULL, " \t\r", &save) : NULL;
        uint64_t outlet;
        if (!state || more || !parse_u64(a2, &outlet) || outlet > 64 ||
            (strcmp(state, "0") != 0 && strcmp(state, "1") != 0))
            printf("error usage: outlet INDEX OUTLET 0|1\n");
        else if (!parse_index(ctl->sim, a1, &idx))
            printf("error no device %s\n", a1);
        else if (sim_set_outlet(ctl->sim, idx, (int)outlet, state[0] == '1') != 0)
            printf("error device %d has no outlet %s\n", idx, a2);
        else
            printf("ok\n");
    } else if (strcmp(verb, "switch") == 0) {
        switch_command(ctl, a1, a2, extra, save);
    } else if (strcmp(verb, "http") == 0) {
        char *more = extra ? strtok_r(NULL, " \t\r", &save) : NULL;
        http_command(ctl, a1, a2, extra, more);
    } else {
        printf("error unknown command\n");
    }
    fflush(stdout);
}

static void stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct ctl *ctl = w->data;
    char buf[512];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) { /* EOF: no more commands, keep simulating */
        ev_io_stop(loop, w);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\n') {
            if (ctl->overlong) {
                printf("error line too long\n");
                fflush(stdout);
            } else {
                ctl->line[ctl->len] = '\0';
                command(ctl, ctl->line);
            }
            ctl->len = 0;
            ctl->overlong = false;
        } else if (ctl->len < LINE_MAX_LEN) {
            ctl->line[ctl->len++] = c;
        } else {
            ctl->overlong = true;
        }
    }
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

/* A closed stdin/stdout/stderr would be handed to the first socket, which would then take
 * commands or output meant for the harness. */
static void keep_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (nfd >= 0 && nfd != fd) { /* lower fds are open, so nfd == fd; be safe anyway */
            dup2(nfd, fd);
            close(nfd);
        }
    }
}

int main(int argc, char **argv)
{
    keep_std_fds();
    uint64_t seed = 0;
    bool have_seed = false;
    const char *broadcast = NULL;
    uint64_t disc_port = 0;
    int first_dev = argc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--seed") == 0 || strcmp(a, "--log.level") == 0 ||
            strcmp(a, "--broadcast") == 0 || strcmp(a, "--discovery-port") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tplinksim: %s needs a value\n", a);
                return 1;
            }
            val = argv[++i];
        } else if (strncmp(a, "--seed=", 7) == 0) {
            val = a + 7;
        } else if (strncmp(a, "--log.level=", 12) == 0 || strncmp(a, "--broadcast=", 12) == 0) {
            val = a + 12;
        } else if (strncmp(a, "--discovery-port=", 17) == 0) {
            val = a + 17;
        } else if (a[0] == '-') {
            fprintf(stderr, "tplinksim: unknown option %s (see --help)\n", a);
            return 1;
        } else {
            first_dev = i;
            break;
        }
        if (strncmp(a, "--broadcast", 11) == 0) {
            broadcast = val;
        } else if (strncmp(a, "--discovery-port", 16) == 0) {
            if (!parse_u64(val, &disc_port) || disc_port < 1 || disc_port > 65535) {
                fprintf(stderr, "tplinksim: --discovery-port %s: not a port from 1 to 65535\n",
                        val);
                return 1;
            }
        } else if (strncmp(a, "--seed", 6) == 0) {
            if (!parse_u64(val, &seed)) {
                fprintf(stderr, "tplinksim: --seed %s: not an unsigned integer\n", val);
                return 1;
            }
            have_seed = true;
        } else {
            enum log_level level;
            if (!log_parse_level(val, &level)) {
                fprintf(stderr, "tplinksim: --log.level %s: expected error, warn, info or debug\n",
                        val);
                return 1;
            }
            log_set_level(level);
        }
    }
    if (first_dev >= argc) {
        fprintf(stderr, "tplinksim: no DEVICE given (see --help)\n");
        return 1;
    }

    signal(SIGPIPE, SIG_IGN);
    struct ev_loop *loop = ev_default_loop(0);
    if (!loop) {
        fprintf(stderr, "tplinksim: cannot create the event loop\n");
        return 1;
    }
    /* Before "ready": a harness may send SIGTERM as soon as it reads that line. */
    ev_signal sigterm, sigint;
    ev_signal_init(&sigterm, signal_cb, SIGTERM);
    ev_signal_init(&sigint, signal_cb, SIGINT);
    ev_signal_start(loop, &sigterm);
    ev_signal_start(loop, &sigint);
    struct ctl ctl = {0};
    ctl.disc_port = (uint16_t)disc_port;
    ctl.broadcast = broadcast;
    ctl.sim = sim_new(loop);
    if (!ctl.sim) {
        fprintf(stderr, "tplinksim: out of memory\n");
        return 1;
    }
    if (have_seed)
        sim_set_seed(ctl.sim, seed);
    char berr[256];
    if (broadcast && sim_set_broadcast(ctl.sim, broadcast, berr, sizeof berr) != 0) {
        fprintf(stderr, "tplinksim: --broadcast: %s\n", berr);
        sim_free(ctl.sim);
        ev_loop_destroy(loop);
        return 1;
    }
    /* Nothing is printed before every device listens, so a harness never sees a partial set. */
    int ndev = argc - first_dev;
    char **profiles = calloc((size_t)ndev, sizeof *profiles);
    bool ok = profiles != NULL;
    /* per argument: its plug index, or -1 for a switch, or -2 - its klap/aes number */
    int *where = calloc((size_t)ndev, sizeof *where);
    ok = ok && where != NULL;
    for (int i = 0; ok && i < ndev; i++) {
        const char *spec = argv[first_dev + i];
        if (strncmp(spec, "switch:", 7) == 0) {
            ok = add_switch(&ctl, loop, spec) == 0;
            where[i] = -1;
        } else if (strncmp(spec, "klap:", 5) == 0 || strncmp(spec, "aes:", 4) == 0) {
            ok = add_http(&ctl, loop, spec) == 0;
            where[i] = -2 - (int)(ctl.nhttp - 1);
        } else {
            where[i] = (int)sim_device_count(ctl.sim);
            ok = add_device(ctl.sim, spec, &profiles[i]) == 0;
        }
    }
    for (int i = 0, sw = 0; ok && i < ndev; i++) {
        if (where[i] <= -2) {
            const struct http_dev *d = &ctl.http[-2 - where[i]];
            printf("ready %s %s %s %u\n", d->kind, d->profile, klap_sim_addr(d->ks),
                   (unsigned)klap_sim_port(d->ks));
        } else if (profiles[i]) {
            printf("ready plug %s %s %u\n", profiles[i], sim_device_addr(ctl.sim, where[i]),
                   (unsigned)sim_device_port(ctl.sim, where[i]));
        } else {
            const struct switch_sim *s = ctl.switches[sw++];
            printf("ready switch %s %s %u\n", switch_sim_model(s), switch_sim_addr(s),
                   (unsigned)switch_sim_port(s));
        }
    }
    for (int i = 0; profiles && i < ndev; i++)
        free(profiles[i]);
    bool oom = !profiles || !where;
    free(profiles);
    free(where);
    if (!ok) {
        if (oom)
            fprintf(stderr, "tplinksim: out of memory\n");
        stop_http(&ctl);
        for (size_t i = 0; i < ctl.nswitches; i++)
            switch_sim_stop(ctl.switches[i]);
        sim_free(ctl.sim);
        ev_loop_destroy(loop);
        return 1;
    }
    printf("ready all\n");
    fflush(stdout);

    ctl.stdin_flags = fcntl(STDIN_FILENO, F_GETFL);
    bool have_stdin =
        ctl.stdin_flags >= 0 && fcntl(STDIN_FILENO, F_SETFL, ctl.stdin_flags | O_NONBLOCK) == 0;
    if (have_stdin) {
        ev_io_init(&ctl.in, stdin_cb, STDIN_FILENO, EV_READ);
        ctl.in.data = &ctl;
        ev_io_start(loop, &ctl.in);
    }

    ev_run(loop, 0);

    if (have_stdin) {
        ev_io_stop(loop, &ctl.in);
        fcntl(STDIN_FILENO, F_SETFL, ctl.stdin_flags); /* the file may be shared with a shell */
    }
    ev_signal_stop(loop, &sigterm);
    ev_signal_stop(loop, &sigint);
    stop_http(&ctl);
    for (size_t i = 0; i < ctl.nswitches; i++)
        switch_sim_stop(ctl.switches[i]);
    sim_free(ctl.sim);
    ev_loop_destroy(loop);
    return 0;
}

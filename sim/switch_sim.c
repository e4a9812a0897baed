#include "sim/switch_sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/mhd_loop.h"
#include "daemon/strbuf.h"
#include "sim/sim_http.h"
#include "sim/switch_pages.h"

#define BODY_MAX 512   /* the login form is ~60 bytes; anything larger is closed */
#define FIELD_MAX 64   /* decoded form value */
#define CRED_MAX 32    /* the real UI allows 16 */
#define DESCR_MAX 32   /* v3 page JS: at most 32 characters */
#define COOKIE_SLOTS 8 /* H_P_SSID values remembered; the oldest is forgotten */
#define COOKIE_LEN 48
#define COOKIE_MAX_AGE 600
#define PAGE_LIMIT (256 * 1024) /* the largest page (24 ports) is a few kB */
#define PORT_MIDDLE 16          /* port_middle_num on every captured page */
#define CONN_TIMEOUT_S 15
#define CONN_MEMORY (32 * 1024)

struct model {
    const char *name, *hw, *firmware;
    unsigned ports, poe_ports, poe_budget_dw;
    bool tmp_info;
};

/* hardwareStr/firmwareStr pairs are the observed ones where one is known. TL-SG1016DE and
 * TL-SG1024DE have no observed pair: their strings are invented in the same format. */
static const struct model models[] = {
    {"TL-SG105E", "5.0", "1.0.0 Build 20230214 Rel.63440", 5, 0, 0, false},
    {"TL-SG108E", "3.0", "1.0.0 Build 20160722 Rel.50167", 8, 0, 0, false},
    {"TL-SG1016DE", "4.0", "1.0.0 Build 20190506 Rel.40130", 16, 0, 0, false},
    {"TL-SG1024DE", "4.0", "1.0.0 Build 20180614 Rel.51262", 24, 0, 0, true},
    /* TL-SG108PE: PoE+ on ports 1-4, 64 W budget */
    {"TL-SG108PE", "2.0", "1.0.1 Build 20191204 Rel.71847", 8, 4, 640, false},
    {"TL-SG1016PE", "3.0", "1.0.0 Build 20230219 Rel.70930", 16, 8, 1500, false},
};

const char *const switch_sim_models[] = {"TL-SG105E",  "TL-SG108E",   "TL-SG1016DE", "TL-SG1024DE",
                                         "TL-SG108PE", "TL-SG1016PE", NULL};

/* File names of the data pages (pages_dir) and short names of every page (counts). */
static const char *const page_files[SWITCH_SIM_PAGE_COUNT] = {
    [SWITCH_SIM_PAGE_PORT_STATISTICS] = "PortStatisticsRpm.htm",
    [SWITCH_SIM_PAGE_SYSTEM_INFO] = "SystemInfoRpm.htm",
    [SWITCH_SIM_PAGE_PORT_SETTING] = "PortSettingRpm.htm",
    [SWITCH_SIM_PAGE_POE] = "PoeConfigRpm.htm",
};
static const char *const page_names[SWITCH_SIM_PAGE_COUNT] = {
    [SWITCH_SIM_PAGE_ALL] = "all",
    [SWITCH_SIM_PAGE_ROOT] = "root",
    [SWITCH_SIM_PAGE_LOGON] = "logon",
    [SWITCH_SIM_PAGE_LOGOUT] = "logout",
    [SWITCH_SIM_PAGE_PORT_STATISTICS] = "PortStatisticsRpm",
    [SWITCH_SIM_PAGE_SYSTEM_INFO] = "SystemInfoRpm",
    [SWITCH_SIM_PAGE_PORT_SETTING] = "PortSettingRpm",
    [SWITCH_SIM_PAGE_POE] = "PoeConfigRpm",
    [SWITCH_SIM_PAGE_OTHER] = "other",
};

static const char *const fault_names[SWITCH_SIM_FAULT_COUNT] = {
    "none",       "http500",  "endless_login", "slow",
    "users_full", "errtype6", "post_reset",    "wrong_credentials"};

const char *switch_sim_fault_name(enum switch_sim_fault f)
{
    return (unsigned)f < SWITCH_SIM_FAULT_COUNT ? fault_names[f] : "?";
}

int switch_sim_fault_parse(const char *name, enum switch_sim_fault *out)
{
    for (int i = 0; i < SWITCH_SIM_FAULT_COUNT; i++) {
        if (strcmp(name, fault_names[i]) == 0) {
            *out = (enum switch_sim_fault)i;
            return 0;
        }
    }
    return -1;
}

struct port {
    bool enabled;
    uint8_t link;
    uint8_t usual_link;   /* speed the link comes back at */
    double seg_start;     /* rates have been constant since then */
    double rate[4];       /* nominal packets/s while the link is up */
    uint64_t acc[4];      /* packets since start, up to seg_start */
    uint64_t page_add[4]; /* page value = (uint32)(total + page_add) */
    bool pd;              /* a powered device is attached (PoE ports) */
    uint16_t pd_power_dw;
    uint16_t pd_class;
    uint16_t limit_dw;
    double pd_phase;
};

struct session {
    bool active;
    char client[INET6_ADDRSTRLEN];
    char cookie[COOKIE_LEN];
    double last;
};

struct cookie_slot {
    bool used;
    char value[COOKIE_LEN];
    char client[INET6_ADDRSTRLEN];
    double issued;
};

struct req;

struct switch_sim {
    struct ev_loop *loop;
    struct sim_http http;
    const struct model *model;
    char name[96]; /* for log lines */
    char addr[INET6_ADDRSTRLEN];
    char username[CRED_MAX + 1];
    char password[CRED_MAX + 1];
    char description[DESCR_MAX + 1];
    char mac[18];
    enum switch_sim_session session_mode;
    enum switch_sim_conflict conflict;
    double timeout;
    double slow;
    unsigned unauth_status;
    uint64_t rng;
    double last_now;
    enum switch_sim_fault fault;
    struct port ports[SWITCH_SIM_MAX_PORTS];
    struct session session;
    struct cookie_slot cookies[COOKIE_SLOTS];
    unsigned long requests[SWITCH_SIM_PAGE_COUNT];
    struct req *delayed;                        /* requests suspended by the slow fault */
    struct strbuf saved[SWITCH_SIM_PAGE_COUNT]; /* pages_dir files; data NULL = generate */
    unsigned long stats_served; /* the last generated statistics page: see the snapshot */
    double stats_time;
    uint64_t stats_total[SWITCH_SIM_MAX_PORTS][4];
    uint32_t stats_pkts[SWITCH_SIM_MAX_PORTS][4];
    bool stopping;
};

struct req {
    struct switch_sim *sim;
    struct MHD_Connection *conn;
    enum switch_sim_page page;
    bool post;
    bool suspended, resumed;
    size_t body_len;
    char body[BODY_MAX + 1];
    ev_timer timer;
    struct req *prev, *next;
};

/* splitmix64: small, seedable, per-sim state */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_range(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(s);
}

/* Loop time, never going backwards (ev_now follows the wall clock). */
static double sim_now(struct switch_sim *sim)
{
    double t = ev_now(sim->loop);
    if (t < sim->last_now)
        t = sim->last_now;
    sim->last_now = t;
    return t;
}

/* 90% of the minimum-size-frame rate (64 + 20 bytes on the wire) of a link code, so that a
 * collector's "fits the line rate" test accepts every wrap the simulator makes. */
static double link_cap_pps(unsigned code)
{
    double bps;
    switch (code) {
    case 2:
    case 3:
        bps = 10e6;
        break;
    case 4:
    case 5:
        bps = 100e6;
        break;
    case 6:
        bps = 1e9;
        break;
    case 7:
        bps = 2.5e9;
        break;
    case 8:
        bps = 10e9;
        break;
    default:
        return 0;
    }
    return 0.9 * bps / (84.0 * 8.0);
}

static double eff_rate(const struct port *p, int k)
{
    if (!p->enabled || p->link == 0)
        return 0;
    double cap = link_cap_pps(p->link);
    return p->rate[k] < cap ? p->rate[k] : cap;
}

static uint64_t port_total(const struct port *p, int k, double now)
{
    double dt = now > p->seg_start ? now - p->seg_start : 0;
    return p->acc[k] + (uint64_t)(eff_rate(p, k) * dt);
}

/* Banks the packets counted so far, before a rate changes. */
static void port_advance(struct port *p, double now)
{
    for (int k = 0; k < 4; k++)
        p->acc[k] = port_total(p, k, now);
    p->seg_start = now;
}

static uint16_t poe_power(const struct switch_sim *sim, unsigned i, double now)
{
    const struct port *p = &sim->ports[i];
    if (i >= sim->model->poe_ports || !p->pd || !p->enabled || p->link == 0)
        return 0;
    double w = p->pd_power_dw * (1.0 + 0.04 * sin(now / 47.0 + p->pd_phase));
    /* pdclass values are the class's maximum power in tenths of a watt */
    double limit = p->limit_dw == 330 ? 300 : p->limit_dw;
    if (limit > 0.95 * p->pd_class)
        limit = 0.95 * p->pd_class;
    if (w > limit)
        w = limit;
    return (uint16_t)(w + 0.5);
}

static void layout_ports(struct switch_sim *sim, double wrap, double now)
{
    uint64_t *r = &sim->rng;
    double uptime = rng_range(r, 3600.0, 40 * 86400.0); /* counters as if running that long */
    for (unsigned i = 0; i < sim->model->ports; i++) {
        struct port *p = &sim->ports[i];
        p->enabled = i == 0 || rng_unit(r) >= 0.04;
        double u = rng_unit(r);
        p->usual_link = u < 0.8 ? 6 : u < 0.95 ? 5 : 3;
        bool up = i == 0 || rng_unit(r) < 0.65;
        p->seg_start = now;
        if (i < sim->model->poe_ports) {
            p->pd = rng_unit(r) < 0.6;
            static const uint16_t classes[] = {300, 300, 154, 70};
            p->pd_class = classes[rng_next(r) % 4];
            p->pd_power_dw = (uint16_t)rng_range(r, 0.3 * p->pd_class, 0.8 * p->pd_class);
            if (p->pd_power_dw > 130)
                p->pd_power_dw = 130; /* keeps 4 PDs inside a 64 W budget */
            p->limit_dw = rng_unit(r) < 0.5 ? 330 : 300;
            p->pd_phase = rng_range(r, 0, 6.283);
            if (p->pd)
                up = true; /* the powered device holds the link */
        }
        p->link = p->enabled && up ? p->usual_link : 0;

        double tx = exp(rng_range(r, log(200.0), log(5000.0)));
        p->rate[SWITCH_SIM_TX_GOOD] = tx;
        p->rate[SWITCH_SIM_RX_GOOD] = tx * rng_range(r, 0.3, 3.0);
        p->rate[SWITCH_SIM_TX_BAD] = 0;
        p->rate[SWITCH_SIM_RX_BAD] = rng_unit(r) < 0.25 ? rng_range(r, 0.001, 0.02) : 0;
        for (int k = 0; k < 4; k++)
            p->page_add[k] = (uint64_t)(p->rate[k] * uptime);

        if (wrap > 0) {
            /* good counters start 25-75% of a wrap period below 2^32 */
            double cap = link_cap_pps(p->usual_link);
            double nominal = 4294967296.0 / wrap;
            double eff = nominal < cap ? nominal : cap;
            for (int k = 0; k < 4; k += 2) {
                p->rate[k] = nominal;
                double below = eff * wrap * rng_range(r, 0.25, 0.75);
                p->page_add[k] = (uint64_t)(4294967296.0 - below);
            }
        }
    }
}

/* ---- sessions and cookies ---- */

static bool session_live(struct switch_sim *sim, double now)
{
    if (sim->session.active && now - sim->session.last > sim->timeout) {
        log_msg(LOG_DEBUG, sim->name, "session of %s expired", sim->session.client);
        sim->session.active = false;
    }
    return sim->session.active;
}

static bool cookie_mode(const struct switch_sim *sim)
{
    return sim->session_mode == SWITCH_SIM_SESSION_COOKIE;
}

static bool same_client(const struct switch_sim *sim, const char *client, const char *cookie)
{
    if (strcmp(sim->session.client, client) != 0)
        return false;
    return !cookie_mode(sim) || (cookie && strcmp(sim->session.cookie, cookie) == 0);
}

/* Refreshes the idle timer of the requester's session. */
static bool authenticated(struct switch_sim *sim, const char *client, const char *cookie,
                          double now)
{
    if (!session_live(sim, now) || !same_client(sim, client, cookie))
        return false;
    sim->session.last = now;
    return true;
}

static struct cookie_slot *cookie_find(struct switch_sim *sim, const char *client,
                                       const char *value, double now)
{
    if (!value)
        return NULL;
    for (int i = 0; i < COOKIE_SLOTS; i++) {
        struct cookie_slot *c = &sim->cookies[i];
        if (c->used && now - c->issued <= COOKIE_MAX_AGE && strcmp(c->value, value) == 0 &&
            strcmp(c->client, client) == 0)
            return c;
    }
    return NULL;
}

/* tplink_<random><mac><client ip hex><random>, the shape of the real H_P_SSID. */
static const char *cookie_issue(struct switch_sim *sim, const char *client, const char *sent,
                                double now)
{
    struct cookie_slot *c = cookie_find(sim, client, sent, now);
    if (!c) {
        c = &sim->cookies[0];
        for (int i = 0; i < COOKIE_SLOTS; i++) {
            if (!sim->cookies[i].used) {
                c = &sim->cookies[i];
                break;
            }
            if (sim->cookies[i].issued < c->issued)
                c = &sim->cookies[i];
        }
        char mac[13];
        size_t m = 0;
        for (const char *s = sim->mac; *s && m < 12; s++)
            if (*s != ':')
                mac[m++] = *s;
        mac[m] = '\0';
        uint32_t ip = 0;
        struct in_addr a4;
        if (inet_pton(AF_INET, client, &a4) == 1)
            ip = ntohl(a4.s_addr);
        else
            ip = (uint32_t)rng_next(&sim->rng);
        snprintf(c->value, sizeof c->value, "tplink_%08" PRIx32 "%s%08" PRIx32 "%04x",
                 (uint32_t)rng_next(&sim->rng), mac, ip, (unsigned)(rng_next(&sim->rng) & 0xffff));
        snprintf(c->client, sizeof c->client, "%s", client);
        c->used = true;
    }
    c->issued = now;
    return c->value;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* x-www-form-urlencoded value of key in body; false when absent, too long or holding a NUL. */
static bool form_value(const char *body, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    const char *p = body;
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = 0;
            for (const char *s = p + klen + 1; s < end; s++) {
                int c = (unsigned char)*s;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && end - s > 2 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                    c = hexval(s[1]) * 16 + hexval(s[2]);
                    s += 2;
                }
                if (c == 0 || n + 1 >= outlen)
                    return false;
                out[n++] = (char)c;
            }
            out[n] = '\0';
            return true;
        }
        p = *end ? end + 1 : end;
    }
    return false;
}

/* POST /logon.cgi -> errType */
static int logon(struct switch_sim *sim, const struct req *r, const char *client,
                 const char *cookie, double now)
{
    if (cookie_mode(sim) && !cookie_find(sim, client, cookie, now)) {
        log_msg(LOG_DEBUG, sim->name, "login from %s without a valid H_P_SSID ignored", client);
        return 0;
    }
    char user[FIELD_MAX], pass[FIELD_MAX];
    if (!form_value(r->body, "username", user, sizeof user) ||
        !form_value(r->body, "password", pass, sizeof pass) || strcmp(user, sim->username) != 0 ||
        strcmp(pass, sim->password) != 0 || sim->fault == SWITCH_SIM_FAULT_WRONG_CREDENTIALS)
        return 1;
    if (sim->fault == SWITCH_SIM_FAULT_USERS_FULL)
        return 3;
    if (session_live(sim, now) && !same_client(sim, client, cookie)) {
        if (sim->conflict == SWITCH_SIM_CONFLICT_FULL)
            return 4;
        log_msg(LOG_DEBUG, sim->name, "login from %s evicts %s", client, sim->session.client);
    }
    sim->session.active = true;
    snprintf(sim->session.client, sizeof sim->session.client, "%s", client);
    snprintf(sim->session.cookie, sizeof sim->session.cookie, "%s",
             cookie_mode(sim) && cookie ? cookie : "");
    sim->session.last = now;
    return 0;
}

/* ---- HTTP ---- */

static enum switch_sim_page classify(const struct switch_sim *sim, const char *url,
                                     const char *method)
{
    bool get = strcmp(method, "GET") == 0;
    if (strcmp(url, "/logon.cgi") == 0 && (get || strcmp(method, "POST") == 0))
        return SWITCH_SIM_PAGE_LOGON;
    if (!get)
        return SWITCH_SIM_PAGE_OTHER;
    if (strcmp(url, "/") == 0)
        return SWITCH_SIM_PAGE_ROOT;
    if (strcmp(url, "/Logout.htm") == 0)
        return SWITCH_SIM_PAGE_LOGOUT;
    if (strcmp(url, "/PortStatisticsRpm.htm") == 0)
        return SWITCH_SIM_PAGE_PORT_STATISTICS;
    if (strcmp(url, "/SystemInfoRpm.htm") == 0)
        return SWITCH_SIM_PAGE_SYSTEM_INFO;
    if (strcmp(url, "/PortSettingRpm.htm") == 0)
        return SWITCH_SIM_PAGE_PORT_SETTING;
    if (strcmp(url, "/PoeConfigRpm.htm") == 0 && sim->model->poe_ports > 0)
        return SWITCH_SIM_PAGE_POE;
    return SWITCH_SIM_PAGE_OTHER;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, outlen, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)outlen);
}

static void page_ports(struct switch_sim *sim, double now, struct swp_port *out)
{
    for (unsigned i = 0; i < sim->model->ports; i++) {
        const struct port *p = &sim->ports[i];
        out[i].enabled = p->enabled;
        out[i].link = p->link;
        for (int k = 0; k < 4; k++)
            out[i].pkts[k] = (uint32_t)(port_total(p, k, now) + p->page_add[k]);
    }
}

static void render_data(struct switch_sim *sim, enum switch_sim_page page, double now,
                        struct strbuf *b)
{
    const struct model *m = sim->model;
    struct swp_port ports[SWITCH_SIM_MAX_PORTS];
    page_ports(sim, now, ports);
    switch (page) {
    case SWITCH_SIM_PAGE_PORT_STATISTICS:
        sim->stats_served++;
        sim->stats_time = now;
        for (unsigned i = 0; i < m->ports; i++) {
            for (int k = 0; k < 4; k++) {
                sim->stats_total[i][k] = port_total(&sim->ports[i], k, now);
                sim->stats_pkts[i][k] = ports[i].pkts[k];
            }
        }
        if (m->tmp_info)
            swp_port_statistics_tmp_info(b, ports, m->ports, PORT_MIDDLE);
        else
            swp_port_statistics(b, ports, m->ports, PORT_MIDDLE);
        break;
    case SWITCH_SIM_PAGE_PORT_SETTING:
        swp_port_setting(b, ports, m->ports, PORT_MIDDLE);
        break;
    case SWITCH_SIM_PAGE_SYSTEM_INFO: {
        char hw[48];
        snprintf(hw, sizeof hw, "%s %s", m->name, m->hw);
        struct swp_system s = {sim->description, sim->mac,    sim->addr, "255.255.255.0",
                               "0.0.0.0",        m->firmware, hw};
        swp_system_info(b, &s);
        break;
    }
    case SWITCH_SIM_PAGE_POE: {
        struct swp_poe_port pp[SWITCH_SIM_MAX_PORTS];
        memset(pp, 0, sizeof pp);
        for (unsigned i = 0; i < m->poe_ports; i++) {
            const struct port *p = &sim->ports[i];
            uint16_t w = poe_power(sim, i, now);
            pp[i].enabled = true;
            pp[i].priority = 2;
            pp[i].limit_dw = p->limit_dw;
            pp[i].power_dw = w;
            pp[i].voltage_dv = w ? 529 : 0;
            pp[i].current_ma = w ? (uint16_t)(w * 1000u / 529u) : 0;
            pp[i].pdclass = p->pd && p->link ? p->pd_class : 331;
            pp[i].status = w ? 2 : 0;
        }
        swp_poe(b, pp, m->poe_ports, m->poe_budget_dw);
        break;
    }
    default:
        break;
    }
}

/* Builds and queues the answer; MHD_NO closes the connection without one. */
static MHD_RESULT answer(struct switch_sim *sim, struct req *r)
{
    double now = sim_now(sim);
    char client[INET6_ADDRSTRLEN];
    client_address(r->conn, client, sizeof client);
    const char *cookie =
        cookie_mode(sim) ? MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "H_P_SSID") : NULL;
    const char *set_cookie = NULL;
    if (cookie_mode(sim) && !r->post)
        set_cookie = cookie_issue(sim, client, cookie, now);

    struct strbuf b;
    strbuf_init(&b, PAGE_LIMIT);
    unsigned status = MHD_HTTP_OK;
    switch (sim->fault) {
    case SWITCH_SIM_FAULT_HTTP500:
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        swp_http500(&b);
        break;
    case SWITCH_SIM_FAULT_ENDLESS_LOGIN:
        swp_login(&b, 0);
        break;
    case SWITCH_SIM_FAULT_ERRTYPE6:
        swp_login(&b, 6);
        break;
    default: {
        bool authed = authenticated(sim, client, cookie, now);
        switch (r->page) {
        case SWITCH_SIM_PAGE_ROOT:
            if (authed)
                swp_frameset(&b, sim->model->name);
            else
                swp_login(&b, 0);
            break;
        case SWITCH_SIM_PAGE_LOGON:
            swp_login(&b, r->post ? logon(sim, r, client, cookie, now) : 0);
            if (r->post && sim->fault == SWITCH_SIM_FAULT_POST_RESET) {
                strbuf_free(&b);
                return MHD_NO;
            }
            break;
        case SWITCH_SIM_PAGE_LOGOUT:
            if (authed)
                sim->session.active = false;
            swp_login(&b, 0);
            break;
        default:
            if (authed && sim->saved[r->page].data) {
                strbuf_append(&b, sim->saved[r->page].data, sim->saved[r->page].len);
            } else if (authed) {
                render_data(sim, r->page, now, &b);
            } else {
                swp_login(&b, 0);
                status = sim->unauth_status;
            }
            break;
        }
    }
    }
    if (b.overflow) {
        log_msg(LOG_ERROR, sim->name, "page too large");
        strbuf_free(&b);
        return MHD_NO;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(b.len, b.data ? b.data : (char *)"", MHD_RESPMEM_MUST_COPY);
    strbuf_free(&b);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html");
    if (set_cookie) {
        char line[COOKIE_LEN + 40];
        snprintf(line, sizeof line, "H_P_SSID=%s; Max-Age=%d", set_cookie, COOKIE_MAX_AGE);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, line);
    }
    MHD_RESULT ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* MHD does not wake its epoll fd for a resumed connection (see mhd_loop.h). */
static void kick(struct switch_sim *sim)
{
    if (!sim->stopping)
        mhd_loop_kick(sim->http.ml);
}

static void delayed_unlink(struct req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->sim->delayed = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void slow_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct req *r = w->data;
    r->resumed = true;
    delayed_unlink(r);
    MHD_resume_connection(r->conn);
    kick(r->sim);
}

static MHD_RESULT handler(void *cls, struct MHD_Connection *conn, const char *url,
                          const char *method, const char *version, const char *upload_data,
                          size_t *upload_data_size, void **con_cls)
{
    struct switch_sim *sim = cls;
    struct req *r = *con_cls;
    if (!r) {
        enum switch_sim_page page = classify(sim, url, method);
        sim->requests[SWITCH_SIM_PAGE_ALL]++;
        sim->requests[page]++;
        if (page == SWITCH_SIM_PAGE_OTHER) {
            log_msg(LOG_DEBUG, sim->name, "%s %s: closed without a response", method, url);
            return MHD_NO;
        }
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->sim = sim;
        r->conn = conn;
        r->page = page;
        r->post = strcmp(method, "POST") == 0;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->post || *upload_data_size > BODY_MAX - r->body_len)
            return MHD_NO; /* bodies only on the login POST, and small */
        memcpy(r->body + r->body_len, upload_data, *upload_data_size);
        r->body_len += *upload_data_size;
        r->body[r->body_len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (sim->fault == SWITCH_SIM_FAULT_SLOW && !r->resumed) {
        if (!r->suspended) {
            r->suspended = true;
            r->next = sim->delayed;
            if (sim->delayed)
                sim->delayed->prev = r;
            sim->delayed = r;
            ev_timer_init(&r->timer, slow_cb, sim->slow, 0.);
            r->timer.data = r;
            ev_timer_start(sim->loop, &r->timer);
            MHD_suspend_connection(conn);
        }
        return MHD_YES;
    }
    return answer(sim, r);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    if (!r)
        return;
    if (r->suspended) {
        ev_timer_stop(r->sim->loop, &r->timer);
        if (!r->resumed)
            delayed_unlink(r);
    }
    free(r);
    *con_cls = NULL;
}

static void free_sim(struct switch_sim *sim)
{
    for (int i = 0; i < SWITCH_SIM_PAGE_COUNT; i++)
        strbuf_free(&sim->saved[i]);
    free(sim);
}

/* Reads dir/<page file> for every data page that has a file there. */
static int load_saved_pages(struct switch_sim *sim, const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "switch sim %s: pages=%.200s: not a readable folder",
                 sim->model->name, dir);
        return -1;
    }
    for (int i = 0; i < SWITCH_SIM_PAGE_COUNT; i++) {
        if (!page_files[i])
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, page_files[i]) >= (int)sizeof path) {
            snprintf(err, errlen, "switch sim %s: pages=: path too long", sim->model->name);
            return -1;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            snprintf(err, errlen, "switch sim %s: %.200s: %s", sim->model->name, path,
                     strerror(errno));
            return -1;
        }
        strbuf_init(&sim->saved[i], PAGE_LIMIT);
        char buf[8192];
        ssize_t n;
        bool fits = true;
        while (fits && (n = read(fd, buf, sizeof buf)) != 0) {
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                snprintf(err, errlen, "switch sim %s: %.200s: %s", sim->model->name, path,
                         strerror(errno));
                close(fd);
                return -1;
            }
            fits = strbuf_append(&sim->saved[i], buf, (size_t)n);
        }
        close(fd);
        if (!fits || sim->saved[i].len == 0) {
            snprintf(err, errlen, "switch sim %s: %.200s: %s", sim->model->name, path,
                     fits ? "empty" : "larger than 256 KiB");
            return -1;
        }
        log_msg(LOG_DEBUG, sim->name, "serving %s from %s", page_files[i], path);
    }
    return 0;
}

static const struct model *model_find(const char *name)
{
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strcasecmp(name, models[i].name) == 0)
            return &models[i];
    return NULL;
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

struct switch_sim *switch_sim_start(struct ev_loop *loop, const struct switch_sim_opts *opts,
                                    char *err, size_t errlen)
{
    const char *addr = opts->addr ? opts->addr : "127.0.0.1";
    const char *user = opts->username ? opts->username : "admin";
    const char *pass = opts->password ? opts->password : "admin";
    const struct model *m = opts->model ? model_find(opts->model) : NULL;
    if (!m) {
        snprintf(err, errlen, "switch sim: unknown model \"%.40s\"",
                 opts->model ? opts->model : "");
        return NULL;
    }
    struct sockaddr_storage ss;
    char why[256];
    if (sim_loopback_sockaddr(addr, opts->port, &ss, why, sizeof why) < 0) {
        snprintf(err, errlen, "switch sim %s: %s", m->name, why);
        return NULL;
    }
    if (strlen(user) == 0 || strlen(user) > CRED_MAX || strlen(pass) > CRED_MAX) {
        snprintf(err, errlen, "switch sim %s: user name and password must be 1-%d bytes", m->name,
                 CRED_MAX);
        return NULL;
    }
    const char *descr = opts->description ? opts->description : m->name;
    if (strlen(descr) > DESCR_MAX || !printable(descr)) {
        snprintf(err, errlen, "switch sim %s: description must be at most %d printable bytes",
                 m->name, DESCR_MAX);
        return NULL;
    }
    if (opts->wrap_seconds < 0 || opts->session_timeout_s < 0 || opts->slow_seconds < 0 ||
        !isfinite(opts->wrap_seconds) || !isfinite(opts->session_timeout_s) ||
        !isfinite(opts->slow_seconds)) {
        snprintf(err, errlen, "switch sim %s: negative or infinite duration", m->name);
        return NULL;
    }
    if (opts->unauth_status && (opts->unauth_status < 100 || opts->unauth_status > 599)) {
        snprintf(err, errlen, "switch sim %s: bad HTTP status %u", m->name, opts->unauth_status);
        return NULL;
    }

    struct switch_sim *sim = calloc(1, sizeof *sim);
    if (!sim) {
        snprintf(err, errlen, "switch sim %s: out of memory", m->name);
        return NULL;
    }
    sim->loop = loop;
    sim->model = m;
    snprintf(sim->addr, sizeof sim->addr, "%s", addr);
    snprintf(sim->username, sizeof sim->username, "%s", user);
    snprintf(sim->password, sizeof sim->password, "%s", pass);
    snprintf(sim->description, sizeof sim->description, "%s", descr);
    sim->session_mode = opts->session;
    sim->conflict = opts->conflict;
    sim->timeout = opts->session_timeout_s > 0 ? opts->session_timeout_s
                   : cookie_mode(sim)          ? 600.0
                                               : 60.0;
    sim->slow = opts->slow_seconds > 0 ? opts->slow_seconds : 10.0;
    sim->unauth_status = opts->unauth_status ? opts->unauth_status : MHD_HTTP_OK;
    /* the model and requested port take part, so that switches of one run differ */
    sim->rng = opts->seed ^ 0x5457495443485349ULL ^ ((uint64_t)opts->port << 40);
    for (const char *c = m->name; *c; c++)
        sim->rng = (sim->rng ^ (unsigned char)*c) * 0x100000001b3ULL;
    /* TP-Link OUI, random device part */
    uint64_t dev = rng_next(&sim->rng);
    snprintf(sim->mac, sizeof sim->mac, "B0:4E:26:%02X:%02X:%02X", (unsigned)(dev & 0xff),
             (unsigned)((dev >> 8) & 0xff), (unsigned)((dev >> 16) & 0xff));
    snprintf(sim->name, sizeof sim->name, "switchsim %s %s:%u", m->name, addr,
             (unsigned)opts->port);
    sim->last_now = ev_now(loop);
    layout_ports(sim, opts->wrap_seconds, sim->last_now);
    if (opts->pages_dir && load_saved_pages(sim, opts->pages_dir, err, errlen) != 0) {
        free_sim(sim);
        return NULL;
    }

    const struct sim_http_opts ho = {
        .name = sim->name,
        .addr = addr,
        .port = opts->port,
        .flags = MHD_ALLOW_SUSPEND_RESUME,
        .conn_limit = opts->max_connections ? opts->max_connections : 1,
        .conn_timeout_s = CONN_TIMEOUT_S,
        .conn_memory = CONN_MEMORY,
        .handler = handler,
        .handler_cls = sim,
        .completed = completed,
        .completed_cls = sim,
    };
    if (sim_http_start(&sim->http, loop, &ss, &ho, why, sizeof why) < 0) {
        snprintf(err, errlen, "switch sim %s: %s", m->name, why);
        free_sim(sim);
        return NULL;
    }
    snprintf(sim->name, sizeof sim->name, "switchsim %s %s:%u", m->name, addr,
             (unsigned)sim->http.port);
    log_msg(LOG_DEBUG, sim->name, "listening");
    return sim;
}

void switch_sim_stop(struct switch_sim *sim)
{
    if (!sim)
        return;
    /* MHD refuses to stop with suspended connections: hand them back first. */
    while (sim->delayed) {
        struct req *r = sim->delayed;
        ev_timer_stop(sim->loop, &r->timer);
        r->resumed = true;
        delayed_unlink(r);
        MHD_resume_connection(r->conn);
    }
    sim->stopping = true;
    sim_http_stop(&sim->http); /* its close notifications still kick (see kick) */
    free_sim(sim);
}

uint16_t switch_sim_port(const struct switch_sim *sim)
{
    return sim->http.port;
}

const char *switch_sim_model(const struct switch_sim *sim)
{
    return sim->model->name;
}

const char *switch_sim_addr(const struct switch_sim *sim)
{
    return sim->addr;
}

unsigned switch_sim_port_count(const struct switch_sim *sim)
{
    return sim->model->ports;
}

void switch_sim_set_fault(struct switch_sim *sim, enum switch_sim_fault fault)
{
    if ((unsigned)fault >= SWITCH_SIM_FAULT_COUNT)
        return;
    /* The slowness ends now: held answers go out, freeing the connection slot at once. */
    while (fault != SWITCH_SIM_FAULT_SLOW && sim->delayed) {
        ev_timer_stop(sim->loop, &sim->delayed->timer);
        slow_cb(sim->loop, &sim->delayed->timer, 0);
    }
    if (fault == SWITCH_SIM_FAULT_WRONG_CREDENTIALS)
        sim->session.active = false; /* a password change logs everyone out */
    sim->fault = fault;
}

void switch_sim_reboot(struct switch_sim *sim)
{
    double now = sim_now(sim);
    for (unsigned i = 0; i < sim->model->ports; i++) {
        struct port *p = &sim->ports[i];
        port_advance(p, now);
        for (int k = 0; k < 4; k++)
            p->page_add[k] = (uint64_t)0 - p->acc[k]; /* modular: the page reads 0 */
    }
    sim->session.active = false;
    memset(sim->cookies, 0, sizeof sim->cookies);
}

int switch_sim_link(struct switch_sim *sim, unsigned port, unsigned code)
{
    if (port < 1 || port > sim->model->ports || code == 1 || code > 6)
        return -1;
    struct port *p = &sim->ports[port - 1];
    if (!p->enabled && code)
        return -1;
    port_advance(p, sim_now(sim));
    p->link = (uint8_t)code;
    if (code)
        p->usual_link = (uint8_t)code;
    return 0;
}

int switch_sim_port_enable(struct switch_sim *sim, unsigned port, bool enabled)
{
    if (port < 1 || port > sim->model->ports)
        return -1;
    struct port *p = &sim->ports[port - 1];
    port_advance(p, sim_now(sim));
    p->enabled = enabled;
    p->link = enabled ? p->usual_link : 0;
    return 0;
}

bool switch_sim_session_active(struct switch_sim *sim)
{
    return session_live(sim, sim_now(sim));
}

void switch_sim_snapshot(struct switch_sim *sim, struct switch_sim_snapshot *out)
{
    double now = sim_now(sim);
    memset(out, 0, sizeof *out);
    out->time = now;
    out->n_ports = sim->model->ports;
    out->n_poe_ports = sim->model->poe_ports;
    for (unsigned i = 0; i < sim->model->ports; i++) {
        const struct port *p = &sim->ports[i];
        struct switch_sim_port_state *s = &out->ports[i];
        s->enabled = p->enabled;
        s->link = p->link;
        for (int k = 0; k < 4; k++) {
            s->total[k] = port_total(p, k, now);
            s->pkts[k] = (uint32_t)(s->total[k] + p->page_add[k]);
        }
        s->poe_power_dw = poe_power(sim, i, now);
    }
    out->stats_served = sim->stats_served;
    out->stats_time = sim->stats_time;
    memcpy(out->stats_pkts, sim->stats_pkts, sizeof out->stats_pkts);
    memcpy(out->stats_total, sim->stats_total, sizeof out->stats_total);
}

unsigned long switch_sim_requests(const struct switch_sim *sim, enum switch_sim_page page)
{
    return (unsigned)page < SWITCH_SIM_PAGE_COUNT ? sim->requests[page] : 0;
}

const char *switch_sim_page_name(enum switch_sim_page page)
{
    return (unsigned)page < SWITCH_SIM_PAGE_COUNT ? page_names[page] : "?";
}

bool switch_sim_snapshot_json(struct switch_sim *sim, struct strbuf *out)
{
    static const char *const keys[4] = {
        [SWITCH_SIM_TX_GOOD] = "TxGoodPkt",
        [SWITCH_SIM_TX_BAD] = "TxBadPkt",
        [SWITCH_SIM_RX_GOOD] = "RxGoodPkt",
        [SWITCH_SIM_RX_BAD] = "RxBadPkt",
    };
    struct switch_sim_snapshot snap;
    switch_sim_snapshot(sim, &snap);
    bool ok = strbuf_printf(out, "{\"model\":\"%s\",\"time\":%.6f,\"session\":%s,\"ports\":[",
                            sim->model->name, snap.time,
                            switch_sim_session_active(sim) ? "true" : "false");
    for (unsigned i = 0; i < snap.n_ports; i++) {
        const struct switch_sim_port_state *p = &snap.ports[i];
        ok = ok &&
             strbuf_printf(out, "%s{\"port\":%u,\"enabled\":%s,\"link\":%u,\"pkts\":{",
                           i ? "," : "", i + 1, p->enabled ? "true" : "false", (unsigned)p->link);
        for (int k = 0; k < 4; k++)
            ok = ok && strbuf_printf(out, "%s\"%s\":%" PRIu32, k ? "," : "", keys[k], p->pkts[k]);
        ok = ok && strbuf_puts(out, "},\"total\":{");
        for (int k = 0; k < 4; k++)
            ok = ok && strbuf_printf(out, "%s\"%s\":%" PRIu64, k ? "," : "", keys[k], p->total[k]);
        ok = ok && strbuf_putc(out, '}');
        if (i < snap.n_poe_ports)
            ok = ok && strbuf_printf(out, ",\"poe_power_watts\":%.1f", p->poe_power_dw / 10.0);
        ok = ok && strbuf_putc(out, '}');
    }
    ok = ok && strbuf_puts(out, "],\"requests\":{");
    for (int i = 0; i < SWITCH_SIM_PAGE_COUNT; i++)
        ok =
            ok && strbuf_printf(out, "%s\"%s\":%lu", i ? "," : "", page_names[i], sim->requests[i]);
    ok = ok && strbuf_printf(out, "},\"stats_served\":{\"n\":%lu,\"time\":%.6f,\"pkts\":[",
                             snap.stats_served, snap.stats_time);
    for (unsigned i = 0; i < snap.n_ports; i++)
        ok = ok && strbuf_printf(out, "%s[%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 "]",
                                 i ? "," : "", snap.stats_pkts[i][0], snap.stats_pkts[i][1],
                                 snap.stats_pkts[i][2], snap.stats_pkts[i][3]);
    ok = ok && strbuf_puts(out, "],\"total\":[");
    for (unsigned i = 0; i < snap.n_ports; i++)
        ok = ok && strbuf_printf(out, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]",
                                 i ? "," : "", snap.stats_total[i][0], snap.stats_total[i][1],
                                 snap.stats_total[i][2], snap.stats_total[i][3]);
    return ok && strbuf_puts(out, "]}}");
}

/* ---- command-line spec ---- */

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out, uint64_t max)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int switch_sim_spec_parse(const char *text, struct switch_sim_spec *spec, char *err, size_t errlen)
{
    memset(spec, 0, sizeof *spec);
    if (strncmp(text, "switch:", 7) == 0)
        text += 7;
    if (strlen(text) >= sizeof spec->buf) {
        snprintf(err, errlen, "switch spec too long (at most %zu bytes)", sizeof spec->buf - 1);
        return -1;
    }
    memcpy(spec->buf, text, strlen(text) + 1);
    char *opts = strchr(spec->buf, ',');
    if (opts)
        *opts++ = '\0';
    char *at = strchr(spec->buf, '@');
    if (!at || at == spec->buf) {
        snprintf(err, errlen, "switch spec \"%.60s\": expected MODEL@ADDR:PORT", spec->buf);
        return -1;
    }
    *at = '\0';
    spec->opts.model = spec->buf;
    if (!model_find(spec->buf)) {
        snprintf(err, errlen, "switch spec: unknown model \"%.40s\"", spec->buf);
        return -1;
    }
    char *addr = at + 1, *colon;
    if (*addr == '[') {
        char *close = strchr(addr, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "switch spec: expected [ADDR]:PORT after '@'");
            return -1;
        }
        *close = '\0';
        addr++;
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon) {
            snprintf(err, errlen, "switch spec: expected ADDR:PORT after '@'");
            return -1;
        }
    }
    *colon = '\0';
    uint64_t port;
    if (parse_u64(colon + 1, &port, 65535) != 0) {
        snprintf(err, errlen, "switch spec: bad port \"%.20s\"", colon + 1);
        return -1;
    }
    spec->opts.addr = addr;
    spec->opts.port = (uint16_t)port;
    while (opts && *opts) {
        char *next = strchr(opts, ',');
        if (next)
            *next++ = '\0';
        char *eq = strchr(opts, '=');
        if (!eq) {
            snprintf(err, errlen, "switch spec: option \"%.30s\" needs KEY=VALUE", opts);
            return -1;
        }
        *eq = '\0';
        const char *k = opts, *v = eq + 1;
        int bad = 0;
        if (strcmp(k, "user") == 0) {
            spec->opts.username = v;
        } else if (strcmp(k, "password") == 0) {
            spec->opts.password = v;
        } else if (strcmp(k, "session") == 0) {
            if (strcmp(v, "ip") == 0)
                spec->opts.session = SWITCH_SIM_SESSION_IP;
            else if (strcmp(v, "cookie") == 0)
                spec->opts.session = SWITCH_SIM_SESSION_COOKIE;
            else
                bad = 1;
        } else if (strcmp(k, "conflict") == 0) {
            if (strcmp(v, "evict") == 0)
                spec->opts.conflict = SWITCH_SIM_CONFLICT_EVICT;
            else if (strcmp(v, "full") == 0)
                spec->opts.conflict = SWITCH_SIM_CONFLICT_FULL;
            else
                bad = 1;
        } else if (strcmp(k, "wrap") == 0) {
            bad = parse_double(v, &spec->opts.wrap_seconds);
        } else if (strcmp(k, "timeout") == 0) {
            bad = parse_double(v, &spec->opts.session_timeout_s);
        } else if (strcmp(k, "slow") == 0) {
            bad = parse_double(v, &spec->opts.slow_seconds);
        } else if (strcmp(k, "seed") == 0) {
            bad = parse_u64(v, &spec->opts.seed, UINT64_MAX);
        } else if (strcmp(k, "connections") == 0) {
            uint64_t n = 0;
            bad = parse_u64(v, &n, 1024);
            spec->opts.max_connections = (unsigned)n;
        } else if (strcmp(k, "unauth") == 0) {
            uint64_t n = 0;
            bad = parse_u64(v, &n, 599) || n < 100;
            spec->opts.unauth_status = (unsigned)n;
        } else if (strcmp(k, "description") == 0) {
            spec->opts.description = v;
        } else if (strcmp(k, "fault") == 0) {
            bad = switch_sim_fault_parse(v, &spec->fault);
        } else if (strcmp(k, "pages") == 0) {
            spec->opts.pages_dir = v;
            bad = *v == '\0';
        } else {
            snprintf(err, errlen, "switch spec: unknown option \"%.30s\"", k);
            return -1;
        }
        if (bad) {
            snprintf(err, errlen, "switch spec: bad value for %s", k);
            return -1;
        }
        opts = next;
    }
    return 0;
}
